"""Custom activity types: drafts, approval, attributes, and the per-instance limit.

Like Marketo assets, a type has a live (approved) version and/or a draft; every change goes to
the draft and ``approve`` makes it live. Status is "draft", "approved" or "approved with draft".
Approved types get ids from 100001 and can then be used by Add Custom Activities.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from .catalog import CUSTOM_ATTRIBUTE_TYPES
from .errors import ApiError, blank, invalid

MAX_ATTRIBUTES = 20
FIRST_CUSTOM_TYPE_ID = 100001
_API_NAME = re.compile(r"^[A-Za-z0-9]{1,255}$")
_DISPLAY_NAME = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 _]+$")
_VERSION_KEYS = ("name", "description", "triggerName", "filterName")


@dataclass
class CustomType:
    api_name: str
    created_at: str
    updated_at: str
    draft: dict | None
    live: dict | None = None
    id: int | None = None

    @property
    def status(self) -> str:
        if self.live is None:
            return "draft"
        return "approved" if self.draft is None else "approved with draft"

    def render(self, version: dict, with_attributes: bool = True) -> dict:
        item = {}
        if self.id is not None:
            item["id"] = self.id
        item["apiName"] = self.api_name
        item.update((key, version[key]) for key in _VERSION_KEYS if version.get(key) is not None)
        item.update(createdAt=self.created_at, updatedAt=self.updated_at, status=self.status,
                    primaryAttribute=dict(version["primaryAttribute"]))
        if with_attributes and version["attributes"]:
            item["attributes"] = [dict(attribute) for attribute in version["attributes"]]
        return item

    def editable(self) -> dict:
        """The draft, started from the live version when there is none yet."""
        if self.draft is None:
            self.draft = copy.deepcopy(self.live)
        return self.draft


class CustomActivityTypes:
    """The instance's custom activity types. The sandbox holds its lock."""

    def __init__(self, limit: int):
        self.limit = limit
        self.types: dict[str, CustomType] = {}
        self._next_id = FIRST_CUSTOM_TYPE_ID

    def get(self, api_name: str) -> CustomType:
        """The type named ``api_name``; 1013 if there is none."""
        custom_type = self.types.get(api_name)
        if custom_type is None:
            raise ApiError("1013", f"Activity type '{api_name}' not found")
        return custom_type

    def approved(self) -> list[CustomType]:
        """Types with a live version, by id."""
        return sorted((t for t in self.types.values() if t.live is not None),
                      key=lambda t: t.id)

    def by_id(self, type_id: int) -> CustomType | None:
        """The approved type with activity type id ``type_id``."""
        return next((t for t in self.types.values() if t.id == type_id), None)

    def create(self, body: dict, now: str) -> dict:
        """Create Custom Activity Type: a new draft (1027 once the instance holds the limit)."""
        api_name = body.get("apiName")
        if not api_name:
            raise blank("apiName")
        if not isinstance(api_name, str) or not _API_NAME.match(api_name):
            raise invalid(f"Invalid apiName '{api_name}': alphanumeric characters only")
        if api_name in self.types:
            raise ApiError("1017", f"Activity type with apiName '{api_name}' already exists")
        if len(self.types) >= self.limit:
            raise ApiError("1027", "Max Activity Type Limit Reached")
        version = {"attributes": []}
        self._apply(version, body, required=True, api_name=api_name)
        custom_type = CustomType(api_name, now, now, draft=version)
        self.types[api_name] = custom_type
        return custom_type.render(version)

    def update(self, api_name: str, body: dict, now: str) -> dict:
        """Update Custom Activity Type: changes go to the draft."""
        custom_type = self.get(api_name)
        draft = custom_type.editable()
        self._apply(draft, body, required=False, api_name=api_name)
        custom_type.updated_at = now
        return custom_type.render(draft)

    def _apply(self, version: dict, body: dict, *, required: bool, api_name: str) -> None:
        for key in ("name", "triggerName", "filterName"):
            value = body.get(key)
            if value is None and not required:
                continue
            if not value:
                raise blank(key)
            if not isinstance(value, str) or not _DISPLAY_NAME.match(value):
                raise invalid(f"Invalid {key} '{value}'")
            self._check_unique(key, value, api_name)
            version[key] = value
        if body.get("description") is not None:
            version["description"] = str(body["description"])
        primary = body.get("primaryAttribute")
        if primary is None and not required:
            return
        if not isinstance(primary, dict):
            raise blank("primaryAttribute")
        attribute = self._attribute(primary, default_type="string")
        version["primaryAttribute"] = attribute

    def _check_unique(self, key: str, value: str, api_name: str) -> None:
        for other in self.types.values():
            if other.api_name == api_name:
                continue
            for version in (other.live, other.draft):
                if version and version.get(key, "").lower() == value.lower():
                    raise ApiError("1017", f"Activity type with {key} '{value}' already exists")

    @staticmethod
    def _attribute(data: dict, default_type: str | None = None) -> dict:
        if not isinstance(data, dict):
            raise invalid("Invalid attribute")
        api_name, name = data.get("apiName"), data.get("name")
        if not api_name:
            raise blank("apiName")
        if not isinstance(api_name, str) or not _API_NAME.match(api_name):
            raise invalid(f"Invalid apiName '{api_name}': alphanumeric characters only")
        if not name:
            raise blank("name")
        data_type = data.get("dataType") or default_type
        if not data_type:
            raise blank("dataType")
        if data_type not in CUSTOM_ATTRIBUTE_TYPES:
            raise invalid(f"Invalid dataType '{data_type}'")
        attribute = {"apiName": api_name, "name": str(name)}
        if data.get("description") is not None:
            attribute["description"] = str(data["description"])
        attribute["dataType"] = data_type
        return attribute

    def add_attributes(self, api_name: str, attributes, now: str) -> dict:
        """Create Custom Activity Type Attributes (at most 20 per type, 1028 beyond)."""
        custom_type = self.get(api_name)
        if not isinstance(attributes, list) or not attributes:
            raise blank("attributes")
        new = [self._attribute(data) for data in attributes]
        draft = custom_type.editable()
        names = {a["apiName"] for a in draft["attributes"]} | {
            draft["primaryAttribute"]["apiName"]}
        for attribute in new:
            if attribute["apiName"] in names:
                raise ApiError("1017", f"Attribute '{attribute['apiName']}' already exists")
            names.add(attribute["apiName"])
        if len(draft["attributes"]) + len(new) > MAX_ATTRIBUTES:
            raise ApiError("1028", "Max field limit reached")
        draft["attributes"].extend(new)
        custom_type.updated_at = now
        return custom_type.render(draft)

    def update_attributes(self, api_name: str, attributes, now: str) -> dict:
        """Update Custom Activity Type Attributes, keyed by their apiName."""
        custom_type = self.get(api_name)
        if not isinstance(attributes, list) or not attributes:
            raise blank("attributes")
        draft = custom_type.editable()
        current = {a["apiName"]: a for a in draft["attributes"]}
        for data in attributes:
            existing = current.get(data.get("apiName") if isinstance(data, dict) else None)
            if existing is None:
                raise ApiError("1013", f"Attribute '{data}' not found")
            existing.update(self._attribute({**existing, **data}))
        custom_type.updated_at = now
        return custom_type.render(draft)

    def delete_attributes(self, api_name: str, attributes, now: str) -> dict:
        """Delete Custom Activity Type Attributes from the draft."""
        custom_type = self.get(api_name)
        if not isinstance(attributes, list) or not attributes:
            raise blank("attributes")
        draft = custom_type.editable()
        doomed = {data.get("apiName") for data in attributes if isinstance(data, dict)}
        missing = doomed - {a["apiName"] for a in draft["attributes"]}
        if missing:
            raise ApiError("1013", f"Attribute '{sorted(missing)[0]}' not found")
        draft["attributes"] = [a for a in draft["attributes"] if a["apiName"] not in doomed]
        custom_type.updated_at = now
        return custom_type.render(draft)

    def approve(self, api_name: str, now: str) -> dict:
        """The draft becomes the live version; the first approval gives the type its id."""
        custom_type = self.get(api_name)
        if custom_type.draft is None:
            raise ApiError("709", f"Activity type '{api_name}' has no draft to approve")
        custom_type.live, custom_type.draft = custom_type.draft, None
        if custom_type.id is None:
            custom_type.id = self._next_id
            self._next_id += 1
        custom_type.updated_at = now
        return custom_type.render(custom_type.live)

    def discard_draft(self, api_name: str) -> dict:
        """Drop the draft of an approved type."""
        custom_type = self.get(api_name)
        if custom_type.draft is None or custom_type.live is None:
            raise ApiError("709", f"Activity type '{api_name}' has no draft to discard")
        custom_type.draft = None
        return custom_type.render(custom_type.live)

    def delete(self, api_name: str) -> dict:
        """Delete the type, freeing its place under the limit."""
        custom_type = self.get(api_name)
        del self.types[api_name]
        return custom_type.render(custom_type.live or custom_type.draft)

    def describe(self, api_name: str, draft: bool) -> dict:
        """Describe Custom Activity Type: the live version unless ``draft`` (or none is live)."""
        custom_type = self.get(api_name)
        if draft:
            version = custom_type.draft or custom_type.live
        else:
            version = custom_type.live or custom_type.draft
        return custom_type.render(version)

    def summaries(self) -> list[dict]:
        """Get Custom Activity Types: every type, live version where there is one."""
        return [t.render(t.live or t.draft, with_attributes=False) for t in self.types.values()]

    def type_descriptions(self) -> list[dict]:
        """Approved types as Get Activity Types lists them."""
        items = []
        for custom_type in self.approved():
            live = custom_type.live
            item = {"id": custom_type.id, "name": live["name"], "apiName": custom_type.api_name}
            if live.get("description"):
                item["description"] = live["description"]
            item["primaryAttribute"] = {"name": live["primaryAttribute"]["name"],
                                        "apiName": live["primaryAttribute"]["apiName"],
                                        "dataType": live["primaryAttribute"]["dataType"]}
            item["attributes"] = [{"name": a["name"], "apiName": a["apiName"],
                                   "dataType": a["dataType"]} for a in live["attributes"]]
            items.append(item)
        return items
