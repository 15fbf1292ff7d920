"""Writes: queueing a sales email (the checks, then one transaction), and templates.

``queue_email`` is what the compose page, the API and campaigns call. It never sends: the
sending worker (``emails/sending.py``) does, and checks unsubscribes again before it does.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from analytics.rollups import rollups_fold
from unsubscribes.send_check import SendVerdict, person_send_verdicts

from .merge import KNOWN_FIELDS, UnknownMergeField, merge_values, merge_with, unknown_fields
from .models import EmailEvent, EmailTemplate, SalesEmail
from .sending import emails_send_soon

SUBJECT_MAX_LENGTH = 998  # RFC 5322 line length
NO_ADDRESS = "This person has no email address."
#: Fields a template may use: the merge fields, and the campaign's name campaigns pass.
TEMPLATE_FIELDS = (*KNOWN_FIELDS, "sales_campaign_name")


class EmailRefused(Exception):
    """The email cannot be queued; nothing was saved. ``field`` names the input at fault
    (``subject``, ``body``, ``person``) for a form or a 400 answer."""

    def __init__(self, message: str, *, field: str = "non_field_errors"):
        super().__init__(message)
        self.message = message
        self.field = field


def merged_message(*, person, sender, subject: str, body: str,
                   extra: dict | None = None) -> tuple[str, str]:
    """The merged subject and body, or EmailRefused naming the field with an unknown merge
    field or that is empty."""
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject:
        raise EmailRefused("Write a subject.", field="subject")
    if not body:
        raise EmailRefused("Write the body.", field="body")
    values = merge_values(person=person, sender=sender, extra=extra)
    merged = {}
    for field, text in (("subject", subject), ("body", body)):
        try:
            merged[field] = merge_with(text, values)
        except UnknownMergeField as error:
            raise EmailRefused(str(error), field=field) from error
    merged["subject"] = " ".join(merged["subject"].split())
    if not merged["subject"]:
        raise EmailRefused("The subject is empty once merged.", field="subject")
    if len(merged["subject"]) > SUBJECT_MAX_LENGTH:
        raise EmailRefused(f"The subject is longer than {SUBJECT_MAX_LENGTH} characters.",
                           field="subject")
    return merged["subject"], merged["body"]


def queue_email(*, person, sender, subject: str, body: str, track: bool = True,
                sales_campaign_name: str = "", template: EmailTemplate | None = None
                ) -> SalesEmail:
    """Merge, check and queue one email (status ``queued``, or ``held`` when Marketo cannot
    say whether the address is unsubscribed). Raises EmailRefused with nothing saved when
    the subject or body is missing or has an unknown merge field, the person has no address,
    or the address is unsubscribed (here or, with the check on, in Marketo)."""
    if person is None or not getattr(person, "in_workspace", False):
        raise EmailRefused("No such person in the workspace.", field="person")
    extra = {"sales_campaign_name": sales_campaign_name} if sales_campaign_name else None
    subject, body = merged_message(person=person, sender=sender, subject=subject, body=body,
                                   extra=extra)
    if not (sender.email or "").strip():
        raise EmailRefused("Your account has no email address to send from and take replies; "
                           "ask an admin to add one (manage.py add_user --email).")
    to_email = (person.email or "").strip()
    if not to_email or "@" not in to_email:
        raise EmailRefused(NO_ADDRESS, field="person")
    verdict = person_send_verdicts([person])[person.pk]
    if verdict.status == SendVerdict.BLOCKED:
        raise EmailRefused(f"Not sent to {to_email}: {verdict.reason}", field="person")
    now = timezone.now()
    held = verdict.status == SendVerdict.HOLD
    with transaction.atomic():
        email = SalesEmail.objects.create(
            person=person, sender=sender, to_email=to_email, subject=subject, body=body,
            track=track, sales_campaign_name=sales_campaign_name, template=template,
            status=SalesEmail.Status.HELD if held else SalesEmail.Status.QUEUED,
            hold_reason=verdict.reason if held else "",
            next_attempt_at=now + timedelta(seconds=verdict.retry_after or 0) if held else now)
        EmailEvent.objects.create(
            email=email, at=now, kind=EmailEvent.Kind.HELD if held else EmailEvent.Kind.QUEUED,
            detail=verdict.reason if held else "")
        # A worker sends it soon; beat's tick does when the broker is down.
        transaction.on_commit(emails_send_soon)
    return email


# Templates -----------------------------------------------------------------------------

def template_save(*, user, name: str, subject: str, body: str, shared: bool = False,
                  template: EmailTemplate | None = None) -> EmailTemplate:
    """Create or change a template: a seller's own; only an admin makes or edits shared ones.
    Raises PermissionDenied, or ValidationError naming the empty fields and unknown merge
    fields (``{{sales_campaign_name}}`` is allowed: campaigns fill it)."""
    if shared and not user.is_admin:
        raise PermissionDenied("Only an admin makes shared templates.")
    if template is not None and not template_editable_by(template, user):
        raise PermissionDenied("You cannot change this template.")
    errors = {}
    for field, value in (("name", name), ("subject", subject), ("body", body)):
        if not (value or "").strip():
            errors[field] = "This field is required."
    for field, text in (("subject", subject), ("body", body)):
        if field not in errors:
            unknown = unknown_fields(text, TEMPLATE_FIELDS)
            if unknown:
                errors[field] = str(UnknownMergeField(unknown))
    if errors:
        raise ValidationError(errors)
    template = template or EmailTemplate()
    template.name, template.subject, template.body = name.strip(), subject.strip(), body.strip()
    template.shared = shared
    if template.pk is None:
        template.owner = user  # who made it (a shared one's maker, an admin)
    template.save()
    return template


def template_delete(*, user, template: EmailTemplate) -> None:
    if not template_editable_by(template, user):
        raise PermissionDenied("You cannot delete this template.")
    with transaction.atomic():
        rollups_fold("template_id", [template.pk])  # its emails now have no template
        template.delete()


def template_editable_by(template: EmailTemplate, user) -> bool:
    return user.is_admin if template.shared else template.owner_id == user.pk
