"""The Salesforce REST API sandbox as a WSGI application.

Speaks the documented wire formats of the pieces the app uses: the OAuth 2.0 client
credentials token endpoint, versions/resources/limits, sObject describe and CRUD, sObject
Collections (``composite/sobjects``), SOQL ``query``/``queryAll`` with query locators, and the
Get Updated / Get Deleted replication resources. Every API response carries
``Sforce-Limit-Info``. The ``/_sandbox/`` control surface (shared with the Marketo sandbox) lets
tests reseed, reconfigure, inject faults, expire tokens, read counters and play a remote
Salesforce user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import secrets
import socket
import threading
import time
from array import array
from collections import Counter, OrderedDict
from datetime import UTC, datetime, timedelta

from werkzeug.wrappers import Request, Response

from sandbox.salesforce.records import (
    INTEGRATION_USER_ID,
    RecordError,
    RecordStore,
    RequestError,
)
from sandbox.salesforce.reminders import seed_reminder_tasks
from sandbox.salesforce.schema import PREFIX_TYPES, build_schema
from sandbox.salesforce.soql import (
    QueryError,
    compile_query,
    parse,
    parse_datetime,
    sf_datetime,
)
from sandbox.seed import OWNERS, owner_user_id, sf_id

API_VERSIONS = [f"{major}.0" for major in range(31, 67)]
MAX_COLLECTION = 200
MAX_RETRIEVE = 2000
DEFAULT_BATCH = 2000
MIN_BATCH = 200
UPDATED_DAYS = 30
DELETED_DAYS = 15
ORG_ID = sf_id("00D", 1)
DEFAULT_CONFIG = {
    "leads": 2000,
    "seed": 1,
    "client_id": "sandbox-salesforce-client",
    "client_secret": "sandbox-salesforce-secret",
    "token_ttl": 7200,
    "daily_api_limit": 15000,
    "task_call_fields": True,
    "custom_fields": {},
    # Percent of seed contacts and leads whose custom checkboxes are ticked (seeded opt-outs).
    "custom_checkbox_percent": 0,
    "max_query_cursors": 10,
    # Reminder Tasks created on reset over the day before it (sandbox/salesforce/reminders.py).
    "reminder_tasks": 0,
    # Every API answer waits this long: a remote org's round trip, for benchmarks of how work
    # spreads over workers (bench/workers.py).
    "answer_delay_ms": 0,
}
FAULT_KINDS = {"http_500", "http_503", "latency", "drop", "drop_after_apply",
               "INVALID_SESSION_ID", "REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW"}
LOCK_MESSAGE = "unable to obtain exclusive access to this record"
ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header")
NOT_FOUND = "The requested resource does not exist"
_ID_SEGMENT = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?(?:-\d+)?")
_VERSION_PATH = re.compile(r"^/services/data/v(\d+\.\d)(?=/|$)")
_HTML_ERRORS = {
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


class ConnectionDropped(ConnectionAbortedError):
    """Raised after the sandbox closed the client's socket on purpose (drop faults).

    werkzeug's server treats a ConnectionError from the app as a dropped connection and writes
    nothing more, so the client sees the connection close without any response.
    """


def release_label(version: str) -> str:
    """Salesforce's release name for an API version: 62.0 is Winter '25."""
    steps = int(float(version)) - 62
    season = ("Winter", "Spring", "Summer")[steps % 3]
    return f"{season} '{25 + steps // 3:02d}"


def normalise_path(path: str) -> str:
    """A request path as counted: API version as vXX.X, ids and query locators as {id}."""
    path = _VERSION_PATH.sub("/services/data/vXX.X", path).rstrip("/") or "/"
    return "/".join("{id}" if _ID_SEGMENT.fullmatch(s) and any(c.isdigit() for c in s) else s
                    for s in path.split("/"))


def _json(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers,
                    content_type="application/json;charset=UTF-8")


def _error(status: int, code: str, message: str, fields: list | None = None) -> Response:
    entry = {"message": message, "errorCode": code}
    if fields is not None:
        entry["fields"] = fields
    return _json([entry], status)


def _session_invalid() -> Response:
    return _json([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
                 401)


def _limit_exceeded() -> Response:
    return _json([{"message": "TotalRequests Limit exceeded.",
                   "errorCode": "REQUEST_LIMIT_EXCEEDED"}], 403)


def _html_error(status: int) -> Response:
    title = _HTML_ERRORS[status]
    body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n")
    return Response(body, status=status, content_type="text/html")


def _save_result(record_id: str | None, errors: list[RecordError]) -> dict:
    """A SaveResult as sObject Collections report it (a failed create has no id)."""
    result = {} if record_id is None else {"id": record_id}
    return result | {"success": not errors, "errors": [e.as_save_error() for e in errors]}


def _truthy(value) -> bool:
    return value is True or str(value).lower() == "true"


class SalesforceSandbox:
    """A WSGI app emulating a Salesforce org's REST API; see the module docstring."""

    def __init__(self, leads: int = 2000, seed: int = 1,
                 client_id: str = "sandbox-salesforce-client",
                 client_secret: str = "sandbox-salesforce-secret", **config):
        self.lock = threading.RLock()
        self._initial = {"leads": leads, "seed": seed, "client_id": client_id,
                         "client_secret": client_secret, **config}
        self.reset()

    # -- state -----------------------------------------------------------------------------

    def reset(self, **overrides) -> dict:
        """Forget every change, token, fault, cursor and counter; reseed."""
        config = self._checked_config(DEFAULT_CONFIG | self._initial | overrides)
        with self.lock:
            self.config = config
            self.store = RecordStore(config["leads"], config["seed"], self._schema(),
                                     config["custom_checkbox_percent"])
            seed_reminder_tasks(self.store, config["reminder_tasks"], config["leads"],
                                config["seed"])
            self.tokens: dict[str, dict] = {}
            self.faults: list[dict] = []
            self.fault_numbers = 0
            self.fault_dice: dict[int, random.Random] = {}
            self.injected: Counter = Counter()
            self.counters: Counter = Counter()
            self.total = 0
            self.api_usage = 0
            self.cursors: OrderedDict[str, dict] = OrderedDict()
            self.cursor_numbers = 0
            return dict(config)

    def configure(self, **changes) -> dict:
        """Change settings without reseeding (leads and seed change only with a reset)."""
        reseeding = {"leads", "seed", "reminder_tasks", "custom_checkbox_percent"}
        if reseeding & changes.keys():
            raise ValueError(f"{', '.join(sorted(reseeding))} change only with a reset")
        with self.lock:
            self.config = self._checked_config(self.config | changes)
            self.store.schema = self._schema()
            return dict(self.config)

    def _schema(self):
        return build_schema(self.config["task_call_fields"], self.config["custom_fields"])

    @staticmethod
    def _checked_config(config: dict) -> dict:
        unknown = config.keys() - DEFAULT_CONFIG.keys()
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        for key in ("leads", "seed", "daily_api_limit", "max_query_cursors", "reminder_tasks",
                    "custom_checkbox_percent"):
            if not isinstance(config[key], int) or isinstance(config[key], bool):
                raise ValueError(f"{key} must be an integer")
        if not isinstance(config["answer_delay_ms"], int | float) or \
                isinstance(config["answer_delay_ms"], bool) or config["answer_delay_ms"] < 0:
            raise ValueError("answer_delay_ms must be a number of milliseconds >= 0")
        if not isinstance(config["token_ttl"], int | float):
            raise ValueError("token_ttl must be a number of seconds")
        custom = config["custom_fields"]
        if not isinstance(custom, dict) or not all(
                isinstance(names, list) and all(isinstance(n, str) and n.endswith("__c")
                                                for n in names)
                for names in custom.values()):
            raise ValueError('custom_fields must look like {"Contact": ["Name__c"]}')
        return {**config, "task_call_fields": bool(config["task_call_fields"])}

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except RequestError as error:
            response = _error(error.status, error.code, error.message)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Route one request: the control surface, or an API call (counted, maybe faulted)."""
        if request.path.startswith("/_sandbox/"):
            return self.control(request)
        with self.lock:
            self.counters[f"{request.method} {normalise_path(request.path)}"] += 1
            self.total += 1
            fault = self._take_fault(request)
        kind = fault["kind"] if fault else None
        delay = (fault or {}).get("latency_ms", 0) + self.config["answer_delay_ms"]
        if delay:
            time.sleep(delay / 1000)
        if kind in ("http_500", "http_503"):
            return _html_error(int(kind[-3:]))
        if kind == "drop":
            self._drop(request)
        if kind == "INVALID_SESSION_ID":
            return _session_invalid()
        if kind == "REQUEST_LIMIT_EXCEEDED":
            return _limit_exceeded()
        response = self.api(request, fault if kind == "UNABLE_TO_LOCK_ROW" else None)
        if kind == "drop_after_apply":
            self._drop(request)
        return response

    @staticmethod
    def _drop(request: Request):
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        raise ConnectionDropped("sandbox fault: connection dropped")

    def _take_fault(self, request: Request) -> dict | None:
        """The fault this request gets, if any (consuming one of its ``count``)."""
        for fault in self.faults:
            if not self._fault_applies(fault, request):
                continue
            if fault["skip"] > 0:
                fault["skip"] -= 1
                return None
            # A fault with a probability hits that share of the matching requests, and stays
            # until cleared (or until it has hit ``count`` times, when a count was given).
            if fault["probability"] is not None and \
                    self.fault_dice[fault["id"]].random() >= fault["probability"]:
                continue
            if fault["count"] is not None:
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.faults.remove(fault)
            self.injected[fault["kind"]] += 1
            return dict(fault)
        return None

    @staticmethod
    def _fault_applies(fault: dict, request: Request) -> bool:
        path = request.path
        if fault.get("method") and fault["method"].upper() != request.method:
            return False
        if fault.get("path") and fault["path"] not in path:
            return False
        if fault["kind"] in ("INVALID_SESSION_ID", "REQUEST_LIMIT_EXCEEDED"):
            return path.startswith("/services/data/v")
        if fault["kind"] == "UNABLE_TO_LOCK_ROW":
            return (path.startswith("/services/data/v") and "/sobjects" in path
                    and request.method in ("POST", "PATCH", "DELETE"))
        return True

    # -- API -------------------------------------------------------------------------------

    def api(self, request: Request, lock_fault: dict | None) -> Response:
        """An API request: token endpoint, versions list, or an authenticated data call."""
        path = request.path
        if path == "/services/oauth2/token":
            if request.method != "POST":
                return _error(405, "METHOD_NOT_ALLOWED",
                              f"HTTP Method '{request.method}' not allowed. Allowed are POST")
            return self.token(request)
        if path.rstrip("/") == "/services/data":
            return _json([{"label": release_label(v), "url": f"/services/data/v{v}",
                           "version": v} for v in API_VERSIONS])
        match = _VERSION_PATH.match(path)
        if match is None or match.group(1) not in API_VERSIONS:
            return _error(404, "NOT_FOUND", NOT_FOUND)
        version = match.group(1)
        with self.lock:
            if not self._authorised(request):
                return _session_invalid()
            limit = self.config["daily_api_limit"]
            if self.api_usage >= limit:
                response = _limit_exceeded()
            else:
                self.api_usage += 1
                response = None
            usage_header = f"api-usage={self.api_usage}/{limit}"
        if response is None:
            segments = [s for s in path[match.end():].split("/") if s]
            try:
                response = self.route(request, version, segments, lock_fault)
            except RequestError as error:
                response = _error(error.status, error.code, error.message)
        response.headers["Sforce-Limit-Info"] = usage_header
        return response

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return False
        state = self.tokens.get(token.strip())
        if state is None or state["revoked"]:
            return False
        expires = state["expired_at"] or state["issued"] + self.config["token_ttl"]
        return time.time() < expires

    def token(self, request: Request) -> Response:
        """OAuth 2.0 client credentials flow (credentials in the form or in HTTP Basic)."""
        form = request.form
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if request.authorization and request.authorization.type == "basic":
            client_id = request.authorization.username
            secret = request.authorization.password
        if form.get("grant_type") != "client_credentials":
            return _json({"error": "unsupported_grant_type",
                          "error_description": "grant type not supported"}, 400)
        with self.lock:
            if client_id != self.config["client_id"]:
                return _json({"error": "invalid_client_id",
                              "error_description": "client identifier invalid"}, 400)
            if not hmac.compare_digest(secret or "", self.config["client_secret"]):
                return _json({"error": "invalid_client",
                              "error_description": "invalid client credentials"}, 400)
            access_token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(72)}"
            now = time.time()
            self.tokens[access_token] = {"issued": now, "expired_at": None, "revoked": False}
        instance_url = f"{request.scheme}://{request.host}"
        identity = f"{instance_url}/id/{ORG_ID}/{INTEGRATION_USER_ID}"
        issued_at = str(int(now * 1000))
        signature = base64.b64encode(hmac.new(self.config["client_secret"].encode(),
                                              (identity + issued_at).encode(),
                                              hashlib.sha256).digest()).decode()
        return _json({"access_token": access_token, "signature": signature, "scope": "api",
                      "instance_url": instance_url, "id": identity, "token_type": "Bearer",
                      "issued_at": issued_at}, headers={"Cache-Control": "no-cache,no-store"})

    def route(self, request: Request, version: str, segments: list[str],
              lock_fault: dict | None) -> Response:
        """Dispatch an authenticated call below ``/services/data/vXX.X/``."""
        method = request.method
        head = segments[0] if segments else ""
        if not segments and method == "GET":
            base = f"/services/data/v{version}"
            return _json({name: f"{base}/{name}" for name in
                          ("sobjects", "query", "queryAll", "composite", "limits")})
        if segments == ["limits"] and method == "GET":
            limit = self.config["daily_api_limit"]
            return _json({
                "DailyApiRequests": {"Max": limit, "Remaining": max(limit - self.api_usage, 0)},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            })
        if head in ("query", "queryAll") and method == "GET":
            all_rows = head == "queryAll"
            if len(segments) == 1:
                return self.query(request, version, all_rows)
            if len(segments) == 2:
                return self.query_more(request, version, segments[1], all_rows)
        if head == "sobjects":
            return self.sobjects(request, version, segments[1:], lock_fault)
        if segments[:2] == ["composite", "sobjects"]:
            return self.collections(request, version, segments[2:], lock_fault)
        return _error(404, "NOT_FOUND", NOT_FOUND)

    # -- sObjects --------------------------------------------------------------------------

    def _sobject(self, name: str):
        return self.store.schema.get(name)

    def sobjects(self, request: Request, version: str, rest: list[str],
                 lock_fault: dict | None) -> Response:
        """``sobjects``: describeGlobal, basic info, describe, CRUD, updated/deleted."""
        method = request.method
        if not rest:
            if method != "GET":
                return _error(405, "METHOD_NOT_ALLOWED",
                              f"HTTP Method '{method}' not allowed. Allowed are GET")
            return _json({"encoding": "UTF-8", "maxBatchSize": MAX_COLLECTION,
                          "sobjects": [o.basic(version) for o in self.store.schema.values()]})
        sobject = self._sobject(rest[0])
        if sobject is None:
            return _error(404, "NOT_FOUND", NOT_FOUND)
        if len(rest) == 1:
            if method == "GET":
                return _json({"objectDescribe": sobject.basic(version), "recentItems": []})
            if method == "POST":
                if lock_fault:
                    return _error(400, "UNABLE_TO_LOCK_ROW", LOCK_MESSAGE, [])
                return self.create_one(request, sobject.name)
            return _error(405, "METHOD_NOT_ALLOWED",
                          f"HTTP Method '{method}' not allowed. Allowed are HEAD,GET,POST")
        if len(rest) == 2 and rest[1] == "describe" and method == "GET":
            return _json(sobject.describe(version))
        if len(rest) == 2 and rest[1] in ("updated", "deleted") and method == "GET":
            return self.replication(request, sobject.name, rest[1])
        if len(rest) != 2:
            return _error(404, "NOT_FOUND", NOT_FOUND)
        record_id = rest[1]
        if method == "GET":
            return self.read_one(request, version, sobject.name, record_id)
        if method in ("PATCH", "DELETE"):
            if lock_fault:
                return _error(400, "UNABLE_TO_LOCK_ROW", LOCK_MESSAGE, [])
            return self.write_one(request, sobject.name, record_id)
        return _error(405, "METHOD_NOT_ALLOWED",
                      f"HTTP Method '{method}' not allowed. Allowed are HEAD,GET,PATCH,DELETE")

    @staticmethod
    def _body(request: Request):
        try:
            return json.loads(request.get_data(as_text=True) or "null")
        except ValueError as error:
            raise RequestError(400, "JSON_PARSER_ERROR", f"Unexpected character: {error}") from None

    def create_one(self, request: Request, type_name: str) -> Response:
        """sObject Create: 201 with ``{"id", "success", "errors"}``."""
        values = self._body(request)
        if not isinstance(values, dict):
            raise RequestError(400, "JSON_PARSER_ERROR",
                               "Cannot deserialize instance of an sObject from the request body")
        with self.lock:
            record_id, errors = self.store.create(type_name, values)
        if errors:
            return _json([e.as_rest_error() for e in errors], 400)
        return _json({"id": record_id, "success": True, "errors": []}, 201)

    def read_one(self, request: Request, version: str, type_name: str, record_id: str
                 ) -> Response:
        """sObject Rows GET, optionally limited to ``?fields=``."""
        sobject = self._sobject(type_name)
        names = [n.strip() for n in request.args.get("fields", "").split(",") if n.strip()]
        fields = []
        for name in names:
            f = sobject.field(name)
            if f is None:
                return _error(400, "INVALID_FIELD", f"No such column '{name}' on entity "
                              f"'{type_name}'. If you are attempting to use a custom field, be "
                              "sure to append the '__c' after the custom field name. Please "
                              "reference your WSDL or the describe call for the appropriate "
                              "names.")
            fields.append(f)
        with self.lock:
            record = self.store.get(type_name, record_id)
        if record is None or record.get("IsDeleted"):
            return _error(404, "NOT_FOUND", NOT_FOUND)
        return _json(self._render(record, version, type_name, fields or None))

    def _render(self, record: dict, version: str, type_name: str, fields=None) -> dict:
        sobject = self._sobject(type_name)
        out = {"attributes": {"type": type_name,
                              "url": f"/services/data/v{version}/sobjects/{type_name}/"
                                     f"{record['Id']}"}}
        for f in fields or sobject.fields.values():
            value = record.get(f.name)
            out[f.name] = (bool(f.default) if value is None and f.type == "boolean" else value)
        return out

    def write_one(self, request: Request, type_name: str, record_id: str) -> Response:
        """sObject Rows PATCH/DELETE: 204, or 400/404 with an error array."""
        values = self._body(request) if request.method == "PATCH" else None
        if request.method == "PATCH" and not isinstance(values, dict):
            raise RequestError(400, "JSON_PARSER_ERROR",
                               "Cannot deserialize instance of an sObject from the request body")
        with self.lock:
            record = self.store.get(type_name, record_id)
            if record is None:
                return _error(404, "NOT_FOUND", NOT_FOUND)
            if record.get("IsDeleted"):
                return _error(404, "ENTITY_IS_DELETED", "entity is deleted", [])
            if request.method == "PATCH":
                errors = self.store.update(type_name, record["Id"], values)
            else:
                errors = self.store.delete(type_name, record["Id"])
        if errors:
            return _json([e.as_rest_error() for e in errors], 400)
        return Response(status=204)

    # -- sObject Collections ---------------------------------------------------------------

    def collections(self, request: Request, version: str, rest: list[str],
                    lock_fault: dict | None) -> Response:
        """sObject Collections: create (POST), update (PATCH), delete (DELETE ?ids=) and
        retrieve (``composite/sobjects/{Type}``), at most 200 records a write."""
        method = request.method
        if rest:
            sobject = self._sobject(rest[0])
            if len(rest) != 1 or sobject is None:
                return _error(404, "NOT_FOUND", NOT_FOUND)
            if method == "GET":
                ids = request.args.get("ids", "")
                names = request.args.get("fields", "")
            elif method == "POST":
                body = self._body(request) or {}
                ids = ",".join(body.get("ids") or [])
                names = ",".join(body.get("fields") or [])
            else:
                return _error(405, "METHOD_NOT_ALLOWED",
                              f"HTTP Method '{method}' not allowed. Allowed are GET,POST")
            return self.retrieve_many(version, sobject.name, ids, names)
        if method == "DELETE":
            ids = [i for i in request.args.get("ids", "").split(",") if i]
            records = [{"id": i} for i in ids]
            all_or_none = _truthy(request.args.get("allOrNone", "false"))
        elif method in ("POST", "PATCH"):
            body = self._body(request)
            if not isinstance(body, dict) or not isinstance(body.get("records"), list):
                raise RequestError(400, "JSON_PARSER_ERROR",
                                   "Expected a JSON object with a records array")
            records = body["records"]
            all_or_none = _truthy(body.get("allOrNone", False))
        else:
            return _error(405, "METHOD_NOT_ALLOWED",
                          f"HTTP Method '{method}' not allowed. Allowed are POST,PATCH,DELETE")
        if len(records) > MAX_COLLECTION:
            return _error(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more "
                          f"than {MAX_COLLECTION} records into this call")
        if method != "DELETE":
            for record in records:
                attributes = record.get("attributes") if isinstance(record, dict) else None
                type_name = (attributes or {}).get("type")
                if not type_name or self._sobject(type_name) is None:
                    return _error(400, "INVALID_TYPE", "Must send a concrete entity type."
                                  if not type_name else f"sObject type '{type_name}' is not "
                                  "supported.")
        locked = 0
        if lock_fault:
            locked = lock_fault.get("records") or len(records)
        with self.lock:
            return _json(self._write_many(method, records, all_or_none, locked))

    def _write_many(self, method: str, records: list, all_or_none: bool, locked: int) -> list:
        store = self.store
        store.begin()
        results: list[tuple[str | None, list[RecordError]]] = []
        try:
            for index, record in enumerate(records):
                record_id = None if method == "POST" else (record.get("id") or record.get("Id"))
                if index < locked:
                    results.append((record_id, [RecordError("UNABLE_TO_LOCK_ROW", LOCK_MESSAGE)]))
                    continue
                if method == "POST":
                    values = {k: v for k, v in record.items() if k != "attributes"}
                    results.append(store.create(record["attributes"]["type"], values))
                elif not record_id:
                    results.append((None, [RecordError(
                        "MISSING_ARGUMENT", "Id not specified in an update call")]))
                elif method == "PATCH":
                    values = {k: v for k, v in record.items() if k.lower() not in ("id",)}
                    errors = store.update(record["attributes"]["type"], record_id, values)
                    results.append((record_id, errors))
                else:
                    type_name = PREFIX_TYPES.get(record_id[:3])
                    if type_name not in store.schema:
                        results.append((record_id, [RecordError(
                            "MALFORMED_ID", f"malformed id {record_id}", ())]))
                        continue
                    results.append((record_id, store.delete(type_name, record_id)))
        except RequestError:
            store.rollback()
            raise
        failed = any(errors for _, errors in results)
        if all_or_none and failed:
            store.rollback()
            return [_save_result(None if method == "POST" else record_id,
                                 errors or [ROLLED_BACK])
                    for record_id, errors in results]
        store.commit()
        return [_save_result(record_id, errors) for record_id, errors in results]

    def retrieve_many(self, version: str, type_name: str, ids: str, names: str) -> Response:
        """Records by id (null for an unknown one), with the listed fields."""
        sobject = self._sobject(type_name)
        id_list = [i for i in ids.split(",") if i]
        if len(id_list) > MAX_RETRIEVE:
            return _error(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more "
                          f"than {MAX_RETRIEVE} records into this call")
        if not names.strip():
            return _error(400, "MISSING_ARGUMENT", "fields parameter is required")
        fields = []
        for name in names.split(","):
            f = sobject.field(name.strip())
            if f is None:
                return _error(400, "INVALID_FIELD", f"No such column '{name.strip()}' on entity "
                              f"'{type_name}'.")
            fields.append(f)
        with self.lock:
            found = [self.store.get(type_name, i) for i in id_list]
        return _json([self._render(r, version, type_name, fields)
                      if r is not None and not r.get("IsDeleted") else None for r in found])

    # -- SOQL ------------------------------------------------------------------------------

    def _batch_size(self, request: Request, default: int) -> int:
        options = request.headers.get("Sforce-Query-Options", "")
        match = re.search(r"batchSize\s*=\s*(\d+)", options)
        if not match:
            return default
        return min(max(int(match.group(1)), MIN_BATCH), DEFAULT_BATCH)

    def query(self, request: Request, version: str, all_rows: bool) -> Response:
        """``query``/``queryAll``: the first page; a cursor keeps the rest."""
        text = request.args.get("q")
        if not text:
            return _error(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            compiled = compile_query(parse(text), self.store.schema, self.store.find,
                                     datetime.now(UTC).date())
        except QueryError as error:
            return _error(400, error.code, error.message)
        type_name = compiled.sobject.name
        with self.lock:
            if compiled.candidate_ids is not None:
                rows = list(self.store.by_ids(type_name, compiled.candidate_ids))
            else:
                snapshot = self.store.snapshot(type_name)
        if compiled.candidate_ids is None:
            rows = self.store.scan(type_name, snapshot)
        refs = compiled.select(rows, include_deleted=all_rows)
        if compiled.count_only:
            return _json({"totalSize": len(refs), "done": True, "records": []})
        if compiled.aggregate_alias:
            getter = compiled.columns[0].getter if compiled.columns else None
            with self.lock:
                records = [self.store.resolve(type_name, ref) for ref in refs]
            count = sum(1 for r in records if r is not None and
                        (getter is None or getter(r) is not None))
            return _json({"totalSize": 1, "done": True, "records": [
                {"attributes": {"type": "AggregateResult"}, compiled.aggregate_alias: count}]})
        batch = self._batch_size(request, DEFAULT_BATCH)
        cursor = {"compiled": compiled, "refs": refs, "batch": batch, "version": version,
                  "all_rows": all_rows}
        locator = None
        if len(refs) > batch:
            if all(isinstance(ref, int) for ref in refs):
                cursor["refs"] = array("q", refs)  # 8 bytes a row, even for a million rows
            with self.lock:
                self.cursor_numbers += 1
                locator = sf_id("01g", self.cursor_numbers)
                self.cursors[locator] = cursor
                while len(self.cursors) > self.config["max_query_cursors"]:
                    self.cursors.popitem(last=False)  # Salesforce drops the oldest cursor
        return self._page(cursor, locator, 0, batch)

    def query_more(self, request: Request, version: str, segment: str, all_rows: bool
                   ) -> Response:
        """A further page of a query: ``query/{locator}-{offset}``."""
        locator, _, offset = segment.partition("-")
        with self.lock:
            cursor = self.cursors.get(locator)
            if cursor is not None:
                self.cursors.move_to_end(locator)
        if (cursor is None or not offset.isdigit() or cursor["all_rows"] != all_rows
                or not 0 < int(offset) < len(cursor["refs"])):
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, locator, int(offset),
                          self._batch_size(request, cursor["batch"]))

    def _page(self, cursor: dict, locator: str | None, offset: int, batch: int) -> Response:
        compiled = cursor["compiled"]
        refs = cursor["refs"]
        type_name = compiled.sobject.name
        version = cursor["version"]
        with self.lock:
            records = [self.store.resolve(type_name, ref) for ref in refs[offset:offset + batch]]
        body = {"totalSize": len(refs), "done": offset + batch >= len(refs),
                "records": [compiled.render(r, version) for r in records if r is not None]}
        if not body["done"]:
            endpoint = "queryAll" if cursor["all_rows"] else "query"
            body["nextRecordsUrl"] = (f"/services/data/v{version}/{endpoint}/"
                                      f"{locator}-{offset + batch}")
        return _json(body)

    # -- Get Updated / Get Deleted ---------------------------------------------------------

    def replication(self, request: Request, type_name: str, kind: str) -> Response:
        """sObject Get Updated / Get Deleted within ``start``..``end`` (seconds ignored)."""
        window = []
        for name in ("start", "end"):
            raw = request.args.get(name)
            if not raw:
                return _error(400, "MISSING_ARGUMENT", f"{name} parameter is required")
            try:
                # An unencoded "+" of the zone arrives as a space.
                moment = parse_datetime(raw.replace(" ", "+"))
            except ValueError:
                return _error(400, "INVALID_REPLICATION_DATE",
                              f"{name} is not a valid ISO 8601 dateTime: {raw}")
            window.append(moment.replace(second=0, microsecond=0))  # seconds are ignored
        start, end = window
        if start >= end:
            return _error(400, "INVALID_REPLICATION_DATE",
                          "startDate must chronologically precede endDate")
        now = datetime.now(UTC)
        days = UPDATED_DAYS if kind == "updated" else DELETED_DAYS
        earliest = (now - timedelta(days=days)).replace(second=0, microsecond=0)
        if start < earliest:
            return _error(400, "INVALID_REPLICATION_DATE",
                          f"startDate cannot be more than {days} days ago")
        low, high = sf_datetime(start), sf_datetime(min(end, now))
        if kind == "deleted":
            with self.lock:
                log = list(self.store.deletions[type_name])
                deleted = [{"id": rid, "deletedDate": when} for rid, when in log
                           if low <= when < high
                           and (self.store.get(type_name, rid) or {}).get("IsDeleted")]
            return _json({"deletedRecords": deleted, "earliestDateAvailable": sf_datetime(earliest),
                          "latestDateCovered": high})
        with self.lock:
            snapshot = self.store.snapshot(type_name)
        ids = [record["Id"] for _, record in self.store.scan(type_name, snapshot)
               if not record.get("IsDeleted") and low <= record["SystemModstamp"] < high]
        return _json({"ids": ids, "latestDateCovered": high})

    # -- control surface -------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        """``/_sandbox/...``: not counted, never faulted, no auth."""
        path = request.path[len("/_sandbox/"):].strip("/")
        method = request.method
        try:
            body = self._body(request) if method in ("POST", "PUT", "PATCH") else None
        except RequestError as error:
            return _json({"error": error.message}, 400)
        body = body or {}
        if not isinstance(body, dict):
            return _json({"error": "expected a JSON object"}, 400)
        try:
            return self._control(method, path.split("/"), body, request)
        except ValueError as error:
            return _json({"error": str(error)}, 400)

    def _control(self, method: str, parts: list[str], body: dict, request: Request) -> Response:
        route = (method, parts[0])
        if route == ("POST", "reset"):
            return _json(self.reset(**body))
        if route == ("POST", "config"):
            return _json(self.configure(**body))
        if route == ("GET", "config"):
            with self.lock:
                return _json(dict(self.config))
        if parts[0] == "faults":
            return self._control_faults(method, body)
        if method == "POST" and parts[0] == "tokens" and parts[1:] in (["expire"], ["revoke"]):
            with self.lock:
                for state in self.tokens.values():
                    if parts[1] == "expire":
                        state["expired_at"] = min(state["expired_at"] or time.time(),
                                                  time.time())
                    else:
                        state["revoked"] = True
                return _json({"tokens": len(self.tokens)})
        if parts[0] == "counters" and method in ("GET", "DELETE"):
            with self.lock:
                if method == "DELETE":
                    self.counters.clear()
                    self.total = 0
                    return _json({"total": 0, "by_endpoint": {}})
                return _json({"total": self.total, "by_endpoint": dict(self.counters)})
        if route == ("POST", "touch") and len(parts) == 2:
            return self._control_touch(parts[1], body)
        if parts[0] == "records" and len(parts) in (2, 3):
            return self._control_records(method, parts[1], parts[2] if len(parts) == 3 else None,
                                         body)
        return _json({"error": f"no control endpoint {method} /_sandbox/{'/'.join(parts)}"},
                     404)

    def _control_faults(self, method: str, body: dict) -> Response:
        """GET: the faults waiting and how many of each kind were injected since the reset;
        POST adds one (``kind``, ``path``, ``method``, ``count``, ``skip``, ``latency_ms``,
        ``records``, ``probability``: a share of matching requests, the fault then staying
        until cleared unless ``count`` is given; ``seed`` for its dice); DELETE clears them."""
        with self.lock:
            if method == "DELETE":
                self.faults.clear()
                return _json({"faults": []})
            if method == "GET":
                return _json({"faults": list(self.faults), "injected": dict(self.injected)})
            if method != "POST":
                raise ValueError("faults take GET, POST or DELETE")
            kind = body.get("kind")
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")
            probability = body.get("probability")
            if probability is not None and not 0 < float(probability) <= 1:
                raise ValueError("probability must be above 0 and at most 1")
            self.fault_numbers += 1
            fault = {"id": self.fault_numbers, "kind": kind, "path": body.get("path"),
                     "method": body.get("method"),
                     "count": (None if probability is not None and "count" not in body
                               else int(body.get("count", 1))),
                     "skip": int(body.get("skip", 0)),
                     "latency_ms": int(body.get("latency_ms", 0)),
                     "records": body.get("records"),
                     "probability": None if probability is None else float(probability)}
            self.fault_dice[fault["id"]] = random.Random(body.get("seed", fault["id"]))
            self.faults.append(fault)
            return _json(dict(fault))

    def _control_touch(self, type_name: str, body: dict) -> Response:
        """A remote user changes many stored records at once (benchmarks): ``fields`` on every
        record whose values match ``where``, as ``user_id``."""
        where = body.get("where") or {}
        fields = body.get("fields") or {}
        with self.lock:
            store = self.store
            if type_name not in store.schema:
                raise ValueError(f"unknown object {type_name}")
            matching = [record_id for record_id, record in store.stored[type_name].items()
                        if not record.get("IsDeleted")
                        and all(record.get(k) == v for k, v in where.items())]
            for record_id in matching:
                current = store.get(type_name, record_id)
                actor = body.get("user_id") or current.get("OwnerId") or INTEGRATION_USER_ID
                errors = store.update(type_name, record_id, fields, actor=actor)
                if errors:
                    return _json({"errors": [e.as_save_error() for e in errors]}, 400)
            return _json({"updated": len(matching)})

    def _control_records(self, method: str, type_name: str, record_id: str | None,
                         body: dict) -> Response:
        """Read every stored record of a type, or act as a remote Salesforce user."""
        with self.lock:
            store = self.store
            if type_name not in store.schema:
                raise ValueError(f"unknown object {type_name}")
            if method == "GET" and record_id is None:
                return _json({"records": list(store.stored[type_name].values())})
            if method == "GET":
                record = store.get(type_name, record_id)
                return _json(record) if record else _json({"error": "no such record"}, 404)
            at = parse_datetime(body["at"]) if body.get("at") else None
            fields = body.get("fields") or {}
            if method == "POST" and record_id is None:
                actor = body.get("user_id") or fields.get("OwnerId") or owner_user_id(
                    OWNERS[0][0])
                new_id, errors = store.create(type_name, fields, actor=actor, at=at)
                record_id = new_id
            elif method == "POST":
                current = store.get(type_name, record_id) or {}
                actor = body.get("user_id") or current.get("OwnerId") or INTEGRATION_USER_ID
                errors = store.update(type_name, record_id, fields, actor=actor, at=at)
            elif method == "DELETE":
                errors = store.delete(type_name, record_id, at=at)
            else:
                raise ValueError(f"records take GET, POST or DELETE, not {method}")
            if errors:
                return _json({"errors": [e.as_save_error() for e in errors]}, 400)
            return _json(store.get(type_name, record_id))
