"""The durable outbox: app records on their way to Salesforce and Marketo.

Core (imports no app and no sender; ``tests/project/test_imports.py`` keeps it so):

- ``queue``      creating deliveries, enqueueing flushes, claiming, recording outcomes, retry
- ``flush``      a flush of one target: claim, hand each kind's part to its sender, record
- ``batch``      what a sender gets (``Batch``) and returns (``Outcome``, ``SenderResult``)
- ``streams``    per-target pause state and API clients
- ``registry``   senders per ``(target, kind)``, retry hooks
- ``diagnostics``  reads for Diagnostics and the settings page (``views``: those pages)

Destinations, shared by every kind sent there: ``salesforce_tasks`` (Task fields, the org's
API share, ``tasks_create``) and ``marketo_activities`` (custom activity types,
``activities_add``).

How to add an outbound kind (e.g. reminder tasks, unsubscribes, sales email)
===========================================================================

1. Give it a room, ``syncing/<room>/senders.py`` (``syncing/calls/senders.py`` is the
   example). ``syncing.apps`` imports every room's ``senders`` module at start-up; nothing
   else needs to know it.
2. Name the kind (a short string, e.g. ``"reminder_task"``) and write one sender per target,
   registered with ``@sender(Delivery.Target.SALESFORCE, "reminder_task")``. A sender is
   ``send(batch: Batch) -> SenderResult``:

   - check its switch on ``SyncSettings`` (off: ``Outcome.skipped(reason)`` for each delivery);
   - open the destination: ``salesforce_open(batch, enabled=..., switched_off=...)`` returns
     ``(client, optional Task fields)`` or a ``SenderResult`` to return as it is (not
     connected, API limit/share reached); ``marketo_open(..., type_name=...)`` likewise;
   - load its own records: ``Model.objects.in_bulk(batch.record_ids())``, each delivery's
     record is ``records[delivery.record_id]``;
   - send, and return an ``Outcome`` per delivery id (``delivered(remote_id)``,
     ``retry``/``failed``/``unknown``/``paused(code, message)``, ``skipped(reason)``); a
     delivery left out is released back to the queue untouched. Set
     ``SenderResult.pause_reason`` when the target's API limit is reached.

   No duplicates: before a request leaves, call ``batch.mark_sending(ids)`` (commits
   ``outcome_unknown``). A delivery whose earlier attempt may have been applied is in
   ``batch.reconcile``; pass the records through
   ``batch.reconcile_earlier_sends(records, result, find, errors)`` first, where
   ``find(maybe_applied) -> {delivery id: remote id}`` looks them up remotely (skipping remote
   ids ``batch.taken_remote_ids`` says other deliveries own); only the unmatched are sent.
   ``tasks_create`` and ``activities_add`` do all of this for creating Tasks and activities.
   An update or delete sender (reminder tasks) can reconcile by reading the remote record
   (``delivery.remote_id`` of the create) and comparing, since an update sent twice is
   harmless while a create is not.
3. Create the deliveries in the transaction that saves the record, from the app's service:
   ``deliveries_save(deliveries_build(kind="reminder_task", record=task, skipped={...},
   targets=[Delivery.Target.SALESFORCE]))``. ``record`` is any saved model instance; add
   ``deliveries = GenericRelation("syncing.Delivery", content_type_field="record_type",
   object_id_field="record_id")`` to its model to read ``task.deliveries`` (no migration).
4. Optional: ``registry.on_retry(target, hook)`` to forget learnt remote state when an admin
   retries failed deliveries (the Marketo destination forgets its activity type ids).

Batching, claiming, backoff, pauses, attempt rows, Diagnostics and retry come with it;
no migration and no edit of the core is needed.
"""
