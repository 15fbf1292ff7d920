"""The sandbox org's data: seed records computed on demand, plus every change made since.

Seed Users, Accounts, Contacts, Leads and Opportunities are pure functions of their number (see
``sandbox.seed``); only records that were created, changed or deleted are stored, as whole
dicts that are replaced (never mutated) on each write, so a scan can work on a cheap snapshot
without holding the sandbox lock. Tasks have no seed: every Task is stored.

Writes follow Salesforce's validation rules and report errors as ``RecordError`` (the
``statusCode``/``message``/``fields`` of a SaveResult); a value of the wrong JSON type is a
``RequestError`` for the whole request, like Salesforce's JSON_PARSER_ERROR.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sandbox.salesforce.schema import PREFIX_TYPES, TEXT_TYPES, Field, SObjectType
from sandbox.salesforce.soql import normalise_id, parse_datetime, sf_datetime
from sandbox.seed import (
    COMPANIES,
    OWNERS,
    SEED_START,
    SF_PREFIX,
    company_account,
    custom_checkbox_seeded,
    lead,
    owner_user_id,
    sf_id,
    sf_number,
)

# Created records are numbered from here, far above any seed number.
NEW_RECORD_BASE = 1_000_000_000
# The connected app's run-as user of the client credentials flow (owner of what the app creates).
INTEGRATION_USER = (99, "Sales Actions", "Integration", "integration@example.com")
USERS = {number: (number, first, last, email)
         for number, first, last, email in [*OWNERS, INTEGRATION_USER]}
INTEGRATION_USER_ID = owner_user_id(INTEGRATION_USER[0])

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SEED_TYPES = {"User", "Account", "Contact", "Lead", "Opportunity"}


@dataclass(frozen=True)
class RecordError:
    """One entry of a SaveResult's ``errors``."""

    status_code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_save_error(self) -> dict:
        """As an entry of a SaveResult (sObject Collections)."""
        return {"statusCode": self.status_code, "message": self.message,
                "fields": list(self.fields)}

    def as_rest_error(self) -> dict:
        """As an entry of a single-record call's error array."""
        return {"message": self.message, "errorCode": self.status_code,
                "fields": list(self.fields)}


class RequestError(Exception):
    """The whole request fails (HTTP ``status``, body ``[{"message", "errorCode"}]``)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _ts(moment: datetime) -> str:
    return sf_datetime(moment)


# Per seed number, which Salesforce records the seed lead has (0: not computed yet).
_KNOWN, _LEAD, _CONTACT, _OPPORTUNITY = 1, 2, 4, 8
_PERSON_BITS = {"Lead": _LEAD, "Contact": _CONTACT, "Opportunity": _OPPORTUNITY}


def _sf_ts(iso_z: str) -> str:
    """``2023-01-01T00:00:00Z`` (seed format) as ``2023-01-01T00:00:00.000+0000``."""
    return iso_z[:19] + ".000+0000"


class SeedWorld:
    """Seed records by object and number, as Salesforce would return them.

    Seed lead ``n`` may have a Lead, a Contact (and then maybe an Opportunity) or nothing; one
    byte per number remembers which once known, so later scans skip the numbers without a
    record of the scanned type instead of recomputing the seed lead.
    """

    def __init__(self, leads: int, seed: int):
        self.leads = leads
        self.seed = seed
        # Custom checkboxes of Contact and Lead ticked in ~``custom_checkbox_percent``% of the
        # seed records (the rest default to false); set by the store from the configuration.
        self.custom_checkboxes: dict[str, tuple[str, ...]] = {}
        self.custom_checkbox_percent = 0
        self._lead = lru_cache(maxsize=4096)(lambda n: lead(n, seed, leads))
        self._kinds = bytearray(leads + 1)

    def _person_flags(self, number: int) -> int:
        flags = self._kinds[number]
        if not flags:
            person = self._lead(number)
            flags = (_KNOWN | (_LEAD if person["sfdcLeadId"] else 0)
                     | (_CONTACT if person["sfdcContactId"] else 0)
                     | (_OPPORTUNITY if person["sfdcOpptyId"] else 0))
            self._kinds[number] = flags
        return flags

    def numbers(self, type_name: str) -> Iterator[int]:
        """Seed numbers that have a record of ``type_name``, ascending."""
        if type_name == "User":
            yield from sorted(USERS)
        elif type_name == "Account":
            yield from range(1, len(COMPANIES) + 1)
        elif type_name in _PERSON_BITS:
            bit = _PERSON_BITS[type_name]
            kinds = self._kinds
            for number in range(1, self.leads + 1):
                flags = kinds[number] or self._person_flags(number)
                if flags & bit:
                    yield number

    def has(self, type_name: str, number: int) -> bool:
        """Whether seed ``number`` of ``type_name`` exists."""
        if type_name == "User":
            return number in USERS
        if type_name == "Account":
            return 1 <= number <= len(COMPANIES)
        if type_name in _PERSON_BITS and 1 <= number <= self.leads:
            return bool(self._person_flags(number) & _PERSON_BITS[type_name])
        return False

    def record(self, type_name: str, number: int) -> dict | None:
        """Seed record ``number`` of ``type_name``, or None if there is none."""
        if not self.has(type_name, number):
            return None
        if type_name == "User":
            return self._user(number)
        if type_name == "Account":
            return self._account(number)
        person = self._lead(number)
        stamps = {
            "IsDeleted": False,
            "CreatedDate": _sf_ts(person["createdAt"]),
            "CreatedById": INTEGRATION_USER_ID,
            "LastModifiedDate": _sf_ts(person["updatedAt"]),
            "LastModifiedById": person["sfdcLeadOwnerId"],
            "SystemModstamp": _sf_ts(person["updatedAt"]),
        }
        if type_name == "Opportunity":
            return self._opportunity(number, person, stamps)
        # Salesforce requires a last name; Marketo may have none.
        last = person["lastName"] or "[not provided]"
        record = {
            "FirstName": person["firstName"],
            "LastName": last,
            "Name": f"{person['firstName']} {last}" if person["firstName"] else last,
            "Email": person["email"],
            "Phone": person["phone"],
            "Title": person["title"],
            "OwnerId": person["sfdcLeadOwnerId"],
            "HasOptedOutOfEmail": person["unsubscribed"],
            "LeadSource": person["leadSource"],
        }
        if type_name == "Contact":
            record["Id"] = person["sfdcContactId"]
            record["AccountId"] = person["sfdcAccountId"]
        else:
            record["Id"] = person["sfdcLeadId"]
            record["Company"] = person["company"]
            record["Status"] = ["Open - Not Contacted", "Working - Contacted",
                                "Working - Contacted", "Closed - Not Converted"][number % 4]
            record["IsConverted"] = False
        for name in self.custom_checkboxes.get(type_name, ()):
            record[name] = custom_checkbox_seeded(number, name, self.seed,
                                                  self.custom_checkbox_percent)
        record.update(stamps)
        return record

    def _user(self, number: int) -> dict:
        _, first, last, email = USERS[number]
        stamp = _ts(SEED_START)
        return {"Id": owner_user_id(number), "Username": email, "FirstName": first,
                "LastName": last, "Name": f"{first} {last}", "Email": email, "IsActive": True,
                "IsDeleted": False, "CreatedDate": stamp, "CreatedById": INTEGRATION_USER_ID,
                "LastModifiedDate": stamp, "LastModifiedById": INTEGRATION_USER_ID,
                "SystemModstamp": stamp}

    def _account(self, number: int) -> dict:
        stamp = _ts(SEED_START)
        owner = OWNERS[(number - 1) % len(OWNERS)][0]
        return company_account(number) | {
            "OwnerId": owner_user_id(owner), "IsDeleted": False, "CreatedDate": stamp,
            "CreatedById": INTEGRATION_USER_ID, "LastModifiedDate": stamp,
            "LastModifiedById": INTEGRATION_USER_ID, "SystemModstamp": stamp}

    def _opportunity(self, number: int, person: dict, stamps: dict) -> dict:
        created = parse_datetime(person["createdAt"])
        stages = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote",
                  "Negotiation/Review", "Closed Won", "Closed Lost"]
        return {
            "Id": person["sfdcOpptyId"],
            "Name": f"{person['company']} - deal {number}",
            "AccountId": person["sfdcAccountId"],
            "StageName": stages[number % len(stages)],
            "CloseDate": (created + timedelta(days=30 + number % 120)).date().isoformat(),
            "Amount": float(1000 * (5 + number % 95)),
            "OwnerId": person["sfdcLeadOwnerId"],
        } | stamps


class Clock:
    """Millisecond UTC timestamps that never repeat, so every change has its own modstamp."""

    def __init__(self):
        self.last: datetime | None = None

    def now(self) -> datetime:
        """Now, or 1 ms after the previous timestamp if the clock has not moved on."""
        moment = datetime.now(UTC)
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        if self.last is not None and moment <= self.last:
            moment = self.last + timedelta(milliseconds=1)
        self.last = moment
        return moment


class RecordStore:
    """Every record of the org. Not thread-safe: the sandbox calls it under its lock, except for
    :meth:`scan` over a :meth:`snapshot`."""

    def __init__(self, leads: int, seed: int, schema: dict[str, SObjectType],
                 custom_checkbox_percent: int = 0):
        self.world = SeedWorld(leads, seed)
        self.world.custom_checkbox_percent = custom_checkbox_percent
        self._schema: dict[str, SObjectType] = {}
        self.schema = schema
        self.stored: dict[str, dict[str, dict]] = {name: {} for name in schema}
        self.deletions: dict[str, list[tuple[str, str]]] = {name: [] for name in schema}
        self.next_number = dict.fromkeys(schema, NEW_RECORD_BASE)
        self.clock = Clock()
        self._journal: list | None = None

    @property
    def schema(self) -> dict[str, SObjectType]:
        return self._schema

    @schema.setter
    def schema(self, schema: dict[str, SObjectType]) -> None:
        self._schema = schema
        self.world.custom_checkboxes = {
            name: tuple(f.name for f in sobject.fields.values() if f.custom
                        and f.type == "boolean")
            for name, sobject in schema.items() if name in ("Contact", "Lead")}

    # -- reading ---------------------------------------------------------------------------

    def get(self, type_name: str, record_id: str) -> dict | None:
        """The current record (deleted ones included), or None. Accepts 15- or 18-char ids."""
        record_id = normalise_id(record_id or "")
        if record_id is None or record_id[:3] != SF_PREFIX.get(type_name):
            return None
        stored = self.stored[type_name].get(record_id)
        if stored is not None:
            return stored
        number = sf_number(record_id)[1]
        return self.world.record(type_name, number) if type_name in _SEED_TYPES else None

    def find(self, record_id: str) -> tuple[str, dict] | None:
        """(type, record) of any id, or None."""
        type_name = PREFIX_TYPES.get((record_id or "")[:3])
        if type_name is None or type_name not in self.schema:
            return None
        record = self.get(type_name, record_id)
        return None if record is None else (type_name, record)

    def snapshot(self, type_name: str) -> dict[str, dict]:
        """A copy of the stored records of a type (records themselves are never mutated)."""
        return dict(self.stored[type_name])

    def scan(self, type_name: str, snapshot: dict[str, dict]) -> Iterator[tuple[object, dict]]:
        """Every record of a type as ``(ref, record)``: seed records in number order (ref: the
        number), then created ones in creation order (ref: the id). Streams; stores nothing."""
        changed: dict[int, dict] = {}
        created: list[tuple[str, dict]] = []
        for record_id, record in snapshot.items():
            number = sf_number(record_id)[1]
            if number < NEW_RECORD_BASE:
                changed[number] = record
            else:
                created.append((record_id, record))
        world = self.world
        for number in world.numbers(type_name):
            yield number, changed.get(number) or world.record(type_name, number)
        yield from created

    def by_ids(self, type_name: str, ids: set[str]) -> Iterator[tuple[object, dict]]:
        """Like :meth:`scan`, restricted to ``ids`` (in a stable order)."""
        for record_id in sorted(ids):
            record = self.get(type_name, record_id)
            if record is not None:
                yield record_id, record

    def resolve(self, type_name: str, ref) -> dict | None:
        """The current record behind a ref from :meth:`scan`."""
        if isinstance(ref, int):
            ref = sf_id(SF_PREFIX[type_name], ref)
        return self.get(type_name, ref)

    # -- writing ---------------------------------------------------------------------------

    def begin(self) -> None:
        """Start recording undo information (for allOrNone)."""
        self._journal = []

    def commit(self) -> None:
        """Keep the writes since :meth:`begin`."""
        self._journal = None

    def rollback(self) -> None:
        """Undo every write since :meth:`begin`."""
        for type_name, record_id, previous, deletions in reversed(self._journal or []):
            if previous is None:
                self.stored[type_name].pop(record_id, None)
            else:
                self.stored[type_name][record_id] = previous
            del self.deletions[type_name][deletions:]
        self._journal = None

    def _put(self, type_name: str, record: dict) -> None:
        if self._journal is not None:
            self._journal.append((type_name, record["Id"],
                                  self.stored[type_name].get(record["Id"]),
                                  len(self.deletions[type_name])))
        self.stored[type_name][record["Id"]] = record

    def create(self, type_name: str, values: dict, actor: str = INTEGRATION_USER_ID,
               at: datetime | None = None) -> tuple[str | None, list[RecordError]]:
        """Validate and insert; returns (new id, []) or (None, errors)."""
        sobject = self.schema[type_name]
        if not sobject.createable:
            return None, [RecordError("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                                      f"entity type cannot be inserted: {type_name}")]
        record, errors = self._build(sobject, values, None)
        if errors:
            return None, errors
        number = self.next_number[type_name]
        self.next_number[type_name] = number + 1
        stamp = _ts(at or self.clock.now())
        record["OwnerId"] = record.get("OwnerId") or actor
        record |= {"Id": sf_id(sobject.prefix, number), "IsDeleted": False,
                   "CreatedDate": stamp, "CreatedById": actor, "LastModifiedDate": stamp,
                   "LastModifiedById": actor, "SystemModstamp": stamp}
        self._put(type_name, record)
        return record["Id"], []

    def update(self, type_name: str, record_id: str, values: dict,
               actor: str = INTEGRATION_USER_ID, at: datetime | None = None
               ) -> list[RecordError]:
        """Validate and apply a partial update."""
        sobject = self.schema[type_name]
        existing, errors = self._existing(type_name, record_id)
        if errors:
            return errors
        if not sobject.updateable:
            return [RecordError("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                                f"entity type cannot be updated: {type_name}")]
        record, errors = self._build(sobject, values, existing)
        if errors:
            return errors
        stamp = _ts(at or self.clock.now())
        record |= {"LastModifiedDate": stamp, "LastModifiedById": actor,
                   "SystemModstamp": stamp}
        self._put(type_name, record)
        return []

    def delete(self, type_name: str, record_id: str, at: datetime | None = None
               ) -> list[RecordError]:
        """Move a record to the recycle bin (``IsDeleted``; listed by Get Deleted)."""
        existing, errors = self._existing(type_name, record_id)
        if errors:
            return errors
        if not self.schema[type_name].deletable:
            return [RecordError("INSUFFICIENT_ACCESS_OR_READONLY",
                                "insufficient access rights on object id", ("Id",))]
        stamp = _ts(at or self.clock.now())
        self._put(type_name, existing | {"IsDeleted": True, "SystemModstamp": stamp})
        self.deletions[type_name].append((existing["Id"], stamp))
        return []

    def _existing(self, type_name: str, record_id) -> tuple[dict | None, list[RecordError]]:
        prefix = self.schema[type_name].prefix
        normalised = normalise_id(record_id) if isinstance(record_id, str) else None
        if normalised is None or normalised[:3] != prefix:
            label = self.schema[type_name].label
            return None, [RecordError("MALFORMED_ID",
                                      f"{label} ID: id value of incorrect type: {record_id}",
                                      ("Id",))]
        record = self.get(type_name, record_id)
        if record is None:
            return None, [RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                                      ())]
        if record.get("IsDeleted"):
            return None, [RecordError("ENTITY_IS_DELETED", "entity is deleted", ())]
        return record, []

    def _build(self, sobject: SObjectType, values: dict, existing: dict | None
               ) -> tuple[dict | None, list[RecordError]]:
        """The record after applying ``values`` to ``existing`` (None: a new record)."""
        creating = existing is None
        errors: list[RecordError] = []
        changes: dict = {}
        read_only: list[str] = []
        for key, value in values.items():
            if key == "attributes":
                continue
            f = sobject.field(key)
            if f is None:
                errors.append(RecordError(
                    "INVALID_FIELD", f"No such column '{key}' on sobject of type {sobject.name}"))
                continue
            if f.name == "Id":
                if creating:
                    errors.append(RecordError("INVALID_FIELD_FOR_INSERT_UPDATE",
                                              "cannot specify Id in an insert call", ("Id",)))
                continue  # on update the Id names the record
            if not (f.createable if creating else f.updateable):
                read_only.append(f.name)
                continue
            changes[f.name] = _coerce(f, value)
        if read_only:
            errors.append(RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(read_only)}. Please check the "
                "security settings of this field and verify that it is read/write for your "
                "profile or permission set.", tuple(read_only)))
        if errors:
            return None, errors

        for name, value in changes.items():
            f = sobject.fields[name]
            error = self._check_value(f, value)
            if isinstance(error, RecordError):
                errors.append(error)
            elif error is not None:
                changes[name] = error  # a normalised id
        if errors:
            return None, errors

        if creating:
            record = {name: f.default for name, f in sobject.fields.items()
                      if f.default is not None}
        else:
            record = dict(existing)
        record |= changes
        missing = [f.name for f in sobject.fields.values()
                   if f.required and record.get(f.name) in (None, "")]
        if missing:
            return None, [RecordError("REQUIRED_FIELD_MISSING",
                                      f"Required fields are missing: [{', '.join(missing)}]",
                                      tuple(missing))]
        if "Name" in sobject.fields and "LastName" in sobject.fields:
            record["Name"] = " ".join(p for p in (record.get("FirstName"),
                                                  record.get("LastName")) if p)
        if sobject.name == "Task":
            who, what = record.get("WhoId"), record.get("WhatId")
            if who and what and who.startswith(SF_PREFIX["Lead"]):
                return None, [RecordError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "Related To ID: a task whose Name ID is a lead cannot be related to another "
                    "record", ("WhatId",))]
            record["IsClosed"] = record.get("Status") == "Completed"
        return record, []

    def _check_value(self, f: Field, value):
        """A RecordError for a bad value, a normalised id for a good reference, else None."""
        if value is None:
            return None
        if f.type in TEXT_TYPES and f.length and len(value) > f.length:
            return RecordError("STRING_TOO_LONG", f"{f.label}: data value too large: "
                               f"{value[:60]} (max length={f.length})", (f.name,))
        if f.type == "email" and not _EMAIL.match(value):
            return RecordError("INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: "
                               f"{value}", (f.name,))
        if f.restricted and value not in f.picklist:
            return RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                               f"{f.label}: bad value for restricted picklist field: {value}",
                               (f.name,))
        if f.type == "reference":
            record_id = normalise_id(value)
            if record_id is None:
                return RecordError("MALFORMED_ID", f"{f.label}: id value of incorrect type: "
                                   f"{value}", (f.name,))
            target = PREFIX_TYPES.get(record_id[:3])
            if target not in f.reference_to:
                return RecordError("FIELD_INTEGRITY_EXCEPTION",
                                   f"{f.label}: id value of incorrect type: {value}", (f.name,))
            found = self.get(target, record_id)
            if found is None or found.get("IsDeleted"):
                return RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                                   (f.name,))
            return record_id
        return None


def _coerce(f: Field, value):
    """The JSON ``value`` as stored for ``f``; the wrong JSON type fails the whole request."""
    if value is None:
        return False if f.type == "boolean" else None

    def bad(expected: str) -> RequestError:
        return RequestError(400, "JSON_PARSER_ERROR",
                            f"Cannot deserialize instance of {expected} from {value!r} for field "
                            f"{f.name}")

    if f.type == "boolean":
        if not isinstance(value, bool):
            raise bad("boolean")
        return value
    if f.type == "int":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise bad("int")
        return int(value)
    if f.type == "currency":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("double")
        return float(value)
    if f.type == "date":
        if not isinstance(value, str):
            raise bad("date")
        try:
            return datetime.fromisoformat(value[:10]).date().isoformat()
        except ValueError:
            raise bad("date") from None
    if f.type == "datetime":
        if not isinstance(value, str):
            raise bad("dateTime")
        try:
            return sf_datetime(parse_datetime(value))
        except ValueError:
            raise bad("dateTime") from None
    if isinstance(value, bool) or isinstance(value, dict | list):
        raise bad("string")
    return str(value) if isinstance(value, int | float) else value
