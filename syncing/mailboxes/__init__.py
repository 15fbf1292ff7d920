"""Sync health of sellers' own mailboxes (the passes themselves live in ``mailboxes/``)."""
