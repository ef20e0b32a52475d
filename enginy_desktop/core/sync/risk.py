"""The duplicate-risk check of an identifier on a list's data: the CRM side read as a sync reads it, nothing
stored."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from enginy_desktop.core.matching.matcher import Columns, DuplicateRisk, duplicate_risk
from enginy_desktop.core.matching.rules import Rule
from enginy_desktop.core.runs import CancelToken, ProgressCallback, ProgressTracker
from enginy_desktop.core.services import crm as crm_service

from .local import _find_list, _load_local, identifier_rules
from .read import read_crm_side
from .results import CRM_OBJECTS, OBJECT_LABELS, SyncError


@dataclass(frozen=True, slots=True)
class RiskReport:
    """The duplicate-risk check of one identifier on a list's data."""

    object: str
    rule: str
    risk: DuplicateRisk
    suggestion: str  # the tighter identifier, in the product's words ("" when there is none)
    api_calls: int
    strategy: str

    @property
    def message(self) -> str:
        if not self.risk.risky:
            plural = OBJECT_LABELS[self.object][1]
            return f"No duplicate risk found: every one of these {plural} either matches one CRM record or is new."
        return self.risk.message

    def as_json(self) -> dict[str, Any]:
        cur = self.risk.current
        return {
            "object": self.object,
            "identifier": self.rule,
            "total": cur.total,
            "ambiguous": cur.ambiguous,
            "unmatchable": cur.unmatchable,
            "created_again": self.risk.rescued,
            "at_risk": self.risk.at_risk,
            "suggestion": self.suggestion,
            "message": self.message,
            "api_calls": self.api_calls,
        }


# -- duplicate risk --------------------------------------------------------------------------------------------------


def _suggestion_text(object_: str, risk: DuplicateRisk) -> str:
    if risk.suggested_rule is None:
        return ""
    if object_ == "contact":
        return "LinkedIn profile URL OR First name + Last name + Company name"
    return "Include any domain extension"


async def check_duplicate_risk(
    ctx: Any,
    list_ref: str | int,
    *,
    object: str = "contact",
    rule: Rule | None = None,
    crm: str | None = None,
    token: CancelToken | None = None,
    progress: ProgressCallback | None = None,
    use_cache: bool = True,
) -> RiskReport:
    """How many of the list's records the identifier (``rule``, default: the saved one) would leave ambiguous or
    unmatchable, or create again although the tighter identifier of the troubleshooting table finds them.

    The CRM side is read as a sync reads it (for the identifier and the suggested one together), re-using the
    links of earlier syncs when it can. Nothing is stored."""
    from enginy_desktop.core.matching.matcher import _suggest

    token = token or CancelToken()
    key = crm or crm_service.active_crm_key(ctx)
    crm_service.require_connected(ctx, key)
    list_id, _, list_kind = _find_list(ctx, list_ref)
    if list_kind == "companies" and object == "contact":
        raise SyncError("This is a list of companies: check the Company Identifier instead.")
    crm_object = CRM_OBJECTS[object]
    tracker = ProgressTracker(progress)
    async with crm_service.open_crm(ctx, key) as adapter:
        rule = rule or identifier_rules(ctx, key, adapter)[object]
        role_fields = adapter.identifier_fields(crm_object)
        suggested = _suggest(rule, object, role_fields)
        combined = rule if suggested is None else Rule(
            tuple(dict.fromkeys((*rule.groups, *suggested.groups))), suggested.include_any_extension)
        fields = list(dict.fromkeys((*rule.local_fields, *combined.local_fields)))
        local = await asyncio.to_thread(_load_local, ctx.store, list_id, object, fields,
                                        object == "company" and list_kind == "contacts")
        side = await read_crm_side(ctx, adapter, key, object, combined, local, token, tracker,
                                    use_cache=use_cache and suggested is None)
        tracker.phase("Checking the identifier", len(local.ids))
        risk = await asyncio.to_thread(duplicate_risk, rule, Columns(local.ids, local.columns),
                                       cast(Mapping[Hashable, Any], side.records),
                                       object_type=object, crm_fields=role_fields)
    return RiskReport(object, rule.display, risk, _suggestion_text(object, risk), side.calls, side.strategy)
