"""Bulk Lead Extract: export jobs, their queue, and files written by background threads.

Follows Marketo's Bulk Extract documentation: a job is Created, then Queued by ``enqueue``,
Processing when one of the two export slots is free, then Completed with ``numberOfRecords``,
``fileSize`` and ``fileChecksum`` ("sha256:<hex>"). At most 10 jobs may be queued (processing
included); enqueueing more answers ``1029 Too many jobs in queue``. Files count against a daily
allowance (500 MB by default, reset at midnight US Central time), then ``1029 Export daily quota
exceeded``. Date-range filters span at most 31 days.

Each processing job writes its CSV to a file on disk, row by row, in its own thread: it takes
time proportional to the rows and never holds the file in memory.
"""

from __future__ import annotations

import csv
import hashlib
import operator
import os
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .catalog import FIELDS_BY_NAME
from .errors import ApiError, blank, field_not_found, invalid
from .leads import LeadStore

MAX_RANGE = timedelta(days=31)
RETENTION = timedelta(days=7)
_DELIMITERS = {"CSV": ",", "TSV": "\t", "SSV": ";"}
_DATE_FILTERS = ("createdAt", "updatedAt")
_LIST_FILTERS = ("staticListId", "staticListName", "smartListId", "smartListName")
_CHECK_EVERY = 500  # rows between looks at cancellation and throttling, when unthrottled


def central_day(moment: datetime | None = None) -> str:
    """The day Marketo's daily allowances belong to (they reset at 12:00 AM CST)."""
    moment = moment or datetime.now(UTC)
    return (moment - timedelta(hours=6)).date().isoformat()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ExportJob:
    export_id: str
    format: str
    fields: list[str]
    header: list[str]
    filter_field: str
    start: str
    end: str
    created_at: datetime
    status: str = "Created"
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    number_of_records: int | None = None
    file_size: int | None = None
    file_checksum: str | None = None
    error_msg: str | None = None
    path: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def render(self) -> dict:
        item = {"exportId": self.export_id, "format": self.format, "status": self.status,
                "createdAt": _iso(self.created_at)}
        for key, value in (("queuedAt", self.queued_at), ("startedAt", self.started_at),
                           ("finishedAt", self.finished_at)):
            if value is not None:
                item[key] = _iso(value)
        if self.status == "Completed":
            item.update(numberOfRecords=self.number_of_records, fileSize=self.file_size,
                        fileChecksum=self.file_checksum)
        if self.error_msg:
            item["errorMsg"] = self.error_msg
        return item


class BulkExports:
    """The instance's lead export jobs. Public methods are called with ``lock`` held."""

    def __init__(self, lock: threading.RLock, config: dict, store: Callable[[], LeadStore]):
        self.lock = lock
        self.config = config
        self.store = store
        self.jobs: dict[str, ExportJob] = {}
        self._directory: str | None = None

    def _file_path(self, export_id: str) -> str:
        if self._directory is None:
            self._directory = tempfile.mkdtemp(prefix="marketo-sandbox-exports-")
            # The files go when the sandbox does, even if nobody calls close().
            weakref.finalize(self, shutil.rmtree, self._directory, ignore_errors=True)
        return os.path.join(self._directory, f"{export_id}.csv")

    def close(self) -> None:
        """Forget every job and remove the export directory."""
        self.reset()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def reset(self) -> None:
        """Forget every job; running exports stop and their files are removed."""
        for job in self.jobs.values():
            job.cancelled.set()
            _remove(job.path)
        self.jobs.clear()

    def _job(self, export_id: str) -> ExportJob:
        job = self.jobs.get(export_id)
        if job is None:
            raise invalid(f"Export job '{export_id}' not found")
        return job

    def _check_quota(self) -> None:
        today = central_day()
        used = sum(job.file_size or 0 for job in self.jobs.values()
                   if job.status == "Completed" and central_day(job.finished_at) == today)
        if used >= self.config["bulk_daily_quota_mb"] * 1024 * 1024:
            raise ApiError("1029", "Export daily quota exceeded")

    def create(self, body) -> dict:
        """Create Export Lead Job: check fields, format and filter; the job is Created."""
        if not isinstance(body, dict):
            raise ApiError("609", "Invalid JSON")
        fields = body.get("fields")
        if not fields or not isinstance(fields, list):
            raise blank("fields")
        for name in fields:
            if not isinstance(name, str) or name not in FIELDS_BY_NAME:
                raise field_not_found(str(name))
        export_format = str(body.get("format") or "CSV").upper()
        if export_format not in _DELIMITERS:
            raise invalid(f"Invalid format '{body.get('format')}'")
        headers = body.get("columnHeaderNames") or {}
        if not isinstance(headers, dict) or any(key not in fields for key in headers):
            raise invalid("columnHeaderNames must name fields of the job")
        filter_field, start, end = self._filter(body.get("filter"))
        self._check_quota()
        job = ExportJob(str(uuid.uuid4()), export_format, list(fields),
                        [str(headers.get(name, name)) for name in fields], filter_field,
                        start, end, datetime.now(UTC))
        self.jobs[job.export_id] = job
        return job.render()

    def _filter(self, spec) -> tuple[str, str, str]:
        if not spec or not isinstance(spec, dict):
            raise blank("filter")
        if len(spec) != 1:
            raise invalid("Only one filter type may be specified")
        (name, value), = spec.items()
        if name in _LIST_FILTERS:
            raise invalid(f"List '{value}' not found")
        if name not in _DATE_FILTERS:
            raise invalid(f"Invalid filter type '{name}'")
        if name == "updatedAt" and not self.config["bulk_updated_at_filter"]:
            raise ApiError("1035", "Unsupported filter type for target subscription")
        if not isinstance(value, dict) or not value.get("startAt") or not value.get("endAt"):
            raise blank(f"{name}.startAt and {name}.endAt")
        try:
            start = datetime.fromisoformat(str(value["startAt"]))
            end = datetime.fromisoformat(str(value["endAt"]))
        except ValueError as error:
            raise ApiError("704", "Invalid date format") from error
        start, end = (m if m.tzinfo else m.replace(tzinfo=UTC) for m in (start, end))
        if end < start:
            raise invalid("endAt must not be before startAt")
        if end - start > MAX_RANGE:
            raise invalid("Date range must not exceed 31 days")
        return name, _iso(start), _iso(end)

    def enqueue(self, export_id: str) -> dict:
        """Enqueue Export Lead Job: Created -> Queued, under the queue and quota limits."""
        job = self._job(export_id)
        if job.status in ("Queued", "Processing"):
            raise ApiError("1029", "Job already queued")
        if job.status != "Created":
            raise invalid(f"Job '{export_id}' is {job.status}, not Created")
        self._check_quota()
        in_queue = sum(j.status in ("Queued", "Processing") for j in self.jobs.values())
        if in_queue >= self.config["bulk_max_queued"]:
            raise ApiError("1029", "Too many jobs in queue")
        job.status, job.queued_at = "Queued", datetime.now(UTC)
        queued = job.render()  # the answer says Queued; a free slot starts it right after
        self._schedule()
        return queued

    def cancel(self, export_id: str) -> dict:
        """Cancel Export Lead Job; a processing export stops and its file is removed."""
        job = self._job(export_id)
        if job.status not in ("Created", "Queued", "Processing"):
            raise invalid(f"Job '{export_id}' is {job.status} and cannot be cancelled")
        job.cancelled.set()
        job.status = "Cancelled"
        self._schedule()
        return job.render()

    def status(self, export_id: str) -> dict:
        """Get Export Lead Job Status."""
        return self._job(export_id).render()

    def listing(self, statuses: set[str] | None) -> list[dict]:
        """Jobs created in the past seven days, oldest first, optionally by status."""
        horizon = datetime.now(UTC) - RETENTION
        return [job.render() for job in self.jobs.values()
                if job.created_at >= horizon
                and (not statuses or job.status.lower() in statuses)]

    def completed_file(self, export_id: str) -> tuple[str, int] | None:
        """(path, size) of a completed job's file, or None while there is no file."""
        job = self.jobs.get(export_id)
        if job is None or job.status != "Completed":
            return None
        return job.path, job.file_size

    def _schedule(self) -> None:
        processing = sum(job.status == "Processing" for job in self.jobs.values())
        waiting = sorted((job for job in self.jobs.values() if job.status == "Queued"),
                         key=lambda job: job.queued_at)
        for job in waiting[:max(0, self.config["bulk_max_processing"] - processing)]:
            job.status, job.started_at = "Processing", datetime.now(UTC)
            job.path = self._file_path(job.export_id)
            store = self.store()
            plan = store.export_plan(job.filter_field, job.start, job.end)
            threading.Thread(target=self._run, args=(job, store, plan), daemon=True,
                             name=f"marketo-export-{job.export_id[:8]}").start()

    def _run(self, job: ExportJob, store: LeadStore, plan) -> None:
        try:
            count = self._write(job, store, plan)
            size, checksum = _file_facts(job.path) if count is not None else (None, None)
        except OSError as error:
            with self.lock:
                if self.jobs.get(job.export_id) is job and job.status == "Processing":
                    job.status, job.error_msg = "Failed", str(error)
                    job.finished_at = datetime.now(UTC)
                    self._schedule()
            _remove(job.path)
            return
        with self.lock:
            if count is None or self.jobs.get(job.export_id) is not job \
                    or job.status != "Processing":
                _remove(job.path)
                return
            job.status, job.finished_at = "Completed", datetime.now(UTC)
            job.number_of_records, job.file_size, job.file_checksum = count, size, checksum
            self._schedule()

    def _write(self, job: ExportJob, store: LeadStore, plan) -> int | None:
        """Write the file; the row count, or None if the job was cancelled meanwhile."""
        null = self.config["bulk_csv_null"]
        delimiter = _DELIMITERS[job.format]
        names = job.fields
        values = operator.itemgetter(*names) if len(names) > 1 else (lambda lead: (lead[names[0]],))
        separators = len(names) - 1
        began = time.monotonic()
        count, check_every = 0, 1 if self.config["bulk_rows_per_second"] else _CHECK_EVERY
        with open(job.path, "w", encoding="utf-8", newline="", buffering=1 << 20) as out:
            writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
            writer.writerow(job.header)
            for lead in _matching(store, job, plan):
                cells = [v if v.__class__ is str else _text(v, null) for v in values(lead)]
                line = delimiter.join(cells)
                # Most rows need no quoting; the csv module (RFC 4180 quoting) takes the rest.
                if line.count(delimiter) == separators and separators \
                        and '"' not in line and "\n" not in line and "\r" not in line:
                    out.write(line + "\n")
                else:
                    writer.writerow(cells)
                count += 1
                if count % check_every == 0:
                    if job.cancelled.is_set():
                        return None
                    rate = self.config["bulk_rows_per_second"]
                    # A throttled export looks at cancellation and its pace on every row.
                    check_every = 1 if rate else _CHECK_EVERY
                    if rate:
                        time.sleep(max(0.0, count / rate - (time.monotonic() - began)))
        return None if job.cancelled.is_set() else count


def _text(value, null: str) -> str:
    if value is None:
        return null
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _matching(store: LeadStore, job: ExportJob, plan) -> Iterator[dict]:
    start, end, name = job.start, job.end, job.filter_field
    for lead_id in store.export_ids(plan):
        lead = store.get(lead_id)
        if lead is not None and start <= lead[name] <= end:
            yield lead


def _file_facts(path: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return os.path.getsize(path), "sha256:" + digest.hexdigest()


def _remove(path: str | None) -> None:
    if path:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
