"""The links a sync stores (:class:`CrmLink`: outcome, CRM id, why it matched, candidates): loaded from earlier
syncs, decided (keeping the user's decisions that still apply), upserted with the run's journal in batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from enginy_desktop.core.matching.matcher import MatchResult, Outcome
from enginy_desktop.core.models import CrmLink, RunItem, utcnow
from enginy_desktop.core.runs import CancelToken, ProgressTracker

from .local import _aware

SAVE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class _Link:
    crm_id: str | None
    outcome: str
    candidates: tuple[str, ...]
    linked_at: datetime


def _load_links(store: Any, crm: str, object_: str, ids: Sequence[int]) -> dict[int, _Link]:
    out: dict[int, _Link] = {}
    with store.session() as s:
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            rows = s.execute(
                select(CrmLink.local_id, CrmLink.crm_id, CrmLink.outcome, CrmLink.candidates, CrmLink.linked_at)
                .where(CrmLink.crm == crm, CrmLink.object == object_, CrmLink.local_id.in_(chunk))
            )
            for local_id, crm_id, outcome, candidates, linked_at in rows:
                out[local_id] = _Link(crm_id, outcome, tuple(str(c) for c in candidates or ()),
                                      _aware(linked_at) or utcnow())
    return out


# -- matching and storing ------------------------------------------------------------------------------------------


OUTCOME_KEYS = ("matched", "new", "ambiguous", "unmatchable", "chosen", "create_new")


def _decide(result: MatchResult, previous: Mapping[int, _Link]) -> list[tuple[int, str, str | None, str, list[str]]]:
    """(local id, outcome, CRM id, why, candidates) per record, keeping the user's decisions that still apply."""
    out = []
    for rec in result:
        local_id = int(rec.local_id)  # type: ignore[call-overload]
        outcome = rec.outcome.value
        crm_id = str(rec.crm_id) if rec.crm_id is not None else None
        candidates = [str(c) for c in rec.candidates]
        why = rec.why
        before = previous.get(local_id)
        if rec.outcome is Outcome.AMBIGUOUS and before is not None:
            if before.outcome == "chosen" and before.crm_id in candidates:
                outcome, crm_id, why = "chosen", before.crm_id, _chosen_why(len(candidates))
            elif before.outcome == "create_new" and set(candidates) <= set(before.candidates):
                outcome, why = "create_new", CREATE_NEW_WHY
        if rec.outcome is Outcome.MATCHED and before is not None and before.outcome == "chosen" \
                and before.crm_id == crm_id:
            outcome, why = "chosen", _chosen_why(len(before.candidates))
        out.append((local_id, outcome, crm_id, why, candidates))
    return out


CREATE_NEW_WHY = "You chose to create a new record"


def _chosen_why(n: int) -> str:
    return f"Chosen by you among {n} matching records" if n > 1 else "Chosen by you"


@dataclass
class _Stored:
    """Links stored so far for one object (kept up to date batch by batch, so a cancel can say what was kept)."""

    stored: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_KEYS, 0))


def _store_links(
    ctx: Any, crm: str, object_: str, run_id: int, decided: Sequence[tuple[int, str, str | None, str, list[str]]],
    token: CancelToken, tracker: ProgressTracker, prefix: str, state: _Stored,
) -> _Stored:
    """Upsert links and journal them, a batch per transaction; stops between batches when cancelled."""
    for start in range(0, len(decided), SAVE_BATCH):
        token.raise_if_cancelled()
        batch = decided[start:start + SAVE_BATCH]
        now = utcnow()
        rows = [{"crm": crm, "object": object_, "local_id": lid, "crm_id": cid, "outcome": outcome, "why": why,
                 "candidates": cands, "linked_at": now} for lid, outcome, cid, why, cands in batch]
        stmt = sqlite_insert(CrmLink).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["crm", "object", "local_id"],
            set_={k: stmt.excluded[k] for k in ("crm_id", "outcome", "why", "candidates", "linked_at")},
        )
        items = [{"run_id": run_id, "object": object_, "local_id": lid, "action": outcome, "state": "done",
                  "crm_id": cid, "attempt": 1, "updated_at": now} for lid, outcome, cid, _, _ in batch]
        item_stmt = sqlite_insert(RunItem).values(items)
        item_stmt = item_stmt.on_conflict_do_update(
            index_elements=["run_id", "object", "local_id"],
            set_={k: item_stmt.excluded[k] for k in ("action", "state", "crm_id", "updated_at")},
        )
        delta = dict.fromkeys(OUTCOME_KEYS, 0)
        for _, outcome, _, _, _ in batch:
            delta[outcome] += 1
        with ctx.store.write() as s:
            s.execute(stmt)
            s.execute(item_stmt)
        state.stored += len(batch)
        for k, v in delta.items():
            state.counts[k] += v
        folded = _fold(delta)
        folded.pop("resolved")
        tracker.advance(len(batch), counters={f"{prefix}{k}": v for k, v in folded.items() if v})
        if run_id:
            ctx.runs.add_counters(run_id, {f"{prefix}{k}": v for k, v in _fold(delta).items() if v})
    return state


def _fold(counts: Mapping[str, int]) -> dict[str, int]:
    """The tiles' view of outcomes: matched (incl. records the user chose), new (incl. create-new decisions),
    ambiguous (still to decide), unmatchable; ``resolved`` counts the decisions."""
    return {
        "matched": counts.get("matched", 0) + counts.get("chosen", 0),
        "new": counts.get("new", 0) + counts.get("create_new", 0),
        "ambiguous": counts.get("ambiguous", 0),
        "unmatchable": counts.get("unmatchable", 0),
        "resolved": counts.get("chosen", 0) + counts.get("create_new", 0),
    }
