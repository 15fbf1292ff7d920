# ruff: noqa: F811  (fixtures imported by name from tracking_fixtures)
"""The open pixel and the click redirect: hits recorded (straight into the database without
Redis, through the Redis buffer with it), the exact URL, tokens that are tampered with,
unsigned or for another purpose refused with no Location, the admin switches, statuses that
only move forward, and the fast WSGI path in front of Django."""

from __future__ import annotations

import pytest
from django.core import signing
from tracking_fixtures import (  # noqa: F401
    clean_outbox,
    make_email,
    person,
    sent_email,
    tracking_redis,
)

from emails.models import EmailEvent
from emails.tokens import click_token, email_token
from emails.tracking_buffer import buffered, tracking_events_flush
from emails.tracking_hits import Hit
from syncing.models import SyncSettings

pytestmark = pytest.mark.django_db
URL = "https://www.example.com/pricing?plan=team&utm_source=sales#compare"


def pixel(email) -> str:
    return f"/e/o/{email_token(email.pk, 'open')}.gif"


def link(email, url: str = URL) -> str:
    return f"/e/c/{click_token(email.pk, url)}/"


def events(email, kind=None):
    found = EmailEvent.objects.filter(email=email)
    return list(found.filter(kind=kind) if kind else found)


def test_the_pixel_records_an_open(client, sent_email):
    response = client.get(pixel(sent_email))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content[:10] == b"GIF89a\x01\x00\x01\x00"  # 1x1
    assert "no-store" in response["Cache-Control"] and "no-cache" in response["Cache-Control"]
    assert response["Pragma"] == "no-cache" and response["Expires"] == "0"
    opened, = events(sent_email)
    assert (opened.kind, opened.source) == ("opened", "tracking")
    sent_email.refresh_from_db()
    assert sent_email.status == "opened"


def test_a_click_answers_the_exact_url_and_records_it(client, sent_email):
    response = client.get(link(sent_email))

    assert response.status_code == 302
    assert response["Location"] == URL
    clicked, = events(sent_email)
    assert (clicked.kind, clicked.url, clicked.source) == ("clicked", URL, "tracking")
    sent_email.refresh_from_db()
    assert sent_email.status == "clicked"


def test_a_url_with_non_ascii_characters_is_percent_encoded_only_there(client, sent_email):
    url = "https://example.com/caf\u00e9?q=a%20b&x=1"

    response = client.get(link(sent_email, url))

    assert response["Location"] == "https://example.com/caf%C3%A9?q=a%20b&x=1"
    assert events(sent_email, "clicked")[0].url == url


def _tampered(token: str) -> str:
    value, _, signature = token.rpartition(":")
    flipped = "A" if signature[-1] != "A" else "B"
    return f"{value}:{signature[:-1]}{flipped}"


def bad_paths(email) -> dict[str, str]:
    open_token = email_token(email.pk, "open")
    click = click_token(email.pk, URL)
    unsubscribe = email_token(email.pk, "unsubscribe")
    unsigned_click = signing.b64_encode(f'[{email.pk},"https://evil.example.com/"]'.encode())
    return {
        "tampered pixel": f"/e/o/{_tampered(open_token)}.gif",
        "unsigned pixel": f"/e/o/{email.pk}.gif",
        "click token as pixel": f"/e/o/{click}.gif",
        "unsubscribe token as pixel": f"/e/o/{unsubscribe}.gif",
        "tampered click": f"/e/c/{_tampered(click)}/",
        "unsigned click": f"/e/c/{unsigned_click.decode()}/",
        "open token as click": f"/e/c/{open_token}/",
        "unsubscribe token as click": f"/e/c/{unsubscribe}/",
        "a URL instead of a token": "/e/c/https%3A%2F%2Fevil.example.com/",
    }


def test_tokens_tampered_unsigned_or_for_another_purpose_are_refused(client, sent_email):
    for name, path in bad_paths(sent_email).items():
        response = client.get(path)
        assert 400 <= response.status_code < 500, name
        assert "Location" not in response, name
    assert events(sent_email) == []
    sent_email.refresh_from_db()
    assert sent_email.status == "sent"


def test_a_signed_url_that_is_not_http_is_not_followed(client, sent_email):
    for url in ("javascript:alert(1)", "//evil.example.com/", "https://ok.example.com/\r\nX: y"):
        response = client.get(link(sent_email, url))
        assert response.status_code == 404 and "Location" not in response, url
    assert events(sent_email) == []


def test_switched_off_the_pixel_and_link_still_work_and_record_nothing(client, sent_email):
    switches = SyncSettings.load()
    switches.email_open_tracking = False
    switches.email_click_tracking = False
    switches.save()

    assert client.get(pixel(sent_email))["Content-Type"] == "image/gif"
    assert client.get(link(sent_email))["Location"] == URL
    assert events(sent_email) == []


def test_statuses_only_move_forward(client, make_email):
    replied = make_email(status="replied")
    bounced = make_email(status="bounced")
    clicked = make_email(status="clicked")
    queued = make_email(status="queued")  # not sent yet: an event must not skip the send
    sending = make_email(status="sending")

    for email in (replied, bounced, clicked, queued, sending):
        client.get(pixel(email))
    client.get(link(replied))

    for email, status in ((replied, "replied"), (bounced, "bounced"), (clicked, "clicked"),
                          (queued, "queued"), (sending, "opened")):
        email.refresh_from_db()
        assert email.status == status
        assert events(email, "opened"), "the open is recorded all the same"


# --------------------------------------------------------------------------- the Redis buffer


def test_with_redis_a_hit_is_buffered_then_flushed(client, sent_email, tracking_redis):
    client.get(pixel(sent_email))
    client.get(link(sent_email))

    assert buffered() == 2 and events(sent_email) == []
    report = tracking_events_flush()

    assert (report.taken, report.recorded) == (2, 2) and buffered() == 0
    assert sorted(e.kind for e in events(sent_email)) == ["clicked", "opened"]
    sent_email.refresh_from_db()
    assert sent_email.status == "clicked"


def test_a_flush_that_died_before_trimming_counts_nothing_twice(sent_email, tracking_redis):
    from emails.events import hits_apply
    from emails.tracking_buffer import buffer_key
    from emails.tracking_hits import now_us

    hits = [Hit("opened", sent_email.pk, now_us() + i) for i in range(3)]
    tracking_redis.rpush(buffer_key(), *[hit.line() for hit in hits])
    hits_apply(hits[:2])  # a flush applied these and died before its LTRIM

    report = tracking_events_flush()

    assert (report.taken, report.recorded) == (3, 1)
    assert len(events(sent_email, "opened")) == 3 and buffered() == 0


@pytest.mark.django_db(transaction=True)  # as served: Django closes connections per request
def test_the_fast_path_answers_in_front_of_django(sent_email, tracking_redis, seller):
    from django.core.wsgi import get_wsgi_application
    from werkzeug.test import Client

    from emails.tracking_wsgi import tracking_fast_path

    app = Client(tracking_fast_path(get_wsgi_application()))

    image = app.get(pixel(sent_email))
    redirect = app.get(link(sent_email))
    bad = app.get(f"/e/c/{_tampered(click_token(sent_email.pk, URL))}/")
    page = app.get("/login/")  # everything else is Django's

    assert (image.status_code, image.headers["Content-Type"]) == (200, "image/gif")
    assert image.data.startswith(b"GIF89a")
    assert (redirect.status_code, redirect.headers["Location"]) == (302, URL)
    assert bad.status_code == 404 and "Location" not in bad.headers
    assert page.status_code == 200 and b"<form" in page.data
    assert buffered() == 2
    tracking_events_flush()
    assert sorted(e.kind for e in events(sent_email)) == ["clicked", "opened"]


def test_with_redis_down_a_hit_goes_to_the_database(client, settings, sent_email):
    settings.EMAIL_TRACKING_REDIS_URL = "redis://127.0.0.1:9/0"  # nobody listens on port 9

    assert client.get(pixel(sent_email)).status_code == 200

    assert [e.kind for e in events(sent_email)] == ["opened"]


def test_manage_py_sync_flushes_the_buffer(client, sent_email, tracking_redis):
    from io import StringIO

    from django.core.management import call_command

    client.get(pixel(sent_email))
    out = StringIO()

    call_command("sync", stdout=out)

    assert "email tracking: 1 events recorded from 1 hits" in out.getvalue()
    assert [e.kind for e in events(sent_email)] == ["opened"] and buffered() == 0


def test_a_flush_that_lost_its_lock_trims_nothing(sent_email, tracking_redis, monkeypatch):
    import emails.tracking_buffer as buffer
    from emails.tracking_buffer import buffer_key
    from emails.tracking_hits import now_us

    lines = [Hit("opened", sent_email.pk, now_us() + i).line() for i in range(3)]
    tracking_redis.rpush(buffer_key(), *lines)
    applied = buffer.hits_apply

    def slow_apply(hits):  # the lock expires and another flush takes it meanwhile
        tracking_redis.set(f"{buffer_key()}:lock", "another flush")
        return applied(hits)

    monkeypatch.setattr(buffer, "hits_apply", slow_apply)

    report = tracking_events_flush()

    assert (report.taken, report.recorded) == (0, 3)
    assert tracking_redis.lrange(buffer_key(), 0, -1) == [line.encode() for line in lines]
    assert tracking_redis.get(f"{buffer_key()}:lock") == b"another flush"
    monkeypatch.setattr(buffer, "hits_apply", applied)
    tracking_redis.delete(f"{buffer_key()}:lock")
    assert tracking_events_flush().recorded == 0 and buffered() == 0


def test_beats_tick_enqueues_a_flush_when_hits_wait(client, sent_email, tracking_redis,
                                                    monkeypatch):
    from syncing import tasks

    enqueued = []
    monkeypatch.setattr(tasks.email_tracking_flush_task, "delay",
                        lambda *args: enqueued.append("flush"))
    tasks.sync_tick()
    assert enqueued == []

    client.get(pixel(sent_email))
    tasks.sync_tick()

    assert enqueued == ["flush"]
    tasks.email_tracking_flush_task()  # as the worker runs it
    assert [e.kind for e in events(sent_email)] == ["opened"]


def test_malformed_or_poison_lines_do_not_block_the_buffer(sent_email, tracking_redis,
                                                           monkeypatch):
    import emails.tracking_buffer as buffer
    from emails.tracking_buffer import buffer_key
    from emails.tracking_hits import now_us

    good = [Hit("opened", sent_email.pk, now_us() + i) for i in range(3)]
    tracking_redis.rpush(buffer_key(), "not json", '["opened", 1e40, 5, ""]',
                         f'["clicked", {2**64}, 5, ""]', *[hit.line() for hit in good])
    applied = buffer.hits_apply

    def breaks_on_the_second(hits):
        if good[1] in hits:
            raise ValueError("a bug that only this hit triggers")
        return applied(hits)

    monkeypatch.setattr(buffer, "hits_apply", breaks_on_the_second)

    report = tracking_events_flush()

    assert (report.taken, report.recorded) == (6, 2) and buffered() == 0
    assert len(events(sent_email, "opened")) == 2
