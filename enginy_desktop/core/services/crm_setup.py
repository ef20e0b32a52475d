"""What the CRM wizard reads from the CRM and from the workspace (Qt-free; async where it calls the CRM).

- :func:`load_snapshot`: the CRM's fields and users for the wizard, from the on-disk cache when it is recent,
  else fetched through the adapter (and cached); when the CRM cannot be reached, the cached copy with the reason.
- :func:`workspace_people`: the Enginy identities and users that Step 4 maps.
- :func:`risk_lists`: the lists Step 1's duplicate-risk check can run on; the check itself is
  :func:`enginy_desktop.core.sync.check_duplicate_risk` (it reads the CRM side as a sync does).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from enginy_desktop.adapters.base import AdapterError, CrmObject, error_detail
from enginy_desktop.core import catalog
from enginy_desktop.core.crm_cache import CrmSnapshot, CrmSnapshotCache
from enginy_desktop.core.crm_config import ObjectType
from enginy_desktop.core.redact import redact
from enginy_desktop.core.secrets import SecretsError
from enginy_desktop.core.services.crm import open_crm
from enginy_desktop.core.services.integrations import IntegrationError
from enginy_desktop.core.services.workspace import WorkspaceService

__all__ = [
    "SNAPSHOT_MAX_AGE",
    "People",
    "RiskList",
    "SnapshotResult",
    "cached_snapshot",
    "fetch_snapshot",
    "load_snapshot",
    "people_object",
    "risk_lists",
    "workspace_people",
]

log = logging.getLogger(__name__)

SNAPSHOT_MAX_AGE = 12 * 3600.0  # seconds a cached snapshot is used without asking the CRM again

# What the CRM can say when it cannot be read; anything else is a bug and propagates.
READ_ERRORS = (AdapterError, IntegrationError, SecretsError)


@dataclass(frozen=True)
class SnapshotResult:
    """The snapshot to work with. ``fetched``: it was read from the CRM just now. ``error``: why the CRM could
    not be read (the snapshot is then the cached copy, or None when there is none); ``detail``: its technical
    part, for "Details"."""

    snapshot: CrmSnapshot | None
    fetched: bool = False
    error: str = ""
    detail: str = ""

    @property
    def offline(self) -> bool:
        return bool(self.error)


def cached_snapshot(ctx: Any, key: str) -> CrmSnapshot | None:
    return CrmSnapshotCache(ctx.data_dir).load(key)


def people_object(ctx: Any, key: str) -> str:
    """Where people go in CRM ``key`` as its saved configuration says ("" for its default, or a CRM without a
    choice)."""
    from enginy_desktop.core.crm_config import CrmConfigFileError

    if not catalog.get(key).people_objects:
        return ""
    try:
        chosen: str = ctx.crm_configs.load(key).people_object
    except CrmConfigFileError:
        return ""
    return chosen


async def fetch_snapshot(ctx: Any, key: str, *, people: str | None = None) -> CrmSnapshot:
    """Read fields (contacts and companies) and users from the CRM ``key`` and cache them; ``people``: the object
    people go in (default: the saved configuration's)."""
    chosen = people_object(ctx, key) if people is None else people
    async with open_crm(ctx, key, people_object=chosen if catalog.get(key).people_objects else None) as adapter:
        fields = [*await adapter.fields(CrmObject.CONTACTS), *await adapter.fields(CrmObject.COMPANIES)]
        users = await adapter.users()
        capabilities = adapter.capabilities
        # Which fields play the Step 1 roles (first name, domain…), as the adapter says; guessed by name for
        # an object it says nothing about.
        said: dict[str, dict[str, str]] = {}
        for obj in (CrmObject.CONTACTS, CrmObject.COMPANIES):
            answer = adapter.identifier_fields(obj)
            if answer:
                said[obj.singular] = {str(r): str(n) for r, n in answer.items()}
    snapshot = CrmSnapshot.build(key, fields, users, capabilities=capabilities, identifier_fields=said,
                                 people_object=chosen)
    try:
        CrmSnapshotCache(ctx.data_dir).save(snapshot)
    except OSError as exc:  # a cache that cannot be written only costs a fetch next time
        log.warning("Could not save the %s fields cache: %s", key, exc)
    return snapshot


async def load_snapshot(
    ctx: Any, key: str, *, refresh: bool = False, max_age: float = SNAPSHOT_MAX_AGE, people: str | None = None
) -> SnapshotResult:
    """The CRM's fields and users: the cached copy when younger than ``max_age`` (unless ``refresh``, or it was
    read for another people object than ``people``), else fetched; on failure the cached copy (any age) with the
    reason."""
    chosen = people_object(ctx, key) if people is None else people
    cached = cached_snapshot(ctx, key)
    if cached is not None and not refresh and cached.age_seconds() < max_age and cached.people_object == chosen:
        return SnapshotResult(cached)
    try:
        return SnapshotResult(await fetch_snapshot(ctx, key, people=chosen), fetched=True)
    except READ_ERRORS as exc:
        name = catalog.get(key).name
        reason = redact(str(exc)) or type(exc).__name__
        detail = error_detail(exc)
        log.info("Could not read the %s fields: %s [%s]", name, reason, detail)
        return SnapshotResult(cached, error=reason, detail=detail)


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


@dataclass(frozen=True, slots=True)
class RiskList:
    """A list the duplicate-risk check can run on."""

    id: int
    name: str
    kind: str  # "contacts" or "companies"
    count: int

    @property
    def label(self) -> str:
        noun = self.kind if self.count != 1 else self.kind.removesuffix("s").replace("companie", "company")
        return f"{self.name} ({self.count:,} {noun})"


def risk_lists(ctx: Any, object_type: ObjectType) -> list[RiskList]:
    """Lists whose records the identifier of ``object_type`` compares, largest first: contact lists for the
    Contact Identifier; company lists, then contact lists (their contacts' companies) for the Company one."""
    service = WorkspaceService(ctx.store)
    kinds = ["contact"] if object_type is ObjectType.CONTACT else ["company", "contact"]
    found = []
    for i, kind in enumerate(kinds):
        lists = [RiskList(x.id, x.name, x.kind.list_kind, x.count) for x in service.lists(kind) if x.count]
        found += [(i, -x.count, x.name.casefold(), x) for x in lists]
    return [x for *_, x in sorted(found, key=lambda t: t[:3])]
