"""The Runs page: empty state, the history with its columns, a run's summary and its kind's details (a sync's
records), notes for failed / cancelled / interrupted runs, the detail-widget registry, live refresh."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from enginy_desktop.core import sync
from enginy_desktop.core.runs import RunInfo
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig, create_app
from enginy_desktop.sandbox.server import serve
from enginy_desktop.views import runs_page
from enginy_desktop.views.runs_page import RunsPage, RunsTableModel, RunSummary, counts_text, register_detail
from enginy_desktop.views.sync_dialog import SyncResultView

Cli = Callable[..., tuple[int, str, str]]

LEADS = """First name,Last name,Email,Company,Company domain,LinkedIn URL
Jane,Doe,jane@acme.com,Acme,acme.com,https://www.linkedin.com/in/jane-doe
Ana,Nueva,ana@nadie.io,Nadie,nadie.io,
"""


@pytest.fixture
def synced(cli: Cli, tmp_path: Path, ctx: Any) -> Iterator[Any]:
    app = create_app(HubSpotSandboxConfig(seed_contacts=50, random_seed=2))
    app.state.sandbox.insert("contacts", {"firstname": "Jane", "lastname": "Doe", "company": "Acme",
                                          "hs_linkedin_url": "https://www.linkedin.com/in/jane-doe"})
    with serve(app) as url:
        assert cli("connect", "hubspot", "--set", f"base_url={url}", "--secret-stdin", "token",
                   stdin=DEFAULT_TOKEN + "\n")[0] == 0
        assert cli("integrations", "enable", "hubspot")[0] == 0
        path = tmp_path / "leads.csv"
        path.write_text(LEADS, encoding="utf-8")
        assert cli("import", "contacts", str(path), "--list", "Leads")[0] == 0
        asyncio.run(sync.sync_list(ctx, "Leads"))
        yield ctx


def test_empty_state(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    page = window.show_page("runs")
    assert isinstance(page, RunsPage)
    assert page.empty.isVisible()
    assert page.empty.title.text() == "No runs yet"
    assert "AI columns and imports appear here" in page.empty.text.text()  # every kind the page lists, named
    assert [window.nav.item(i).text() for i in range(window.nav.count())].count("Runs") == 1


def test_history_summary_and_sync_details(qtbot, qtmodeltester, window, synced: Any) -> None:  # type: ignore[no-untyped-def]
    page = window.show_page("runs")
    assert page.splitter.isVisible()
    qtmodeltester.check(page.model)
    assert page.model.rowCount() == 1
    cells = [page.model.data(page.model.index(0, c)) for c in range(page.model.columnCount())]
    assert cells[0] == "Sync #1"
    assert cells[1] == "Leads"
    assert cells[2] == "HubSpot"
    assert cells[4] == "Finished"
    assert cells[5].startswith("1 matched · 1 new")
    assert isinstance(page.summary, RunSummary)
    assert page.summary.state.text() == "Finished"
    assert "API call" in page.summary.meta.text()
    assert page.summary.tiles.value("matched") == 1
    assert isinstance(page.detail, SyncResultView)
    assert not page.summary.tiles.isVisibleTo(page)  # the sync's details show the counts per object
    assert page.detail.model.rowCount() == 2
    # A second run appears on top and is selected on refresh.
    second = window.ctx.runs.create("export", crm="hubspot", list_name="Leads", start=True)
    window.ctx.runs.finish(second.id, "failed", error="HubSpot refused the token.", counters={"created": 3})
    page.refresh(select_id=second.id)
    assert page.model.rowCount() == 2
    assert page.selected_run().id == second.id
    assert page.summary.error is not None
    assert "HubSpot refused the token." in page.summary.error.text()
    assert page.summary.tiles.value("created") == 3


def test_cancelled_and_interrupted_runs_say_what_was_kept(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    runs = window.ctx.runs
    cancelled = runs.create("sync", crm="hubspot", list_name="Leads", start=True)
    runs.finish(cancelled.id, "cancelled", counters={"matched": 4})
    page = window.show_page("runs")
    page.select_run(cancelled.id)
    assert "What it did before it stopped is kept; run it again to finish." in page.summary.error.text()
    interrupted = runs.create("export", crm="hubspot", list_name="Leads", start=True)
    runs.finish(interrupted.id, "interrupted", error="Enginy Desktop stopped while this run was in progress.")
    page.select_run(interrupted.id)
    assert "stopped while this run was in progress" in page.summary.error.text()
    # an export is carried on by its Resume, never started again from the beginning
    assert "Resume carries it on without doing anything twice." in page.summary.error.text()
    assert "run it again" not in page.summary.error.text()
    # ... and said once: the export's own details say why it stopped, the summary's note is not shown beside them
    qtbot.waitUntil(lambda: page.summary.isVisible())
    shown = [w.text() for w in page.findChildren(QLabel) if w.isVisibleTo(page) and "in progress" in w.text()]
    assert len(shown) == 1, shown
    assert "What it did before is kept" in shown[0]


def test_details_registry_for_other_kinds(qtbot, window, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(runs_page, "DETAIL_WIDGETS", dict(runs_page.DETAIL_WIDGETS))
    built: list[int] = []

    def export_report(ctx: Any, run: RunInfo, parent: QWidget) -> QWidget:
        built.append(run.id)
        label = QLabel(f"Report of run {run.id}", parent)
        label.setObjectName("exportReport")
        return label

    register_detail("export", export_report)
    run = window.ctx.runs.create("export", crm="hubspot", list_name="Leads", start=True)
    page = window.show_page("runs")
    page.select_run(run.id)
    assert built == [run.id]
    assert page.detail.objectName() == "exportReport"


def test_live_runs_refresh(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    runs = window.ctx.runs
    run = runs.create("sync", crm="hubspot", list_name="Leads", start=True)
    page = window.show_page("runs")
    assert page._timer.isActive()
    runs.add_counters(run.id, {"matched": 7})
    page._tick()
    assert page.model.data(page.model.index(0, 5)) == "7 matched"
    runs.finish(run.id)
    page._tick()
    assert page.model.data(page.model.index(0, 4)) == "Finished"
    assert not page._timer.isActive()


@pytest.mark.parametrize(("kind", "counters", "expected"), [
    # not "80 created · 1 requests · 12 waited ms": one request, and a wait under a tenth of a second is no news
    ("export", {"planned_create": 80, "created": 80, "contact_created": 80, "requests": 1, "retries": 0,
                "throttled": 0, "waited_ms": 12}, "80 created · 1 request"),
    ("export", {"created": 92, "requests": 94, "throttled": 2, "waited_ms": 15604, "associations_done": 80},
     "92 created · 80 associations · 94 requests · 2 rate-limited requests · 15.6 s waited"),
    ("import", {"added": 30, "credits": 90, "pages": 1, "returned": 30}, "30 added · 90 credits spent · 30 returned"),
    ("ai", {"written": 1, "requests": 1}, "1 value written · 1 request"),
])
def test_counts_text_names_every_counter_in_words(kind: str, counters: dict[str, int], expected: str) -> None:
    from datetime import UTC, datetime

    run = RunInfo(1, kind, "hubspot", None, "L", "finished", {}, counters, datetime.now(UTC), None, None, None)
    assert counts_text(run) == expected


def test_the_runs_table_names_the_integrations_a_run_used() -> None:
    from datetime import UTC, datetime

    def run(kind: str, crm: str | None, options: dict[str, object]) -> RunInfo:
        return RunInfo(1, kind, crm, None, "L", "finished", options, {}, datetime.now(UTC), None, None, None)

    model = RunsTableModel()
    model.set_rows([run("import", "theirstack", {}), run("enrichment", None, {"providers": ["apollo", "hunter"]}),
                    run("sync", "hubspot", {})])
    assert model.headerData(2, Qt.Orientation.Horizontal) == "Integration"  # not "CRM" over TheirStack
    assert [model.data(model.index(row, 2)) for row in range(3)] == ["TheirStack", "Apollo, Hunter", "HubSpot"]


def test_counts_text_and_table_model(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    counters = {"matched": 1200, "new": 0, "api_calls": 9, "ambiguous": 2, "companies_new": 4}
    run = RunInfo(1, "sync", "hubspot", None, "L", "finished", {}, counters, datetime.now(UTC), None, None, None)
    assert counts_text(run) == "1,200 matched · 2 ambiguous"
    model = RunsTableModel()
    model.set_rows([run])
    qtmodeltester.check(model)
