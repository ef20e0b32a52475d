"""The AI column and TheirStack import dialogs, on the Lists page, against the emulators in-process.

Coroutines are called directly (``aloop.run_until_complete``); nothing waits inside a task."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QTableWidget, QWidget

from enginy_desktop.core.ai.columns import AiColumnService
from enginy_desktop.core.models import Company, Contact
from enginy_desktop.core.services.adapters import AdapterFactory
from enginy_desktop.sandbox.sources.theirstack import SANDBOX_KEY as TS_KEY
from enginy_desktop.sandbox.sources.theirstack import TheirStackSandbox, TheirStackSandboxConfig
from enginy_desktop.views.ai_column_dialog import AiColumnDialog, ai_run_detail
from enginy_desktop.views.theirstack_dialog import TheirStackDialog, import_run_detail
from tests.support.ai_world import contacts_list, custom_values, openai_sandbox
from tests.ui import workspace_helpers

SHOTS = os.environ.get("ENGINY_SCREENSHOTS")  # a folder: the dialogs are saved there as PNG


@pytest.fixture
def aloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    yield from workspace_helpers.aloop.__wrapped__(qapp)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _collect_garbage_here() -> Iterator[None]:
    gc.collect()
    gc.disable()
    yield
    gc.enable()
    gc.collect()


def shot(widget: Any, name: str) -> None:
    if SHOTS:
        QApplication.processEvents()
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(SHOTS) / f"{name}.png"))


def test_without_a_connection_the_dialog_says_so_and_cannot_run(qtbot: Any, aloop: Any, ctx: Any) -> None:
    list_id, _ = contacts_list(ctx, 5)
    dialog = AiColumnDialog(ctx, list_id)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.notice.isVisible()
    assert "online service" in dialog.notice.text()
    assert "OpenAI-compatible server" in dialog.notice.text()
    dialog.name.setText("B2B")
    dialog.prompt.setPlainText("Is {{company_name}} B2B?")
    dialog.check_prompt()
    assert dialog.save_button.isEnabled()
    assert not dialog.run_button.isEnabled()
    assert not dialog.preview_button.isEnabled()
    shot(dialog, "ai-column-not-connected")


def test_define_preview_estimate_and_run_an_ai_column(qtbot: Any, aloop: Any, ctx: Any) -> None:
    list_id, ids = contacts_list(ctx, 30, empty_titles=[4])
    sandbox, _transport = openai_sandbox(ctx)
    dialog = AiColumnDialog(ctx, list_id, record_ids=ids[:5])
    qtbot.addWidget(dialog)
    dialog.resize(760, 640)
    dialog.show()
    assert not dialog.notice.isVisible()
    dialog.name.setText("B2B")
    dialog.prompt.setPlainText("Is {{company_nam}} B2B?")
    dialog.check_prompt()
    assert "{{company_name}}" in dialog.prompt_check.text()
    assert not dialog.save_button.isEnabled()
    assert not dialog.run_button.isEnabled()
    dialog.prompt.setPlainText("{{first_name}} ({{job_title}}) works at {{company_name}} "
                               "({{company.industry}}). Is it a B2B company?")
    assert dialog.check_prompt()
    rows = aloop.run_until_complete(dialog.run_preview())
    assert len(rows) == 5
    assert dialog.preview_table.rowCount() == 5
    assert {r.value for r in rows if not r.error} <= {"Yes", "No"}
    assert "is empty" in rows[4].error  # the fifth row has no job title: skipped, not sent
    aloop.run_until_complete(dialog.tasks.wait())
    assert "25 of 30 rows to ask" in dialog.estimate_label.text()
    assert "4 answered from the cache" in dialog.estimate_label.text()
    assert "tokens" in dialog.estimate_label.text()
    shot(dialog, "ai-column-preview")
    qtbot.waitUntil(lambda: dialog._progress is not None)  # built ahead, once the dialog is on screen
    ahead = dialog._progress
    assert ahead is not None
    titles: list[str] = []
    ahead.windowTitleChanged.connect(titles.append)
    result = aloop.run_until_complete(dialog.run())
    assert titles == ["AI column “B2B” on “Leads”"]  # Run opened the dialog built ahead, for this run
    assert result.run.state == "finished"
    assert result.counters["written"] == 29
    assert result.counters["skipped_empty"] == 1
    assert sandbox.stats.completions == 29  # the 4 previewed rows came from the cache
    values = custom_values(ctx, Contact, ids, "B2B")
    assert sum(v in ("Yes", "No") for v in values.values()) == 29
    detail = ai_run_detail(ctx, ctx.runs.get(result.run_id), dialog)
    qtbot.addWidget(detail)
    table = detail.findChild(QTableWidget, "aiRunProblems")
    assert table is not None
    assert table.rowCount() == 1
    why = table.item(0, 1)
    assert why is not None
    assert "{{job_title}}" in why.text()


def test_the_lists_page_opens_both_dialogs(qtbot: Any, aloop: Any, window: Any, ctx: Any) -> None:
    for key in ("openai", "theirstack"):  # the cards say, until connected, that Enginy's credits are not here
        assert "online service" in window.findChild(QWidget, f"card-{key}").notice.text()
    contacts_list(ctx, 3)
    page = window.show_page("lists")
    page.refresh_lists()
    page.select_list("Leads")
    aloop.run_until_complete(page.tasks.wait())
    assert page.ai_button.isEnabled()
    dialog = aloop.run_until_complete(page.open_ai_column())
    assert isinstance(dialog, AiColumnDialog)
    dialog.reject()
    aloop.run_until_complete(page.tasks.wait())  # the list is read again (the column's values may be new)
    ts = page.open_theirstack()
    assert isinstance(ts, TheirStackDialog)
    assert ts.notice.isVisible()
    assert "online service" in ts.notice.text()
    assert not ts.count_button.isEnabled()
    shot(window, "lists-page-buttons")
    ts.reject()


def test_theirstack_count_first_then_import(qtbot: Any, aloop: Any, ctx: Any) -> None:
    import httpx

    sandbox = TheirStackSandbox(TheirStackSandboxConfig(companies=1500))
    ctx.integrations.save_connection("theirstack", {"api_key": TS_KEY, "plan": "Paid"})
    ctx.integrations.enable("theirstack")
    ctx.adapters = AdapterFactory(ctx, transport=httpx.ASGITransport(app=sandbox.app))
    dialog = TheirStackDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.import_button.isEnabled()  # the free count comes first
    dialog.technologies.setText("python, snowflake")
    dialog.countries.setText("ES, US")
    dialog.max_companies.setValue(50)
    dialog.list_name.setCurrentText("Data teams")
    plan = aloop.run_until_complete(dialog.count())
    assert plan is not None
    assert plan.matching > 50
    assert sandbox.used_credits == 0
    assert "150 API credits" in dialog.plan_label.text()
    assert dialog.import_button.isEnabled()
    assert "150 credits" in dialog.import_button.text()
    shot(dialog, "theirstack-counted")
    dialog.max_companies.setValue(60)  # a change makes the count stale
    assert not dialog.import_button.isEnabled()
    aloop.run_until_complete(dialog.count())
    result = aloop.run_until_complete(dialog.run())
    assert result.run.state == "finished"
    assert result.counters["added"] == 60
    assert sandbox.used_credits == 180
    detail = import_run_detail(ctx, ctx.runs.get(result.run_id), dialog)
    qtbot.addWidget(detail)
    pages = detail.findChild(QTableWidget, "importPages")
    assert pages is not None
    assert pages.rowCount() == 1
    with ctx.store.session() as s:
        assert s.query(Company).filter(Company.source == "TheirStack").count() == 60


def test_an_existing_column_opens_with_its_definition(qtbot: Any, aloop: Any, ctx: Any) -> None:
    list_id, _ = contacts_list(ctx, 3)
    column = AiColumnService(ctx.store).create(list_id, "Segment", "Segment of {{company_name}}?", "label",
                                               {"labels": "SMB, Enterprise"})
    dialog = AiColumnDialog(ctx, list_id, column_id=column.id)
    qtbot.addWidget(dialog)
    assert dialog.labels.text() == "SMB, Enterprise"
    assert dialog.name.text() == "Segment"
    aloop.run_until_complete(dialog.tasks.wait())
    assert "3 of 3 rows to ask" in dialog.estimate_label.text()


def test_a_failed_import_resumes_from_the_runs_page(qtbot: Any, aloop: Any, ctx: Any) -> None:
    from enginy_desktop.core.imports.theirstack import TheirStackFilters, run_import
    from enginy_desktop.sandbox.server import serve

    sandbox = TheirStackSandbox(TheirStackSandboxConfig(companies=800, api_credits=60))
    with serve(sandbox.app) as url:
        ctx.integrations.save_connection("theirstack", {"api_key": TS_KEY, "plan": "Paid", "base_url": url})
        ctx.integrations.enable("theirstack")
        first = aloop.run_until_complete(run_import(ctx, TheirStackFilters(technologies=("python",)), "Py", 40,
                                                    page_size=10))
        assert first.run.state == "failed"
        assert first.counters["added"] == 20
        sandbox.config.api_credits = 1000
        host = QWidget()  # the Runs page's details pane
        qtbot.addWidget(host)
        detail = import_run_detail(ctx, ctx.runs.get(first.run_id), host)
        button = detail.findChild(QPushButton, "importResume")
        assert button is not None
        button.click()
        aloop.run_until_complete(detail._resume_tasks.wait())  # type: ignore[attr-defined]
    assert ctx.runs.get(first.run_id).state == "finished"
    assert ctx.runs.get(first.run_id).counters["added"] == 40
    assert sandbox.used_credits == 120


def test_a_run_refused_because_the_list_is_busy_says_so(qtbot: Any, aloop: Any, ctx: Any) -> None:
    list_id, _ids = contacts_list(ctx, 4)
    _sandbox, _transport = openai_sandbox(ctx)
    column = AiColumnService(ctx.store).create(list_id, "B2B", "Is {{company_name}} B2B?", "yes_no")
    busy = ctx.runs.create("ai", crm="openai", list_id=list_id, list_name="Leads", start=True)  # another run
    dialog = AiColumnDialog(ctx, list_id, column_id=column.id)
    qtbot.addWidget(dialog)
    dialog.show()
    assert aloop.run_until_complete(dialog.run()) is None
    assert dialog.isVisible()
    assert "already running" in dialog.error.text()
    ctx.runs.finish(busy.id, "cancelled")
    qtbot.waitUntil(lambda: dialog._progress is not None)  # shown again: a new progress dialog is built ahead
    ahead = dialog._progress
    assert ahead is not None
    with qtbot.waitSignal(ahead.destroyed):
        dialog.reject()  # closed without a run: the one built ahead goes too
    assert dialog._progress is None


def test_an_ai_runs_details_sit_under_its_counts_without_a_gap(qtbot: Any, window: Any, ctx: Any) -> None:
    """On the Runs page, the "Column “B2B” · prompt version 1 …" line follows the count tiles, not far below."""
    from enginy_desktop.core.ai.columns import AiColumnService
    from enginy_desktop.core.ai.run import run_column

    list_id, _ids = contacts_list(ctx, 3)
    openai_sandbox(ctx)
    column = AiColumnService(ctx.store).create(list_id, "B2B", "Is {{company_name}} B2B?", "yes_no")
    result = asyncio.run(run_column(ctx, column.id))
    runs = window.show_page("runs")
    runs.refresh(select_id=result.run_id)
    QApplication.processEvents()
    detail = runs.findChild(QWidget, "aiRunDetail")
    assert detail is not None
    assert detail.isVisible()
    head = next(lbl for lbl in detail.findChildren(QLabel) if lbl.text().startswith("Column “B2B”"))
    tiles = runs.summary.tiles
    gap = head.mapTo(runs, head.rect().topLeft()).y() - tiles.mapTo(runs, tiles.rect().bottomLeft()).y()
    shot(window, "ai-run-detail")
    assert 0 <= gap <= 48, gap
    assert head.height() <= head.heightForWidth(head.width()) + 4  # not stretched, its text centred far below
