"""The periodic two-way unsubscribe sync with Salesforce (SPEC section 7).

One pass reads the opt-out checkboxes of Contacts and Leads and, in one transaction with the
stream's cursor:

- records an app unsubscribe (source ``salesforce``) for every person in the workspace whose
  contact or lead is opted out and who has none in force;
- pushes the opt-out again (an outbox delivery, as for a new unsubscribe) where a person has
  an unsubscribe in force but their contact, else lead, is not opted out: opted-out wins, and
  a box unchecked in Salesforce never removes an app unsubscribe (re-subscribes never sync).

The first pass (and the first after the custom checkbox changes) reads only what is opted out:
``SELECT Id, HasOptedOutOfEmail FROM Contact WHERE HasOptedOutOfEmail = true`` (and Lead), 2,000
records a call; every unsubscribe in force whose record is not among them is pushed. Later
passes read what changed since the last pass started (``SystemModstamp``, with an overlap for
clock skew and late commits): a nightly pass costs a few calls, not a scan of the org.

The REST query API and not Bulk API 2.0: at 2,000 records a call, 50,000 opt-outs cost 25
calls and 600,000 fit in 300; a Bulk 2.0 query costs at least four calls (create, poll,
results, …) and minutes of queueing before the first row, which only pays off past millions
of opted-out records, far beyond what an org's sales team holds.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from people.models import Person
from syncing.clients.salesforce import SalesforceClient
from syncing.clients.transport import TransportError
from syncing.models import SyncSettings, SyncStream
from syncing.settings.selectors import salesforce_connection_get, sync_settings_get
from syncing.settings.services import salesforce_client_for
from syncing.streams import stream_claim, stream_get, stream_pass_record
from unsubscribes.models import Unsubscribe
from unsubscribes.services import unsubscribes_push, unsubscribes_record_many

from .optout_fields import SOBJECTS, optout_fields

log = logging.getLogger(__name__)

NAME = SyncStream.Name.UNSUBSCRIBES
LEASE = timedelta(minutes=30)
# Each pass is logged under its Sync health source's name (syncing/<room>/health.py).
PASS_LOG = "unsubscribes_in"
#: Changes are read from this long before the last pass started: Salesforce's clock is not
#: ours, and a record saved while the last pass read may carry an earlier SystemModstamp.
OVERLAP = timedelta(minutes=10)
#: A failed pass is tried again after this long, whatever the schedule.
RETRY_AFTER_FAILURE = timedelta(minutes=15)
INTERVALS = {SyncSettings.UnsubscribeSchedule.HOURLY: timedelta(hours=1),
             SyncSettings.UnsubscribeSchedule.EVERY_6_HOURS: timedelta(hours=6)}
NIGHTLY_HOUR = 2
PAGE = 2000
#: Salesforce ids (or people) per query of the app's rows they belong to.
ID_CHUNK = 5000


@dataclass
class UnsubscribePass:
    """What one pass did, kept on the stream for the settings page."""

    full: bool
    read: int = 0        # Salesforce records read (opted out, or changed since the last pass)
    matched: int = 0     # people in the workspace they belong to
    imported: int = 0    # app unsubscribes recorded from Salesforce opt-outs
    pushed: int = 0      # opt-outs Salesforce had lost, pushed again
    calls: int = 0       # Salesforce API calls

    def __str__(self) -> str:
        return (f"unsubscribes: {'full' if self.full else 'incremental'} pass, "
                f"{self.read:,} Salesforce records read, {self.imported:,} imported, "
                f"{self.pushed:,} opt-outs pushed again, {self.calls} Salesforce calls")

    def summary(self) -> str:
        """The pass for an admin reading ``manage.py sync`` (``__str__`` is for the logs)."""
        figures = {"read": formats.number_format(self.read, force_grouping=True),
                   "imported": formats.number_format(self.imported, force_grouping=True),
                   "pushed": formats.number_format(self.pushed, force_grouping=True),
                   "calls": self.calls}
        if self.full:
            return _("unsubscribes: full pass, %(read)s Salesforce records read, %(imported)s "
                     "imported, %(pushed)s opt-outs pushed again, %(calls)s Salesforce "
                     "calls") % figures
        return _("unsubscribes: incremental pass, %(read)s Salesforce records read, "
                 "%(imported)s imported, %(pushed)s opt-outs pushed again, %(calls)s "
                 "Salesforce calls") % figures


def unsubscribe_stream() -> SyncStream:
    return stream_get(NAME)


def _last_nightly(now: datetime) -> datetime:
    local = timezone.localtime(now)
    slot = local.replace(hour=NIGHTLY_HOUR, minute=0, second=0, microsecond=0)
    return slot if slot <= local else slot - timedelta(days=1)


def unsubscribe_sync_due(now: datetime | None = None) -> bool:
    """Switched on, idle, and its schedule (or a retry after a failure) says so."""
    now = now or timezone.now()
    settings = sync_settings_get()
    if not settings.unsubscribe_sync_enabled:
        return False
    stream = unsubscribe_stream()
    if stream.lease_until is not None and stream.lease_until > now:
        return False
    last = stream.last_attempt_at
    if last is None:
        return True
    if stream.status == SyncStream.Status.FAILING and now - last >= RETRY_AFTER_FAILURE:
        return True
    schedule = settings.unsubscribe_sync_schedule
    if schedule in INTERVALS:
        return now - last >= INTERVALS[schedule]
    return last < _last_nightly(now)


def unsubscribe_sync_pass() -> UnsubscribePass | None:
    """One pass (full or incremental, as the cursor says); None if another is running.
    Raises ``TransportError`` when Salesforce fails; nothing of the pass is applied then."""
    stream = unsubscribe_stream()
    if not stream_claim(stream, LEASE):
        return None
    started = timezone.now()
    try:
        report = _pass(stream)
    except Exception as error:
        SyncStream.objects.filter(pk=stream.pk).update(
            status=SyncStream.Status.FAILING, last_error=str(error)[:2000], lease_until=None,
            consecutive_failures=stream.consecutive_failures + 1)
        stream_pass_record(PASS_LOG, started, error=str(error) or type(error).__name__)
        raise
    stream_pass_record(PASS_LOG, started, rows=report.read)
    return report


def _client() -> SalesforceClient:
    connection = salesforce_connection_get()
    if not connection.is_configured:
        raise TransportError("Salesforce is not connected: fill in the Salesforce card on "
                             "Settings.", code="NOT_CONNECTED", permanent=True)
    return salesforce_client_for(connection, timeout=120, max_attempts=5)


def _soql_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read(client: SalesforceClient, fields: list[str], since: datetime | None
          ) -> dict[str, tuple[bool, bool]]:
    """``{id: (any box checked, every box checked)}`` for the Contacts and Leads that are
    opted out (``since`` None) or changed since ``since``. Ids as Salesforce sends them (18
    characters)."""
    state: dict[str, tuple[bool, bool]] = {}
    columns = ", ".join(["Id", *fields])
    where = (" OR ".join(f"{name} = true" for name in fields) if since is None
             else f"SystemModstamp >= {_soql_datetime(since)}")
    for sobject in SOBJECTS:
        for record in client.query(f"SELECT {columns} FROM {sobject} WHERE {where}",
                                   batch_size=PAGE):
            values = [bool(record.get(name)) for name in fields]
            state[record["Id"]] = (any(values), all(values))
    return state


def _people_of(ids: list[str]) -> list[Person]:
    """People in the workspace whose contact or lead id is one of ``ids``, stored in their
    18- or 15-character form."""
    people: dict[int, Person] = {}
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start:start + ID_CHUNK]
        forms = [*chunk, *(sid[:15] for sid in chunk)]
        found = (Person.workspace.filter(Q(sfdc_contact_id__in=forms) | Q(sfdc_lead_id__in=forms))
                 .only("pk", "email", "sfdc_contact_id", "sfdc_lead_id"))
        people.update((person.pk, person) for person in found)
    return list(people.values())


def _primary(contact_id: str, lead_id: str) -> str:
    """The 15-character id of the record a push sets: the contact, else the lead."""
    return (contact_id or lead_id or "")[:15]


def _pass(stream: SyncStream) -> UnsubscribePass:
    client = _client()
    fields = optout_fields(sync_settings_get())
    cursor = stream.cursor or {}
    full = cursor.get("fields") != fields or not cursor.get("high_water")
    since = None if full else datetime.fromisoformat(cursor["high_water"]) - OVERLAP
    started = timezone.now()
    read = _read(client, fields, since)
    report = UnsubscribePass(full=full, read=len(read))
    # Keyed by the 15-character id, which both forms start with.
    state = {sid[:15]: checked for sid, checked in read.items()}

    people = _people_of(sorted(read))
    report.matched = len(people)
    opted_out = [person for person in people
                 if any(state.get((sid or "")[:15], (False, False))[0]
                        for sid in (person.sfdc_contact_id, person.sfdc_lead_id))]
    with transaction.atomic():
        report.imported = len(unsubscribes_record_many(opted_out, Unsubscribe.Source.SALESFORCE,
                                                       push=False))
        lost = _lost_opt_outs(state, people, full)
        report.pushed = len(unsubscribes_push(lost, unless_pending=True))
        report.calls = client.calls
        stream.cursor = {"fields": fields, "high_water": started.isoformat()}
        stream.state = {**stream.state, "last_pass": asdict(report)}
        stream.status = SyncStream.Status.HEALTHY
        stream.last_error = ""
        stream.last_success_at = timezone.now()
        stream.caught_up_to = started
        stream.consecutive_failures = 0
        stream.lease_until = None
        stream.save(update_fields=["cursor", "state", "status", "last_error", "last_success_at",
                                   "caught_up_to", "consecutive_failures", "lease_until"])
    log.info("%s", report)
    return report


def _lost_opt_outs(state: dict[str, tuple[bool, bool]], people: list[Person], full: bool
                   ) -> list[Unsubscribe]:
    """Unsubscribes in force whose contact, else lead, is not (wholly) opted out: every one
    whose record was not read as opted out (full pass), or whose record changed and is not
    (incremental)."""
    in_force = (Unsubscribe.objects.filter(removed_at__isnull=True).select_related("person")
                .only("pk", "person__sfdc_contact_id", "person__sfdc_lead_id"))
    if full:
        candidates = in_force.iterator(chunk_size=ID_CHUNK)
    else:
        pks = [person.pk for person in people]
        candidates = (unsubscribe for start in range(0, len(pks), ID_CHUNK)
                      for unsubscribe in in_force.filter(person__in=pks[start:start + ID_CHUNK]))
    lost = []
    for unsubscribe in candidates:
        primary = _primary(unsubscribe.person.sfdc_contact_id, unsubscribe.person.sfdc_lead_id)
        if not primary:
            continue  # nowhere to push; Diagnostics shows its own delivery's failure
        seen = state.get(primary)
        if (seen is None and full) or (seen is not None and not seen[1]):
            lost.append(unsubscribe)
    return lost
