"""The sandbox org's objects and fields, as the describe resource reports them.

Only the objects the app touches exist (User, Account, Contact, Lead, Opportunity, Task), each
with the standard fields it reads or writes. The schema depends on the configuration: Task call
fields can be switched off (orgs without them exist) and custom opt-out checkboxes can be added.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.seed import SF_PREFIX

TASK_STATUSES = ["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"]
TASK_PRIORITIES = ["High", "Normal", "Low"]
TASK_SUBTYPES = ["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"]
TASK_TYPES = ["Call", "Email", "Meeting", "Other"]
CALL_TYPES = ["Internal", "Inbound", "Outbound"]
LEAD_STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                 "Closed - Not Converted"]
LEAD_SOURCES = ["Website", "Trade Show", "Webinar", "Partner Referral", "Paid Search",
                "List Import", "Other"]
OPPORTUNITY_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote",
                      "Negotiation/Review", "Closed Won", "Closed Lost"]

# Types whose values are strings on the wire and have a maximum length.
TEXT_TYPES = {"id", "string", "email", "phone", "textarea", "picklist", "combobox", "reference"}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label: str
    length: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    required: bool = False  # must have a value after create/update (REQUIRED_FIELD_MISSING)
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: object = None
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    custom: bool = False

    def describe(self) -> dict:
        """This field as an entry of the describe resource's ``fields`` array."""
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "length": self.length,
            "byteLength": self.length * 3,
            "digits": 9 if self.type == "int" else 0,
            "precision": 18 if self.type == "currency" else 0,
            "scale": 2 if self.type == "currency" else 0,
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": self.nillable,
            "defaultedOnCreate": self.default is not None or self.type == "boolean",
            "defaultValue": self.default,
            "custom": self.custom,
            "filterable": self.type != "textarea",
            "sortable": self.type != "textarea",
            "idLookup": self.type == "id",
            "restrictedPicklist": self.restricted,
            "picklistValues": [
                {"active": True, "defaultValue": value == self.default, "label": value,
                 "validFor": None, "value": value}
                for value in self.picklist
            ],
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "soapType": _SOAP_TYPES[self.type],
        }


_SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "string": "xsd:string", "email": "xsd:string",
    "phone": "xsd:string", "textarea": "xsd:string", "picklist": "xsd:string",
    "combobox": "xsd:string", "boolean": "xsd:boolean", "date": "xsd:date",
    "datetime": "xsd:dateTime", "int": "xsd:int", "currency": "xsd:double",
}


@dataclass
class SObjectType:
    name: str
    label: str
    label_plural: str
    prefix: str
    fields: dict[str, Field]
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    _by_lower: dict[str, Field] = field(default_factory=dict, repr=False)
    _by_relationship: dict[str, Field] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._by_lower = {name.lower(): f for name, f in self.fields.items()}
        self._by_relationship = {f.relationship_name.lower(): f for f in self.fields.values()
                                 if f.relationship_name}

    def field(self, name: str) -> Field | None:
        """The field called ``name`` (case-insensitive, as SOQL and the REST API treat names)."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> Field | None:
        """The reference field whose relationship is called ``name`` (e.g. ``Owner``)."""
        return self._by_relationship.get(name.lower())

    def describe(self, version: str) -> dict:
        """The sObject Describe resource body."""
        return {
            **self.basic(version),
            "fields": [f.describe() for f in self.fields.values()],
            "childRelationships": [],
            "recordTypeInfos": [],
        }

    def basic(self, version: str) -> dict:
        """The short description used by describeGlobal and the sObject Basic Information."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.prefix,
            "custom": False,
            "createable": self.createable,
            "updateable": self.updateable,
            "deletable": self.deletable,
            "queryable": True,
            "retrieveable": True,
            "replicateable": True,
            "searchable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe",
                     "rowTemplate": f"{base}/{{ID}}"},
        }


def _system_fields() -> list[Field]:
    user_ref = {"reference_to": ("User",), "createable": False, "updateable": False,
                "length": 18}
    return [
        Field("IsDeleted", "boolean", "Deleted", createable=False, updateable=False,
              nillable=False),
        Field("CreatedDate", "datetime", "Created Date", createable=False, updateable=False,
              nillable=False),
        Field("CreatedById", "reference", "Created By ID", relationship_name="CreatedBy",
              nillable=False, **user_ref),
        Field("LastModifiedDate", "datetime", "Last Modified Date", createable=False,
              updateable=False, nillable=False),
        Field("LastModifiedById", "reference", "Last Modified By ID",
              relationship_name="LastModifiedBy", nillable=False, **user_ref),
        Field("SystemModstamp", "datetime", "System Modstamp", createable=False,
              updateable=False, nillable=False),
    ]


def _id() -> Field:
    return Field("Id", "id", "Record ID", 18, createable=False, updateable=False, nillable=False)


def _owner() -> Field:
    return Field("OwnerId", "reference", "Owner ID", 18, reference_to=("User",),
                 relationship_name="Owner", nillable=False)


def _person_fields() -> list[Field]:
    return [
        Field("FirstName", "string", "First Name", 40),
        Field("LastName", "string", "Last Name", 80, nillable=False, required=True),
        Field("Name", "string", "Full Name", 121, createable=False, updateable=False),
        Field("Email", "email", "Email", 80),
        Field("Phone", "phone", "Phone", 40),
        Field("Title", "string", "Title", 128),
    ]


def _checkbox(name: str) -> Field:
    return Field(name, "boolean", name.removesuffix("__c").replace("_", " "), nillable=False,
                 default=False, custom=True)


def build_schema(task_call_fields: bool = True,
                 custom_fields: dict[str, list[str]] | None = None) -> dict[str, SObjectType]:
    """Every object of the sandbox org, keyed by API name, for the given configuration."""
    custom_fields = custom_fields or {}

    def make(name, label, plural, fields, **flags) -> SObjectType:
        extra = [_checkbox(custom) for custom in custom_fields.get(name, [])]
        every = [_id(), *fields, *extra, *_system_fields()]
        return SObjectType(name, label, plural, SF_PREFIX[name],
                           {f.name: f for f in every}, **flags)

    task_fields = [
        Field("Subject", "combobox", "Subject", 255),
        Field("Status", "picklist", "Status", 255, picklist=tuple(TASK_STATUSES),
              restricted=True, default="Not Started", nillable=False, required=True),
        Field("Priority", "picklist", "Priority", 40, picklist=tuple(TASK_PRIORITIES),
              restricted=True, default="Normal", nillable=False, required=True),
        Field("ActivityDate", "date", "Due Date Only"),
        Field("Description", "textarea", "Description", 32000),
        Field("WhoId", "reference", "Name ID", 18, reference_to=("Contact", "Lead"),
              relationship_name="Who"),
        Field("WhatId", "reference", "Related To ID", 18, reference_to=("Account", "Opportunity"),
              relationship_name="What"),
        _owner(),
        # Salesforce sets the subtype once, on create.
        Field("TaskSubtype", "picklist", "Task Subtype", 40, picklist=tuple(TASK_SUBTYPES),
              restricted=True, updateable=False),
        Field("Type", "picklist", "Type", 40, picklist=tuple(TASK_TYPES)),
        Field("IsClosed", "boolean", "Closed", createable=False, updateable=False,
              nillable=False),
    ]
    if task_call_fields:
        task_fields += [
            Field("CallDurationInSeconds", "int", "Call Duration"),
            Field("CallType", "picklist", "Call Type", 40, picklist=tuple(CALL_TYPES),
                  restricted=True),
            Field("CallDisposition", "string", "Call Result", 255),
        ]

    objects = [
        make("User", "User", "Users", [
            Field("Username", "string", "Username", 80, createable=False, updateable=False),
            Field("FirstName", "string", "First Name", 40, createable=False, updateable=False),
            Field("LastName", "string", "Last Name", 80, createable=False, updateable=False),
            Field("Name", "string", "Full Name", 121, createable=False, updateable=False),
            Field("Email", "email", "Email", 128, createable=False, updateable=False),
            Field("IsActive", "boolean", "Active", createable=False, updateable=False),
        ], createable=False, updateable=False, deletable=False),
        make("Account", "Account", "Accounts", [
            Field("Name", "string", "Account Name", 255, nillable=False, required=True),
            _owner(),
        ]),
        make("Contact", "Contact", "Contacts", [
            *_person_fields(),
            Field("AccountId", "reference", "Account ID", 18, reference_to=("Account",),
                  relationship_name="Account"),
            _owner(),
            Field("HasOptedOutOfEmail", "boolean", "Email Opt Out", nillable=False,
                  default=False),
            Field("LeadSource", "picklist", "Lead Source", 255, picklist=tuple(LEAD_SOURCES)),
        ]),
        make("Lead", "Lead", "Leads", [
            *_person_fields(),
            Field("Company", "string", "Company", 255, nillable=False, required=True),
            _owner(),
            Field("HasOptedOutOfEmail", "boolean", "Email Opt Out", nillable=False,
                  default=False),
            Field("Status", "picklist", "Status", 255, picklist=tuple(LEAD_STATUSES),
                  restricted=True, default="Open - Not Contacted", nillable=False,
                  required=True),
            Field("LeadSource", "picklist", "Lead Source", 255, picklist=tuple(LEAD_SOURCES)),
            Field("IsConverted", "boolean", "Converted", createable=False, updateable=False,
                  nillable=False),
        ]),
        make("Opportunity", "Opportunity", "Opportunities", [
            Field("Name", "string", "Name", 120, nillable=False, required=True),
            Field("AccountId", "reference", "Account ID", 18, reference_to=("Account",),
                  relationship_name="Account"),
            Field("StageName", "picklist", "Stage", 255, picklist=tuple(OPPORTUNITY_STAGES),
                  restricted=True, nillable=False, required=True),
            Field("CloseDate", "date", "Close Date", nillable=False, required=True),
            Field("Amount", "currency", "Amount"),
            _owner(),
        ]),
        make("Task", "Task", "Tasks", task_fields),
    ]
    return {o.name: o for o in objects}


# Key prefix -> object name, for telling what a reference id points at.
PREFIX_TYPES = {prefix: name for name, prefix in SF_PREFIX.items()}
