"""The Slack summary of a finished or failed export run (DESIGN §6: "posts a summary to Slack when Slack is
enabled"). A Slack failure never fails the run: it is logged and kept on the run as a warning
(``options["slack"]``), which the report shows."""

from __future__ import annotations

import logging
from typing import Any

from enginy_desktop.adapters.base import AdapterError
from enginy_desktop.adapters.slack import SlackMessage, escape

log = logging.getLogger(__name__)

__all__ = ["post_run_summary", "summary_message"]

_STATE_WORDS = {
    "finished": (":white_check_mark:", "finished"),
    "failed": (":x:", "failed"),
    "cancelled": (":no_entry_sign:", "was cancelled"),
    "interrupted": (":warning:", "was interrupted"),
}


def summary_message(info: Any, failures: list[tuple[str, int]] | None = None) -> SlackMessage:
    """The Block Kit message for run ``info`` (a ``RunInfo``): state, list, counts, top failure causes."""
    c = info.counters
    icon, verb = _STATE_WORDS.get(info.state, (":information_source:", info.state))
    crm = str(info.options.get("crm_name") or info.crm or "the CRM")
    title = f"Export of “{info.list_name}” to {crm} {verb}"
    counts = [
        ("Created", int(c.get("created", 0)) + int(c.get("existed", 0))),
        ("Updated", int(c.get("updated", 0))),
        ("Unchanged", int(c.get("unchanged", 0))),
        ("Failed", int(c.get("failed", 0))),
        ("Blocked", int(c.get("blocked", 0))),
    ]
    line = " · ".join(f"{name}: {n:,}" for name, n in counts if n or name in ("Created", "Updated", "Failed"))
    extras = []
    for key, word in (("associations_done", "company associations"), ("removals_done", "associations removed"),
                      ("activities_done", "activities logged")):
        if c.get(key):
            extras.append(f"{int(c[key]):,} {word}")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} *{escape(title)}*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(line)}},
    ]
    if extras:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(", ".join(extras))}]})
    if info.error:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Why:* {escape(info.error[:2500])}"}})
    if failures:
        text = "\n".join(f"• {n:,} × {escape(reason[:200])}" for reason, n in failures[:5])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Failures by cause*\n{text}"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn",
                                                    "text": f"Run {info.id} · Enginy Desktop · details in Runs"}]})
    return SlackMessage(f"{title}. {line}.", tuple(blocks))


async def post_run_summary(ctx: Any, run_id: int) -> bool:
    """Post run ``run_id``'s summary when Slack is enabled and connected; True when posted. Never raises for a
    Slack problem: it is logged and recorded on the run as a warning."""
    try:
        slack = ctx.integrations.get("slack")
    except Exception:  # an unknown key in an old catalog: nothing to do
        return False
    if not (slack.enabled and slack.connected):
        return False
    from .report import failure_groups

    info = ctx.runs.get(run_id)
    message = summary_message(info, [(g.reason, g.count) for g in failure_groups(ctx, run_id)])
    try:
        adapter = ctx.adapters.slack()
        try:
            await adapter.post(message)
        finally:
            await adapter.aclose()
    except AdapterError as exc:
        warning = f"The Slack summary could not be posted: {exc}"
        log.warning("Export run %s: %s", run_id, warning)
        ctx.runs.update_options(run_id, {"slack": {"posted": False, "warning": warning}})
        return False
    except Exception as exc:  # a Slack problem must never fail the run
        log.exception("Export run %s: posting the Slack summary failed", run_id)
        ctx.runs.update_options(run_id, {"slack": {"posted": False, "warning": f"Slack summary failed: {exc}"}})
        return False
    ctx.runs.update_options(run_id, {"slack": {"posted": True}})
    return True
