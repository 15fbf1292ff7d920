"""What the instance describes about itself: lead fields and standard activity types.

Shapes follow Marketo's Describe Lead (``describe.json``: id, displayName, dataType, length,
``rest: {name, readOnly}``), Describe Lead2 (``describe2.json``: searchableFields and fields with
updateable/crmManaged) and Get Activity Types (id, name, description, primaryAttribute,
attributes). Activity type ids and names are Marketo's standard ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LeadField:
    id: int
    name: str
    display_name: str
    data_type: str
    length: int | None = 255
    read_only: bool = False
    crm_managed: bool = False


LEAD_FIELDS = [
    LeadField(1, "id", "Id", "integer", None, read_only=True),
    LeadField(48, "firstName", "First Name", "string"),
    LeadField(50, "lastName", "Last Name", "string"),
    LeadField(51, "email", "Email Address", "email"),
    LeadField(2, "company", "Company Name", "string"),
    LeadField(55, "title", "Job Title", "string"),
    LeadField(56, "phone", "Phone Number", "phone"),
    LeadField(142, "linkedInProfileURL", "LinkedIn Profile URL", "url"),
    LeadField(64, "leadSource", "Person Source", "string"),
    LeadField(96, "sfdcLeadId", "SFDC Lead ID", "string", 18, crm_managed=True),
    LeadField(97, "sfdcContactId", "SFDC Contact ID", "string", 18, crm_managed=True),
    LeadField(98, "sfdcAccountId", "SFDC Account ID", "string", 18, crm_managed=True),
    LeadField(99, "sfdcOpptyId", "SFDC Opportunity ID", "string", 18, crm_managed=True),
    LeadField(100, "sfdcLeadOwnerId", "SFDC Lead Owner ID", "string", 18, crm_managed=True),
    LeadField(101, "leadOwnerEmailAddress", "Lead Owner Email Address", "email",
              crm_managed=True),
    LeadField(102, "leadOwnerFirstName", "Lead Owner First Name", "string", crm_managed=True),
    LeadField(103, "leadOwnerLastName", "Lead Owner Last Name", "string", crm_managed=True),
    LeadField(70, "unsubscribed", "Unsubscribed", "boolean", None),
    LeadField(27, "createdAt", "Created At", "datetime", None, read_only=True),
    LeadField(28, "updatedAt", "Updated At", "datetime", None, read_only=True),
]
FIELDS_BY_NAME = {field.name: field for field in LEAD_FIELDS}

# Fields Get Leads by Filter Type accepts as filterType (Describe2's searchableFields).
SEARCHABLE_FIELDS = ("id", "email", "sfdcLeadId", "sfdcContactId", "sfdcOpptyId")

# What Get Lead(s) return when the call names no fields (Marketo's documented default set).
DEFAULT_LEAD_FIELDS = ("id", "updatedAt", "lastName", "email", "createdAt", "firstName")


def describe_fields() -> list[dict]:
    """Items of ``describe.json``'s result."""
    items = []
    for field in LEAD_FIELDS:
        item = {"id": field.id, "displayName": field.display_name, "dataType": field.data_type}
        if field.length is not None:
            item["length"] = field.length
        item["rest"] = {"name": field.name, "readOnly": field.read_only}
        items.append(item)
    return items


def describe2() -> dict:
    """The single item of ``describe2.json``'s result."""
    fields = []
    for field in LEAD_FIELDS:
        item = {"name": field.name, "displayName": field.display_name,
                "dataType": field.data_type}
        if field.length is not None:
            item["length"] = field.length
        item["updateable"] = not field.read_only
        item["crmManaged"] = field.crm_managed
        fields.append(item)
    return {"name": "API Lead", "searchableFields": [[name] for name in SEARCHABLE_FIELDS],
            "fields": fields}


VISIT_WEBPAGE = 1
FILL_OUT_FORM = 2
CLICK_LINK = 3
SEND_EMAIL = 6
EMAIL_DELIVERED = 7
EMAIL_BOUNCED = 8
UNSUBSCRIBE_EMAIL = 9
OPEN_EMAIL = 10
CLICK_EMAIL = 11
NEW_LEAD = 12
CHANGE_DATA_VALUE = 13
DELETE_LEAD = 37
INTERESTING_MOMENT = 46

_S, _I, _B, _T = "string", "integer", "boolean", "text"
_EMAIL_ATTRS = [("Campaign Run ID", _I), ("Choice Number", _I), ("Step ID", _I),
                ("Test Variant", _I)]
_WEB_ATTRS = [("Client IP Address", _S), ("Query Parameters", _S), ("Referrer URL", _S),
              ("User Agent", _S)]
_DEVICE_ATTRS = [("Device", _S), ("Is Bot Activity", _B), ("Is Mobile Device", _B),
                 ("Platform", _S), ("User Agent", _S)]


def _type(type_id, name, description, primary, attributes):
    item = {"id": type_id, "name": name, "description": description}
    if primary:
        item["primaryAttribute"] = {"name": primary[0], "dataType": primary[1]}
    item["attributes"] = [{"name": n, "dataType": t} for n, t in sorted(attributes)]
    return item


STANDARD_ACTIVITY_TYPES = [
    _type(VISIT_WEBPAGE, "Visit Webpage", "User visits a web page", ("Webpage ID", _I),
          _WEB_ATTRS + [("Search Engine", _S), ("Search Query", _S), ("Webpage URL", _S)]),
    _type(FILL_OUT_FORM, "Fill Out Form", "User fills out and submits form on web page",
          ("Webform ID", _I), _WEB_ATTRS + [("Form Fields", _T), ("Webpage ID", _I)]),
    _type(CLICK_LINK, "Click Link", "User clicks link on a page", ("Link ID", _I),
          _WEB_ATTRS + [("Webpage ID", _I)]),
    _type(SEND_EMAIL, "Send Email", "Send Marketo Email to a person", ("Mailing ID", _I),
          _EMAIL_ATTRS),
    _type(EMAIL_DELIVERED, "Email Delivered", "Marketo Email is delivered to a person",
          ("Mailing ID", _I), _EMAIL_ATTRS),
    _type(EMAIL_BOUNCED, "Email Bounced", "Marketo Email is bounced for a person",
          ("Mailing ID", _I),
          _EMAIL_ATTRS + [("Category", _S), ("Details", _S), ("Email", _S),
                          ("Subcategory", _S)]),
    _type(UNSUBSCRIBE_EMAIL, "Unsubscribe Email", "Person unsubscribes from Marketo Emails",
          ("Mailing ID", _I),
          [("Campaign Run ID", _I), ("Form Fields", _T), ("Webform ID", _I),
           ("Webpage ID", _I)] + _WEB_ATTRS),
    _type(OPEN_EMAIL, "Open Email", "User opens Marketo Email", ("Mailing ID", _I),
          _EMAIL_ATTRS + _DEVICE_ATTRS),
    _type(CLICK_EMAIL, "Click Email", "User clicks on a link in a Marketo Email",
          ("Mailing ID", _I), _EMAIL_ATTRS + _DEVICE_ATTRS + [("Link", _S)]),
    _type(NEW_LEAD, "New Lead", "New person", None,
          [("API Method Name", _S), ("Created Date", "date"), ("Form Name", _S),
           ("Lead Source", _S), ("List Name", _S), ("Modifying User", _S), ("Request Id", _S),
           ("SFDC Type", _S), ("Source Type", _S)]),
    _type(CHANGE_DATA_VALUE, "Change Data Value", "Changed attribute value for a person",
          ("Attribute Name", _I),
          [("API Method Name", _S), ("Modifying User", _S), ("New Value", _S),
           ("Old Value", _S), ("Reason", _S), ("Request Id", _S), ("Source", _S)]),
    _type(DELETE_LEAD, "Delete Lead", "Delete person from Marketo", ("Lead ID", _I),
          [("Remove from CRM", _B)]),
    _type(INTERESTING_MOMENT, "Interesting Moment", "Interesting moment", None,
          [("Date", "datetime"), ("Description", _S), ("Source", _S), ("Type", _S)]),
]
STANDARD_TYPE_IDS = frozenset(item["id"] for item in STANDARD_ACTIVITY_TYPES)

# Valid data types of custom activity type attributes (Marketo's list).
CUSTOM_ATTRIBUTE_TYPES = frozenset({"string", "boolean", "integer", "float", "link", "email",
                                    "currency", "date", "datetime", "phone", "text"})
