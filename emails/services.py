"""Writes: queueing a sales email (the checks, then one transaction), and templates.

``queue_email`` is what the compose page, the API and campaigns call. It never sends: the
sending worker (``emails/sending.py``) does, and checks unsubscribes again before it does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.rollups import rollups_fold
from salesactions.bulk_insert import bulk_insert
from unsubscribes.send_check import SendVerdict, person_send_verdicts

from .merge import CAMPAIGN_FIELDS, MergeFieldError, merge_problem, merge_values, merge_with
from .models import EmailEvent, EmailTemplate, SalesEmail
from .sending import emails_send_soon

SUBJECT_MAX_LENGTH = 998  # RFC 5322 line length
#: How far ahead an email may be scheduled.
SCHEDULE_MAX_AHEAD = timedelta(days=365)
#: Someone waits on ``queue_email`` (the page, the API): Marketo's unsubscribe check gets this
#: long, then the email is held and checked again by the worker, never a long wait in a request.
QUEUE_CHECK_SECONDS = 3.0
NO_ADDRESS = gettext_lazy("This person has no email address.")
#: Fields a template may use: the merge fields, and the campaign's name campaigns pass.
TEMPLATE_FIELDS = CAMPAIGN_FIELDS


class EmailRefused(Exception):
    """The email cannot be queued; nothing was saved. ``field`` names the input at fault
    (``subject``, ``body``, ``person``) for a form or a 400 answer."""

    def __init__(self, message: str, *, field: str = "non_field_errors"):
        super().__init__(message)
        self.message = message
        self.field = field


def body_signed(body: str, sender) -> str:
    """``body`` with the sender's signature after it (after a blank line), when they have one.
    The message adds the unsubscribe footer after this, so the signature sits between."""
    signature = (getattr(sender, "signature", "") or "").strip()
    return f"{body.rstrip()}\n\n{signature}" if signature else body


def merged_message(*, person, sender, subject: str, body: str,
                   extra: dict | None = None) -> tuple[str, str]:
    """The merged subject and body (the sender's signature after the body), or EmailRefused
    naming the field that is empty or has an unknown or malformed merge field."""
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject:
        raise EmailRefused(_("Write a subject."), field="subject")
    if not body:
        raise EmailRefused(_("Write the body."), field="body")
    values = merge_values(person=person, sender=sender, extra=extra)
    merged = {}
    for field, text in (("subject", subject), ("body", body)):
        try:
            merged[field] = merge_with(text, values)
        except MergeFieldError as error:
            raise EmailRefused(str(error), field=field) from error
    merged["body"] = body_signed(merged["body"], sender)
    merged["subject"] = " ".join(merged["subject"].split())
    if not merged["subject"]:
        raise EmailRefused(_("The subject is empty once merged."), field="subject")
    if len(merged["subject"]) > SUBJECT_MAX_LENGTH:
        raise EmailRefused(_("The subject is longer than %(limit)d characters.")
                           % {"limit": SUBJECT_MAX_LENGTH}, field="subject")
    return merged["subject"], merged["body"]


def send_at_check(send_at: datetime | None, now: datetime) -> None:
    """EmailRefused (field ``send_at``) unless ``send_at`` is empty or ahead, within a year."""
    if send_at is None:
        return
    if send_at <= now:
        raise EmailRefused(_("Pick a time in the future to schedule the email, or leave it "
                             "empty to send it now."), field="send_at")
    if send_at > now + SCHEDULE_MAX_AHEAD:
        raise EmailRefused(_("An email can be scheduled up to a year ahead."), field="send_at")


def queue_email(*, person, sender, subject: str, body: str, track: bool = True,
                sales_campaign_name: str = "", template: EmailTemplate | None = None,
                send_at: datetime | None = None,
                verdict: SendVerdict | None = None) -> SalesEmail:
    """Merge, check and queue one email (status ``queued``, or ``held`` when Marketo cannot
    say whether the address is unsubscribed). Raises EmailRefused with nothing saved when
    the subject or body is missing or has an unknown or malformed merge field, the person
    has no address, the address is unsubscribed (here or, with the check on, in Marketo), or
    ``send_at`` is not ahead.

    ``send_at`` schedules it: it waits ``queued`` with ``next_attempt_at`` at that moment, so
    no sending pass (worker or ``manage.py sync``) claims it before; unsubscribes are checked
    again when it goes out. It can be cancelled until then (:func:`email_cancel`)."""
    now = timezone.now()
    draft = EmailDraft(person=person, sender=sender, subject=subject, body=body, track=track,
                       sales_campaign_name=sales_campaign_name, template=template,
                       send_at=send_at, verdict=verdict)
    checked = _email_checked(draft, now)
    if draft.verdict is None:  # else the caller checked a batch at once (campaign steps)
        draft.verdict = person_send_verdicts([person], within=QUEUE_CHECK_SECONDS)[person.pk]
    email, events = _email_made(draft, checked, now)
    with transaction.atomic():
        email.save(force_insert=True)
        for event in events:
            event.email = email
        EmailEvent.objects.bulk_create(events)
        # A worker sends it soon; beat's tick does when the broker is down.
        transaction.on_commit(emails_send_soon)
    return email


@dataclass
class EmailDraft:
    """One email to queue with :func:`queue_emails`: ``queue_email``'s arguments."""
    person: object
    sender: object
    subject: str
    body: str
    track: bool = True
    sales_campaign_name: str = ""
    template: EmailTemplate | None = None
    send_at: datetime | None = None
    verdict: SendVerdict | None = None


def queue_emails(drafts: list[EmailDraft], *,
                 verdicts: Callable[[], dict[int, SendVerdict]] | None = None
                 ) -> list[SalesEmail | EmailRefused]:
    """``queue_email`` for many at once (campaign steps, a batch of members): per draft the
    queued email, or the EmailRefused ``queue_email`` would raise (nothing saved for that
    one). Drafts without a ``verdict`` are checked with Marketo together, in one call per
    300; or, given ``verdicts`` (a check of their people already under way,
    ``person_send_verdicts_begin``), it is waited for once the drafts are merged, so the
    merging overlaps Marketo's answer. The accepted emails are saved with one insert of
    emails and one of their events, and one send is enqueued after commit: one
    ``queue_email`` per member cost a scheduler batch of 200 as many inserts of each,
    savepoints and enqueue attempts, most of its CPU."""
    now = timezone.now()
    outcomes: list[SalesEmail | EmailRefused | None] = [None] * len(drafts)
    checked: dict[int, tuple[str, str, str]] = {}
    for index, draft in enumerate(drafts):
        try:
            checked[index] = _email_checked(draft, now)
        except EmailRefused as refused:
            outcomes[index] = refused
    unasked = [drafts[index] for index in checked if drafts[index].verdict is None]
    if unasked:
        answers = verdicts() if verdicts is not None else person_send_verdicts(
            [draft.person for draft in unasked])
        for draft in unasked:
            draft.verdict = answers[draft.person.pk]
    built: list[tuple[SalesEmail, list[EmailEvent]]] = []
    for index, made in checked.items():
        try:
            email, events = _email_made(drafts[index], made, now)
        except EmailRefused as refused:
            outcomes[index] = refused
            continue
        outcomes[index] = email
        built.append((email, events))
    if built:
        with transaction.atomic():
            bulk_insert([email for email, _events in built])
            for email, events in built:
                for event in events:
                    event.email = email
            bulk_insert([event for _email, events in built for event in events])
            # A worker sends them soon; beat's tick does when the broker is down.
            transaction.on_commit(emails_send_soon)
    return outcomes


def _email_checked(draft: EmailDraft, now: datetime) -> tuple[str, str, str]:
    """The merged subject and body and the address, or EmailRefused as ``queue_email``
    says (all but the unsubscribe check, which comes after: it may ask Marketo)."""
    person, sender = draft.person, draft.sender
    if person is None or not getattr(person, "in_workspace", False):
        raise EmailRefused(_("No such person in the workspace."), field="person")
    send_at_check(draft.send_at, now)
    extra = ({"sales_campaign_name": draft.sales_campaign_name}
             if draft.sales_campaign_name else None)
    subject, body = merged_message(person=person, sender=sender, subject=draft.subject,
                                   body=draft.body, extra=extra)
    if not (sender.email or "").strip():
        raise EmailRefused(_("Your account has no email address to send from and take replies; "
                             "ask an admin to add one (manage.py add_user --email)."))
    to_email = (person.email or "").strip()
    if not to_email or "@" not in to_email:
        raise EmailRefused(str(NO_ADDRESS), field="person")
    return subject, body, to_email


def _email_made(draft: EmailDraft, checked: tuple[str, str, str], now: datetime
                ) -> tuple[SalesEmail, list[EmailEvent]]:
    """The email and its events, not saved, by the draft's verdict (EmailRefused when it
    blocks the address)."""
    subject, body, to_email = checked
    person, sender, send_at, verdict = draft.person, draft.sender, draft.send_at, draft.verdict
    if verdict.status == SendVerdict.BLOCKED:
        # A verdict's reason is kept in English (a held email stores it; send_check marks the
        # blocking ones with gettext_noop); this refusal is read now, so it is translated.
        raise EmailRefused(_("Not sent to %(address)s: %(reason)s") % {
            "address": to_email, "reason": _(verdict.reason)}, field="person")
    held = verdict.status == SendVerdict.HOLD
    due = now + timedelta(seconds=verdict.retry_after or 0) if held else now
    email = SalesEmail(
        person=person, sender=sender, to_email=to_email, subject=subject, body=body,
        track=draft.track, sales_campaign_name=draft.sales_campaign_name,
        template=draft.template,
        status=SalesEmail.Status.HELD if held else SalesEmail.Status.QUEUED,
        hold_reason=verdict.reason if held else "", send_at=send_at,
        next_attempt_at=max(due, send_at) if send_at else due)
    events = [EmailEvent(at=now, kind=EmailEvent.Kind.HELD if held else EmailEvent.Kind.QUEUED,
                         detail=verdict.reason if held else "")]
    if send_at:
        local = timezone.localtime(send_at, sender.zone)
        events.append(EmailEvent(at=now, kind=EmailEvent.Kind.SCHEDULED,
                                 detail=f"For {local:%a %-d %b %Y, %H:%M} ({sender.zone})"))
    return email, events


CANCELLABLE = (SalesEmail.Status.QUEUED, SalesEmail.Status.HELD)


def email_cancel(email: SalesEmail, *, by) -> SalesEmail:
    """Cancel an email that has not gone out: only while it waits (queued or held) and no
    sending pass holds it. One conditional UPDATE, so a pass that claims it at the same
    moment wins or loses cleanly. Raises EmailRefused when it is too late (or not ``by``'s).
    """
    if not (by.is_admin or email.sender_id == by.pk):
        raise PermissionDenied(_("You cannot cancel another seller's email."))
    now = timezone.now()
    with transaction.atomic():
        cancelled = SalesEmail.objects.filter(
            pk=email.pk, status__in=CANCELLABLE, handed_off_at__isnull=True).update(
            status=SalesEmail.Status.CANCELLED, next_attempt_at=None, updated_at=now)
        if not cancelled:
            email.refresh_from_db(fields=["status"])
            raise EmailRefused(_("Too late to cancel: the email is %(status)s.") % {
                "status": email.get_status_display().lower()})
        EmailEvent.objects.create(email=email, at=now, kind=EmailEvent.Kind.CANCELLED,
                                  detail=f"Cancelled by {by}")
    email.refresh_from_db()
    return email


# Templates -----------------------------------------------------------------------------

def template_save(*, user, name: str, subject: str, body: str, shared: bool = False,
                  template: EmailTemplate | None = None) -> EmailTemplate:
    """Create or change a template: a seller's own; only an admin makes or edits shared ones.
    Raises PermissionDenied, or ValidationError naming the empty fields and unknown or
    malformed merge fields (``{{sales_campaign_name}}`` is allowed: campaigns fill it)."""
    if shared and not user.is_admin:
        raise PermissionDenied(_("Only an admin makes shared templates."))
    if template is not None and not template_editable_by(template, user):
        raise PermissionDenied(_("You cannot change this template."))
    errors = {}
    for field, value in (("name", name), ("subject", subject), ("body", body)):
        if not (value or "").strip():
            errors[field] = _("This field is required.")
    for field, text in (("subject", subject), ("body", body)):
        if field not in errors:
            if problem := merge_problem(text, TEMPLATE_FIELDS):
                errors[field] = problem
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
        raise PermissionDenied(_("You cannot delete this template."))
    with transaction.atomic():
        rollups_fold("template_id", [template.pk])  # its emails now have no template
        template.delete()


def template_editable_by(template: EmailTemplate, user) -> bool:
    return user.is_admin if template.shared else template.owner_id == user.pk
