"""One login for every process of a deployment (``syncing/clients/shared_token.py``): two
clients with one token store stand for two processes (workers, web) calling the same
Marketo instance or Salesforce org, over real HTTP to the sandboxes and a real Redis."""

from __future__ import annotations

import logging

import pytest
import redis
from sandboxes import (
    MARKETO_CLIENT_ID,
    MARKETO_CLIENT_SECRET,
    SALESFORCE_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET,
)

from syncing.clients.marketo import MarketoClient
from syncing.clients.salesforce import SalesforceClient
from syncing.clients.shared_token import SharedToken
from syncing.models import MarketoConnection, SalesforceConnection
from syncing.settings.services import (
    connection_check,
    marketo_client_for,
    salesforce_client_for,
)

MARKETO_IDENTITY = "POST /identity/oauth/token"
SALESFORCE_LOGIN = "POST /services/oauth2/token"


def counted(sandbox, endpoint: str) -> int:
    return sandbox.counters()["by_endpoint"].get(endpoint, 0)


def marketo_store(redis_url: str, sandbox, secret: str = MARKETO_CLIENT_SECRET) -> SharedToken:
    return SharedToken(redis_url, "marketo", sandbox.base_url, MARKETO_CLIENT_ID, secret)


def marketo_process(sandbox, store: SharedToken | None) -> MarketoClient:
    return MarketoClient(sandbox.base_url, MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET,
                         token_store=store, sleep=lambda seconds: None)


def salesforce_process(sandbox, store: SharedToken | None) -> SalesforceClient:
    return SalesforceClient(sandbox.base_url, SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET,
                            timeout=5, sleep=lambda seconds: None, token_store=store)


# --- Marketo -----------------------------------------------------------------------------


def test_a_second_process_takes_the_first_ones_marketo_token(marketo_sandbox, redis_server):
    first = marketo_process(marketo_sandbox, marketo_store(redis_server, marketo_sandbox))
    second = marketo_process(marketo_sandbox, marketo_store(redis_server, marketo_sandbox))

    first.describe_leads()
    second.describe_leads()

    assert counted(marketo_sandbox, MARKETO_IDENTITY) == 1
    assert (first.token_calls, second.token_calls) == (1, 0)
    assert second.scope == first.scope is not None  # what came with the token came too


def test_kept_for_less_than_marketo_keeps_it(marketo_sandbox, redis_server):
    marketo_sandbox.configure(token_ttl=3600)
    store = marketo_store(redis_server, marketo_sandbox)
    marketo_process(marketo_sandbox, store).describe_leads()

    token, seconds_left, _ = store.get()

    assert token
    assert 3000 < seconds_left < 3600  # renewed by every process before Marketo expires it


def test_a_rejected_kept_token_is_dropped_and_replaced_once(marketo_sandbox, redis_server):
    store = marketo_store(redis_server, marketo_sandbox)
    marketo_process(marketo_sandbox, store).describe_leads()
    revoked = store.get()[0]
    marketo_sandbox.call("POST", "tokens/revoke")

    # A new process takes the kept token, Marketo answers 601, and it logs in again.
    later = marketo_process(marketo_sandbox, store)
    assert later.describe_leads()

    renewed = store.get()[0]
    assert renewed != revoked
    assert later.token_calls == 1
    assert counted(marketo_sandbox, MARKETO_IDENTITY) == 2
    # A third process takes the renewed one without logging in.
    third = marketo_process(marketo_sandbox, store)
    third.describe_leads()
    assert third.token_calls == 0


def test_dropping_leaves_a_newer_token_alone(marketo_sandbox, redis_server):
    store = marketo_store(redis_server, marketo_sandbox)
    store.put("newer", 600)

    store.drop("older")

    assert store.get()[0] == "newer"
    store.drop("newer")
    assert store.get() is None


def test_another_secret_is_another_key(marketo_sandbox, redis_server):
    store = marketo_store(redis_server, marketo_sandbox)
    store.put("kept", 600)

    assert marketo_store(redis_server, marketo_sandbox, secret="edited").get() is None


def test_without_redis_each_process_logs_in_alone(marketo_sandbox, caplog):
    unreachable = "redis://127.0.0.1:9/0"  # the discard port: nothing listens
    caplog.set_level(logging.WARNING, logger="syncing.clients.shared_token")
    client = marketo_process(marketo_sandbox, marketo_store(unreachable, marketo_sandbox))

    assert client.describe_leads()

    assert client.token_calls == 1
    assert "Redis unavailable" in caplog.text


# --- Salesforce --------------------------------------------------------------------------


def test_a_second_process_takes_the_first_ones_salesforce_session(salesforce_sandbox,
                                                                   redis_server):
    def store():
        return SharedToken(redis_server, "salesforce", salesforce_sandbox.base_url,
                           SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET)

    first, second = salesforce_process(salesforce_sandbox, store()), \
        salesforce_process(salesforce_sandbox, store())
    first.limits()
    second.limits()

    assert counted(salesforce_sandbox, SALESFORCE_LOGIN) == 1
    assert second.instance_url == first.instance_url is not None
    assert second.user_id == first.user_id is not None

    # Salesforce rejects it: the process that saw it logs in again and shares the new one.
    salesforce_sandbox.call("POST", "tokens/revoke")
    second.limits()
    first.limits()

    assert counted(salesforce_sandbox, SALESFORCE_LOGIN) == 2


# --- as the app builds its clients ---------------------------------------------------------


@pytest.mark.django_db
def test_the_apps_clients_share_their_logins_but_a_connection_check_logs_in(
        marketo_sandbox, salesforce_sandbox, redis_server, settings):
    settings.REDIS_URL = redis_server
    marketo = MarketoConnection(base_url=marketo_sandbox.base_url, client_id=MARKETO_CLIENT_ID,
                                client_secret=MARKETO_CLIENT_SECRET)
    salesforce = SalesforceConnection(url=salesforce_sandbox.base_url,
                                      client_id=SALESFORCE_CLIENT_ID,
                                      client_secret=SALESFORCE_CLIENT_SECRET)

    for _ in range(2):  # two processes each
        marketo_client_for(marketo).describe_leads()
        salesforce_client_for(salesforce).limits()
    assert counted(marketo_sandbox, MARKETO_IDENTITY) == 1
    assert counted(salesforce_sandbox, SALESFORCE_LOGIN) == 1

    # "Test connection" checks the credentials themselves.
    assert connection_check(marketo).ok
    assert connection_check(salesforce).ok
    assert counted(marketo_sandbox, MARKETO_IDENTITY) == 2
    assert counted(salesforce_sandbox, SALESFORCE_LOGIN) == 2


def test_forgetting_covers_every_redis_used(marketo_sandbox, redis_server):
    from syncing.clients.shared_token import tokens_shared_forget

    store = marketo_store(redis_server, marketo_sandbox)
    store.put("kept", 600)

    tokens_shared_forget()

    assert store.get() is None
    assert redis.Redis.from_url(redis_server).exists(store._key) == 0
