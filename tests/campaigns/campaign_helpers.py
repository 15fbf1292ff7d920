"""Constants shared by the campaign tests (a module of its own: every test folder has a
``conftest`` module, so tests import from here)."""

from datetime import UTC, datetime

START = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # a Monday

CALL = {"type": "call", "day_offset": 0, "name": "Intro call", "details": "Ask about Q2."}
INMAIL = {"type": "inmail", "day_offset": 2, "name": "InMail follow-up"}
CUSTOM = {"type": "custom", "day_offset": 5, "name": "Send a gift"}
SEED_LEADS = 2000
AVA = "ava.stone@example.com"
