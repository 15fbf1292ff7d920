"""The outbox's claiming and scheduling, without a remote system: claims are disjoint across
workers, expire, mark what must be reconciled, and a flush is enqueued once per burst and
never lost to a broker outage."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from factories import PersonFactory, UserFactory

from syncing.models import Delivery, DeliveryAttempt
from syncing.outbox import flush, queue
from syncing.outbox.batch import Outcome, SenderResult
from syncing.outbox.queue import (
    deliveries_build,
    deliveries_claim,
    deliveries_flush_soon,
    deliveries_flush_started,
)
from syncing.outbox.streams import delivery_pause, delivery_stream
from syncing.tasks import deliveries_flush_task, sync_tick

SALESFORCE = Delivery.Target.SALESFORCE


def pending(count: int) -> list[Delivery]:
    """``count`` pending Salesforce deliveries (Marketo ones skipped), oldest first."""
    from activities.models import Call

    user = UserFactory()
    rows = []
    for _ in range(count):
        call = Call.objects.create(person=PersonFactory(), logged_by=user)
        rows += deliveries_build(kind="call", record=call,
                                 skipped={Delivery.Target.MARKETO: "off"})
    Delivery.objects.bulk_create(rows)
    return list(Delivery.objects.filter(target=SALESFORCE).order_by("id"))


@pytest.fixture
def cache(settings):
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "outbox-tests"}}
    cache.clear()
    return cache


@pytest.mark.django_db
def test_a_built_delivery_is_what_assigning_its_record_makes(django_assert_num_queries):
    """deliveries_build sets the record's type, id and the record itself as ``record=`` would
    (without the generic relation's setter), for each target: read back without a query."""
    from activities.models import Call

    call = Call.objects.create(person=PersonFactory(), logged_by=UserFactory())
    expected = Delivery(record=call)

    built = deliveries_build(kind="call", record=call, skipped={Delivery.Target.MARKETO: "off"})

    with django_assert_num_queries(0):
        assert [(d.target, d.status, d.skip_reason) for d in built] == [
            (target, "skipped" if target == "marketo" else "pending",
             "off" if target == "marketo" else "") for target in Delivery.Target.values]
        assert all((d.record_type, d.record_type_id, d.record_id, d.record)
                   == (expected.record_type, expected.record_type_id, call.pk, call)
                   and d.record is call for d in built)


@pytest.mark.django_db
def test_claims_are_disjoint_and_in_order():
    rows = pending(5)

    first = deliveries_claim(SALESFORCE, 3)
    second = deliveries_claim(SALESFORCE, 3)

    assert [d.pk for d in first.deliveries] == [d.pk for d in rows[:3]]
    assert [d.pk for d in second.deliveries] == [d.pk for d in rows[3:]]
    assert deliveries_claim(SALESFORCE, 3) is None
    assert first.token != second.token
    assert {d.status for d in Delivery.objects.filter(target=SALESFORCE)} == {"in_progress"}


@pytest.mark.django_db
def test_a_backlog_helper_claims_full_batches_only():
    pending(2)

    assert deliveries_claim(SALESFORCE, 3, full_only=True) is None
    # Refused, it claimed nothing: both still wait for an ordinary flush.
    assert set(Delivery.objects.filter(target=SALESFORCE).values_list(
        "status", "claim_token")) == {("pending", "")}
    assert len(deliveries_claim(SALESFORCE, 2, full_only=True).deliveries) == 2


@pytest.mark.django_db
def test_a_claim_is_one_statement_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite claims with a select, an update and a read (no SKIP LOCKED)")
    from django.test.utils import CaptureQueriesContext

    rows = pending(3)
    rows[0].outcome_unknown = True
    rows[0].save(update_fields=["outcome_unknown"])

    with CaptureQueriesContext(connection) as queries:
        batch = deliveries_claim(SALESFORCE)

    assert len(queries) == 1
    # The rows come back as they are now, claimed, with what they held before the claim.
    stored = {d.pk: d for d in Delivery.objects.filter(target=SALESFORCE)}
    assert [d.pk for d in batch.deliveries] == [d.pk for d in rows]
    for delivery in batch.deliveries:
        assert delivery.status == "in_progress" and delivery.claim_token == batch.token
        assert delivery.claimed_until == stored[delivery.pk].claimed_until
        assert delivery.record_id == rows[[d.pk for d in rows].index(delivery.pk)].record_id
    assert batch.reconcile == {rows[0].pk}


@pytest.mark.django_db
def test_deliveries_wait_for_their_retry_time():
    first, later = pending(2)
    Delivery.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5))

    batch = deliveries_claim(SALESFORCE)

    assert list(batch.by_id) == [first.pk]


@pytest.mark.django_db
def test_an_expired_claim_is_taken_over_and_reconciled_if_it_was_sent():
    sent, unsent = pending(2)
    dead = deliveries_claim(SALESFORCE)
    dead.mark_sending([sent.pk])  # the worker died after sending one of its two
    Delivery.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))

    taken_over = deliveries_claim(SALESFORCE)

    assert set(taken_over.by_id) == {sent.pk, unsent.pk}
    assert taken_over.reconcile == {sent.pk}
    assert taken_over.by_id[sent.pk].attempts == 1


@pytest.mark.django_db
def test_a_late_worker_cannot_overwrite_the_new_owner():
    delivery, = pending(1)
    late = deliveries_claim(SALESFORCE)
    Delivery.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    owner = deliveries_claim(SALESFORCE)

    queue.batch_record(late, SenderResult({delivery.pk: Outcome.failed("LATE", "too late")}))
    queue.batch_record(owner, SenderResult({delivery.pk: Outcome.delivered("00T000000000001AAA")}))

    delivery.refresh_from_db()
    assert (delivery.status, delivery.remote_id, delivery.last_error_code) == (
        "delivered", "00T000000000001AAA", "")
    # Both attempts are on record, the late one saying so.
    assert sorted(delivery.attempt_log.values_list("outcome", "error_code", "error_message")) == [
        ("delivered", "", ""), ("failed", "LATE", "(recorded after the claim expired) too late")]


def record_mixed_batch(size: int) -> tuple[list[Delivery], int]:
    """Claim ``size`` deliveries, send all but the last (a third delivered, the rest to
    retry), fail the last before it left; record it. Returns the rows and the statements the
    record took."""
    from django.test.utils import CaptureQueriesContext

    rows = pending(size)
    batch = deliveries_claim(SALESFORCE, size)
    batch.mark_sending([d.pk for d in rows[:-1]])
    outcomes = {d.pk: Outcome.delivered(f"00T{d.pk:015d}") if i % 3 == 0
                else Outcome.retry("UNABLE_TO_LOCK_ROW", "busy") for i, d in enumerate(rows)}
    outcomes[rows[-1].pk] = Outcome.retry("NOT_CONNECTED", "not connected")
    with CaptureQueriesContext(connection) as queries:
        counts = queue.batch_record(batch, SenderResult(outcomes))
    assert sum(counts.values()) == size
    return rows, len(queries)


@pytest.mark.django_db
def test_a_batch_is_recorded_in_the_same_few_statements_whatever_its_size():
    delivery_stream(SALESFORCE)  # made on the first batch ever
    small, small_statements = record_mixed_batch(4)
    Delivery.objects.all().delete()
    rows, statements = record_mixed_batch(40)

    assert statements == small_statements
    stored = {d.pk: d for d in Delivery.objects.filter(pk__in=[d.pk for d in rows])}
    for i, row in enumerate(rows[:-1]):
        delivery = stored[row.pk]
        assert (delivery.claim_token, delivery.claimed_until, delivery.attempts) == ("", None, 1)
        if i % 3 == 0:
            assert (delivery.status, delivery.remote_id, delivery.outcome_unknown) == (
                "delivered", f"00T{row.pk:015d}", False)
        else:
            assert (delivery.status, delivery.remote_id, delivery.last_error_code) == (
                "pending", "", "UNABLE_TO_LOCK_ROW")
    # Failed before it left: an attempt all the same, counted when it is recorded.
    last = stored[rows[-1].pk]
    assert (last.status, last.attempts, last.last_error_code) == ("pending", 1, "NOT_CONNECTED")
    assert last.first_attempt_at is not None and last.last_attempt_at is not None
    logged = {a.delivery_id: a for a in DeliveryAttempt.objects.filter(delivery__in=rows)}
    assert len(logged) == 40
    for i, row in enumerate(rows[:-1]):
        assert (logged[row.pk].outcome, logged[row.pk].error_code) == (
            ("delivered", "") if i % 3 == 0 else ("retry", "UNABLE_TO_LOCK_ROW"))
    assert (logged[rows[-1].pk].outcome, logged[rows[-1].pk].error_message) == (
        "retry", "not connected")


@pytest.mark.django_db
def test_without_update_returning_a_late_worker_still_cannot_overwrite(monkeypatch):
    """SQLite before 3.35 has no ``UPDATE … RETURNING``: the rows the claim still holds are read
    first, with the same outcome."""
    monkeypatch.setattr(queue, "_update_returns_rows", lambda: False)
    delivery, = pending(1)
    late = deliveries_claim(SALESFORCE)
    Delivery.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    owner = deliveries_claim(SALESFORCE)

    assert queue.batch_record(late, SenderResult(
        {delivery.pk: Outcome.failed("LATE", "too late")})) == {}
    assert queue.batch_record(owner, SenderResult(
        {delivery.pk: Outcome.delivered("00T000000000001AAA")})) == {"delivered": 1}

    delivery.refresh_from_db()
    assert (delivery.status, delivery.remote_id, delivery.claim_token) == (
        "delivered", "00T000000000001AAA", "")
    assert delivery.attempt_log.count() == 2


@pytest.mark.django_db(transaction=True)
def test_workers_claiming_at_once_never_share_a_delivery():
    rows = pending(300)
    barrier = threading.Barrier(3)
    claimed: list[list[int]] = []

    def worker():
        try:
            barrier.wait()
            batch = deliveries_claim(SALESFORCE, 120)
            claimed.append(list(batch.by_id) if batch else [])
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [pk for batch in claimed for pk in batch]
    assert len(every) == len(set(every)) == 300
    assert set(every) == {d.pk for d in rows}


@pytest.mark.django_db
def test_one_flush_is_enqueued_per_burst(cache, monkeypatch):
    sent = []
    monkeypatch.setattr(deliveries_flush_task, "apply_async",
                        lambda args, **options: sent.append((args, options)))

    for _ in range(3):
        deliveries_flush_soon([SALESFORCE, Delivery.Target.MARKETO])
    deliveries_flush_started(SALESFORCE)  # that flush is running: the next call needs one
    deliveries_flush_soon([SALESFORCE])

    assert [args for args, _ in sent] == [("salesforce", False), ("marketo", False),
                                          ("salesforce", False)]
    assert sent[0][1]["retry"] is False


def _calls_saved(count: int, *, gather: bool = False) -> None:
    from activities.models import Call

    user, person = UserFactory(), PersonFactory()
    calls = [Call.objects.create(person=person, logged_by=user) for _ in range(count)]
    queue.deliveries_save([delivery for call in calls for delivery in deliveries_build(
        kind="call", record=call, skipped={})], gather=gather)


@pytest.mark.django_db
def test_a_bulk_save_flushes_a_full_batch_at_once_and_lingers_for_less(
        cache, monkeypatch, django_capture_on_commit_callbacks):
    """The linger lets a trickle of calls gather into a batch; a bulk action that saves a
    full batch (or more) for a target has nothing to gather."""
    sent = []
    monkeypatch.setattr(deliveries_flush_task, "apply_async",
                        lambda args, **options: sent.append((args[0], options["countdown"])))
    monkeypatch.setitem(queue.BATCH_SIZES, SALESFORCE, 3)

    with django_capture_on_commit_callbacks(execute=True):
        _calls_saved(3)

    # Three Salesforce deliveries fill a batch (3 here); three to Marketo are 1% of one.
    assert sent == [("salesforce", None), ("marketo", queue.linger_seconds())]


@pytest.mark.django_db
def test_a_save_asked_to_gather_lingers_even_with_a_full_batch(
        cache, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(deliveries_flush_task, "apply_async",
                        lambda args, **options: sent.append((args[0], options["countdown"])))
    monkeypatch.setitem(queue.BATCH_SIZES, SALESFORCE, 3)

    with django_capture_on_commit_callbacks(execute=True):
        _calls_saved(3, gather=True)

    assert sent == [("marketo", queue.linger_seconds()), ("salesforce", queue.linger_seconds())]


@pytest.mark.django_db
def test_each_full_batch_enqueues_its_own_backlog_helper(cache, monkeypatch):
    """Not deduplicated: on Redis a helper can land on the busy worker that enqueued it, and
    the next full batch's helper then goes to an idle one."""
    sent = []
    monkeypatch.setattr(deliveries_flush_task, "apply_async",
                        lambda args, **options: sent.append((args, options["countdown"])))
    monkeypatch.setitem(queue.BATCH_SIZES, SALESFORCE, 2)
    pending(5)

    report = flush.deliveries_flush(SALESFORCE)

    assert report.batches == 3  # 2 + 2 + the partial 1
    # At once: a backlog has nothing left to gather, so idle workers join it without the
    # linger an ordinary flush waits.
    assert sent == [(("salesforce", True), None), (("salesforce", True), None)]


@pytest.mark.django_db
def test_a_backlog_helper_leaves_a_partial_batch_to_an_ordinary_flush(cache, monkeypatch):
    sent = []
    monkeypatch.setattr(deliveries_flush_task, "apply_async",
                        lambda args, **options: sent.append(args))
    monkeypatch.setitem(queue.BATCH_SIZES, SALESFORCE, 3)
    pending(2)

    report = flush.deliveries_flush(SALESFORCE, full_batches_only=True)

    assert report.batches == 0
    assert sent == [("salesforce", False)]
    assert set(Delivery.objects.filter(target=SALESFORCE).values_list("status", flat=True)) \
        == {"pending"}


@pytest.mark.django_db
def test_a_broker_outage_is_logged_not_raised(cache, monkeypatch, caplog):
    def broker_down(args, **options):
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(deliveries_flush_task, "apply_async", broker_down)

    deliveries_flush_soon([SALESFORCE, Delivery.Target.MARKETO])

    assert "could not enqueue the salesforce flush" in caplog.text
    # Nothing stays marked as enqueued, so the next call (or the tick) tries again.
    assert cache.get(queue._flush_key(SALESFORCE)) is None


@pytest.mark.django_db
def test_the_tick_enqueues_due_targets_that_are_not_paused(cache, monkeypatch):
    sent = []
    monkeypatch.setattr(deliveries_flush_task, "apply_async",
                        lambda args, **options: sent.append(args[0]))
    monkeypatch.setattr("syncing.mirror.incremental.sync_settings_get",
                        lambda: type("S", (), {"people_sync_enabled": False})())
    pending(1)

    sync_tick()
    cache.clear()
    delivery_pause(SALESFORCE, "limit reached", seconds=60)
    sync_tick()

    assert sent == ["salesforce"]
