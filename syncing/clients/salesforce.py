"""Salesforce REST API client: OAuth client credentials, sObject CRUD, SOQL, sObject Collections.

Knows only the wire. Every failure is a ``SalesforceError`` carrying Salesforce's own
``errorCode`` and message, and whether retrying can help; record-level failures inside
``composite/sobjects`` results are returned as ``RecordResult`` values, not raised.

Why not simple-salesforce
-------------------------
We read simple-salesforce 1.12 and write this thin client on ``requests`` instead:

- Its client-credentials login only reaches ``*.salesforce.com``: ``login.SalesforceLogin``
  builds the token URL as ``f"https://{domain}.salesforce.com/services/oauth2/token"``, so the
  configured My Domain URL (``SALESFORCE_URL``, e.g. the sandbox's ``http://127.0.0.1:8020``)
  cannot be used, not even via the sandbox's optional TLS port. After login, ``token_login``
  strips the scheme off ``instance_url`` and ``api.Salesforce.__init__`` hard-codes
  ``https://{sf_instance}`` for every resource (``Salesforce.query_more`` likewise for
  ``nextRecordsUrl``), so plain HTTP is out as well.
- It has no sObject Collections (``composite/sobjects``) calls, which our outbox batches use.
- ``Salesforce._call_salesforce`` retries only ``INVALID_SESSION_ID`` (by re-logging in, not
  thread-safe); 5xx, ``UNABLE_TO_LOCK_ROW`` and connection errors go straight to the caller, and
  ``util.exception_handler`` maps errors by HTTP status only, so ``REQUEST_LIMIT_EXCEEDED`` and
  ``INSUFFICIENT_ACCESS`` (both 403) look alike.
- It is a dev-only dependency here (it checks that the sandbox speaks real Salesforce).

Its ``Sforce-Limit-Info`` parsing (``Salesforce.parse_api_usage``) is the one piece that would
fit; the header is one regex, so we parse it ourselves.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import requests
from urllib3.exceptions import NewConnectionError

from .transport import TokenStore, TransportError, error_unreached

#: sObject Collections take at most 200 records (or ids) per request.
COLLECTION_LIMIT = 200
# How long a session logged in by one process is offered to the others. Salesforce names no
# lifetime in the client-credentials answer (the org's session timeout, 2 hours by default,
# counts from the last use): a session taken after it died costs one INVALID_SESSION_ID and
# a login, as it does for the process that logged in.
SHARED_SESSION_SECONDS = 15 * 60

#: Record-level codes that can succeed when the same record is sent again later.
#: ALL_OR_NONE_OPERATION_ROLLED_BACK marks the innocent records of a failed allOrNone batch.
TRANSIENT_RECORD_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "ALL_OR_NONE_OPERATION_ROLLED_BACK"})

# Whole-request error codes that are not the caller's fault; the rest of the 4xx range is.
_TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED",
                              "INVALID_SESSION_ID"})
# Retrying these at once cannot help: the caller must pause (limit) or something is off
# with the session even after a fresh token.
_NO_RETRY_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "INVALID_SESSION_ID"})
# Gateway errors: an upstream may have applied the request before the proxy gave up.
_AMBIGUOUS_STATUSES = frozenset({502, 504})

_API_USAGE = re.compile(r"(?:^|[;\s])api-usage=(\d+)/(\d+)")


class SalesforceError(TransportError):
    """A Salesforce call failed.

    ``code`` is Salesforce's ``errorCode`` (``"UNABLE_TO_LOCK_ROW"``, ``"INVALID_FIELD"``), the
    token endpoint's ``error`` (``"invalid_client"``), or ours for the wire itself:
    ``"CONNECTION_FAILED"`` (never connected), ``"CONNECTION_LOST"`` (dropped after sending),
    ``"TIMEOUT"`` (no response in time). ``errors`` is the full remote error list.
    ``maybe_applied`` is set when a non-idempotent write (create) was sent but its outcome is
    unknown: Salesforce may have applied it, so reconcile before sending it again.
    ``results`` holds the ``RecordResult`` of the chunks a ``composite_*`` call finished before
    this error.
    """

    def __init__(self, message: str, *, code: str | None = None, permanent: bool = False,
                 status: int | None = None, errors: list[dict] | None = None,
                 maybe_applied: bool = False):
        super().__init__(message, code=code, permanent=permanent, status=status)
        self.errors = errors or []
        self.maybe_applied = maybe_applied
        self.results: list[RecordResult] = []


class ApiUsage(NamedTuple):
    """The org's daily API usage from the last ``Sforce-Limit-Info: api-usage=used/limit``."""

    used: int
    limit: int

    @property
    def share(self) -> float:
        """Fraction of the daily limit used (1.0 when the org reports no limit)."""
        return self.used / self.limit if self.limit else 1.0


class RecordResult(NamedTuple):
    """One record's SaveResult/DeleteResult from an sObject Collections call."""

    id: str | None
    success: bool
    errors: list[dict]

    @classmethod
    def from_wire(cls, item: dict) -> RecordResult:
        return cls(item.get("id"), bool(item.get("success")), list(item.get("errors") or []))

    @property
    def error_code(self) -> str | None:
        """The first error's code; collections say ``statusCode`` where REST says ``errorCode``."""
        if not self.errors:
            return None
        return self.errors[0].get("statusCode") or self.errors[0].get("errorCode")

    @property
    def error_message(self) -> str:
        return "; ".join(error.get("message", "") for error in self.errors)

    @property
    def transient(self) -> bool:
        """Failed, but sending the same record again later can succeed."""
        return not self.success and self.error_code in TRANSIENT_RECORD_CODES


class SalesforceClient:
    """A thread-safe client for one org's REST API.

    ``base_url`` is the org's My Domain URL (the token endpoint's host); API calls go to the
    ``instance_url`` the token response names. ``calls`` counts HTTP requests sent (token
    requests and retries included); ``api_usage`` is the last ``Sforce-Limit-Info`` seen.

    Retries with exponential backoff and jitter: 5xx, whole-request ``UNABLE_TO_LOCK_ROW``,
    failed connections, and for idempotent methods (GET, PATCH, DELETE) also timeouts and
    dropped connections. A create whose response was lost raises at once with
    ``maybe_applied=True``. ``INVALID_SESSION_ID`` re-authenticates once and repeats the call;
    ``REQUEST_LIMIT_EXCEEDED`` raises at once so the caller can pause.

    ``on_call`` (called once per HTTP request as it leaves) and ``on_usage`` (called with each
    ``Sforce-Limit-Info`` usage seen) let the caller record its API budget; both must be cheap
    and must not raise. ``token_store``, if given, shares the session with other processes
    (``shared_token.SharedToken``): a session kept there is taken instead of logging in, one
    logged in is kept there for ``SHARED_SESSION_SECONDS``, and one Salesforce rejects is
    dropped from it.
    """

    def __init__(self, base_url: str, client_id: str, client_secret: str,
                 api_version: str = "62.0", *, timeout: float = 30.0, max_attempts: int = 5,
                 backoff_base: float = 0.5, backoff_max: float = 30.0,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 on_call: Callable[[], None] | None = None,
                 on_usage: Callable[[ApiUsage], None] | None = None,
                 token_store: TokenStore | None = None):
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.api_version = api_version.removeprefix("v")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.http = session or requests.Session()
        self._sleep = sleep
        self._on_call = on_call
        self._on_usage = on_usage
        # Held while fetching a token, so concurrent callers wait for one login, not race.
        self._token_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._token: str | None = None
        self._token_store = token_store
        self.instance_url: str | None = None
        # The integration user the token acts as (Salesforce's identity URL ends with its id).
        self.user_id: str | None = None
        self.calls = 0
        self.api_usage: ApiUsage | None = None

    # -- authentication ----------------------------------------------------------------------

    def authenticate(self) -> str:
        """Get a fresh access token (client credentials flow) and return it."""
        with self._token_lock:
            return self._fetch_token()

    def check_connection(self) -> dict:
        """Log in and make one cheap call; for the settings page's "Test connection"."""
        self.authenticate()
        limits = self.limits()
        return {"instance_url": self.instance_url, "api_version": self.api_version,
                "daily_api_requests": limits.get("DailyApiRequests", {})}

    def _fetch_token(self) -> str:
        body = self._send("POST", "/services/oauth2/token", authenticated=False, data={
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }).json()
        self._token = body["access_token"]
        self.instance_url = (body.get("instance_url") or self.base_url).rstrip("/")
        self.user_id = (body.get("id") or "").rstrip("/").rpartition("/")[2] or None
        if self._token_store is not None:
            self._token_store.put(self._token, SHARED_SESSION_SECONDS, {
                "instance_url": self.instance_url, "user_id": self.user_id})
        return self._token

    def _current_token(self) -> str:
        with self._token_lock:
            return self._token or self._token_shared() or self._fetch_token()

    def _renew_token(self, stale: str) -> None:
        with self._token_lock:
            # Another thread may already have replaced the stale token.
            if self._token != stale:
                return
            if self._token_store is not None:
                self._token_store.drop(stale)
                # Another process may already have logged in again.
                if self._token_shared() not in (None, stale):
                    return
            self._fetch_token()

    def _token_shared(self) -> str | None:
        """Take the session another process keeps in the token store, if there is one."""
        kept = self._token_store.get() if self._token_store is not None else None
        if kept is None:
            return None
        self._token, _, extra = kept
        self.instance_url = extra.get("instance_url") or self.base_url
        self.user_id = extra.get("user_id")
        return self._token

    # -- records -----------------------------------------------------------------------------

    def describe(self, sobject: str) -> dict:
        """The sObject's describe result (fields, picklist values, ...)."""
        return self._call("GET", f"sobjects/{sobject}/describe/")

    def get(self, sobject: str, record_id: str, fields: Iterable[str] | None = None) -> dict:
        """One record, with all fields or just ``fields``."""
        params = {"fields": ",".join(fields)} if fields else None
        return self._call("GET", f"sobjects/{sobject}/{record_id}", params=params)

    def create(self, sobject: str, fields: dict) -> str:
        """Create one record and return its id. Not retried once sent (see ``maybe_applied``)."""
        return self._call("POST", f"sobjects/{sobject}/", json=fields, idempotent=False)["id"]

    def update(self, sobject: str, record_id: str, fields: dict) -> None:
        """Set ``fields`` on one record."""
        self._call("PATCH", f"sobjects/{sobject}/{record_id}", json=fields)

    def delete(self, sobject: str, record_id: str) -> None:
        """Delete one record; one already in the recycle bin counts as deleted.

        That is also what a retry finds when the first attempt's response was lost.
        """
        try:
            self._call("DELETE", f"sobjects/{sobject}/{record_id}")
        except SalesforceError as error:
            if error.code != "ENTITY_IS_DELETED":
                raise

    def query(self, soql: str, *, batch_size: int | None = None,
              include_deleted: bool = False) -> Iterator[dict]:
        """Yield every record the SOQL query matches, following ``nextRecordsUrl``.

        Records are as Salesforce sends them, ``attributes`` (type and url) included.
        ``batch_size`` (200..2000) asks for smaller pages via ``Sforce-Query-Options``;
        ``include_deleted`` uses ``queryAll`` (records in the recycle bin too, ``IsDeleted``).
        """
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else None
        resource = "queryAll/" if include_deleted else "query/"
        page = self._call("GET", resource, params={"q": soql}, headers=headers)
        while True:
            yield from page["records"]
            if page.get("done", True):
                return
            page = self._send("GET", page["nextRecordsUrl"], headers=headers).json()

    def query_all(self, soql: str, *, batch_size: int | None = None) -> list[dict]:
        """Every record the SOQL query matches, as a list."""
        return list(self.query(soql, batch_size=batch_size))

    def updated(self, sobject: str, start: datetime, end: datetime) -> dict:
        """``{"ids": [...], "latestDateCovered": ...}``: records changed between two instants."""
        return self._call("GET", f"sobjects/{sobject}/updated/",
                          params={"start": _instant(start), "end": _instant(end)})

    def deleted(self, sobject: str, start: datetime, end: datetime) -> dict:
        """``{"deletedRecords": [{"id", "deletedDate"}], ...}`` between two instants."""
        return self._call("GET", f"sobjects/{sobject}/deleted/",
                          params={"start": _instant(start), "end": _instant(end)})

    def limits(self) -> dict:
        """The org's limits (``DailyApiRequests``: ``{"Max", "Remaining"}``, ...)."""
        return self._call("GET", "limits/")

    # -- sObject Collections -----------------------------------------------------------------

    def composite_create(self, sobject: str, records: list[dict],
                         all_or_none: bool = False) -> list[RecordResult]:
        """Create records in chunks of 200; one result per record, in input order.

        ``all_or_none`` applies per chunk. A lost response raises with ``maybe_applied``.
        """
        return self._collection(records, lambda chunk: self._call(
            "POST", "composite/sobjects", idempotent=False, json={
                "allOrNone": all_or_none,
                "records": [{**fields, "attributes": {"type": sobject}} for fields in chunk],
            }))

    def composite_update(self, sobject: str, records: list[dict],
                         all_or_none: bool = False) -> list[RecordResult]:
        """Update records (each carries its ``Id``) in chunks of 200; results in input order."""
        return self._collection(records, lambda chunk: self._call(
            "PATCH", "composite/sobjects", json={
                "allOrNone": all_or_none,
                "records": [{**fields, "attributes": {"type": sobject}} for fields in chunk],
            }))

    def composite_update_records(self, records: list[dict], all_or_none: bool = False
                                 ) -> list[RecordResult]:
        """Update records of any types in chunks of 200 (contacts and leads in one request):
        each carries its ``Id`` and ``attributes: {"type": ...}``. Results in input order."""
        return self._collection(records, lambda chunk: self._call(
            "PATCH", "composite/sobjects", json={"allOrNone": all_or_none, "records": chunk}))

    def composite_delete(self, ids: list[str], all_or_none: bool = False) -> list[RecordResult]:
        """Delete records by id in chunks of 200; results in input order."""
        return self._collection(ids, lambda chunk: self._call(
            "DELETE", "composite/sobjects",
            params={"ids": ",".join(chunk), "allOrNone": str(all_or_none).lower()}))

    def _collection(self, items: list, send: Callable[[list], list[dict]]) -> list[RecordResult]:
        results: list[RecordResult] = []
        for start in range(0, len(items), COLLECTION_LIMIT):
            chunk = items[start:start + COLLECTION_LIMIT]
            try:
                answer = send(chunk)
            except SalesforceError as error:
                error.results = results
                raise
            if len(answer) != len(chunk):
                # Results pair with records by position; a mismatch would mislabel them.
                error = SalesforceError(f"{len(answer)} results for {len(chunk)} records",
                                        code="UNEXPECTED_RESPONSE", maybe_applied=True)
                error.results = results
                raise error
            results.extend(RecordResult.from_wire(item) for item in answer)
        return results

    # -- the wire ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs) -> Any:
        response = self._send(method, f"/services/data/v{self.api_version}/{path}", **kwargs)
        return response.json() if response.content else None

    def _send(self, method: str, path: str, *, authenticated: bool = True,
              idempotent: bool = True, headers: dict | None = None,
              **kwargs) -> requests.Response:
        """Send one logical request, re-authenticating and retrying as the class describes."""
        failures = 0
        reauthenticated = False
        while True:
            request_headers = {"Accept": "application/json", **(headers or {})}
            if authenticated:
                token = self._current_token()
                request_headers["Authorization"] = f"Bearer {token}"
                url = f"{self.instance_url}{path}"
            else:
                url = f"{self.base_url}{path}"
            with self._stats_lock:
                self.calls += 1
            if self._on_call is not None:
                self._on_call()
            try:
                response = self.http.request(method, url, headers=request_headers,
                                             timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                error = _wire_error(exc, idempotent)
            else:
                self._note_limit_info(response)
                if response.status_code < 300:
                    return response
                error = _http_error(response, idempotent)
                if (authenticated and error.code == "INVALID_SESSION_ID"
                        and not reauthenticated):
                    reauthenticated = True
                    self._renew_token(token)
                    continue
            failures += 1
            if (error.permanent or error.maybe_applied or error.code in _NO_RETRY_CODES
                    or failures >= self.max_attempts):
                raise error
            self._sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        # "Equal jitter": at least half the exponential step, so retries never bunch at zero.
        step = min(self.backoff_max, self.backoff_base * 2 ** (failures - 1))
        return step / 2 + random.uniform(0, step / 2)

    def _note_limit_info(self, response: requests.Response) -> None:
        match = _API_USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            usage = ApiUsage(int(match[1]), int(match[2]))
            with self._stats_lock:
                self.api_usage = usage
            if self._on_usage is not None:
                self._on_usage(usage)


def _instant(moment: datetime) -> str:
    """ISO 8601 in UTC, as the updated/deleted resources want it."""
    if moment.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _wire_error(exc: requests.RequestException, idempotent: bool) -> SalesforceError:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError):
        # Never connected, so nothing reached Salesforce: safe to retry any method.
        return error_unreached(SalesforceError(f"Could not connect to Salesforce: {exc}",
                                               code="CONNECTION_FAILED"), exc)
    code = "TIMEOUT" if isinstance(exc, requests.Timeout) else "CONNECTION_LOST"
    return error_unreached(SalesforceError(f"No response from Salesforce: {exc}", code=code,
                                           maybe_applied=not idempotent), exc)


def _http_error(response: requests.Response, idempotent: bool) -> SalesforceError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        errors = body
        code = body[0].get("errorCode")
        message = "; ".join(error.get("message", "") for error in body)
    elif isinstance(body, dict) and "error" in body:
        # The OAuth token endpoint answers {"error", "error_description"}.
        errors = [body]
        code = body["error"]
        message = body.get("error_description") or code
    else:
        # A load balancer or proxy page, not Salesforce itself.
        errors = []
        code = None
        message = f"HTTP {status} {response.reason}"
    return SalesforceError(
        message, code=code, status=status, errors=errors,
        permanent=status < 500 and code not in _TRANSIENT_CODES,
        maybe_applied=not idempotent and status in _AMBIGUOUS_STATUSES)
