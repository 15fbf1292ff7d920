"""Syncing with Marketo and Salesforce, in rooms (see "Where things live" in README.md).

Imports run downward: ``tasks`` and ``apps`` (top) → the rooms (``mirror``, ``outbox``,
``calls``, ``settings``) → ``clients`` (the wire only). The rooms enqueue Celery tasks by name
(``queueing.task_named``) and never import ``tasks``; ``tests/project/test_imports.py``
fails on a circle or an upward import.

How to add a periodic or inbound sync stream (reminder tasks, unsubscribes)
==========================================================================

1. A room ``syncing/<room>/`` with the pass as a service, e.g. ``sync.py``:
   ``<thing>_sync_due(now) -> bool`` (its switch and schedule on ``SyncSettings``, then
   ``streams.stream_due``) and ``<thing>_sync_pass()``, which takes the stream with
   ``streams.stream_claim(stream, lease)`` (one pass at a time across beat, workers and the
   command), reads from the cursor in ``stream.cursor``, and moves the cursor in the
   transaction that applies what it read (a crash re-reads, never skips); on the way out it
   clears ``lease_until`` and sets ``status``, ``last_error``, ``last_success_at``. Clients come
   from ``settings.services.*_client_for``; wire errors are ``clients.transport.TransportError``.
   The stream names ``SyncStream.Name.REMINDER_TASKS`` and ``UNSUBSCRIBES`` already exist.
2. ``syncing/tasks.py``: a thin task that calls the pass (catching ``TransportError``), and
   one line in ``sync_tick`` (beat runs it every 5 s; the schedule lives in the database):
   ``if <thing>_sync_due(now): <thing>_sync_task.delay()``. No beat schedule entry is needed.
3. ``management/commands/sync.py``: one call in ``one_pass`` that runs the pass in the
   foreground and writes one line (``"<thing>: ..."``); failures are collected like the
   people pass's, so the other passes and the outbox still run and the command exits non-zero.
4. The settings page: a card (``templates/syncing/partials/``), its overview selector in the
   room, and the view in ``<room>/views.py``, routed in ``settings/urls.py``.
5. Anything it sends goes through the outbox: see "How to add an outbound kind" in
   ``syncing/outbox/__init__.py``.
6. Sync health: ``syncing/<room>/health.py`` registers the stream's health source (and the
   pass calls ``streams.stream_pass_record`` at its end); see "How to add a health source" in
   ``syncing/health/__init__.py``.
"""
