"""The line a command prints after it changed a list: what to run next (as the window's next-step bar offers).

After an import or an enrichment: sync (which records the CRM already holds) or export; after a sync: export; and
when the CRM is not enabled, connected or configured yet, the command that comes first.
"""

from __future__ import annotations

import shlex
from typing import Any

from . import Runtime


def next_step(ctx: Any, list_name: str, *, synced: bool = False) -> str:
    """"Next: enginy-desktop export --list 'Q3 leads' …" for list ``list_name`` (after a sync when ``synced``)."""
    name = shlex.quote(list_name)
    crm = ctx.integrations.active_crm()
    if crm is None:
        return ("Next: connect and enable your CRM (enginy-desktop connect KEY …, then enginy-desktop integrations "
                "enable KEY; 'enginy-desktop integrations list' names them), then sync or export this list.")
    if not ctx.integrations.get(crm.key).connected:
        return f"Next: connect {crm.name} (enginy-desktop connect {crm.key} …), then sync or export this list."
    if not ctx.crm_configs.has_saved(crm.key):
        return (f"Next: enginy-desktop crm-config init (a starting {crm.name} configuration from its fields), then "
                f"enginy-desktop export --list {name}.")
    if synced:
        return f"Next: enginy-desktop export --list {name} (the plan first, then it asks before writing)."
    return (f"Next: enginy-desktop export --list {name} (the plan first, then it asks before writing), or first "
            f"enginy-desktop sync --list {name} to see which records {crm.name} already holds (writes nothing).")


def print_next_step(rt: Runtime, ctx: Any, list_name: str, *, synced: bool = False) -> None:
    rt.print(next_step(ctx, list_name, synced=synced))
