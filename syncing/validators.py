import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

TASK_SUBJECT_PLACEHOLDERS = ("activity_type", "activity_subject", "call_outcome", "call_reason",
                             "sales_campaign_name")
SALESFORCE_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def validate_task_subject_template(template: str) -> None:
    unknown = set(re.findall(r"{{\s*(\w+)\s*}}", template)) - set(TASK_SUBJECT_PLACEHOLDERS)
    if unknown:
        raise ValidationError(
            _("Unknown placeholder(s): %(names)s. Available: %(available)s."),
            params={"names": ", ".join(sorted(unknown)),
                    "available": ", ".join(TASK_SUBJECT_PLACEHOLDERS)})


def validate_salesforce_field_name(name: str) -> None:
    if name and not SALESFORCE_FIELD_NAME.match(name):
        raise ValidationError(_("Enter a Salesforce field API name such as Sales_Opt_Out__c."))


def validate_api_version(version: str) -> None:
    if not re.fullmatch(r"\d{2,3}\.0", version):
        raise ValidationError(_("Use a version like 62.0."))


def number_bounds(low: int, high: int, message: str) -> list:
    """A number's bounds as model validators, with one message; the settings form and the
    API's serializer (and so its schema's minimum and maximum) take them from the model
    (``bounds_of``), so the three say the same."""
    return [MinValueValidator(low, message), MaxValueValidator(high, message)]


def bounds_of(model_field) -> tuple[int, int, str] | None:
    """``(low, high, message)`` of a field given ``number_bounds``, else None. The message
    stays lazy: the form and the serializer built at import time say it in each reader's
    language."""
    low = next((v for v in model_field.validators if isinstance(v, MinValueValidator)), None)
    high = next((v for v in model_field.validators if isinstance(v, MaxValueValidator)), None)
    if low is None or high is None:
        return None
    return low.limit_value, high.limit_value, high.message
