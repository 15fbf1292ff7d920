import re

from django.core.exceptions import ValidationError

TASK_SUBJECT_PLACEHOLDERS = ("activity_type", "activity_subject", "call_outcome", "call_reason",
                             "sales_campaign_name")
SALESFORCE_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def validate_task_subject_template(template: str) -> None:
    unknown = set(re.findall(r"{{\s*(\w+)\s*}}", template)) - set(TASK_SUBJECT_PLACEHOLDERS)
    if unknown:
        raise ValidationError(
            "Unknown placeholder(s): %(names)s. Available: %(available)s.",
            params={"names": ", ".join(sorted(unknown)),
                    "available": ", ".join(TASK_SUBJECT_PLACEHOLDERS)})


def validate_salesforce_field_name(name: str) -> None:
    if name and not SALESFORCE_FIELD_NAME.match(name):
        raise ValidationError("Enter a Salesforce field API name such as Sales_Opt_Out__c.")


def validate_api_version(version: str) -> None:
    if not re.fullmatch(r"\d{2,3}\.0", version):
        raise ValidationError("Use a version like 62.0.")
