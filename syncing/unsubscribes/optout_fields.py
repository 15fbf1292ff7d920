"""Which Salesforce checkboxes say "opted out": ``HasOptedOutOfEmail`` and, when an admin names
one, a custom checkbox that must exist on both Contact and Lead (checked by describe on save).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from syncing.clients.salesforce import SalesforceError
from syncing.settings.selectors import salesforce_connection_get
from syncing.settings.services import salesforce_client_for

STANDARD_FIELD = "HasOptedOutOfEmail"
#: The objects a person's Salesforce record is one of: contact first, else lead.
SOBJECTS = ("Contact", "Lead")


def optout_fields(sync_settings) -> list[str]:
    """The checkboxes set on a push and read by the periodic sync."""
    custom = sync_settings.unsubscribe_custom_optout_field
    return [STANDARD_FIELD, *([custom] if custom else [])]


def optout_field_check(name: str) -> None:
    """Raise ``ValidationError`` unless ``name`` is an updateable checkbox on
    both Contact and Lead of the connected org."""
    if not name:
        return
    connection = salesforce_connection_get()
    if not connection.is_configured:
        raise ValidationError(_("Connect Salesforce first: the field is checked against the "
                                "org's Contact and Lead."))
    client = salesforce_client_for(connection, timeout=15, max_attempts=2)
    problems = []
    for sobject in SOBJECTS:
        try:
            described = client.describe(sobject)
        except SalesforceError as error:
            raise ValidationError(_("Salesforce could not describe %(object)s: %(error)s") % {
                "object": sobject, "error": error}) from None
        field = next((f for f in described.get("fields", []) if f.get("name") == name), None)
        if field is None:
            problems.append(_("%(object)s has no field %(field)s") % {"object": sobject,
                                                                        "field": name})
        elif field.get("type") != "boolean":
            problems.append(_("%(object)s.%(field)s is a %(type)s field, not a checkbox") % {
                "object": sobject, "field": name, "type": field.get("type")})
        elif not field.get("updateable"):
            problems.append(_("%(object)s.%(field)s is read-only for the integration user") % {
                "object": sobject, "field": name})
    if problems:
        # Translators: the problems found, joined by "; ".
        raise ValidationError(_("%(problems)s.") % {"problems": "; ".join(problems)})
