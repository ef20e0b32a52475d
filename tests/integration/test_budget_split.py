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


def test_a_sync_shows_its_budget_first_and_one_beyond_it_is_refused(ctx: Any, cli: Any) -> None:
    from enginy_desktop.core import sync

    with crm_world(ctx, "pipedrive", seed_persons=1200) as w:
        ctx.integrations.save_connection("pipedrive", {"daily_token_budget": "1000"})
        w.configure(w.basics())
        w.contacts("Leads", leads(30))
        # Pipedrive cannot say how many persons it holds before a first listing: a lower bound then (a page of
        # persons, and the person fields read first: 10 tokens each).
        first = asyncio.run(sync.estimate_sync(ctx, "Leads"))
        assert first is not None
        assert first.at_least
        assert first.line("Pipedrive").startswith("Pipedrive's daily budget: this sync needs at least 20 tokens;")
        assert "That counts 10 tokens spent planning it" in first.line("Pipedrive")
        code, out, err = cli("sync", "--list", "Leads")
        assert code == 0, err
        assert "Pipedrive's daily budget: this sync needs at least 20 tokens;" in out
        # A second sync re-checks the links of the first and lists what changed since: one page at least (Pipedrive
        # cannot count the changes beforehand).
        cached = asyncio.run(sync.estimate_sync(ctx, "Leads"))
        assert cached is not None
        assert cached.check.needed == 20
        assert cached.at_least
        assert cached.changes_unknown
        # Listing everything again: 1,200 persons are 3 pages of 500 at 10 tokens each, counted with the size the
        # first listing found (a guess, and said so: Pipedrive cannot say its size now).
        again = asyncio.run(sync.estimate_sync(ctx, "Leads", use_cache=False))
        assert again is not None
        assert not again.at_least
        assert again.check.needed == 40
        assert again.guessed is not None
        assert again.guessed[:2] == ("contacts", 1200)
        assert "a guess from the 1,200 contacts the last full listing found on" in again.line("Pipedrive")
        assert again.check.remaining is not None
        assert again.check.remaining < 1000  # the first sync's listing was spent
        code, out, err = cli("sync", "--list", "Leads", "--full", "--json")
        assert code == 0, err
        assert '"needed": 40' in out
        again = asyncio.run(sync.estimate_sync(ctx, "Leads", use_cache=False))
        assert again is not None
        assert again.check.remaining is not None

        spent = 1000 - again.check.remaining
        # 30 left: a full listing (40) is refused, having spent its planning (10); a sync with the links (20) fits.
        ctx.integrations.save_connection("pipedrive", {"daily_token_budget": str(spent + 30)})
        runs_before = len(ctx.runs.history(kind="sync"))
        code, out, err = cli("sync", "--list", "Leads", "--full")
        assert code == 1
        assert "This sync needs about 40 tokens of Pipedrive's daily budget, but only" in err
        assert "Nothing was read or stored" in err
        assert "a smaller list would cost the same" in err  # it lists every person, whatever the list's size
        assert len(ctx.runs.history(kind="sync")) == runs_before  # refused before any run
        code, out, err = cli("sync", "--list", "Leads")  # with the links kept: 20 tokens at least, it fits
        assert code == 0, err
        assert "this sync needs at least 20 tokens" in out
