"""Writes of connection and sync settings, and building API clients from them."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from syncing.budget import (
    marketo_call_recorded,
    salesforce_call_recorded,
    salesforce_usage_recorded,
)
from syncing.clients.marketo import DEFAULT_TIMEOUT as DEFAULT_MARKETO_TIMEOUT
from syncing.clients.marketo import MarketoClient
from syncing.clients.salesforce import SalesforceClient
from syncing.clients.shared_limiter import SharedCallLimiter
from syncing.clients.shared_token import SharedToken
from syncing.clients.transport import TransportError
from syncing.models import MarketoConnection, SalesforceConnection, SyncSettings


@dataclass(frozen=True)
class ConnectionCheckResult:
    ok: bool
    message: str


def marketo_client_for(connection: MarketoConnection, **options) -> MarketoClient:
    """A client for the connection within the app's share of Marketo's limits; ``options``
    override MarketoClient's keyword arguments (timeouts, attempts, ...). Every request it
    sends is counted in the API budget (``syncing.budget``)."""
    options = {"calls_per_window": settings.MARKETO_CALLS_PER_WINDOW,
               "window_seconds": settings.MARKETO_WINDOW_SECONDS,
               "max_in_flight": settings.MARKETO_MAX_IN_FLIGHT,
               "on_call": marketo_call_recorded} | options
    if settings.REDIS_URL and "limiter" not in options:
        options["limiter"] = marketo_limiter_shared(connection, options)
    options.setdefault("token_store", _token_shared(connection))
    return MarketoClient(connection.base_url, connection.client_id, connection.client_secret,
                         **options)


_kept: dict[tuple, MarketoClient | SalesforceClient] = {}
_kept_lock = threading.Lock()


def client_kept(connection: MarketoConnection | SalesforceConnection, **options
                ) -> MarketoClient | SalesforceClient:
    """This process's client for ``connection`` built with ``options`` (see
    :func:`marketo_client_for`, :func:`salesforce_client_for`), kept for every later call
    with the same: its access token and its pooled HTTP connections serve them all. A new
    client first asks for a token (Marketo's identity call, Salesforce's login), one more
    round trip before each call: half the time of the unsubscribe check of a campaign's
    batch (bench/workers.py, py-spy with --profile-idle). A changed connection is another
    key; the clients are thread-safe."""
    if isinstance(connection, SalesforceConnection):
        key = ("salesforce", connection.url, connection.client_id, connection.client_secret,
               connection.api_version)
    else:
        key = ("marketo", connection.base_url, connection.client_id, connection.client_secret)
    key += tuple(sorted(options.items()))
    with _kept_lock:
        client = _kept.get(key)
        if client is None:
            client = (salesforce_client_for(connection, **options) if key[0] == "salesforce"
                      else marketo_client_for(connection, **options))
            if len(_kept) > 16:  # connections were edited many times: drop stale ones
                _kept.clear()
            _kept[key] = client
        return client


def clients_kept_reset() -> None:
    """Forget the kept clients (tests, or after a connection changed)."""
    with _kept_lock:
        _kept.clear()


def marketo_limiter_shared(connection: MarketoConnection, options: dict) -> SharedCallLimiter:
    """The limits of ``options`` (``calls_per_window``...) kept in Redis for every process
    calling this Marketo instance (``syncing/clients/shared_limiter.py``): with several workers,
    web processes or machines, ``MARKETO_CALLS_PER_WINDOW`` is the deployment's budget."""
    instance = hashlib.blake2b(f"{connection.base_url.rstrip('/')}|{connection.client_id}"
                               .encode(), digest_size=8).hexdigest()
    return SharedCallLimiter(settings.REDIS_URL, instance, options["calls_per_window"],
                             options["window_seconds"], options["max_in_flight"],
                             lease_seconds=options.get("timeout", DEFAULT_MARKETO_TIMEOUT))


def _token_shared(connection: MarketoConnection | SalesforceConnection) -> SharedToken | None:
    """The access token every process of the deployment shares for ``connection``
    (``syncing/clients/shared_token.py``), when there is a Redis to keep it."""
    if not settings.REDIS_URL:
        return None
    label, url = _system(connection)
    return SharedToken(settings.REDIS_URL, label.lower(), url, connection.client_id,
                       connection.client_secret)


def salesforce_client_for(connection: SalesforceConnection, **options) -> SalesforceClient:
    """A client for the connection; its requests and the org's reported usage are recorded in
    the API budget (``syncing.budget``)."""
    options = {"on_call": salesforce_call_recorded, "on_usage": salesforce_usage_recorded
               } | options
    options.setdefault("token_store", _token_shared(connection))
    return SalesforceClient(connection.url, connection.client_id, connection.client_secret,
                            api_version=connection.api_version, **options)


def _system(connection: MarketoConnection | SalesforceConnection) -> tuple[str, str]:
    if isinstance(connection, MarketoConnection):
        return "Marketo", connection.base_url
    return "Salesforce", connection.url


def connection_check(connection: MarketoConnection | SalesforceConnection) -> ConnectionCheckResult:
    """Really authenticate and make one API call. The message is one sentence for a person:
    what the system answered (its own code and text), or why it never answered."""
    if not connection.is_configured:
        return ConnectionCheckResult(False,
                                     _("Fill in the URL, client id and client secret first."))
    # An admin is waiting on the page: one retry at most, then the remote's own answer. The
    # credentials themselves are checked, so no token another process logged in with is taken.
    quick = {"max_attempts": 2, "timeout": 10, "token_store": None}
    client = (marketo_client_for(connection, **quick)
              if isinstance(connection, MarketoConnection)
              else salesforce_client_for(connection, **quick))
    label, url = _system(connection)
    try:
        summary = client.check_connection()
    except TransportError as error:
        return ConnectionCheckResult(False, _describe_failure(label, url, error))
    return ConnectionCheckResult(True, _describe_success(label, url, summary))


def _describe_failure(label: str, url: str, error: TransportError) -> str:
    if error.unreached:
        return _("Could not reach %(system)s at %(url)s: %(error)s.") % {
            "system": label, "url": url, "error": error.unreached}
    # The client's retry note is for the logs; the person wants the system's own answer.
    answer = re.sub(r"^gave up after \d+ attempts: ", "", error.message).strip().rstrip(".")
    return _("%(system)s answered: %(answer)s.") % {
        "system": label, "answer": f"{error.code} {answer}" if error.code else answer}


def _describe_success(label: str, url: str, summary: dict) -> str:
    if label == "Marketo":
        return _("Connected to Marketo at %(url)s: signed in, %(fields)s lead fields "
                 "readable.") % {"url": url, "fields": summary["lead_fields"]}
    daily = summary.get("daily_api_requests") or {}
    connected = {"url": summary["instance_url"], "version": summary["api_version"]}
    if {"Remaining", "Max"} <= set(daily):
        return _("Connected to Salesforce at %(url)s: signed in, API %(version)s, "
                 "%(remaining)s of %(max)s daily API requests left.") % {
            **connected,
            "remaining": formats.number_format(daily["Remaining"], force_grouping=True),
            "max": formats.number_format(daily["Max"], force_grouping=True)}
    return _("Connected to Salesforce at %(url)s: signed in, API %(version)s.") % connected


def connection_test_record(connection: MarketoConnection | SalesforceConnection,
                    saved: MarketoConnection | SalesforceConnection
                    ) -> tuple[ConnectionCheckResult, bool]:
    """Check the values typed (saved or not). When they are the saved ones, the outcome is
    recorded on the saved connection, so its card's status says it; the flag says whether."""
    result = connection_check(connection)
    same = all(getattr(connection, name) == getattr(saved, name)
               for name in _CHECKED_FIELDS[type(connection)])
    if same:
        _check_record(saved, result)
        saved.save()  # the first save of settings taken from the environment, too
    return result, same


_CHECKED_FIELDS = {MarketoConnection: ("base_url", "client_id", "client_secret"),
                   SalesforceConnection: ("url", "client_id", "client_secret", "api_version")}


def _check_record(connection, result: ConnectionCheckResult) -> None:
    connection.last_checked_at = timezone.now()
    connection.last_check_ok = result.ok
    connection.last_check_message = result.message


@transaction.atomic
def connection_save(connection: MarketoConnection | SalesforceConnection) -> ConnectionCheckResult:
    """Save a connection and record the outcome of checking it, for the settings page."""
    result = connection_check(connection)
    _check_record(connection, result)
    connection.save()
    return result


def sync_settings_update(sync_settings: SyncSettings, **changes) -> SyncSettings:
    for field, value in changes.items():
        setattr(sync_settings, field, value)
    sync_settings.full_clean()
    sync_settings.save()
    return sync_settings
