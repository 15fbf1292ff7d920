"""Marketo REST and Bulk API client: it knows the wire, not the models.

Facts from Marketo's documentation that shape it:

- Auth is 2-legged OAuth: ``{base}/identity/oauth/token`` with client credentials gives a bearer
  token (``expires_in`` seconds, normally 3600). Asking again before expiry returns the *same*
  token with its remaining lifespan. REST answers ``601`` (invalid) / ``602`` (expired) in the
  ``errors`` array when the token is bad; renewing fixes both.
- Errors come at three levels: HTTP (413, 414, 5xx from the edge), response (``success: false``
  and ``errors: [{code, message}]`` with HTTP 200; 6xx means "not executed"), and record
  (``status: "skipped"`` plus ``reasons``/``errors`` with 1xxx codes inside ``result``).
- Limits: 100 calls per sliding 20 s (``606``), 10 concurrent calls (``615``), a daily quota
  (``607``), 500 MB of bulk extract files a day and 10 queued jobs (``1029``). Rejected calls do
  not count against the limits. ``604``/``608``/``611``/``614``/``713`` are temporary.
- Lead database batches are 300 records; GET URLs over 8 KB get ``414`` and should be sent as a
  POST with ``_method=GET`` and the query string as a form body.
- Bulk extract files are plain bytes (not JSON), support ``Range: bytes=N-`` for resuming, and
  answer 404 with a plain-text message while the job is not completed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import requests
from requests.adapters import HTTPAdapter

from .transport import TokenStore, TransportError, error_unreached

log = logging.getLogger(__name__)

BATCH_SIZE = 300
# Seconds a call may wait on Marketo.
DEFAULT_TIMEOUT = 30.0
MAX_ACTIVITY_TYPE_IDS = 10
MAX_ACTIVITY_LEAD_IDS = 30
# Marketo answers 414 above 8 KB of URI; stay clear of it with room for the host part.
MAX_GET_URL_LENGTH = 7 * 1024
TOKEN_RENEW_MARGIN = 60.0
BULK_MAX_RANGE = timedelta(days=31)
# Get Lead Changes returns these and New Lead (12) activities.
CHANGE_DATA_VALUE = 13

TOKEN_CODES = frozenset({"601", "602"})
RATE_LIMIT_CODE = "606"
# Documented as temporary (time-outs, unavailable, system error, concurrency, transient).
RETRY_CODES = frozenset({"502", "604", "608", "611", "614", "615", "713"})
# Daily API quota and bulk extract quota/queue: retrying within seconds cannot help, tomorrow can.
QUOTA_CODES = frozenset({"607", "1029"})

# How an attempt failed, which decides whether another attempt is sent.
_SAFE = "safe"  # Marketo said it did not execute the request: resend.
_UNKNOWN = "unknown"  # no clear answer (lost connection, timeout, 5xx): resend only if idempotent.
_FINAL = "final"  # another attempt now cannot succeed.


class MarketoError(TransportError):
    """A Marketo call failed.

    ``code`` is Marketo's own code (``"606"``, ``"1003"``, ``"invalid_client"``) or ``None`` for
    network and HTTP-level failures (then ``status`` holds the HTTP status when there was one).
    ``partial_results`` holds the per-record results of batches that were applied before a
    multi-batch call failed.
    """

    def __init__(self, message: str, *, code: str | None = None, permanent: bool = False,
                 status: int | None = None, partial_results: list[dict] | None = None):
        super().__init__(message, code=code, permanent=permanent, status=status)
        self.partial_results = partial_results if partial_results is not None else []


@dataclass(frozen=True)
class ActivityPage:
    """One page of an activity feed; keep ``next_page_token`` as the cursor for the next call."""

    results: list[dict]
    next_page_token: str
    more_result: bool


def lead_change_values(activity: dict) -> dict[str, object]:
    """``{field: new value}`` of a Get Lead Changes item.

    A Change Data Value activity lists its changes in ``fields``: the field's id and REST
    name, ``newValue`` and ``oldValue``, values as strings (a cleared field's may be null).
    A New Lead activity changes no field.
    """
    return {change["name"]: change.get("newValue")
            for change in activity.get("fields") or [] if change.get("name")}


def record_reasons(result: dict) -> list[dict]:
    """The ``[{code, message}]`` of a skipped record in a result array (empty if it succeeded).

    Marketo's docs name them ``reasons`` in general and ``errors`` in the Add Custom Activities
    example; read both.
    """
    return list(result.get("reasons") or result.get("errors") or [])


class MarketoBusy(MarketoError):
    """A call could not start within the caller's deadline: the call budget (this client's
    window, or in-flight calls) is spent. ``retry_after``: seconds until a call could start."""

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message, code="BUSY")
        self.retry_after = retry_after


class _AttemptFailed(Exception):
    def __init__(self, error: MarketoError, retry: str):
        super().__init__(error.message)
        self.error = error
        self.retry = retry


class CallLimiter:
    """At most ``calls`` call starts per sliding ``window`` seconds and ``max_in_flight`` at once.

    Shared by every thread using one client. It waits in real time on a condition variable, not
    with the client's injectable ``sleep`` (that one is for retry backoff).
    """

    def __init__(self, calls: int, window: float, max_in_flight: int,
                 clock: Callable[[], float] = time.monotonic):
        if calls < 1 or window <= 0 or max_in_flight < 1:
            raise ValueError("calls, window and max_in_flight must be positive")
        self.calls = calls
        self.window = window
        self.max_in_flight = max_in_flight
        self._clock = clock
        self._starts: deque[float] = deque()
        self._in_flight = 0
        self._condition = threading.Condition()

    @contextmanager
    def slot(self, until: float | None = None) -> Iterator[None]:
        """Block until a call may start, and hold a concurrency slot while it runs.

        With ``until`` (a moment on the limiter's clock), raise ``MarketoBusy`` at once
        rather than wait past it: a page view answers now, not after the window moves on.
        """
        with self._condition:
            while True:
                now = self._clock()
                while self._starts and self._starts[0] <= now - self.window:
                    self._starts.popleft()
                window_full = len(self._starts) >= self.calls
                if not window_full and self._in_flight < self.max_in_flight:
                    break
                # A full window frees up when its oldest start ages out; a full set of in-flight
                # calls frees up when one ends (notify below).
                frees_at = self._starts[0] + self.window if window_full else None
                if until is not None:
                    if frees_at is not None and frees_at > until:
                        raise MarketoBusy(
                            f"{self.calls} calls in {self.window:g} s already made",
                            retry_after=frees_at - now)
                    if until <= now:
                        raise MarketoBusy(f"{self.max_in_flight} calls already in flight",
                                          retry_after=1.0)
                    wait = (frees_at or until) - now
                    self._condition.wait(min(wait, until - now))
                    continue
                self._condition.wait(frees_at - now if frees_at is not None else None)
            self._starts.append(now)
            self._in_flight += 1
        try:
            yield
        finally:
            with self._condition:
                self._in_flight -= 1
                self._condition.notify_all()


class MarketoClient:
    """Thread-safe client for one Marketo instance (one custom service's credentials).

    Defaults stay at half of Marketo's limits (100 calls / 20 s, 10 concurrent) so several
    processes can share an instance with other integrations. ``calls`` counts REST and bulk
    requests sent (retries included) and ``token_calls`` identity requests, for benchmarks.
    ``on_call``, if given, is called once per REST or bulk request as it leaves (the caller
    records its API budget with it; it must be cheap and must not raise). ``limiter``, if
    given, replaces the client's own limits (``calls_per_window``...). ``token_store``, if
    given, shares the access token with other processes (``shared_token.SharedToken``: a
    token kept there is taken instead of asking Marketo, and one fetched is kept there).
    """

    def __init__(self, base_url: str, client_id: str, client_secret: str, *,
                 calls_per_window: int = 50, window_seconds: float = 20,
                 max_in_flight: int = 5, timeout: float = DEFAULT_TIMEOUT, max_attempts: int = 6,
                 backoff_base: float = 0.5, backoff_max: float = 30.0,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 on_call: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 limiter: CallLimiter | None = None,
                 token_store: TokenStore | None = None):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.window_seconds = window_seconds
        # One of this client's own, unless the caller shares one between processes
        # (``shared_limiter.SharedCallLimiter``, with the same methods).
        self.limiter = limiter or CallLimiter(calls_per_window, window_seconds, max_in_flight)
        self.http = session or _new_session(max_in_flight)
        self.scope: str | None = None
        self.calls = 0
        self.token_calls = 0
        self._sleep = sleep
        self._on_call = on_call
        self._clock = clock  # when the token is renewed (tests pass a controllable one)
        self._random = random.Random()
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._token_lock = threading.Lock()
        self._token_store = token_store
        self._count_lock = threading.Lock()
        self._deadline = threading.local()

    def _time_left(self) -> float:
        """How long the next call may wait on Marketo: the timeout, or less under a deadline."""
        until = getattr(self._deadline, "until", None)
        return self.timeout if until is None else min(self.timeout, until - time.monotonic())

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Within it, this thread's calls end within ``seconds`` all told: none waits on the
        limiter past the deadline (``MarketoBusy`` at once), each waits on Marketo at most what
        is left, and none starts once it has passed. For callers that answer a person."""
        self._deadline.until = time.monotonic() + seconds
        try:
            yield
        finally:
            self._deadline.until = None

    # ----------------------------------------------------------------------------- auth

    def authenticate(self) -> str:
        """Return a valid access token, fetching one only when the cached one is about to expire."""
        with self._token_lock:
            if self._token and self._clock() < self._token_renew_at:
                return self._token
            return self._token_shared() or self._retrying(self._fetch_token, safe=True)

    def check_connection(self) -> dict:
        """Authenticate and make one cheap call; raises MarketoError with Marketo's own message."""
        self.authenticate()
        fields = self.describe_leads()
        return {"scope": self.scope, "lead_fields": len(fields)}

    def _renew_token(self, rejected: str) -> str:
        with self._token_lock:
            if self._token != rejected:  # another thread has already renewed it
                return self._token
            if self._token_store is not None:
                self._token_store.drop(rejected)
                shared = self._token_shared()  # another process may have renewed it
                if shared and shared != rejected:
                    return shared
            return self._retrying(self._fetch_token, safe=True)

    def _token_shared(self) -> str | None:
        """Take the token another process keeps in the token store, if there is one."""
        kept = self._token_store.get() if self._token_store is not None else None
        if kept is None:
            return None
        self._token, seconds_left, extra = kept
        self.scope = extra.get("scope", self.scope)
        self._token_renew_at = self._clock() + seconds_left
        return self._token

    def _fetch_token(self) -> str:
        with self._count_lock:
            self.token_calls += 1
        # POST keeps the secret out of URLs (and so out of proxy and server access logs).
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.client_secret}
        timeout = self._time_left()
        if timeout <= 0:
            raise _AttemptFailed(MarketoError("identity: not asked, the time allowed is spent"),
                                 _FINAL)
        try:
            response = self.http.post(f"{self.base_url}/identity/oauth/token", data=form,
                                      timeout=timeout)
        except requests.RequestException as exc:
            raise _AttemptFailed(error_unreached(
                MarketoError(f"identity endpoint unreachable: {exc}"), exc), _SAFE) from exc
        if response.status_code >= 500:
            raise _AttemptFailed(_http_error(response), _SAFE)
        payload = _json_or_none(response)
        payload = payload if isinstance(payload, dict) else {}
        if not response.ok or "access_token" not in payload:
            raise _AttemptFailed(MarketoError(
                payload.get("error_description") or _http_error(response).message,
                code=payload.get("error"), permanent=True, status=response.status_code), _FINAL)
        token = payload["access_token"]
        expires_in = float(payload.get("expires_in") or 0)
        # Marketo hands back the same token with its remaining lifespan until it expires, so
        # once it does, asking early again only costs calls: keep that token to its end.
        margin = 0.0 if token == self._token else min(TOKEN_RENEW_MARGIN, expires_in / 2)
        self._token = token
        self._token_renew_at = self._clock() + expires_in - margin
        self.scope = payload.get("scope")
        if self._token_store is not None:
            self._token_store.put(token, expires_in - margin, {"scope": self.scope})
        return token

    # ----------------------------------------------------------------------------- leads

    def describe_leads(self) -> list[dict]:
        """Every lead field with its REST name, data type and read-only flag."""
        return self._call("GET", "/rest/v1/leads/describe.json").get("result") or []

    def leads_by_filter(self, filter_type: str, values: Iterable, fields: Sequence[str]
                        ) -> list[dict]:
        """Leads whose ``filter_type`` field matches any of ``values`` (300 values per call)."""
        values = [str(value) for value in values]
        leads: list[dict] = []
        for start in range(0, len(values), BATCH_SIZE):
            query = {"filterType": filter_type,
                     "filterValues": ",".join(values[start:start + BATCH_SIZE])}
            if fields:
                query["fields"] = ",".join(fields)
            leads.extend(self._pages("/rest/v1/leads.json", query))
        return leads

    # ----------------------------------------------------------------------------- activities

    def paging_token(self, since: datetime) -> str:
        """A date-based paging token: activities, lead changes and deleted leads after ``since``."""
        payload = self._get("/rest/v1/activities/pagingtoken.json",
                            {"sinceDatetime": _iso(since)})
        return payload["nextPageToken"]

    def lead_changes(self, next_page_token: str, fields: Sequence[str],
                     batch_size: int = BATCH_SIZE) -> ActivityPage:
        """One page of New Lead (12) and Change Data Value (13) activities for ``fields``."""
        return self._activity_page("/rest/v1/activities/leadchanges.json", {
            "nextPageToken": next_page_token, "fields": ",".join(fields),
            "batchSize": _batch_size(batch_size)})

    def deleted_leads(self, next_page_token: str, batch_size: int = BATCH_SIZE) -> ActivityPage:
        """One page of Delete Lead activities."""
        return self._activity_page("/rest/v1/activities/deletedleads.json", {
            "nextPageToken": next_page_token, "batchSize": _batch_size(batch_size)})

    def activity_types(self) -> list[dict]:
        """Every activity type (standard and custom) with its id, name and attributes."""
        return self._call("GET", "/rest/v1/activities/types.json").get("result") or []

    def activities(self, next_page_token: str, activity_type_ids: Sequence[int],
                   lead_ids: Sequence[int] | None = None,
                   batch_size: int = BATCH_SIZE) -> ActivityPage:
        """One page of activities of up to 10 types, optionally for up to 30 leads."""
        if not activity_type_ids or len(activity_type_ids) > MAX_ACTIVITY_TYPE_IDS:
            raise ValueError(f"1 to {MAX_ACTIVITY_TYPE_IDS} activity type ids per call")
        query = {"nextPageToken": next_page_token,
                 "activityTypeIds": ",".join(str(i) for i in activity_type_ids),
                 "batchSize": _batch_size(batch_size)}
        if lead_ids:
            if len(lead_ids) > MAX_ACTIVITY_LEAD_IDS:
                raise ValueError(f"at most {MAX_ACTIVITY_LEAD_IDS} lead ids per call")
            query["leadIds"] = ",".join(str(i) for i in lead_ids)
        return self._activity_page("/rest/v1/activities.json", query)

    # ------------------------------------------------------------------------- custom activities

    def custom_activity_types(self) -> list[dict]:
        """The instance's custom activity types (at most 10 exist) with their status."""
        return self._call("GET", "/rest/v1/activities/external/types.json").get("result") or []

    def create_custom_activity_type(self, definition: dict, *, retry_unsafe: bool = False
                                    ) -> dict:
        """Create a draft type (apiName, name, triggerName, filterName, primaryAttribute).

        Not resent after a lost answer unless ``retry_unsafe``: a resend of an applied create
        fails with "already exists", hiding the success; re-running setup handles both.
        """
        return _first(self._call("POST", "/rest/v1/activities/external/type.json",
                                 json=definition, safe=retry_unsafe))

    def create_custom_activity_type_attributes(self, api_name: str, attributes: list[dict], *,
                                               retry_unsafe: bool = False) -> dict:
        """Add secondary attributes (apiName, name, dataType) to the type's draft."""
        return _first(self._call("POST", f"{_type_path(api_name)}/attributes/create.json",
                                 json={"attributes": attributes}, safe=retry_unsafe))

    def approve_custom_activity_type(self, api_name: str) -> dict:
        """Make the type's draft live so activities of that type can be added."""
        return _first(self._call("POST", f"{_type_path(api_name)}/approve.json"))

    def add_custom_activities(self, activities: list[dict], *, retry_unsafe: bool = False
                              ) -> list[dict]:
        """Log custom activities, 300 per call; returns one result per input, in input order.

        Record-level failures (``status: "skipped"`` with 1xxx codes) are returned, not raised.
        A lost connection, time-out or 5xx is not resent unless ``retry_unsafe``: Marketo may
        already have written the batch, and custom activities have no idempotency key, so a
        blind resend can log them twice. The caller (the outbox) knows whether a duplicate is
        acceptable. If a later batch fails, the error's ``partial_results`` holds the results
        of the batches already applied.
        """
        results: list[dict] = []
        for start in range(0, len(activities), BATCH_SIZE):
            try:
                payload = self._call("POST", "/rest/v1/activities/external.json",
                                     json={"input": activities[start:start + BATCH_SIZE]},
                                     safe=retry_unsafe)
            except MarketoError as error:
                error.partial_results = list(results)
                raise
            results.extend(payload.get("result") or [])
        return results

    # ------------------------------------------------------------------------- bulk lead extract

    def bulk_export_create(self, fields: Sequence[str], created_at_start: datetime | None = None,
                           created_at_end: datetime | None = None, *,
                           updated_at_start: datetime | None = None,
                           updated_at_end: datetime | None = None,
                           export_filter: dict | None = None, file_format: str = "CSV",
                           column_header_names: dict | None = None,
                           retry_unsafe: bool = True) -> dict:
        """Create (not yet enqueue) a lead export job; exactly one filter.

        Filters: a ``createdAt`` or ``updatedAt`` range of at most 31 days, or any documented
        filter dict (``{"staticListId": 12}``). Resent after a lost answer by default: a
        duplicate job left in "Created" state costs no quota and expires on its own.
        """
        ranges = {"createdAt": (created_at_start, created_at_end),
                  "updatedAt": (updated_at_start, updated_at_end)}
        chosen = {name: pair for name, pair in ranges.items() if any(pair)}
        if len(chosen) + (export_filter is not None) != 1:
            raise ValueError("give exactly one filter: created_at, updated_at or export_filter")
        if export_filter is None:
            name, (start, end) = chosen.popitem()
            if start is None or end is None or not start < end <= start + BULK_MAX_RANGE:
                raise ValueError("a date range needs start < end, at most 31 days apart")
            export_filter = {name: {"startAt": _iso(start), "endAt": _iso(end)}}
        body = {"fields": list(fields), "format": file_format, "filter": export_filter}
        if column_header_names:
            body["columnHeaderNames"] = column_header_names
        return _first(self._call("POST", "/bulk/v1/leads/export/create.json", json=body,
                                 safe=retry_unsafe))

    def bulk_export_enqueue(self, export_id: str) -> dict:
        """Queue a created job; MarketoError 1029 (transient) when the queue or quota is full."""
        try:
            return _first(self._call("POST", f"{_export_path(export_id)}/enqueue.json"))
        except MarketoError as error:
            if error.code != "1029":
                raise
            # A resent enqueue whose first attempt got through answers 1029 "Job already
            # queued": that is the outcome the caller wanted.
            status = self.bulk_export_status(export_id)
            if status.get("status") in ("Queued", "Processing", "Completed"):
                return status
            raise

    def bulk_export_status(self, export_id: str) -> dict:
        """The job's status record (status, numberOfRecords, fileSize, fileChecksum, ...).

        Marketo updates it at most once a minute; poll every few minutes, not faster.
        """
        return _first(self._call("GET", f"{_export_path(export_id)}/status.json"))

    def bulk_export_cancel(self, export_id: str) -> dict:
        """Cancel a created, queued or processing job."""
        return _first(self._call("POST", f"{_export_path(export_id)}/cancel.json"))

    def bulk_exports(self, status: str | Sequence[str] | None = None) -> list[dict]:
        """Lead export jobs of the last 7 days made by this API user, optionally by status."""
        query: dict = {"batchSize": BATCH_SIZE}
        if status:
            query["status"] = status if isinstance(status, str) else ",".join(status)
        return list(self._pages("/bulk/v1/leads/export.json", query))

    def bulk_export_file(self, export_id: str, start_byte: int = 0,
                         chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream a completed job's file from ``start_byte`` on.

        A download cut short is resumed with ``Range`` from the last byte received (retries
        and backoff as for any call). A caller that stored how many bytes it has can also pass
        ``start_byte`` to resume in a later run.
        """
        path = f"{_export_path(export_id)}/file.json"
        position = start_byte
        failures = 0
        while True:
            request = {"headers": {"Range": f"bytes={position}-"} if position else {},
                       "stream": True}
            response = self._call_raw("GET", path, request)
            if response is None:  # 416: nothing left after start_byte
                return
            # A server that ignores Range sends the whole file: skip what we already have.
            skip = position if response.status_code == 200 else 0
            try:
                with response:
                    for chunk in response.iter_content(chunk_size):
                        if skip:
                            dropped = min(skip, len(chunk))
                            chunk, skip = chunk[dropped:], skip - dropped
                            if not chunk:
                                continue
                        position += len(chunk)
                        yield chunk
                return
            except requests.RequestException as exc:
                failures += 1
                if failures >= self.max_attempts:
                    raise MarketoError(f"download of export {export_id} broke off at byte "
                                       f"{position} {failures} times: {exc}") from exc
                log.info("Marketo export %s download broke off at byte %s; resuming: %s",
                         export_id, position, exc)
                self._sleep(self._backoff(failures))

    # ----------------------------------------------------------------------------- plumbing

    def _get(self, path: str, query: dict) -> dict:
        if len(self.base_url) + len(path) + 1 + len(urlencode(query)) <= MAX_GET_URL_LENGTH:
            return self._call("GET", path, params=query)
        # Marketo's documented way around the 8 KB URI limit (414): POST with _method=GET and
        # the query string as a form body.
        return self._call("POST", path, params={"_method": "GET"}, data=query)

    def _pages(self, path: str, query: dict) -> Iterator[dict]:
        query = dict(query)
        while True:
            payload = self._get(path, query)
            results = payload.get("result") or []
            yield from results
            token = payload.get("nextPageToken")
            if not results or not token or payload.get("moreResult") is False:
                return
            query["nextPageToken"] = token

    def _activity_page(self, path: str, query: dict) -> ActivityPage:
        payload = self._get(path, query)
        return ActivityPage(results=payload.get("result") or [],
                            next_page_token=payload.get("nextPageToken") or query["nextPageToken"],
                            more_result=bool(payload.get("moreResult")))

    def _call(self, method: str, path: str, *, safe: bool = True, **request) -> dict:
        """One logical call: rate limited, authenticated, retried; returns the JSON envelope."""
        return self._call_raw(method, path, request, safe=safe)

    def _call_raw(self, method: str, path: str, request: dict, *, safe: bool = True):
        return self._retrying(lambda: self._send(method, path, request), safe=safe)

    def _retrying(self, attempt: Callable, *, safe: bool):
        for number in range(1, self.max_attempts + 1):
            try:
                return attempt()
            except _AttemptFailed as failed:
                error = failed.error
                if failed.retry == _FINAL or (failed.retry == _UNKNOWN and not safe):
                    raise error from None
                if number == self.max_attempts:
                    break
                # A 606 means the sliding window is full. Rejected calls do not count, but
                # coming back before the window has moved on only collects more 606s.
                floor = self.window_seconds / 2 if error.code == RATE_LIMIT_CODE else 0.0
                delay = self._backoff(number, floor)
                until = getattr(self._deadline, "until", None)
                if until is not None and time.monotonic() + delay >= until:
                    break  # under a deadline: no retry that would start past it
                log.info("Marketo call failed (%s); attempt %s of %s in %.2f s",
                         error, number + 1, self.max_attempts, delay)
                self._sleep(delay)
        gave_up = MarketoError(f"gave up after {self.max_attempts} attempts: {error.message}",
                               code=error.code, status=error.status)
        gave_up.unreached = error.unreached
        raise gave_up

    def _backoff(self, attempt: int, floor: float = 0.0) -> float:
        # Exponential, capped, with jitter so threads and processes that failed together do not
        # come back together.
        ceiling = max(floor, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))
        return self._random.uniform(ceiling / 2, ceiling)

    def _send(self, method: str, path: str, request: dict):
        """One attempt, renewing the token once on 601/602. Raises _AttemptFailed.

        Returns the JSON envelope, or for a streamed file the open response (None for 416).
        """
        token = self.authenticate()
        response = self._exchange(method, path, token, request)
        payload = self._answer(response, request.get("stream", False))
        if isinstance(payload, dict) and _error_code(payload) in TOKEN_CODES:
            token = self._renew_token(token)
            response = self._exchange(method, path, token, request)
            payload = self._answer(response, request.get("stream", False))
        if isinstance(payload, dict):
            _raise_for_errors(payload)
        return payload

    def _exchange(self, method: str, path: str, token: str, request: dict) -> requests.Response:
        request = dict(request)
        headers = {"Authorization": f"Bearer {token}", **request.pop("headers", {})}
        with self.limiter.slot(getattr(self._deadline, "until", None)):
            timeout = self._time_left()  # after any wait for the limiter
            if timeout <= 0:
                raise _AttemptFailed(MarketoError(
                    f"{method} {path}: not sent, the time allowed is spent"), _FINAL)
            with self._count_lock:
                self.calls += 1
            if self._on_call is not None:
                self._on_call()
            try:
                return self.http.request(method, self.base_url + path, headers=headers,
                                         timeout=timeout, **request)
            except requests.ConnectTimeout as exc:
                # Never connected, so Marketo never saw it.
                raise _AttemptFailed(error_unreached(
                    MarketoError(f"{method} {path}: connect timed out"), exc), _SAFE) from exc
            except requests.Timeout as exc:
                raise _AttemptFailed(error_unreached(MarketoError(
                    f"{method} {path}: no answer within {timeout:g} s (it may have been "
                    "applied)"), exc), _UNKNOWN) from exc
            except requests.RequestException as exc:
                raise _AttemptFailed(error_unreached(MarketoError(
                    f"{method} {path}: connection failed, it may have been applied: {exc}"),
                    exc), _UNKNOWN) from exc

    def _answer(self, response: requests.Response, stream: bool):
        status = response.status_code
        if stream and status in (200, 206) and not _is_json(response):
            return response
        if stream and status == 416:
            response.close()
            return None
        if status >= 500:
            raise _AttemptFailed(_http_error(response), _UNKNOWN)
        if status >= 400:
            raise _AttemptFailed(_http_error(response, permanent=True), _FINAL)
        payload = _json_or_none(response)
        if not isinstance(payload, dict):
            raise _AttemptFailed(MarketoError(
                f"HTTP {status}: not a Marketo JSON answer: {response.text[:200]!r}",
                status=status), _UNKNOWN)
        return payload


def _raise_for_errors(payload: dict) -> None:
    if payload.get("success") is not False:
        return
    errors = payload.get("errors") or [{}]
    code = str(errors[0].get("code") or "") or None
    message = "; ".join(str(e.get("message") or "") for e in errors) or "success: false"
    if code == RATE_LIMIT_CODE or code in RETRY_CODES or code in TOKEN_CODES:
        raise _AttemptFailed(MarketoError(message, code=code), _SAFE)
    if code in QUOTA_CODES:
        raise _AttemptFailed(MarketoError(message, code=code), _FINAL)
    raise _AttemptFailed(MarketoError(message, code=code, permanent=True), _FINAL)


def _error_code(payload: dict) -> str | None:
    errors = payload.get("errors") or []
    if payload.get("success") is False and errors:
        return str(errors[0].get("code"))
    return None


def _http_error(response: requests.Response, permanent: bool = False) -> MarketoError:
    detail = "" if _is_html(response) else response.text.strip()[:300]
    message = f"HTTP {response.status_code} {response.reason or ''}".strip()
    return MarketoError(f"{message}: {detail}" if detail else message, permanent=permanent,
                        status=response.status_code)


def _json_or_none(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _is_json(response: requests.Response) -> bool:
    return "json" in response.headers.get("Content-Type", "")


def _is_html(response: requests.Response) -> bool:
    return "html" in response.headers.get("Content-Type", "")


def _first(payload: dict) -> dict:
    results = payload.get("result") or [{}]
    return results[0]


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("Marketo datetimes need a time zone; pass an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _batch_size(batch_size: int) -> int:
    if not 1 <= batch_size <= BATCH_SIZE:
        raise ValueError(f"batch_size must be 1..{BATCH_SIZE}")
    return batch_size


def _type_path(api_name: str) -> str:
    return f"/rest/v1/activities/external/type/{quote(api_name, safe='')}"


def _export_path(export_id: str) -> str:
    return f"/bulk/v1/leads/export/{quote(str(export_id), safe='')}"


def _new_session(max_in_flight: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=max(10, max_in_flight))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
