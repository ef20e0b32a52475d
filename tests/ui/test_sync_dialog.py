"""The sync dialog against the HubSpot sandbox on loopback: refusal without a CRM, the progress dialog appearing
and closing, the result view's counts and records, picking a candidate or Create new, Run in background with the
status-bar indicator (and reopening the dialog from it). Coroutines are called directly, never qtbot.wait inside."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QLabel

from enginy_desktop.core import sync
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.runs import Progress
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig, create_app
from enginy_desktop.sandbox.server import serve
from enginy_desktop.views.run_progress import ProgressDialog, RunStatusIndicator
from enginy_desktop.views.sync_dialog import LinksModel, SyncDialog, SyncResultView

Cli = Callable[..., tuple[int, str, str]]

LEADS = """First name,Last name,Email,Company,Company domain,LinkedIn URL
Jane,Doe,jane@acme.com,"ACME, Inc.",acme.com,https://www.linkedin.com/in/jane-doe
José,García,,Beta SL,beta.es,
John,Smith,,Globex,globex.com,
Ana,Nueva,ana@nadie.io,Nadie,nadie.io,
Solo,,solo@gmail.com,,,
"""


@pytest.fixture
def hubspot() -> Iterator[tuple[str, dict[str, str]]]:
    app = create_app(HubSpotSandboxConfig(seed_contacts=300, random_seed=5))
    sb = app.state.sandbox
    ids = {
        "jane": sb.insert("contacts", {"firstname": "Jane", "lastname": "Doe", "company": "Acme Inc.",
                                       "hs_linkedin_url": "https://www.linkedin.com/in/jane-doe"}).id,
        "jose": sb.insert("contacts", {"firstname": "Jose", "lastname": "Garcia", "company": "Beta S.L."}).id,
        "john1": sb.insert("contacts", {"firstname": "John", "lastname": "Smith", "company": "Globex",
                                        "email": "john@globex.com", "jobtitle": "CFO"}).id,
        "john2": sb.insert("contacts", {"firstname": "John", "lastname": "Smith", "company": "Globex Corp",
                                        "email": "jsmith@globex.com", "jobtitle": "Buyer"}).id,
        "acme": sb.insert("companies", {"name": "Acme Inc", "domain": "acme.com"}).id,
    }
    with serve(app) as url:
        yield url, {k: str(v) for k, v in ids.items()}


def _connect(cli: Cli, url: str) -> None:
    code, _, err = cli("connect", "hubspot", "--set", f"base_url={url}", "--secret-stdin", "token",
                       stdin=DEFAULT_TOKEN + "\n")
    assert code == 0, err
    assert cli("integrations", "enable", "hubspot")[0] == 0


def _import_leads(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(LEADS, encoding="utf-8")
    assert cli("import", "contacts", str(path), "--list", "Leads")[0] == 0


@pytest.fixture
def connected(cli: Cli, tmp_path: Path, hubspot: tuple[str, dict[str, str]]) -> dict[str, str]:
    url, ids = hubspot
    _connect(cli, url)
    _import_leads(cli, tmp_path)
    return ids


def _progress_dialogs() -> list[ProgressDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, ProgressDialog) and w.isVisible()]


def test_refused_without_an_enabled_crm(qtbot, ctx: AppContext, cli: Cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _import_leads(cli, tmp_path)
    dialog = SyncDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.refusal.isVisible()
    assert "No CRM is enabled" in dialog.refusal.text()
    assert not dialog.start_button.isEnabled()
    assert cli("integrations", "enable", "hubspot")[0] == 0
    assert "HubSpot is not connected" in dialog.refresh_state()
    assert dialog.windowTitle() == "Sync with HubSpot"
    assert asyncio.run(dialog.run_sync()) is None  # nothing starts


def test_sync_shows_progress_then_results_and_settles_an_ambiguous_record(  # type: ignore[no-untyped-def]
    qtbot, window, connected: dict[str, str]
) -> None:
    page = window.show_page("runs")
    assert page.empty.isVisible()
    dialog = page.open_sync_dialog()
    qtbot.addWidget(dialog)
    assert dialog.isVisible()
    assert dialog.list_box.currentText() == "Leads — 5 contacts"
    assert "Contacts: LinkedIn profile URL OR First name + Last name + Company name" in dialog.identifiers.text()
    seen: list[tuple[str, bool]] = []

    def watch(p: Progress) -> None:
        seen.append((p.phase, bool(_progress_dialogs())))

    original = dialog.run_sync

    async def go() -> Any:
        task = asyncio.ensure_future(original())
        while dialog.handle is None:
            await asyncio.sleep(0)
        dialog.handle.subscribe(watch)
        assert not dialog.isVisible()  # the progress dialog takes its place
        return await task

    result = asyncio.run(go())
    assert result is not None
    assert not result.cancelled
    assert seen
    assert all(visible for _, visible in seen)  # the progress dialog was open while the sync ran
    assert not _progress_dialogs()  # ...and closed when it ended
    assert dialog.isVisible()
    view = dialog.result_view
    assert isinstance(view, SyncResultView)
    assert {k: view.tiles.value(k) for k in ("matched", "new", "ambiguous", "unmatchable")} == {
        "matched": 2, "new": 1, "ambiguous": 1, "unmatchable": 1}
    assert "API call" in dialog.subtitle.text()
    assert view.model.rowCount() == 5
    rows = {view.model.data(view.model.index(r, 0)).split(" · ")[0]: r for r in range(5)}
    assert view.model.data(view.model.index(rows["Jane Doe"], 3)) == "LinkedIn URL"
    assert view.model.data(view.model.index(rows["Jane Doe"], 2)) == connected["jane"]
    assert view.model.data(view.model.index(rows["Solo"], 1)) == "Unmatchable"
    assert view.model.data(view.model.index(rows["John Smith"], 1)) == "Ambiguous · 2"

    # Pick the right CRM record for the ambiguous one, among its candidates' key properties.
    view.table.selectRow(rows["John Smith"])
    assert view.resolve.isVisible()
    assert "matches 2 HubSpot records" in view.resolve_title.text()
    john = view.model.rows[rows["John Smith"]]
    records = asyncio.run(view.load_candidates(john))
    assert {r.get("email") for r in records} == {"john@globex.com", "jsmith@globex.com"}
    texts = " ".join(label.text() for label in view.cards_host.findChildren(QLabel))
    assert "jsmith@globex.com" in texts
    assert "Buyer" in texts
    with qtbot.waitSignal(view.changed):
        view.cards_host.findChild(type(dialog.start_button), f"useCandidate-{connected['john2']}").click()
    assert view.tiles.value("matched") == 3
    assert view.tiles.value("ambiguous") == 0
    link = {r.name.split(" · ")[0]: r for r in sync.link_rows(window.ctx, "Leads")}["John Smith"]
    assert (link.outcome, link.crm_id) == ("chosen", connected["john2"])
    assert "You chose HubSpot record" in view.resolve_title.text()
    view.create_new_button.click()
    link = {r.name.split(" · ")[0]: r for r in sync.link_rows(window.ctx, "Leads")}["John Smith"]
    assert link.outcome == "create_new"
    assert view.tiles.value("new") == 2

    # Companies of the list's contacts, and the filter.
    view.tabs.setCurrentIndex(1)
    assert view.model.rowCount() == 4
    view.filter.setCurrentIndex(2)  # Matched
    assert view.model.rowCount() == 1
    dialog.close()


def test_run_in_background_leaves_an_indicator_that_reopens_the_dialog(  # type: ignore[no-untyped-def]
    qtbot, window, connected: dict[str, str]
) -> None:
    dialog = window.show_page("runs").open_sync_dialog()
    qtbot.addWidget(dialog)
    indicator_texts: list[str] = []
    reopened: list[bool] = []

    async def go() -> Any:
        task = asyncio.ensure_future(dialog.run_sync())
        while dialog.handle is None:
            await asyncio.sleep(0)
        handle = dialog.handle
        state = {"phase": 0}

        def watch(p: Progress) -> None:
            indicator = window.findChild(RunStatusIndicator, "runStatusIndicator")
            if state["phase"] == 0:
                state["phase"] = 1
                assert dialog.progress is not None
                dialog.progress.background_button.click()  # Run in background
                return
            if indicator is not None and indicator.isVisible():
                indicator_texts.append(indicator.text())
                if state["phase"] == 1 and p.phase.startswith("Matching"):
                    state["phase"] = 2
                    reopened_dialog = indicator.reopen()  # clicking it opens the progress dialog again
                    reopened.append(isinstance(reopened_dialog, ProgressDialog) and reopened_dialog.isVisible())
                    reopened_dialog.send_to_background()

        handle.subscribe(watch)
        return await task

    result = asyncio.run(go())
    assert result is not None
    assert any(t.startswith("Syncing") and t.endswith("with HubSpot") for t in indicator_texts), indicator_texts
    assert any(" / " in t for t in indicator_texts)
    assert reopened == [True]
    indicator = window.findChild(RunStatusIndicator, "runStatusIndicator")
    assert not indicator.isVisible()  # the run ended
    assert "Sync of “Leads” with HubSpot finished" in window.statusBar().currentMessage()
    assert not dialog.isVisible()  # sent to the background: the results wait on the Runs page
    assert not _progress_dialogs()
    assert window.ctx.runs.get(result.run_id).state == "finished"


def test_cancel_asks_first_then_stops_after_the_batch(qtbot, window, connected: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    dialog = window.show_page("runs").open_sync_dialog()
    qtbot.addWidget(dialog)

    async def go() -> Any:
        task = asyncio.ensure_future(dialog.run_sync())
        while dialog.handle is None:
            await asyncio.sleep(0)
        progress = dialog.progress
        assert progress is not None
        box = progress.ask_cancel()
        assert box.defaultButton().text() == "Keep running"  # the safe choice is the default
        box.defaultButton().click()
        assert not dialog.handle.cancel_requested
        box = progress.ask_cancel()
        next(b for b in box.buttons() if b.text() == "Stop sync").click()
        assert dialog.handle.cancel_requested
        assert not progress.cancel_button.isEnabled()
        assert "Stopping" in progress.phase.text()
        return await task

    result = asyncio.run(go())
    assert result.cancelled
    assert "Run the sync again to finish" in result.message
    assert dialog.result_note.isVisible()
    assert window.ctx.runs.get(result.run_id).state == "cancelled"


def test_links_model(qtmodeltester, ctx: AppContext, connected: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(sync.sync_list(ctx, "Leads"))
    rows = sync.link_rows(ctx, "Leads")
    model = LinksModel(lambda o, n: rows[o:o + n], len(rows), "HubSpot")
    model.fetchMore(model.index(0, 0).parent())
    qtmodeltester.check(model)
    assert model.rowCount() == 5


def test_lists_page_opens_the_sync_of_its_list(qtbot, window, connected: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    page = window.show_page("lists")
    page.select_list("Leads")
    assert page.sync_button.text() == "Sync with HubSpot…"
    assert page.sync_button.isEnabled()
    page.sync_button.click()
    dialog = page.current_dialog
    assert isinstance(dialog, SyncDialog)
    assert dialog.selected_list().name == "Leads"
    assert dialog.start_button.isEnabled()
    dialog.close()


def test_unreachable_crm_fails_with_a_sentence_and_its_detail_behind_details(  # type: ignore[no-untyped-def]
    qtbot, ctx: AppContext, cli: Cli, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    _connect(cli, f"http://127.0.0.1:{port}")
    _import_leads(cli, tmp_path)
    dialog = SyncDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    assert asyncio.run(dialog.run_sync()) is None
    text = dialog.refusal.text()
    assert "Could not reach HubSpot" in text
    assert "you can start the sync again" in text
    assert "ConnectError" not in text
    details = dialog.start_page.refusal_details
    assert details.isVisible()
    assert "ConnectError" in details.detail()
    assert DEFAULT_TOKEN not in text + details.detail()
