"""What the wizard knows about a CRM — its fields, users and a few capabilities — and a copy kept on disk.

The CRM wizard needs the CRM's fields (to pick and check mappings) and users (Step 4). Fetching them takes a few
requests, so a :class:`CrmSnapshot` of them is kept in the data folder (``cache/crm-<key>.json``) with the time it
was fetched: the wizard opens at once from it, refreshes it on request, and keeps working from it when the CRM
cannot be reached. The file is a cache: a missing, damaged or newer file is ignored (and replaced on the next
fetch), never an error. It holds no secret and no record data.

The snapshot's fields and users fit :class:`~enginy_desktop.core.crm_config.CrmFieldLike` and
:class:`~enginy_desktop.core.crm_config.CrmUserLike`, so :func:`~enginy_desktop.core.crm_config.validate` takes them.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from enginy_desktop.adapters.base import Capabilities

from .crm_config import ObjectType

__all__ = [
    "CACHE_FORMAT",
    "CACHE_VERSION",
    "CrmFieldInfo",
    "CrmSnapshot",
    "CrmSnapshotCache",
    "CrmUserInfo",
    "FieldOptionInfo",
]

log = logging.getLogger(__name__)

CACHE_FORMAT = "enginy-crm-cache"
CACHE_VERSION = 1


@dataclass(frozen=True, slots=True)
class FieldOptionInfo:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class CrmFieldInfo:
    """One CRM field: ``type`` is the adapters' type name (text, number, picklist…), ``object`` contact/company."""

    name: str
    label: str
    type: str
    object: str
    options: tuple[FieldOptionInfo, ...] = ()
    read_only: bool = False
    description: str = ""

    @classmethod
    def of(cls, f: Any, object_type: ObjectType | None = None) -> CrmFieldInfo:
        """From an adapter's ``CrmField`` (or anything shaped like it)."""
        obj = ObjectType.parse(getattr(f, "object", None)) or object_type or ObjectType.CONTACT
        options = []
        for opt in getattr(f, "options", ()) or ():
            if getattr(opt, "hidden", False):
                continue
            value = str(getattr(opt, "value", opt))
            options.append(FieldOptionInfo(value, str(getattr(opt, "label", "") or value)))
        return cls(
            name=str(f.name),
            label=str(getattr(f, "label", "") or f.name),
            type=str(getattr(f.type, "value", f.type) or "text"),
            object=obj.value,
            options=tuple(options),
            read_only=bool(getattr(f, "read_only", False)),
            description=str(getattr(f, "description", "") or ""),
        )


@dataclass(frozen=True, slots=True)
class CrmUserInfo:
    id: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    active: bool = True

    @property
    def name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email or self.id

    @property
    def display(self) -> str:
        """``Jane Doe <jane@acme.com>`` (and "deactivated" when so)."""
        text = self.name
        if self.email and self.email != text:
            text += f" <{self.email}>"
        return text if self.active else f"{text} (deactivated)"

    @classmethod
    def of(cls, u: Any) -> CrmUserInfo:
        return cls(
            id=str(u.id),
            email=str(getattr(u, "email", "") or ""),
            first_name=str(getattr(u, "first_name", "") or ""),
            last_name=str(getattr(u, "last_name", "") or ""),
            active=bool(getattr(u, "active", True)),
        )


@dataclass(frozen=True)
class CrmSnapshot:
    """The fields, users and association capabilities of one CRM at ``fetched_at`` (UTC).

    ``identifier_fields`` maps, per object, the Step 1 roles (``first_name``, ``domain``…) to the CRM's field
    names; ``identifier_fields_guessed`` says some were guessed from the field names because the adapter did not
    say. ``multiple_companies`` / ``primary_company`` are what :func:`crm_config.association_note` reads.
    """

    crm: str
    fields: tuple[CrmFieldInfo, ...] = ()
    users: tuple[CrmUserInfo, ...] = ()
    multiple_companies: bool = True
    primary_company: bool = True
    companies_note: str = ""  # why a contact has one company only in this account (Capabilities.companies_note)
    people_object: str = ""  # the object people go in, where the CRM offers several (CrmConfig.people_object)
    identifier_fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    identifier_fields_guessed: bool = False
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def fields_of(self, object_type: ObjectType | str) -> list[CrmFieldInfo]:
        obj = ObjectType(object_type)
        return [f for f in self.fields if f.object == obj.value]

    def crm_field(self, object_type: ObjectType | str, name: str) -> CrmFieldInfo | None:
        obj = ObjectType(object_type)
        for f in self.fields:
            if f.object == obj.value and f.name == name:
                return f
        return None

    def user(self, user_id: str) -> CrmUserInfo | None:
        return next((u for u in self.users if u.id == str(user_id)), None)

    def identifier_fields_of(self, object_type: ObjectType | str) -> dict[str, str]:
        return dict(self.identifier_fields.get(ObjectType(object_type).value, {}))

    @property
    def capabilities(self) -> CrmSnapshot:
        """What validation reads as ``capabilities`` (``multiple_companies``, ``primary_company``)."""
        return self

    def age_seconds(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.fetched_at).total_seconds()

    # -- file form -------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CACHE_FORMAT,
            "version": CACHE_VERSION,
            "crm": self.crm,
            "fetched_at": self.fetched_at.astimezone(UTC).isoformat(),
            "multiple_companies": self.multiple_companies,
            "primary_company": self.primary_company,
            "companies_note": self.companies_note,
            "people_object": self.people_object,
            "identifier_fields": {k: dict(v) for k, v in self.identifier_fields.items()},
            "identifier_fields_guessed": self.identifier_fields_guessed,
            "fields": [
                {
                    "name": f.name,
                    "label": f.label,
                    "type": f.type,
                    "object": f.object,
                    "options": [[o.value, o.label] for o in f.options],
                    "read_only": f.read_only,
                    "description": f.description,
                }
                for f in self.fields
            ],
            "users": [
                {"id": u.id, "email": u.email, "first_name": u.first_name, "last_name": u.last_name, "active": u.active}
                for u in self.users
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CrmSnapshot:
        """Raises ``ValueError`` (or KeyError/TypeError) for anything but a document of this version."""
        if data.get("format") != CACHE_FORMAT or data.get("version") != CACHE_VERSION:
            raise ValueError("not a CRM cache of this version")
        fetched = datetime.fromisoformat(str(data["fetched_at"]))
        if fetched.tzinfo is None:
            fetched = fetched.replace(tzinfo=UTC)
        return cls(
            crm=str(data["crm"]),
            fields=tuple(
                CrmFieldInfo(
                    name=str(f["name"]),
                    label=str(f.get("label") or f["name"]),
                    type=str(f.get("type") or "text"),
                    object=ObjectType(f["object"]).value,
                    options=tuple(FieldOptionInfo(str(v), str(lbl)) for v, lbl in f.get("options") or ()),
                    read_only=bool(f.get("read_only")),
                    description=str(f.get("description") or ""),
                )
                for f in data.get("fields") or ()
            ),
            users=tuple(
                CrmUserInfo(
                    id=str(u["id"]),
                    email=str(u.get("email") or ""),
                    first_name=str(u.get("first_name") or ""),
                    last_name=str(u.get("last_name") or ""),
                    active=bool(u.get("active", True)),
                )
                for u in data.get("users") or ()
            ),
            multiple_companies=bool(data.get("multiple_companies", True)),
            primary_company=bool(data.get("primary_company", True)),
            companies_note=str(data.get("companies_note") or ""),
            people_object=str(data.get("people_object") or ""),
            identifier_fields={
                str(k): {str(r): str(n) for r, n in v.items()} for k, v in (data.get("identifier_fields") or {}).items()
            },
            identifier_fields_guessed=bool(data.get("identifier_fields_guessed")),
            fetched_at=fetched,
        )

    @classmethod
    def build(
        cls,
        crm: str,
        fields: Iterable[Any],
        users: Iterable[Any],
        *,
        capabilities: Capabilities | None = None,
        identifier_fields: Mapping[Any, Mapping[Any, str]] | None = None,
        fetched_at: datetime | None = None,
        people_object: str = "",
    ) -> CrmSnapshot:
        """From what an adapter returns. ``identifier_fields`` is what the adapter says per object; an object it
        says nothing about has its roles guessed from the field names (see :func:`guess_identifier_fields`)."""
        infos = tuple(CrmFieldInfo.of(f) for f in fields)
        roles: dict[str, dict[str, str]] = {}
        for obj, mapping in (identifier_fields or {}).items():
            parsed = ObjectType.parse(obj)
            if parsed is not None and mapping:
                roles[parsed.value] = {str(getattr(r, "value", r)): str(n) for r, n in mapping.items()}
        guessed = False
        guesses = guess_identifier_fields(infos)
        for obj in ObjectType:
            if obj.value not in roles:
                roles[obj.value] = guesses.get(obj.value, {})
                guessed = True
        return cls(
            crm=crm,
            fields=infos,
            users=tuple(CrmUserInfo.of(u) for u in users),
            multiple_companies=capabilities.multiple_companies if capabilities is not None else True,
            primary_company=capabilities.primary_company if capabilities is not None else True,
            companies_note=str(getattr(capabilities, "companies_note", "") or ""),
            people_object=people_object,
            identifier_fields=roles,
            identifier_fields_guessed=guessed,
            fetched_at=fetched_at or datetime.now(UTC),
        )


def guess_identifier_fields(fields: Iterable[CrmFieldInfo]) -> dict[str, dict[str, str]]:
    """Role -> CRM field name per object, by name similarity, for adapters that do not say which field plays
    which role. A role without a convincing field is left out (its preset condition then names the role)."""
    from .automap import best_match
    from .matching.rules import LOCAL_COMPANY_FIELDS, LOCAL_CONTACT_FIELDS, ROLE_LABELS

    fields = list(fields)
    result: dict[str, dict[str, str]] = {}
    for obj, roles in ((ObjectType.CONTACT, LOCAL_CONTACT_FIELDS), (ObjectType.COMPANY, LOCAL_COMPANY_FIELDS)):
        candidates = [f for f in fields if f.object == obj.value]
        found: dict[str, str] = {}
        for role in roles:
            label = ROLE_LABELS[role]
            match = best_match(role.value, label, candidates, threshold=0.85)
            if match is not None:
                found[role.value] = match.name
        result[obj.value] = found
    return result


class CrmSnapshotCache:
    """Snapshots per CRM in ``<data dir>/cache/crm-<key>.json``, written atomically."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = Path(data_dir) / "cache"

    def path(self, crm: str) -> Path:
        safe = "".join(ch for ch in crm if ch.isalnum() or ch in "-_") or "crm"
        return self.directory / f"crm-{safe}.json"

    def load(self, crm: str) -> CrmSnapshot | None:
        """The saved snapshot of ``crm``, or None when there is none or it cannot be read."""
        path = self.path(crm)
        try:
            data = json.loads(path.read_text("utf-8"))
            snapshot = CrmSnapshot.from_dict(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("Ignoring the CRM cache %s: %s", path.name, exc)
            return None
        return snapshot if snapshot.crm == crm else None

    def save(self, snapshot: CrmSnapshot) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(snapshot.crm)
        fd, tmp = tempfile.mkstemp(prefix=".crm-cache-", suffix=".json", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(snapshot.to_dict(), fh, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def clear(self, crm: str) -> None:
        self.path(crm).unlink(missing_ok=True)
