"""Exports to Pipedrive and its daily token budget: the preview says what a run needs and what is left; a run that
would exceed it is refused with the numbers before anything is written; one that runs out half-way stops with its
journal and resumes after the reset."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from enginy_desktop.adapters.pipedrive import TokenLedger
from enginy_desktop.core.export.plan import ExportRefused, plan_export
from enginy_desktop.core.export.run import execute, resume, start_export
from tests.support.crm_world import crm_world


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(autouse=True)
def _fresh_ledger() -> Any:
    TokenLedger.forget()
    yield
    TokenLedger.forget()


def leads(n: int) -> list[dict[str, Any]]:
    return [{"first_name": f"Lead{i}", "last_name": "Test", "email": f"lead{i}@acme.test"} for i in range(n)]


def test_the_preview_shows_the_tokens_a_run_needs_and_a_run_beyond_the_budget_is_refused(ctx: Any) -> None:
    with crm_world(ctx, "pipedrive", daily_tokens=300) as w:
        ctx.integrations.save_connection("pipedrive", {"daily_token_budget": "300"})
        w.configure(w.basics())
        w.contacts("Small", leads(10))
        w.contacts("Big", leads(80))
        plan = run(plan_export(ctx, "Small"))
        assert plan.budget is not None
        assert plan.budget.needed == 10 * 5  # ten persons created, 5 tokens each (x-token-cost)
        line = plan.summary_lines()[-1]
        assert line.startswith("Pipedrive's daily budget: this export needs about 50 tokens;")
        assert "of 300 are left today" in line
        with pytest.raises(ExportRefused) as refused:
            run(plan_export(ctx, "Big"))
        assert refused.value.code == "budget"
        assert "needs about 400 tokens" in str(refused.value)
        assert "Nothing was written" in str(refused.value)
        assert w.crm_contacts() == []


def test_a_budget_spent_by_others_stops_the_run_resumably(ctx: Any) -> None:
    with crm_world(ctx, "pipedrive", daily_tokens=10_000) as w:
        w.configure(w.basics())
        w.contacts("Leads", leads(30))
        plan = run(plan_export(ctx, "Leads"))
        run_id = start_export(ctx, plan)
        w.sb.set_limits({"tokens_left": 60})  # other apps spent the rest meanwhile: the app cannot know
        result = run(execute(ctx, run_id))
        assert result.state != "finished"
        done = len(w.crm_contacts())
        assert 0 < done < 30
        assert "daily API token budget" in (result.error or "")
        w.sb.set_limits({"tokens_left": 10_000})  # midnight UTC
        TokenLedger.forget()
        again = run(resume(ctx, result.run_id))
        assert again.state == "finished"
        emails = [c["email"] for c in w.crm_contacts()]
        assert sorted(emails) == sorted(f"lead{i}@acme.test" for i in range(30))


def test_what_earlier_commands_spent_today_counts_in_the_next_ones_budget(ctx: Any) -> None:
    with crm_world(ctx, "pipedrive", daily_tokens=1_000) as w:
        ctx.integrations.save_connection("pipedrive", {"daily_token_budget": "1000"})
        w.configure(w.basics())
        w.contacts("Leads", leads(20))
        w.contacts("More", leads(4))
        plan = run(plan_export(ctx, "Leads"))
        run_id = start_export(ctx, plan)
        assert run(execute(ctx, run_id)).state == "finished"
        TokenLedger.forget()  # the next command is another process: nothing of the first one in memory
        later = run(plan_export(ctx, "More"))
        assert later.budget is not None
        # 20 persons created at 5 tokens each (and the reads before them) were spent by the first command.
        assert later.budget.remaining is not None
        assert later.budget.remaining <= 1_000 - 20 * 5
