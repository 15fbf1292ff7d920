"""What happens to a sent email after it leaves: the event service.

Every open, click, delivery, bounce, complaint, reply and unsubscribe of a sales email comes
through ``events_apply``, whatever told us — the open pixel and click redirect (via
``tracking_buffer``), the provider events API (``POST /api/v1/emails/events/``) or anymail's
webhooks (``emails/webhooks.py``). In one transaction per batch it:

- stores each new event (``EmailEvent``); an event already stored (same email, kind and
  moment ``at``) is skipped, so a retried webhook or a re-run buffer flush never counts twice;
- moves the email's status forward only: sent < delivered < opened < clicked < replied, and
  bounced; nothing moves an email back, nothing moves one out of replied, bounced or failed,
  and an email not sent yet (queued, held) keeps its status;
- queues the Marketo activities (SPEC section 4) through the outbox: "Open Sales Email" for the
  first open of an email in any hour (repeat opens are stored but not logged: an open is logged
  when the email's last logged open is an hour old or more), "Click Sales Email" with the link,
  "Sales Email Replied", "Sales Email Bounced" with the details;
- records an unsubscribe (source ``bounce``) for the person of a hard bounce or a complaint;
- after commit, sends ``emails.signals.email_status_changed`` (``email=``, ``status=``) when an
  email becomes replied or bounced, and for a complaint or an unsubscribe by link
  (``status="complained"`` / ``"unsubscribed"``), so campaigns can end the membership.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, Min, OuterRef, Q, Subquery
from django.utils import timezone

from analytics.rollups import rollups_recount, slices
from syncing.email.engagement import EVENT_KINDS as DELIVERY_KINDS
from syncing.models import Delivery
from syncing.outbox.queue import deliveries_build, deliveries_save
from syncing.settings.selectors import marketo_connection_get, sync_settings_get
from unsubscribes.models import Unsubscribe
from unsubscribes.services import unsubscribe_record, unsubscribes_record_many

from .models import EmailEvent, SalesEmail
from .signals import email_status_changed
from .tracking_hits import Hit, us_to_datetime

log = logging.getLogger(__name__)

Status = SalesEmail.Status
Kind = EmailEvent.Kind
Source = EmailEvent.Source

#: How far each status is along the way; a status moves only to a higher rank. Replied,
#: bounced and failed are ends; an email not handed to the backend yet (queued, held) is
#: never moved by an event (it would never be sent).
NOT_SENT = (Status.QUEUED, Status.HELD, Status.CANCELLED)
RANK = {Status.QUEUED: 0, Status.HELD: 0, Status.SENDING: 0, Status.SENT: 1,
        Status.DELIVERED: 2, Status.OPENED: 3, Status.CLICKED: 4, Status.REPLIED: 5,
        Status.BOUNCED: 5, Status.FAILED: 5, Status.CANCELLED: 5}
#: The status an event kind moves an email to.
STATUS_OF = {Kind.DELIVERED: Status.DELIVERED, Kind.OPENED: Status.OPENED,
             Kind.CLICKED: Status.CLICKED, Kind.REPLIED: Status.REPLIED,
             Kind.BOUNCED: Status.BOUNCED}
#: Signalled (after commit) when an email reaches it, for campaigns.
SIGNALLED_STATUSES = (Status.REPLIED, Status.BOUNCED)
#: Opens of one email logged to Marketo at most once in this long.
OPEN_LOG_INTERVAL = timedelta(hours=1)
SKIP_MARKETO_OFF = "Logging sales activities to Marketo is switched off."
SKIP_MARKETO_NOT_CONNECTED = "Marketo is not connected."
DETAIL_MAX = 2000


@dataclass
class EventIn:
    """One event of one email, from whichever source."""

    email: SalesEmail
    kind: str
    at: datetime
    source: str
    url: str = ""
    detail: str = ""
    #: Bounces only: a hard (permanent) bounce unsubscribes the address; a soft one does not.
    hard: bool = True
    #: Set by ``events_apply``: stored now (False: it was stored already).
    recorded: bool = False

    def key(self) -> tuple:
        return (self.email.pk, self.kind, self.at)


@dataclass
class Applied:
    """What ``events_apply`` did."""

    created: list[EmailEvent] = field(default_factory=list)
    duplicates: int = 0
    status_changes: dict[int, str] = field(default_factory=dict)  # email id -> new status
    unsubscribed: list[int] = field(default_factory=list)  # person ids


def events_apply(events: list[EventIn]) -> Applied:
    """Store ``events`` and apply what they mean (see the module docstring), in one
    transaction."""
    applied = Applied()
    if not events:
        return applied
    with transaction.atomic():
        new = _new_events(events, applied)
        if not new:
            return applied
        rows = EmailEvent.objects.bulk_create(
            [EmailEvent(email=event.email, kind=event.kind, at=event.at, source=event.source,
                        url=event.url, detail=event.detail[:DETAIL_MAX]) for event in new])
        applied.created = rows
        _statuses_forward(new, applied)
        replied_before = _replied_times(new)
        _outcome_times(new)
        _marketo_queue(list(zip(new, rows, strict=True)))
        _unsubscribes_record(new, applied)
        _rollups_recount(new, replied_before)
        _signals_after_commit(new, applied)
    return applied


def _new_events(events: list[EventIn], applied: Applied) -> list[EventIn]:
    """The events not stored yet (nor twice in ``events``)."""
    email_ids = {event.email.pk for event in events}
    moments = [event.at for event in events]
    stored = set(EmailEvent.objects.filter(
        email_id__in=email_ids, at__gte=min(moments), at__lte=max(moments),
        kind__in={event.kind for event in events}).values_list("email_id", "kind", "at"))
    new = []
    for event in events:
        if event.key() in stored:
            applied.duplicates += 1
            continue
        stored.add(event.key())
        event.recorded = True
        new.append(event)
    return new


def _statuses_forward(events: list[EventIn], applied: Applied) -> None:
    """Move each email to the furthest status its events reach, never back."""
    target: dict[int, str] = {}
    emails = {}
    for event in events:
        status = STATUS_OF.get(event.kind)
        if status is None:
            continue
        emails[event.email.pk] = event.email
        current = target.get(event.email.pk)
        if current is None or RANK[status] > RANK[current]:
            target[event.email.pk] = status
    by_status: dict[str, list[int]] = defaultdict(list)
    for email_id, status in target.items():
        by_status[status].append(email_id)
    now = timezone.now()
    for status, ids in by_status.items():
        lower = [each for each, rank in RANK.items()
                 if rank < RANK[status] and each not in NOT_SENT]
        changing = SalesEmail.objects.filter(pk__in=ids, status__in=lower)
        if status in SIGNALLED_STATUSES:
            # Few; lock them so the ids that changed are exactly the ones updated.
            changed = list(changing.select_for_update().values_list("pk", flat=True))
            SalesEmail.objects.filter(pk__in=changed).update(status=status, updated_at=now)
        else:
            changed = ids
            changing.update(status=status, updated_at=now)
        for email_id in changed:
            applied.status_changes[email_id] = status
    for email_id, status in applied.status_changes.items():
        if email_id in emails and RANK[status] > RANK.get(emails[email_id].status, 0):
            emails[email_id].status = status


#: The email's column that holds the first event of each outcome (the analytics read them).
OUTCOME_COLUMNS = {Kind.OPENED: "opened_at", Kind.CLICKED: "clicked_at",
                   Kind.REPLIED: "replied_at", Kind.BOUNCED: "bounced_at"}


def _outcome_times(events: list[EventIn]) -> None:
    """Keep each email's first open, click, reply and bounce (one UPDATE per outcome in the
    batch). The earliest stored event wins, so an event reported late still counts as first;
    ``manage.py analytics_rebuild`` recounts them all."""
    for kind, column in OUTCOME_COLUMNS.items():
        ids = {event.email.pk for event in events if event.kind == kind}
        if ids:
            first = (EmailEvent.objects.filter(email=OuterRef("pk"), kind=kind).order_by()
                     .values("email").annotate(first=Min("at")).values("first"))
            SalesEmail.objects.filter(pk__in=ids).update(**{column: Subquery(first)})


#: The event kinds that change an email's figures in the analytics (an outcome, or an
#: unsubscribe the email caused).
ROLLUP_KINDS = (*OUTCOME_COLUMNS, Kind.COMPLAINED, Kind.UNSUBSCRIBED)


def _replied_times(events: list[EventIn]) -> dict[int, datetime | None]:
    """The stored first-reply times of the emails replied to in ``events`` (a late reply may
    move one earlier: the activity report's old hour is recounted too)."""
    ids = {event.email.pk for event in events if event.kind == Kind.REPLIED}
    return dict(SalesEmail.objects.filter(pk__in=ids).values_list("pk", "replied_at")) if ids \
        else {}


def _rollups_recount(events: list[EventIn], replied_before: dict) -> None:
    """Recount the analytics' rollups these events change: the hour each email was sent
    (its outcomes count there), and the hours of its first reply before and after."""
    ids = {event.email.pk for event in events if event.kind in ROLLUP_KINDS}
    if not ids:
        return
    rows = list(SalesEmail.objects.filter(pk__in=ids).values_list("pk", "sender_id", "sent_at",
                                                                   "replied_at"))
    rollups_recount(
        emails=slices((sent_at, sender) for _, sender, sent_at, _ in rows),
        activity=slices([(replied_at, sender) for pk, sender, _, replied_at in rows
                         if pk in replied_before]
                        + [(replied_before[pk], sender) for pk, sender, _, _ in rows
                           if pk in replied_before]))


def _marketo_queue(pairs: list[tuple[EventIn, EmailEvent]]) -> None:
    """Queue a Marketo delivery for each event that is logged there."""
    logged_opens = _opens_to_log([(event, row) for event, row in pairs
                                  if event.kind == Kind.OPENED])
    sync_settings = sync_settings_get()
    skip = (SKIP_MARKETO_OFF if not sync_settings.log_activities_to_marketo
            else SKIP_MARKETO_NOT_CONNECTED if not marketo_connection_get().is_configured
            else "")
    skipped = {Delivery.Target.MARKETO: skip} if skip else {}
    deliveries = []
    for event, row in pairs:
        kind = DELIVERY_KINDS.get(event.kind)
        if kind is None or (event.kind == Kind.OPENED and row.pk not in logged_opens):
            continue
        deliveries += deliveries_build(kind=kind, record=row, skipped=skipped,
                                       targets=[Delivery.Target.MARKETO])
    if deliveries:
        deliveries_save(deliveries)


def _opens_to_log(pairs: list[tuple[EventIn, EmailEvent]]) -> set[int]:
    """The new opens (event ids) to log: those with no logged open of the same email within
    an hour of them (either side: a provider may report an open late)."""
    if not pairs:
        return set()
    email_ids = {event.email.pk for event, _ in pairs}
    moments = [event.at for event, _ in pairs]
    # The opens logged already, near enough in time to matter (few: one an hour per email).
    logged = EmailEvent.objects.filter(
        email_id__in=email_ids, kind=Kind.OPENED, at__gt=min(moments) - OPEN_LOG_INTERVAL,
        at__lt=max(moments) + OPEN_LOG_INTERVAL).filter(Exists(
            Delivery.objects.filter(record_type=ContentType.objects.get_for_model(EmailEvent),
                                    record_id=OuterRef("pk"),
                                    kind=DELIVERY_KINDS[Kind.OPENED])))
    logged_at: dict[int, list[datetime]] = defaultdict(list)
    for email_id, at in logged.values_list("email_id", "at"):
        logged_at[email_id].append(at)
    chosen = set()
    for event, row in sorted(pairs, key=lambda pair: pair[0].at):
        times = logged_at[event.email.pk]
        if any(abs(event.at - at) < OPEN_LOG_INTERVAL for at in times):
            continue
        chosen.add(row.pk)
        times.append(event.at)
    return chosen


def _unsubscribes_record(events: list[EventIn], applied: Applied) -> None:
    """A hard bounce or a complaint: the address gets no more sales email (source bounce)."""
    causes = [event.email for event in events
              if (event.kind == Kind.BOUNCED and event.hard) or event.kind == Kind.COMPLAINED]
    if causes:
        created = unsubscribes_record_many(
            [email.person for email in causes], Unsubscribe.Source.BOUNCE,
            sales_emails={email.person_id: email.pk for email in causes})
        applied.unsubscribed = [unsubscribe.person_id for unsubscribe in created]


def _signals_after_commit(events: list[EventIn], applied: Applied) -> None:
    emails = {event.email.pk: event.email for event in events}
    sends = [(emails[email_id], status) for email_id, status in applied.status_changes.items()
             if status in SIGNALLED_STATUSES]
    sends += [(event.email, event.kind) for event in events
              if event.kind in (Kind.COMPLAINED, Kind.UNSUBSCRIBED)]
    if sends:
        transaction.on_commit(lambda: _signals_send(sends))


def _signals_send(sends) -> None:
    for email, status in sends:
        try:
            email_status_changed.send(sender=SalesEmail, email=email, status=status)
        except Exception:  # a listener's failure must not undo or hide the others
            log.exception("email_status_changed listener failed for email %s", email.pk)


# --------------------------------------------------------------------------- sources


def hits_apply(hits: list[Hit]) -> int:
    """Opens and clicks from the pixel and the redirect (``tracking_buffer``); returns how
    many were new. Hits of emails that no longer exist are dropped."""
    emails = SalesEmail.objects.select_related("person").in_bulk({hit.email_id for hit in hits})
    events = [EventIn(email=emails[hit.email_id], kind=hit.kind, at=us_to_datetime(hit.at_us),
                      source=Source.TRACKING, url=hit.url)
              for hit in hits if hit.email_id in emails]
    if len(events) < len(hits):
        log.warning("dropped %d tracking hits of unknown emails", len(hits) - len(events))
    return len(events_apply(events).created)


def unsubscribe_by_link(email: SalesEmail) -> Unsubscribe:
    """The recipient unsubscribed with the link in ``email`` (the confirm button, or an RFC
    8058 one-click POST): record the unsubscribe (source ``link``) and the event."""
    with transaction.atomic():
        recorded = unsubscribe_record(email.person, Unsubscribe.Source.LINK,
                                      sales_email_id=email.pk)
        if recorded.created:
            events_apply([EventIn(email=email, kind=Kind.UNSUBSCRIBED, at=timezone.now(),
                                  source=Source.TRACKING,
                                  detail=f"Unsubscribed {email.to_email} with the link.")])
    return recorded.unsubscribe


def message_id_variants(message_id: str) -> list[str]:
    """A Message-ID as stored (``<id@host>``) and bare: providers give either."""
    bare = (message_id or "").strip().strip("<>").strip()
    return [f"<{bare}>", bare] if bare else []


def emails_by_message_id(message_ids) -> dict[str, SalesEmail]:
    """Emails by any form of their Message-ID, or by the id their ESP gave them
    (``provider_message_id``: Postmark's events name that one), keyed as given."""
    wanted = {variant: given for given in message_ids for variant in message_id_variants(given)}
    found = {}
    for email in SalesEmail.objects.select_related("person", "sender").filter(
            Q(message_id__in=list(wanted)) | Q(provider_message_id__in=list(wanted))):
        for variant in [*message_id_variants(email.message_id), email.provider_message_id]:
            if variant and variant in wanted:
                found[wanted[variant]] = email
    return found
