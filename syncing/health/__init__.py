"""Sync health: one place that says whether each sync is healthy (SPEC section 10,
``sync/health/``): the page at ``/settings/health/``, ``GET /api/v1/sync/health/`` and
``manage.py sync_health`` (exit 2 when a stream is failing).

- ``registry``   ``@health_source``, ``StreamHealth``, the shared reads (``HealthContext``)
                 and the status rules (``periodic_health``, ``outbox_health``)
- ``selectors``  ``sync_health()``: every registered source, read once per request
- ``charts``     the inline SVG of each stream's last 24 hours
- ``serializers``, ``api``, ``views``  the API, the page

Each room declares its own streams in ``syncing/<room>/health.py``; ``syncing.apps`` imports
those modules at start-up, as it does the senders. The API budget counters are in
``syncing/budget.py`` (recorded by the clients' hooks as calls leave).

Status, relative to each stream's schedule (a minute's grace on each threshold):

- paused:  switched off, not connected, waiting on another stream (the incremental people
  sync on the initial one), or deliveries paused after an API limit; the reason says which.
- periodic passes (people changes, reminder tasks and unsubscribes from Salesforce): lag is
  how far behind the source it is (people: now minus ``caught_up_to``; the others: the time
  since the last successful pass). lagging when the last pass failed (the next one retries),
  when it has not succeeded for 2 schedules, or it never ran; failing at once when the last 3
  passes failed (whatever the schedule: ``SyncStream.consecutive_failures``), when the last
  pass failed and none succeeded for 2 schedules, or none succeeded for 6.
- the initial people sync: ok while it runs or once finished; lagging when never started or
  its worker stopped; failing when its last attempt failed (it resumes by itself).
- deliveries (the outbox, per target and per kind): lag is the age of the oldest waiting
  delivery. lagging when it passes 5 minutes or failed deliveries wait for a retry; failing
  when it passes an hour, or attempts failed in the last hour with none delivered while
  deliveries wait.

How to add a health source (e.g. sales email, campaigns)
=======================================================

In ``syncing/<room>/health.py`` (created next to ``senders.py``; nothing else to edit)::

    from syncing.health.registry import (HealthContext, StreamHealth, health_source,
                                         outbox_health, pass_log_health)
    from syncing.models import Delivery, SyncStream

    from .sync import PASS_LOG  # e.g. "campaign_steps"


    @health_source("emails_to_salesforce", label="Sales emails to Salesforce", order=60)
    def emails_to_salesforce_health(ctx: HealthContext) -> StreamHealth:
        # Deliveries of your outbox kind: queue depth, lag, throughput come with it.
        return outbox_health(ctx, target=Delivery.Target.SALESFORCE, kinds=["email"],
                             enabled=ctx.settings.log_emails_to_salesforce,
                             off_reason='Switched off: "Log emails to Salesforce".')


    @health_source(PASS_LOG, label="Campaign steps", order=70)
    def campaign_steps_health(ctx: HealthContext) -> StreamHealth:
        # A pass on a schedule: call streams.stream_pass_record(PASS_LOG, started, rows=n,
        # error=...) at the end of each pass, so throughput and the chart have its rows.
        return pass_log_health(ctx, PASS_LOG, stream=ctx.streams.get("campaigns"),
                               enabled=True, off_reason="", schedule_seconds=60,
                               system="salesforce", unit="steps")

Something of another shape builds its ``StreamHealth(...)`` itself from the shared reads on
``ctx`` (add a cached read there rather than a query per source, so the page's queries stay
bounded; ``tests/syncing/test_health_page.py`` counts them). Never call Marketo or Salesforce
from a source: health is read from the database and the budget counters only.
"""
