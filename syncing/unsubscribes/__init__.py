"""Unsubscribes and Salesforce's opt-out checkboxes (SPEC section 7).

- ``senders``: the outbox kind ``"unsubscribe"``: each unsubscribe recorded in the app sets
  ``HasOptedOutOfEmail`` (and the admin's custom opt-out checkbox) on the person's contact,
  else lead, at once and whatever the periodic sync's switch says.
- ``sync``: the periodic two-way pass (switch and schedule on ``SyncSettings``): Salesforce
  opt-outs become app unsubscribes (source ``salesforce``); app unsubscribes in force set the
  opt-out again where Salesforce lost it. Re-subscribes never sync.
- ``optout_fields``: which checkboxes are synced, and the describe check of the custom one.
"""
