"""What earlier syncs leave for the next: the links the same identifier made (journaled, the record unchanged
since), which spare a search, and the CRM's size from the last full listing, which the budget estimate counts
with when the CRM cannot say it."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from enginy_desktop.adapters.base import CrmAdapter
from enginy_desktop.core.matching.rules import Rule
from enginy_desktop.core.models import RunItem
from enginy_desktop.core.runs import RunInfo

from .links import _load_links
from .local import LocalColumns

log = logging.getLogger(__name__)

CHANGE_MARGIN = timedelta(minutes=10)  # search indexes lag behind writes, clocks differ: look back further
CHAIN_RUNS = 20  # how many earlier syncs with the same identifier may provide cached links


def rule_signature(rule: Rule) -> str:
    text_ = json.dumps(rule.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text_.encode()).hexdigest()[:16]


def _cache_supported(adapter: CrmAdapter) -> bool:
    return type(adapter).changed_since is not CrmAdapter.changed_since


def _cached_positions(
    ctx: Any, crm: str, object_: str, rule: Rule, local: LocalColumns, comparable: list[int], exclude_run: int | None,
) -> tuple[set[int], list[str], datetime | None]:
    """Positions of local records whose link the same identifier made in an earlier sync (journaled there, the
    record unchanged since), the CRM ids those links name, and the moment to list CRM changes from."""
    signature = rule_signature(rule)
    chain: list[RunInfo] = []
    for run in ctx.runs.history(kind="sync", crm=crm, limit=200):
        if run.id == exclude_run or run.started_at is None:
            continue
        sig = (run.options.get("signatures") or {}).get(object_)
        if sig is None:
            continue
        if sig != signature:
            break  # links written after this run may come from another identifier: stop here
        chain.append(run)
        if len(chain) >= CHAIN_RUNS:
            break
    if not chain:
        return set(), [], None
    position = {lid: p for p, lid in enumerate(local.ids)}
    wanted = {local.ids[p] for p in comparable}
    reference: dict[int, datetime] = {}  # local id -> start of the newest sync that matched it
    with ctx.store.session() as s:
        for run in chain:  # newest first
            rows = s.execute(select(RunItem.local_id).where(
                RunItem.run_id == run.id, RunItem.object == object_, RunItem.state == "done"))
            assert run.started_at is not None
            for (local_id,) in rows:
                if local_id in wanted and local_id not in reference:
                    reference[local_id] = run.started_at
    if not reference:
        return set(), [], None
    links = _load_links(ctx.store, crm, object_, list(reference))
    cached: set[int] = set()
    ids: dict[str, None] = {}
    oldest: datetime | None = None
    for local_id, started in reference.items():
        link = links.get(local_id)
        pos = position[local_id]
        changed = local.updated[pos]
        if link is None or link.linked_at < started or (changed is not None and changed >= started):
            continue
        cached.add(pos)
        if link.crm_id:
            ids[link.crm_id] = None
        ids.update(dict.fromkeys(link.candidates))
        oldest = started if oldest is None or started < oldest else oldest
    if oldest is None:
        return set(), [], None
    return cached, list(ids), oldest - CHANGE_MARGIN


# -- the CRM's size, remembered ------------------------------------------------------------------------------------


def _size_key(crm: str, object_: str) -> str:
    return f"sync:crm-size:{crm}:{object_}"


def _remember_size(ctx: Any, crm: str, object_: str, n: int) -> None:
    """How many records the last full listing of the CRM found, and when: what the next sync's budget estimate
    counts with when the CRM cannot say its size (Pipedrive)."""
    try:
        ctx.store.set_meta(_size_key(crm, object_), f"{n} {datetime.now(UTC).isoformat(timespec='minutes')}")
    except Exception as exc:  # a read-only or full store: the estimate is only less precise
        log.warning("Could not keep the size of %s %s: %s", crm, object_, exc)


def _known_size(ctx: Any, crm: str, object_: str) -> tuple[int, datetime | None] | None:
    """(records, when) the last full listing found, or None before any."""
    raw = (ctx.store.meta(_size_key(crm, object_)) or "").split()
    if not raw or not raw[0].isdigit():
        return None
    try:
        when = datetime.fromisoformat(raw[1]) if len(raw) > 1 else None
    except ValueError:
        when = None
    return int(raw[0]), when
