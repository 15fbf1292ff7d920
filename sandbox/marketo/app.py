"""The Marketo REST API sandbox: a WSGI app speaking Marketo's documented wire formats.

Identity at ``/identity/oauth/token``, the lead database at ``/rest/v1/...``, Bulk Lead Extract
at ``/bulk/v1/leads/export...``, and the test-only control surface at ``/_sandbox/...``.

REST answers are HTTP 200 envelopes ``{"requestId", "success", "result"|"errors", ...}`` with
string error codes. Calls pass, in order: fault injection, access token (600/601/602),
concurrency (615, 10 at a time), the sliding rate limit (606, 100 per 20 s) and the daily quota
(607); rejected calls do not count against the limits, as Marketo documents.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter, deque
from datetime import UTC, datetime

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import activities, catalog
from .activities import ActivityLog, Entry, parse_id_list
from .bulk import BulkExports, central_day
from .custom_types import CustomActivityTypes
from .errors import ApiError, blank, field_not_found, invalid
from .leads import LeadStore

MAX_BATCH = 300
MAX_FILTER_VALUES = 300
MAX_FILTER_RESULTS = 1000
MAX_ACTIVITY_TYPE_IDS = 10
MAX_LEAD_IDS = 30
MAX_CUSTOM_ACTIVITIES = 300
SCOPE = "sandbox-api@example.com"

CONFIG_DEFAULTS = {
    "client_id": "sandbox-marketo-client",
    "client_secret": "sandbox-marketo-secret",
    "token_ttl": 3600,
    "rate_limit_calls": 100,
    "rate_limit_seconds": 20,
    "max_concurrent": 10,
    "daily_quota": 50000,
    "max_custom_activity_types": 10,
    "bulk_extract_enabled": True,
    "bulk_updated_at_filter": True,
    "bulk_daily_quota_mb": 500,
    "bulk_max_processing": 2,
    "bulk_max_queued": 10,
    "bulk_rows_per_second": 0,
    "bulk_csv_null": "null",
    # Every API answer (token included) waits this long: a remote Marketo's round trip, for
    # benchmarks of how work spreads over workers (bench/workers.py).
    "answer_delay_ms": 0,
}

HTTP_FAULTS = {"http_500": (500, "Internal Server Error"),
               "http_503": (503, "Service Temporarily Unavailable")}
ENVELOPE_FAULTS = ("601", "602", "606", "607", "615", "1029")
FAULTS = frozenset({*HTTP_FAULTS, "latency", "drop", "drop_after_apply", *ENVELOPE_FAULTS})
API_PREFIXES = ("/identity/", "/rest/", "/bulk/")

_R = Rule
_URL_MAP = Map([
    _R("/identity/oauth/token", endpoint="token", methods=["GET", "POST"]),
    _R("/rest/v1/leads.json", endpoint="leads", methods=["GET", "POST"]),
    _R("/rest/v1/lead/<int:lead_id>.json", endpoint="lead", methods=["GET"]),
    _R("/rest/v1/leads/describe.json", endpoint="describe", methods=["GET"]),
    _R("/rest/v1/leads/describe2.json", endpoint="describe2", methods=["GET"]),
    _R("/rest/v1/activities/types.json", endpoint="activity_types", methods=["GET"]),
    _R("/rest/v1/activities/pagingtoken.json", endpoint="paging_token", methods=["GET"]),
    _R("/rest/v1/activities.json", endpoint="activities", methods=["GET"]),
    _R("/rest/v1/activities/leadchanges.json", endpoint="lead_changes", methods=["GET"]),
    _R("/rest/v1/activities/deletedleads.json", endpoint="deleted_leads", methods=["GET"]),
    _R("/rest/v1/activities/external.json", endpoint="add_custom_activities",
       methods=["POST"]),
    _R("/rest/v1/activities/external/types.json", endpoint="custom_type_list", methods=["GET"]),
    _R("/rest/v1/activities/external/type.json", endpoint="custom_type_create",
       methods=["POST"]),
    _R("/rest/v1/activities/external/type/<api_name>.json", endpoint="custom_type_update",
       methods=["POST"]),
    _R("/rest/v1/activities/external/type/<api_name>/describe.json",
       endpoint="custom_type_describe", methods=["GET"]),
    _R("/rest/v1/activities/external/type/<api_name>/<any(approve, discardDraft, delete):action>"
       ".json", endpoint="custom_type_action", methods=["POST"]),
    _R("/rest/v1/activities/external/type/<api_name>/attributes/"
       "<any(create, update, delete):action>.json", endpoint="custom_type_attributes",
       methods=["POST"]),
    _R("/rest/v1/stats/usage.json", endpoint="usage", methods=["GET"]),
    _R("/bulk/v1/leads/export.json", endpoint="export_list", methods=["GET"]),
    _R("/bulk/v1/leads/export/create.json", endpoint="export_create", methods=["POST"]),
    _R("/bulk/v1/leads/export/<export_id>/<any(enqueue, cancel):action>.json",
       endpoint="export_action", methods=["POST"]),
    _R("/bulk/v1/leads/export/<export_id>/status.json", endpoint="export_status",
       methods=["GET"]),
    _R("/bulk/v1/leads/export/<export_id>/file.json", endpoint="export_file", methods=["GET"]),
], strict_slashes=False)
_CONTROL_MAP = Map([
    _R("/_sandbox/reset", endpoint="reset", methods=["POST"]),
    _R("/_sandbox/config", endpoint="config", methods=["GET", "POST"]),
    _R("/_sandbox/faults", endpoint="faults", methods=["GET", "POST", "DELETE"]),
    _R("/_sandbox/tokens/<any(expire, revoke):action>", endpoint="tokens", methods=["POST"]),
    _R("/_sandbox/counters", endpoint="counters", methods=["GET", "DELETE"]),
    _R("/_sandbox/leads", endpoint="lead_create", methods=["POST"]),
    _R("/_sandbox/leads/change-many", endpoint="lead_change_many", methods=["POST"]),
    _R("/_sandbox/leads/<int:lead_id>", endpoint="lead_one",
       methods=["GET", "PATCH", "DELETE"]),
    _R("/_sandbox/custom-activities", endpoint="custom_activities", methods=["GET"]),
])
_PATH_VARIABLE = re.compile(r"<(?:[^>:]+:)?([^>]+)>")


class _Dropped(ConnectionAbortedError):
    """Raised after closing the client's socket; werkzeug's server then writes nothing."""


class _ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_response(payload, status: int = 200) -> Response:
    return Response(json.dumps(payload), status, content_type="application/json;charset=UTF-8")


def _template(rule: Rule, values: dict) -> str:
    """A route with its id variables as ``{id}`` (an ``action`` keeps its value, so enqueue
    and cancel count apart): the counters' endpoint key."""
    return _PATH_VARIABLE.sub(
        lambda match: str(values[match.group(1)]) if match.group(1) == "action" else "{id}",
        rule.rule)


class MarketoSandbox:
    """A Marketo instance with ``leads`` seed leads, as a thread-safe WSGI callable.

    ``config`` takes any key of ``CONFIG_DEFAULTS`` (token TTL, limits, bulk extract toggles).
    """

    def __init__(self, leads: int = 2000, seed: int = 1,
                 client_id: str = CONFIG_DEFAULTS["client_id"],
                 client_secret: str = CONFIG_DEFAULTS["client_secret"], **config):
        self._lock = threading.RLock()
        self._request_ids = itertools.count(0x1000)
        self._in_flight = 0
        self._base_config = _checked_config(
            {**CONFIG_DEFAULTS, "client_id": client_id, "client_secret": client_secret,
             **config})
        self.config: dict = {}
        self._bulk = BulkExports(self._lock, self.config, lambda: self._store)
        self._reset(leads, seed, {})

    def close(self) -> None:
        """Stop exports and remove their files."""
        with self._lock:
            self._bulk.close()

    def _reset(self, leads: int, seed: int, config: dict) -> None:
        with self._lock:
            self._bulk.reset()
            self.config.clear()
            self.config.update(self._base_config)
            self.config.update(config)
            self._store = LeadStore(leads, seed)
            self._log = ActivityLog()
            self._custom_types = CustomActivityTypes(self.config["max_custom_activity_types"])
            self._token: tuple[str, float] | None = None
            self._tokens: dict[str, dict] = {}
            self._faults: list[dict] = []
            self._fault_ids = itertools.count(1)
            self._fault_dice: dict[int, random.Random] = {}
            self._injected: Counter = Counter()
            self._counters: Counter = Counter()
            self._calls: deque = deque()
            self._daily = (central_day(), 0)

    # --- WSGI ---------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path.startswith("/_sandbox/"):
            response = self._control(request)
        elif request.path.startswith(API_PREFIXES):
            response = self._api(request)
        else:
            response = Response("Not Found", 404, content_type="text/plain")
        return response(environ, start_response)

    def _request_id(self) -> str:
        return f"{next(self._request_ids):x}#{int(time.time() * 1000):x}"

    def _envelope(self, payload: dict) -> Response:
        return _json_response({"requestId": self._request_id(), "success": True, **payload})

    def _error(self, code: str, message: str) -> Response:
        return _json_response({"requestId": self._request_id(), "success": False,
                               "errors": [{"code": code, "message": message}]})

    def _api(self, request: Request) -> Response:
        adapter = _URL_MAP.bind_to_environ(request.environ)
        rule, values, problem = None, {}, None
        try:
            rule, values = adapter.match(return_rule=True)
        except MethodNotAllowed:
            problem = ("605", "HTTP Method not supported")
        except NotFound:
            problem = ("610", "Requested resource not found")
        with self._lock:
            key = f"{request.method} {_template(rule, values) if rule else request.path}"
            self._counters[key] += 1
            fault = self._take_fault(request)
        kind = fault["kind"] if fault else None
        if kind in HTTP_FAULTS:
            status, text = HTTP_FAULTS[kind]
            return Response(f"<html><head><title>{status} {text}</title></head><body><center>"
                            f"<h1>{status} {text}</h1></center><hr><center>nginx</center>"
                            "</body></html>", status, content_type="text/html")
        if kind == "drop":
            _drop(request.environ)
        if kind in ENVELOPE_FAULTS:
            return self._error(kind, self._fault_message(kind))
        latency = (fault["latency_ms"] / 1000 if fault else 0.0) + \
            self.config["answer_delay_ms"] / 1000
        if problem:
            response = self._error(*problem)
        elif rule.endpoint == "token":
            time.sleep(latency)
            response = self._issue_token(request)
        else:
            response = self._authorized_call(request, rule.endpoint, values, latency)
        if kind == "drop_after_apply":
            _drop(request.environ)
        return response

    def _authorized_call(self, request: Request, endpoint: str, values: dict,
                         latency: float) -> Response:
        with self._lock:
            rejection = self._check_token(request) or self._admit()
        if rejection:
            return self._error(rejection.code, rejection.message)
        try:
            time.sleep(latency)
            handler = getattr(self, "_" + endpoint)
            if endpoint.startswith("export") and not self.config["bulk_extract_enabled"]:
                raise ApiError("703", "The feature is not enabled for the subscription")
            with self._lock:
                result = handler(request, **values)
            return result if isinstance(result, Response) else self._envelope(result)
        except ApiError as error:
            return self._error(error.code, error.message)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _fault_message(self, kind: str) -> str:
        return {"601": "Access token invalid", "602": "Access token expired",
                "606": self._rate_message(), "607": "Daily quota reached",
                "615": "Concurrent access limit reached",
                "1029": "Too many jobs in queue"}[kind]

    def _rate_message(self) -> str:
        return (f"Max rate limit '{self.config['rate_limit_calls']}' exceeded with in "
                f"'{self.config['rate_limit_seconds']}' secs")

    def _take_fault(self, request: Request) -> dict | None:
        for fault in self._faults:
            if fault["path"] and fault["path"] not in request.path:
                continue
            if fault["method"] and fault["method"].upper() != request.method:
                continue
            if fault["skip"] > 0:
                fault["skip"] -= 1
                continue
            # A fault with a probability hits that share of the matching requests, and stays
            # until cleared (or until it has hit ``count`` times, when a count was given).
            if fault["probability"] is not None and \
                    self._fault_dice[fault["id"]].random() >= fault["probability"]:
                continue
            if fault["count"] is not None:
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self._faults.remove(fault)
            self._injected[fault["kind"]] += 1
            return fault
        return None

    # --- identity, tokens and limits ----------------------------------------------------

    def _issue_token(self, request: Request) -> Response:
        params = request.values
        grant_type = params.get("grant_type")
        if not grant_type:
            return _json_response({"error": "invalid_request",
                                   "error_description": "Missing grant type"}, 400)
        if grant_type != "client_credentials":
            return _json_response({"error": "unsupported_grant_type",
                                   "error_description": f"Unsupported grant type: {grant_type}"},
                                  400)
        client_id = params.get("client_id", "")
        with self._lock:
            if client_id != self.config["client_id"]:
                return _json_response({"error": "unauthorized", "error_description":
                                       f"No client with requested id: {client_id}"}, 401)
            if params.get("client_secret") != self.config["client_secret"]:
                return _json_response({"error": "unauthorized",
                                       "error_description": "Bad client credentials"}, 401)
            now = time.time()
            current = self._tokens.get(self._token[0]) if self._token else None
            if current is None or current["revoked"] or current["expires"] <= now:
                # Marketo hands out the same token until it expires, with what is left of it.
                token = f"{uuid.uuid4()}:sb"
                current = {"expires": now + self.config["token_ttl"], "revoked": False}
                self._tokens[token] = current
                self._token = (token, current["expires"])
            return _json_response({"access_token": self._token[0], "token_type": "bearer",
                                   "expires_in": max(0, int(current["expires"] - now)),
                                   "scope": SCOPE})

    def _check_token(self, request: Request) -> ApiError | None:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            token = header[7:].strip()
        else:
            # The deprecated query (or form) parameter, still accepted by Marketo.
            token = request.values.get("access_token")
        if not token:
            return ApiError("600", "Access token not specified")
        issued = self._tokens.get(token)
        if issued is None or issued["revoked"]:
            return ApiError("601", "Access token invalid")
        if issued["expires"] <= time.time():
            return ApiError("602", "Access token expired")
        return None

    def _admit(self) -> ApiError | None:
        """Apply the concurrency, rate and daily limits; count the call if it passes."""
        if self._in_flight >= self.config["max_concurrent"]:
            return ApiError("615", "Concurrent access limit reached")
        now = time.monotonic()
        while self._calls and self._calls[0] <= now - self.config["rate_limit_seconds"]:
            self._calls.popleft()
        if len(self._calls) >= self.config["rate_limit_calls"]:
            return ApiError("606", self._rate_message())
        day, used = self._daily
        if day != central_day():
            day, used = central_day(), 0
        if used >= self.config["daily_quota"]:
            return ApiError("607", "Daily quota reached")
        self._daily = (day, used + 1)
        self._calls.append(now)
        self._in_flight += 1
        return None

    # --- leads ----------------------------------------------------------------------------

    @staticmethod
    def _field_list(raw: str | None) -> list[str]:
        if not raw:
            return list(catalog.DEFAULT_LEAD_FIELDS)
        names = list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
        for name in names:
            if name not in catalog.FIELDS_BY_NAME:
                raise field_not_found(name)
        return names

    @staticmethod
    def _batch_size(raw: str | None) -> int:
        if raw in (None, ""):
            return MAX_BATCH
        try:
            size = int(raw)
        except ValueError as error:
            raise ApiError("1001", f"Invalid value '{raw}'. Required of type 'Integer'") \
                from error
        return max(1, min(size, MAX_BATCH))

    @staticmethod
    def _record(lead: dict, fields: list[str]) -> dict:
        # Marketo leaves out fields without a value: a missing field means null.
        record = {"id": lead["id"]}
        record.update((name, lead[name]) for name in fields
                      if name != "id" and lead[name] is not None)
        return record

    def _leads(self, request: Request) -> dict:
        params = request.values
        if request.method == "POST" and params.get("_method", "").upper() != "GET":
            # Sync Leads: this sandbox's API user may read the lead database, not write it.
            raise ApiError("603", "Access denied")
        filter_type = params.get("filterType")
        if not filter_type:
            raise blank("filterType")
        if filter_type not in catalog.FIELDS_BY_NAME:
            raise field_not_found(filter_type)
        if filter_type not in catalog.SEARCHABLE_FIELDS:
            raise ApiError("1011", f"Field '{filter_type}' not supported")
        values = [v.strip() for v in params.get("filterValues", "").split(",") if v.strip()]
        if not values:
            raise blank("filterValues")
        if len(values) > MAX_FILTER_VALUES:
            raise invalid(f"Too many filterValues, the maximum is {MAX_FILTER_VALUES}")
        fields = self._field_list(",".join(params.getlist("fields")))
        batch_size = self._batch_size(params.get("batchSize"))
        offset = _decode_offset(params.get("nextPageToken"))
        ids: set[int] = set()
        for value in dict.fromkeys(values):
            ids |= self._store.find(filter_type, value)
        if len(ids) > MAX_FILTER_RESULTS:
            raise invalid("Too many results match the filter")
        page = sorted(ids)[offset:offset + batch_size]
        payload = {"result": [self._record(self._store.get(i), fields) for i in page]}
        if offset + batch_size < len(ids):
            payload["nextPageToken"] = _encode_offset(offset + batch_size)
        return payload

    def _lead(self, request: Request, lead_id: int) -> dict:
        fields = self._field_list(",".join(request.args.getlist("fields")))
        lead = self._store.get(lead_id)
        return {"result": [self._record(lead, fields)] if lead else []}

    def _describe(self, request: Request) -> dict:
        return {"result": catalog.describe_fields()}

    def _describe2(self, request: Request) -> dict:
        return {"result": [catalog.describe2()]}

    # --- activities -----------------------------------------------------------------------

    def _activity_types(self, request: Request) -> dict:
        return {"result": catalog.STANDARD_ACTIVITY_TYPES + self._custom_types.type_descriptions()}

    def _paging_token(self, request: Request) -> dict:
        since = request.args.get("sinceDatetime")
        if not since:
            raise blank("sinceDatetime")
        return {"nextPageToken": activities.since_token(since)}

    def _visible(self, entry: Entry) -> bool:
        # A deleted lead's activities go with it; its Delete Lead activity stays.
        return entry.type_id == catalog.DELETE_LEAD or self._store.exists(entry.lead_id)

    def _seed_history(self, lead_id: int) -> list[Entry]:
        lead = self._store.seed_lead(lead_id)
        return activities.seed_history(lead, self._store.seed) if lead else []

    def _feed_params(self, request: Request) -> tuple[tuple[int, int], int, list[int] | None]:
        token = request.args.get("nextPageToken")
        if not token:
            raise blank("nextPageToken")
        lead_ids = parse_id_list(request.args.getlist("leadIds"))
        if len(lead_ids) > MAX_LEAD_IDS:
            raise invalid(f"Too many leadIds, the maximum is {MAX_LEAD_IDS}")
        return (activities.decode_token(token), self._batch_size(request.args.get("batchSize")),
                lead_ids or None)

    @staticmethod
    def _feed(items, render, next_key, more) -> dict:
        payload = {}
        if items:
            # Marketo leaves "result" out of an empty activity page.
            payload["result"] = [render(entry) for entry in items]
        payload.update(nextPageToken=activities.encode_token(next_key), moreResult=more)
        return payload

    def _activities(self, request: Request) -> dict:
        type_ids = set(parse_id_list(request.args.getlist("activityTypeIds")))
        if not type_ids:
            raise blank("activityTypeIds")
        if len(type_ids) > MAX_ACTIVITY_TYPE_IDS:
            raise invalid(f"Too many activityTypeIds, the maximum is {MAX_ACTIVITY_TYPE_IDS}")
        known = catalog.STANDARD_TYPE_IDS | {t.id for t in self._custom_types.approved()}
        unknown = sorted(type_ids - known)
        if unknown:
            raise invalid(f"Invalid activity type id '{unknown[0]}'")
        after, batch_size, lead_ids = self._feed_params(request)
        items, next_key, more = self._log.page(
            after, batch_size, lambda e: e.type_id in type_ids and self._visible(e),
            lead_ids, self._seed_history)
        return self._feed(items, activities.render_activity, next_key, more)

    def _lead_changes(self, request: Request) -> dict:
        raw = ",".join(request.args.getlist("fields"))
        if not raw:
            raise blank("fields")
        fields = set(self._field_list(raw))
        after, batch_size, lead_ids = self._feed_params(request)

        def match(entry: Entry) -> bool:
            if entry.type_id == catalog.NEW_LEAD:
                return self._visible(entry)
            return (entry.type_id == catalog.CHANGE_DATA_VALUE
                    and entry.change[0].name in fields and self._visible(entry))

        items, next_key, more = self._log.page(after, batch_size, match, lead_ids)
        return self._feed(items, activities.render_lead_change, next_key, more)

    def _deleted_leads(self, request: Request) -> dict:
        after, batch_size, lead_ids = self._feed_params(request)
        items, next_key, more = self._log.page(
            after, batch_size, lambda e: e.type_id == catalog.DELETE_LEAD, lead_ids)
        return self._feed(items, activities.render_deleted_lead, next_key, more)

    def _usage(self, request: Request) -> dict:
        day, used = self._daily
        return {"result": [{"date": day, "total": used,
                            "users": [{"userId": SCOPE, "count": used}]}]}

    # --- custom activity types and custom activities --------------------------------------

    @staticmethod
    def _body(request: Request) -> dict:
        if not request.get_data():
            return {}
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise ApiError("609", "Invalid JSON")
        return body

    def _custom_type_list(self, request: Request) -> dict:
        return {"result": self._custom_types.summaries()}

    def _custom_type_create(self, request: Request) -> dict:
        self._custom_types.limit = self.config["max_custom_activity_types"]
        return {"result": [self._custom_types.create(self._body(request), _now_iso())]}

    def _custom_type_update(self, request: Request, api_name: str) -> dict:
        return {"result": [self._custom_types.update(api_name, self._body(request),
                                                      _now_iso())]}

    def _custom_type_describe(self, request: Request, api_name: str) -> dict:
        draft = request.args.get("draft", "").lower() == "true"
        return {"result": [self._custom_types.describe(api_name, draft)]}

    def _custom_type_action(self, request: Request, api_name: str, action: str) -> dict:
        if action == "approve":
            return {"result": [self._custom_types.approve(api_name, _now_iso())]}
        if action == "discardDraft":
            return {"result": [self._custom_types.discard_draft(api_name)]}
        return {"result": [self._custom_types.delete(api_name)]}

    def _custom_type_attributes(self, request: Request, api_name: str, action: str) -> dict:
        attributes = self._body(request).get("attributes")
        operation = {"create": self._custom_types.add_attributes,
                     "update": self._custom_types.update_attributes,
                     "delete": self._custom_types.delete_attributes}[action]
        return {"result": [operation(api_name, attributes, _now_iso())]}

    def _add_custom_activities(self, request: Request) -> dict:
        records = self._body(request).get("input")
        if not records or not isinstance(records, list):
            raise blank("input")
        if len(records) > MAX_CUSTOM_ACTIVITIES:
            raise invalid(f"Too many records, the maximum is {MAX_CUSTOM_ACTIVITIES}")
        results = []
        for record in records:
            try:
                entry = self._custom_activity(record)
            except ApiError as error:
                results.append({"status": "skipped",
                                "reasons": [{"code": error.code, "message": error.message}]})
            else:
                results.append({"id": entry.id, "marketoGUID": str(entry.id),
                                "status": "added"})
        return {"result": results}

    def _custom_activity(self, record) -> Entry:
        if not isinstance(record, dict):
            raise invalid("Invalid activity record")
        if record.get("activityTypeId") is not None:
            try:
                custom_type = self._custom_types.by_id(int(record["activityTypeId"]))
            except (TypeError, ValueError):
                custom_type = None
            name = record["activityTypeId"]
        else:
            custom_type = self._custom_types.types.get(record.get("apiName") or "")
            name = record.get("apiName")
        if name in (None, ""):
            raise ApiError("1002", "Missing value for the required parameter 'activityTypeId'")
        if custom_type is None:
            raise invalid(f"Invalid activity type '{name}'")
        if custom_type.live is None:
            raise invalid(f"Activity type '{custom_type.api_name}' is not approved")
        try:
            lead_id = int(record.get("leadId"))
        except (TypeError, ValueError):
            lead_id = None
        if lead_id is None or not self._store.exists(lead_id):
            raise ApiError("1004", "Lead not found")
        date = record.get("activityDate")
        try:
            moment = activities.parse_datetime(str(date))
        except ValueError as error:
            raise ApiError("1001", f"Invalid value '{date}'. Required of type 'datetime'") \
                from error
        primary = record.get("primaryAttributeValue")
        if primary in (None, ""):
            raise ApiError("1002",
                           "Missing value for the required parameter 'primaryAttributeValue'")
        definitions = custom_type.live["attributes"]
        attributes = []
        for given in record.get("attributes") or []:
            key = given.get("apiName") or given.get("name") if isinstance(given, dict) else None
            definition = next((d for d in definitions if key in (d["apiName"], d["name"])),
                              None)
            if definition is None:
                raise field_not_found(str(key))
            attributes.append({"apiName": definition["apiName"], "name": definition["name"],
                               "value": given.get("value")})
        return self._log.add(lead_id, custom_type.id, ts_ms=int(moment.timestamp() * 1000),
                             primary_value=str(primary), attributes=attributes)

    # --- bulk lead extract ----------------------------------------------------------------

    def _export_list(self, request: Request) -> dict:
        statuses = {part.strip().lower().replace("canceled", "cancelled")
                    for value in request.args.getlist("status") for part in value.split(",")
                    if part.strip()}
        jobs = self._bulk.listing(statuses or None)
        batch_size = self._batch_size(request.args.get("batchSize"))
        offset = _decode_offset(request.args.get("nextPageToken"))
        payload = {"result": jobs[offset:offset + batch_size]}
        if offset + batch_size < len(jobs):
            payload["nextPageToken"] = _encode_offset(offset + batch_size)
        return payload

    def _export_create(self, request: Request) -> dict:
        return {"result": [self._bulk.create(self._body(request))]}

    def _export_action(self, request: Request, export_id: str, action: str) -> dict:
        operation = self._bulk.enqueue if action == "enqueue" else self._bulk.cancel
        return {"result": [operation(export_id)]}

    def _export_status(self, request: Request, export_id: str) -> dict:
        return {"result": [self._bulk.status(export_id)]}

    def _export_file(self, request: Request, export_id: str) -> Response:
        found = self._bulk.completed_file(export_id)
        if found is None:
            # Unlike other endpoints: 404 with a plain-text body until the file is ready.
            return Response(f"Export file for job {export_id} is not available", 404,
                            content_type="text/plain")
        path, size = found
        start, stop, status = 0, size, 200
        requested = request.range
        if requested is not None and len(requested.ranges) == 1:
            bounds = requested.range_for_length(size)
            if bounds is None:
                return Response("Requested range not satisfiable", 416,
                                headers={"Content-Range": f"bytes */{size}"},
                                content_type="text/plain")
            (start, stop), status = bounds, 206
        source = open(path, "rb")  # noqa: SIM115 - closed by _stream when sent
        response = Response(_stream(source, start, stop), status,
                            content_type="text/csv;charset=UTF-8", direct_passthrough=True)
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["Content-Length"] = str(stop - start)
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        return response

    # --- control surface ------------------------------------------------------------------

    def _control(self, request: Request) -> Response:
        adapter = _CONTROL_MAP.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except (NotFound, MethodNotAllowed) as error:
            return _json_response({"error": error.name}, error.code)
        body = {}
        if request.get_data():
            body = request.get_json(force=True, silent=True)
            if not isinstance(body, dict):
                return _json_response({"error": "the body must be a JSON object"}, 400)
        try:
            with self._lock:
                result = getattr(self, "_control_" + endpoint)(request, body, **values)
        except _ControlError as error:
            return _json_response({"error": str(error)}, error.status)
        return _json_response(result)

    def _control_reset(self, request, body):
        body = dict(body)
        leads, seed = body.pop("leads", 2000), body.pop("seed", 1)
        if not isinstance(leads, int) or leads < 0 or not isinstance(seed, int):
            raise _ControlError(400, "leads and seed must be integers")
        self._reset(leads, seed, _control_config(body))
        return {"leads": leads, "seed": seed, "config": dict(self.config)}

    def _control_config(self, request, body):
        if request.method == "POST":
            self.config.update(_control_config(body))
        return dict(self.config)

    def _control_faults(self, request, body):
        """GET: the faults waiting and how many of each kind were injected since the reset;
        POST adds one (``kind``, ``path``, ``method``, ``count``, ``skip``, ``latency_ms``,
        ``probability``: a share of matching requests, the fault then staying until cleared
        unless ``count`` is given; ``seed`` for its dice); DELETE clears them."""
        if request.method == "DELETE":
            self._faults.clear()
        elif request.method == "POST":
            kind = str(body.get("kind", ""))
            if kind not in FAULTS:
                raise _ControlError(400, f"unknown fault kind {kind!r}; known: {sorted(FAULTS)}")
            probability = body.get("probability")
            try:
                fault = {"id": next(self._fault_ids), "kind": kind,
                         "path": body.get("path") or "", "method": body.get("method") or "",
                         "count": (None if probability is not None and "count" not in body
                                   else int(body.get("count", 1))),
                         "skip": int(body.get("skip", 0)),
                         "latency_ms": int(body.get("latency_ms", 0)),
                         "probability": None if probability is None else float(probability)}
            except (TypeError, ValueError) as error:
                raise _ControlError(400, "count, skip and latency_ms must be integers, "
                                         "probability a number") from error
            if fault["probability"] is not None and not 0 < fault["probability"] <= 1:
                raise _ControlError(400, "probability must be above 0 and at most 1")
            self._fault_dice[fault["id"]] = random.Random(body.get("seed", fault["id"]))
            self._faults.append(fault)
            return dict(fault)
        return {"faults": [dict(fault) for fault in self._faults],
                "injected": dict(self._injected)}

    def _control_tokens(self, request, body, action):
        for issued in self._tokens.values():
            if action == "expire":
                issued["expires"] = min(issued["expires"], time.time())
            else:
                issued["revoked"] = True
        return {"tokens": len(self._tokens), action: True}

    def _control_counters(self, request, body):
        if request.method == "DELETE":
            self._counters.clear()
        return {"total": sum(self._counters.values()), "by_endpoint": dict(self._counters)}

    def _lead_fields(self, body) -> dict:
        fields = body.get("fields")
        if not isinstance(fields, dict):
            raise _ControlError(400, 'the body must be {"fields": {...}}')
        try:
            LeadStore.validate(fields)
        except ValueError as error:
            raise _ControlError(400, str(error)) from error
        return fields

    def _control_lead_create(self, request, body):
        lead = self._store.create(self._lead_fields(body), _now_iso())
        name = " ".join(filter(None, (lead["firstName"], lead["lastName"])))
        self._log.add(lead["id"], catalog.NEW_LEAD, primary_id=lead["id"],
                      primary_value=name or lead["email"],
                      attributes=activities.name_values(
                          ("Created Date", lead["createdAt"][:10]),
                          ("Lead Source", lead["leadSource"]), ("Source Type", "New person")))
        return {"id": lead["id"]}

    def _change(self, lead_id: int, fields: dict) -> int:
        changes = self._store.update(lead_id, fields, _now_iso())
        for name, old, new in changes:
            self._log.add(lead_id, catalog.CHANGE_DATA_VALUE,
                          change=(catalog.FIELDS_BY_NAME[name], old, new),
                          attributes=activities.name_values(("Reason", "Person detail update"),
                                                       ("Source", "Marketo web app")))
        return len(changes)

    def _control_lead_one(self, request, body, lead_id):
        lead = self._store.get(lead_id)
        if lead is None:
            raise _ControlError(404, f"lead {lead_id} not found")
        if request.method == "GET":
            return lead
        if request.method == "PATCH":
            return {"id": lead_id, "changes": self._change(lead_id, self._lead_fields(body))}
        self._store.delete(lead_id)
        name = " ".join(filter(None, (lead["firstName"], lead["lastName"])))
        self._log.add(lead_id, catalog.DELETE_LEAD, primary_id=lead_id,
                      primary_value=name or lead["email"] or str(lead_id),
                      attributes=[{"name": "Remove from CRM", "value": False}])
        return {"id": lead_id, "deleted": True}

    def _control_lead_change_many(self, request, body):
        ids = body.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise _ControlError(400, "ids must be a list of lead ids")
        fields = self._lead_fields(body)
        changes, missing = 0, []
        for lead_id in ids:
            if self._store.exists(lead_id):
                changes += self._change(lead_id, fields)
            else:
                missing.append(lead_id)
        return {"changes": changes, "missing": missing}

    def _control_custom_activities(self, request, body):
        """Custom activities logged since the reset: of ``leadId``, or of every lead."""
        if "leadId" in request.args:
            try:
                logged = self._log.by_lead.get(int(request.args["leadId"]), ())
            except ValueError as error:
                raise _ControlError(400, "leadId must be a lead id") from error
        else:
            logged = self._log.entries
        entries = sorted((e for e in logged if e.type_id >= 100000), key=lambda e: e.key)
        return {"result": [activities.render_activity(e) for e in entries]}


def _checked_config(config: dict) -> dict:
    unknown = set(config) - set(CONFIG_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown config keys: {sorted(unknown)}")
    for key, value in config.items():
        default = CONFIG_DEFAULTS[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a number >= 0")
        elif not isinstance(value, str):
            raise ValueError(f"{key} must be a string")
    return dict(config)


def _control_config(body: dict) -> dict:
    try:
        return _checked_config(body)
    except ValueError as error:
        raise _ControlError(400, str(error)) from error


def _drop(environ) -> None:
    """Close the client's connection without an answer (the request may have been applied)."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
    raise _Dropped("connection dropped by fault injection")


def _stream(source, start: int, stop: int):
    """File bytes [start, stop) in chunks, so a large export never sits in memory."""
    try:
        source.seek(start)
        remaining = stop - start
        while remaining > 0:
            chunk = source.read(min(1 << 16, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        source.close()


def _encode_offset(offset: int) -> str:
    return base64.b32encode(f"offset:{offset}".encode()).decode()


def _decode_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, offset = base64.b32decode(token.strip()).decode().split(":")
        if kind == "offset" and int(offset) >= 0:
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise invalid(f"Invalid nextPageToken '{token}'")
