"""Reminder tasks with Salesforce Tasks (SPEC section 6): the two-way sync's room.

- ``mapping``   app fields <-> Task fields, and the Salesforce Users of sellers (by email)
- ``merge``     a Task's state applied to its app task, field by field (the later change wins)
- ``outbound``  app changes queued for Salesforce (called by ``reminders.services``)
- ``senders``   the outbox's sender for the kind ``reminder_task``: create, update, delete
- ``sync``      the inbound pass: Tasks changed since the high-water mark, into the app
- ``views``     the settings page's card

Why a last-synced snapshot: Salesforce keeps one modification time per Task, not per field,
so "which side changed this field" is answered by comparing each side with what both held
after the last sync (``ReminderTask.synced_values``, a three-way merge). Only a field both
sides changed needs a tie-break: the app's per-field change time (``field_changed_at``)
against the Task's ``SystemModstamp``; the later change wins. Writes the sync makes update the
snapshot too, so they never come back as changes and nothing loops.
"""
