"""The export dialog on Pipedrive when the daily token budget left is not enough for the whole list: the refusal
gives the numbers and offers to export the first records that fit now; the preview is then of those records."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from enginy_desktop.adapters.pipedrive import TokenLedger
from enginy_desktop.views.export_dialog import ExportDialog
from tests.support.crm_world import crm_world
from tests.ui import workspace_helpers
from tests.ui.workspace_helpers import settle


@pytest.fixture
def aloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    yield from workspace_helpers.aloop.__wrapped__(qapp)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _quiet_collector() -> Iterator[None]:
    TokenLedger.forget()
    gc.collect()
    gc.disable()
    yield
    gc.enable()
    gc.collect()
    TokenLedger.forget()


def test_the_export_dialog_offers_the_first_records_that_fit(qtbot: Any, aloop: Any, ctx: Any,
                                                              tmp_path: Path) -> None:
    from enginy_desktop.core.services.workspace import WorkspaceService

    with crm_world(ctx, "pipedrive", daily_tokens=400) as w:
        ctx.integrations.save_connection("pipedrive", {"daily_token_budget": "400"})
        w.configure(w.basics())
        w.contacts("Big", [{"first_name": f"Lead{i}", "last_name": "Test", "email": f"lead{i}@acme.test"}
                           for i in range(80)])
        dialog = ExportDialog(ctx, WorkspaceService(ctx.store).get_list("Big").id)
        qtbot.addWidget(dialog)
        dialog.resize(900, 640)
        dialog.show()
        settle(aloop, dialog)
        assert aloop.run_until_complete(dialog.make_plan()) is None
        assert dialog.stage() == "options"
        text = dialog.refusal_text.text()
        assert "needs about 400 tokens of Pipedrive's daily budget" in text
        assert "Nothing was written" in text
        label = dialog.fix_button.text()
        assert dialog.fix_button.isVisible()
        assert label.startswith("Export the first ")
        assert label.endswith(" now")
        n = int(label.removeprefix("Export the first ").removesuffix(" now").replace(",", ""))
        assert 0 < n < 80
        dialog.grab().save(str(tmp_path / "budget-refusal.png"))
        dialog.fix()
        settle(aloop, dialog)
        assert dialog.stage() == "preview"
        assert dialog.plan is not None
        assert sum(1 for r in dialog.plan.records if r.object == "contact") == n
        assert dialog.plan.budget is not None
        assert dialog.plan.budget.needed <= 400
        dialog.grab().save(str(tmp_path / "budget-preview.png"))
        assert w.crm_contacts() == []  # nothing written before Export
        dialog.close()


def test_the_sync_dialog_shows_the_budget_first_and_refuses_a_sync_beyond_it(qtbot: Any, aloop: Any, ctx: Any,
                                                                             tmp_path: Path) -> None:
    from enginy_desktop.core.services.workspace import WorkspaceService
    from enginy_desktop.views.sync_dialog import SyncDialog

    with crm_world(ctx, "pipedrive", seed_persons=1200) as w:
        ctx.integrations.save_connection("pipedrive", {"daily_token_budget": "1000"})
        w.configure(w.basics())
        w.contacts("Leads", [{"first_name": f"Lead{i}", "last_name": "Test", "email": f"lead{i}@acme.test"}
                             for i in range(30)])
        dialog = SyncDialog(ctx, WorkspaceService(ctx.store).get_list("Leads").id)
        qtbot.addWidget(dialog)
        dialog.show()
        budget = aloop.run_until_complete(dialog.check_budget())
        assert budget is not None
        assert dialog.budget_line.isVisible()
        assert dialog.budget_line.text().startswith("Pipedrive's daily budget: this sync needs at least 20 tokens;")
        assert "counts 10 tokens spent planning it" in dialog.budget_line.text()
        assert dialog.start_button.isEnabled()
        dialog.grab().save(str(tmp_path / "sync-budget.png"))

        ctx.integrations.save_connection("pipedrive", {"daily_token_budget": "5"})
        refused = aloop.run_until_complete(dialog.check_budget())
        assert refused is not None
        assert not refused.check.fits
        assert dialog.refusal.isVisible()
        assert "This sync needs at least 20 tokens of Pipedrive's daily budget, but only" in dialog.refusal.text()
        assert not dialog.start_button.isEnabled()
        dialog.grab().save(str(tmp_path / "sync-refused.png"))
        assert aloop.run_until_complete(dialog.run_sync()) is None  # refused there too, nothing started
        assert ctx.runs.history(kind="sync") == []
        settle(aloop, dialog)
        dialog.close()
