"""A run that needs more of Pipedrive's daily token budget than is left: refused with the numbers, or split at the
user's choice — the first records that fit exported now (a whole run, journaled), the rest after the reset by
exporting the list again, when what was written is unchanged and costs no write. Against the Pipedrive emulator
with a small configured budget."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from enginy_desktop.adapters.pipedrive import TokenLedger
from enginy_desktop.core.export.plan import ExportRefused, plan_export
from tests.support.crm_world import crm_world


@pytest.fixture(autouse=True)
def _fresh_ledger() -> Any:
    TokenLedger.forget()
    yield
    TokenLedger.forget()


def leads(n: int) -> list[dict[str, Any]]:
    return [{"first_name": f"Lead{i}", "last_name": "Test", "email": f"lead{i}@acme.test"} for i in range(n)]


def test_an_export_beyond_the_budget_is_split_at_the_users_choice(ctx: Any, cli: Any) -> None:
    with crm_world(ctx, "pipedrive", daily_tokens=400) as w:
        ctx.integrations.save_connection("pipedrive", {"daily_token_budget": "400"})
        w.configure(w.basics())
        w.contacts("Big", leads(80))  # 80 persons to create at 5 tokens each: 400, more than is left
        with pytest.raises(ExportRefused) as refused:
            asyncio.run(plan_export(ctx, "Big"))
        split = refused.value.split
        assert refused.value.code == "budget"
        assert 0 < len(split) < 80
        assert refused.value.split_units <= 400 - 5  # what the plan read is already spent
        assert f"Split it: export the first {len(split)} of the 80 contacts now" in str(refused.value)
        assert w.crm_contacts() == []

        code, _out, err = cli("export", "--list", "Big", "--yes")
        assert code == 1
        assert "needs about 400 tokens" in err
        assert "Add --split to export the first part now." in err
        assert w.crm_contacts() == []

        code, out, err = cli("export", "--list", "Big", "--split", "--yes")
        assert code == 0, err
        first = len(w.crm_contacts())
        assert 0 < first < 80
        assert f"Split: the first {first} of 80 records fit in what is left of the daily budget" in out
        assert f"The other {80 - first} are left for after the reset" in out
        assert [r for r in w.sb.requests if r.status == 429] == []  # never cut off by Pipedrive half-way

        # After the reset (here: a larger budget), the same command writes only what is still missing.
        ctx.integrations.save_connection("pipedrive", {"daily_token_budget": "100000"})
        w.sb.set_limits({"daily_tokens": 100_000})
        code, out, err = cli("export", "--list", "Big", "--split", "--yes")
        assert code == 0, err
        assert "Split:" not in out
        assert sorted(c["email"] for c in w.crm_contacts()) == sorted(f"lead{i}@acme.test" for i in range(80))
        assert f"{first} unchanged" in out
