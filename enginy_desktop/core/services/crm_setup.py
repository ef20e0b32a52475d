"""What the CRM wizard reads from the CRM and from the workspace (Qt-free; async where it calls the CRM).

- :func:`load_snapshot`: the CRM's fields and users for the wizard, from the on-disk cache when it is recent,
  else fetched through the adapter (and cached); when the CRM cannot be reached, the cached copy with the reason.
- :func:`workspace_people`: the Enginy identities and users that Step 4 maps.
- :func:`risk_samples`: small samples of local and CRM records for Step 1's duplicate-risk hint. The check itself
  is :meth:`enginy_desktop.core.crm_wizard.WizardState.duplicate_risk` (pure, recomputed as the identifier
  changes without asking the CRM again).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from enginy_desktop.adapters.base import AdapterError, CrmObject
from enginy_desktop.core import catalog
from enginy_desktop.core.crm_cache import CrmSnapshot, CrmSnapshotCache
from enginy_desktop.core.crm_config import ObjectType
from enginy_desktop.core.models.workspace import Company, Contact
from enginy_desktop.core.redact import redact
from enginy_desktop.core.secrets import SecretsError
from enginy_desktop.core.services.crm import open_crm
from enginy_desktop.core.services.integrations import IntegrationError
from enginy_desktop.core.services.workspace import WorkspaceService

__all__ = [
    "SNAPSHOT_MAX_AGE",
    "People",
    "RiskSample",
    "SnapshotResult",
    "cached_snapshot",
    "fetch_snapshot",
    "load_snapshot",
    "risk_samples",
    "workspace_people",
]

log = logging.getLogger(__name__)

SNAPSHOT_MAX_AGE = 12 * 3600.0  # seconds a cached snapshot is used without asking the CRM again
RISK_SAMPLE = 500  # records per side for the duplicate-risk hint

# What the CRM can say when it cannot be read; anything else is a bug and propagates.
READ_ERRORS = (AdapterError, IntegrationError, SecretsError)


@dataclass(frozen=True)
class SnapshotResult:
    """The snapshot to work with. ``fetched``: it was read from the CRM just now. ``error``: why the CRM could
    not be read (the snapshot is then the cached copy, or None when there is none)."""

    snapshot: CrmSnapshot | None
    fetched: bool = False
    error: str = ""

    @property
    def offline(self) -> bool:
        return bool(self.error)


def cached_snapshot(ctx: Any, key: str) -> CrmSnapshot | None:
    return CrmSnapshotCache(ctx.data_dir).load(key)


async def fetch_snapshot(ctx: Any, key: str, transport: Any = None) -> CrmSnapshot:
    """Read fields (contacts and companies) and users from the CRM ``key`` and cache them."""
    async with open_crm(ctx, key, transport) as adapter:
        fields = [*await adapter.fields(CrmObject.CONTACTS), *await adapter.fields(CrmObject.COMPANIES)]
        users = await adapter.users()
        capabilities = adapter.capabilities
        # Which fields play the Step 1 roles (first name, domain…), as the adapter says; guessed by name for
        # an object it says nothing about.
        roles_of = getattr(adapter, "identifier_fields", None)
        said: dict[str, dict[str, str]] = {}
        if callable(roles_of):
            for obj in (CrmObject.CONTACTS, CrmObject.COMPANIES):
                answer = roles_of(obj)
                if hasattr(answer, "__await__"):
                    answer = await answer
                if answer:
                    said[obj.singular] = {str(getattr(r, "value", r)): str(n) for r, n in dict(answer).items()}
    snapshot = CrmSnapshot.build(key, fields, users, capabilities=capabilities, identifier_fields=said)
    try:
        CrmSnapshotCache(ctx.data_dir).save(snapshot)
    except OSError as exc:  # a cache that cannot be written only costs a fetch next time
        log.warning("Could not save the %s fields cache: %s", key, exc)
    return snapshot


async def load_snapshot(
    ctx: Any, key: str, *, refresh: bool = False, max_age: float = SNAPSHOT_MAX_AGE, transport: Any = None
) -> SnapshotResult:
    """The CRM's fields and users: the cached copy when younger than ``max_age`` (unless ``refresh``), else
    fetched; on failure the cached copy (any age) with the reason."""
    cached = cached_snapshot(ctx, key)
    if cached is not None and not refresh and cached.age_seconds() < max_age:
        return SnapshotResult(cached)
    try:
        return SnapshotResult(await fetch_snapshot(ctx, key, transport), fetched=True)
    except READ_ERRORS as exc:
        name = catalog.get(key).name
        reason = redact(str(exc)) or type(exc).__name__
        log.info("Could not read the %s fields: %s", name, reason)
        return SnapshotResult(cached, error=reason)


@dataclass(frozen=True)
class People:
    """Step 4's left-hand side: id -> display name, in display order; and the users' emails (for suggestions)."""

    identities: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    user_emails: dict[str, str] = field(default_factory=dict)
    identity_details: dict[str, str] = field(default_factory=dict)  # "LinkedIn profile · https://…"
    identity_emails: dict[str, str] = field(default_factory=dict)  # the address of email senders


_IDENTITY_KINDS = {"linkedin": "LinkedIn profile", "email": "Email sender"}


def workspace_people(ctx: Any) -> People:
    service = WorkspaceService(ctx.store)
    identities, details, addresses = {}, {}, {}
    for i in service.identities():
        identities[str(i.id)] = i.name
        details[str(i.id)] = f"{_IDENTITY_KINDS.get(i.kind, i.kind)} · {i.address}"
        if i.kind == "email":
            addresses[str(i.id)] = i.address
    users, emails = {}, {}
    for u in service.users():
        users[str(u.id)] = u.name
        emails[str(u.id)] = u.email
    return People(identities, users, emails, details, addresses)


@dataclass(frozen=True)
class RiskSample:
    """Local and CRM records of one object, holding the fields a duplicate-risk check compares."""

    object_type: ObjectType
    local: dict[Any, dict[str, Any]]
    crm: dict[str, Any]
    local_fields: tuple[str, ...]
    crm_fields: tuple[str, ...]
    local_total: int = 0  # records of that kind in the workspace
    crm_partial: bool = False  # the CRM has more records than the sample holds
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def covers(self, local_fields: Iterable[str], crm_fields: Iterable[str]) -> bool:
        return set(local_fields) <= set(self.local_fields) and set(crm_fields) <= set(self.crm_fields)


_TABLES = {ObjectType.CONTACT: Contact, ObjectType.COMPANY: Company}


def local_sample(store: Any, object_type: ObjectType, fields: Sequence[str], limit: int = RISK_SAMPLE) -> tuple[
    dict[Any, dict[str, Any]], int
]:
    """Up to ``limit`` local records (the most recent) with ``fields``, and how many there are in all."""
    table = _TABLES[object_type]
    columns = [getattr(table, f) for f in fields if hasattr(table, f)]
    names = [c.key for c in columns]
    with store.session() as s:
        total = int(s.scalar(select(func.count()).select_from(table)) or 0)
        rows = s.execute(select(table.id, *columns).order_by(table.id.desc()).limit(limit)).all()
    return {row[0]: dict(zip(names, row[1:], strict=True)) for row in rows}, total


async def crm_sample(adapter: Any, object_type: ObjectType, fields: Sequence[str], limit: int = RISK_SAMPLE) -> tuple[
    dict[str, Any], bool
]:
    """Up to ``limit`` CRM records with ``fields`` (the first pages of a listing); and whether there are more."""
    records: dict[str, Any] = {}
    obj = CrmObject.CONTACTS if object_type is ObjectType.CONTACT else CrmObject.COMPANIES
    pages = adapter.scan(obj, list(fields))
    try:
        async for page in pages:
            for rec in page:
                records[str(rec.id)] = rec
            if len(records) >= limit:  # whole pages come back: keep the first ``limit``
                return dict(list(records.items())[:limit]), True
    finally:
        await pages.aclose()
    return records, False


async def risk_samples(
    ctx: Any,
    key: str,
    wanted: Mapping[ObjectType, tuple[Sequence[str], Sequence[str]]],
    *,
    limit: int = RISK_SAMPLE,
    transport: Any = None,
) -> dict[ObjectType, RiskSample]:
    """For each object of ``wanted`` (object -> (local fields, CRM fields)), a sample of both sides.

    Objects with no local record are sampled on the local side only (the CRM is not asked for nothing).
    Raises what the adapter raises when the CRM cannot be read.
    """
    samples: dict[ObjectType, RiskSample] = {}
    locals_: dict[ObjectType, tuple[dict[Any, dict[str, Any]], int]] = {
        obj: local_sample(ctx.store, obj, local_fields, limit) for obj, (local_fields, _) in wanted.items()
    }
    need_crm = [obj for obj in wanted if locals_[obj][1] > 0]
    crm: dict[ObjectType, tuple[dict[str, Any], bool]] = {}
    if need_crm:
        async with open_crm(ctx, key, transport) as adapter:
            for obj in need_crm:
                crm[obj] = await crm_sample(adapter, obj, wanted[obj][1], limit)
    for obj, (local_fields, crm_fields) in wanted.items():
        local, total = locals_[obj]
        records, partial = crm.get(obj, ({}, False))
        samples[obj] = RiskSample(obj, local, records, tuple(local_fields), tuple(crm_fields), total, partial)
    return samples
