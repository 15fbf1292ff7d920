"""The sandboxes' answer delay (``answer_delay_ms``, ``--answer-delay-ms``): remote systems
that answer after a round trip, for the workers benchmark (bench/workers.py). Only lower
bounds are asserted: a sleep never ends early, however busy the machine."""

import smtplib
import time

import pytest
import requests
from sandboxes import MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET

from sandbox.mailcapture import MailCapture

DELAY_MS = 300


def test_marketo_answers_after_the_delay_and_refuses_a_negative_one(marketo_sandbox):
    marketo_sandbox.configure(answer_delay_ms=DELAY_MS)
    started = time.monotonic()
    reply = requests.get(f"{marketo_sandbox.base_url}/identity/oauth/token", timeout=30, params={
        "grant_type": "client_credentials", "client_id": MARKETO_CLIENT_ID,
        "client_secret": MARKETO_CLIENT_SECRET})
    assert reply.json()["access_token"]
    assert time.monotonic() - started >= DELAY_MS / 1000
    with pytest.raises(requests.HTTPError):
        marketo_sandbox.configure(answer_delay_ms=-1)


def test_salesforce_answers_after_the_delay_and_refuses_a_negative_one(salesforce_sandbox):
    salesforce_sandbox.configure(answer_delay_ms=DELAY_MS)
    started = time.monotonic()
    reply = requests.get(f"{salesforce_sandbox.base_url}/services/data/", timeout=30)
    assert reply.status_code == 200
    assert time.monotonic() - started >= DELAY_MS / 1000
    with pytest.raises(requests.HTTPError):
        salesforce_sandbox.configure(answer_delay_ms=-5)


def test_the_smtp_sink_answers_data_after_the_delay():
    capture = MailCapture(answer_delay_ms=DELAY_MS).start(web=False)
    try:
        with smtplib.SMTP("127.0.0.1", capture.smtp_port, timeout=30) as smtp:
            started = time.monotonic()
            smtp.sendmail("seller@example.com", ["ava@example.com"], b"Subject: hi\r\n\r\nhello")
            assert time.monotonic() - started >= DELAY_MS / 1000
        assert len(capture.store.messages()) == 1
    finally:
        capture.stop()
