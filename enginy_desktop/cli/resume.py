"""Which command carries on which kind of run: a resume given a run of another kind names the right command."""

from __future__ import annotations

from typing import Any

from . import CliError

# kind -> (what the run is called, the command that carries it on, or "" when it cannot be carried on)
_KINDS = {
    "export": ("an export", "enginy-desktop resume {id}"),
    "ai": ("an AI column", "enginy-desktop resume {id}"),
    "import": ("a TheirStack import", "enginy-desktop resume {id}"),
    "enrichment": ("an enrichment", "enginy-desktop enrich --resume {id}"),
    "sync": ("a sync", ""),
}


def require_kind(ctx: Any, run_id: int, wanted: str) -> Any:
    """The run ``run_id`` when it is of kind ``wanted``; else a refusal naming what it is and how to carry it on
    ("Run 2 is an export run, not an AI column: carry it on with `enginy-desktop resume 2`.")."""
    info = ctx.runs.get(run_id)  # RunError ("There is no run number 9.") when there is none
    if info.kind == wanted:
        return info
    what, how = _KINDS.get(info.kind, (f"a {info.kind}", ""))
    wanted_what = _KINDS.get(wanted, (f"a {wanted}", ""))[0]
    if not how:
        then = "a sync writes nothing; sync the list again to refresh it."
    elif info.resumable:
        then = f"carry it on with `{how.format(id=run_id)}`."
    else:
        then = f"it is {info.state_label.lower()}, with nothing left to carry on."
    raise CliError(f"Run {run_id} is {what} run, not {wanted_what}: {then}")
