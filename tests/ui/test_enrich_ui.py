"""Enrich… in the window: from the Lists page, what to find and the order, the estimate against the cap, the run
with the progress dialog, the values' sources as tooltips in the list, the report on the Runs page, the
Enrichment settings reachable from the Data Enrichment cards. ``ENGINY_SHOTS=DIR`` saves screenshots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QScrollArea, QTableWidget

from enginy_desktop.adapters.enrichment.base import DataPoint as D
from enginy_desktop.core.enrich import default_order, save_default_order
from enginy_desktop.views.enrich_dialog import EnrichDialog, EnrichSettingsDialog, enrich_run_detail
from tests.support.enrich_world import EnrichWorld
from tests.ui.workspace_helpers import aloop  # noqa: F401

SHOTS = os.environ.get("ENGINY_SHOTS", "")


def shot(widget: Any, name: str) -> None:
    if SHOTS:
        QApplication.processEvents()
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(SHOTS) / f"{name}.png"))


def test_enrich_from_the_lists_page_with_estimate_run_sources_and_report(qtbot: Any, aloop: Any,  # noqa: F811
                                                                          window: Any, ctx: Any,
                                                                          tmp_path: Path) -> None:
    world = EnrichWorld.make(ctx, tmp_path, contacts=40, providers=("hunter", "lusha"))
    page = window.show_page("lists")
    page.refresh_lists()
    page.select_list("Leads")
    aloop.run_until_complete(page.tasks.wait())
    assert page.enrich_button.isEnabled()
    dialog = aloop.run_until_complete(page.open_enrich(factory=world.factory))
    assert isinstance(dialog, EnrichDialog)
    qtbot.addWidget(dialog)
    assert dialog.point_boxes[D.EMAIL].isChecked()
    assert dialog.order.keys() == ["hunter", "lusha"]  # the ready providers, in the saved order
    assert dialog.cap_on.isChecked()
    assert dialog.cap.value() == 100  # the command line's default cap too, and the dialog says so
    assert "Default 100" in " ".join(w.text() for w in dialog.findChildren(QLabel))
    dialog.cap.setFocus()
    for area in dialog.findChildren(QScrollArea):  # the cap row, at the bottom of the options
        area.ensureWidgetVisible(dialog.cap)
    shot(dialog, "enrich-dialog-cap")
    dialog.cap.setValue(5)
    dialog._timer.stop()
    aloop.run_until_complete(dialog.refresh_estimate())
    assert dialog.table.rowCount() == 2
    assert "Over the cap" in dialog.total.text()
    dialog.cap.setValue(500)
    dialog.save_default.setChecked(True)
    rows = dialog.order.keys(checked_only=False)
    dialog.order.list.setCurrentRow(rows.index("lusha"))
    for _ in range(rows.index("lusha") - rows.index("hunter")):
        dialog.order.shift(-1)  # Lusha before Hunter
    dialog._timer.stop()
    aloop.run_until_complete(dialog.refresh_estimate())
    assert dialog.order.keys() == ["lusha", "hunter"]
    assert dialog.start_button.isEnabled()
    shot(dialog, "enrich-dialog")
    result = aloop.run_until_complete(dialog.start())
    assert result is not None
    assert result.state == "finished"
    assert default_order(ctx)[D.EMAIL][:2] == ["lusha", "hunter"]  # saved as the default
    assert world.credits_spent("lusha") > 0
    aloop.run_until_complete(page.tasks.wait())
    assert page.next_step.isVisible()  # the next step, as after an import
    assert page.next_step_text.text().startswith("Enriched “Leads”:")

    # Each enriched value says where it came from.
    email_col = page.model.column_index("email")
    tips = [page.model.data(page.model.index(r, email_col), Qt.ItemDataRole.ToolTipRole)
            for r in range(page.model.rowCount())]
    assert any(t and t.startswith("Found by Lusha") for t in tips)
    shot(window, "enrich-list-after")

    runs = window.show_page("runs")
    runs.refresh(select_id=result.id)
    detail = enrich_run_detail(ctx, ctx.runs.get(result.id), runs)
    qtbot.addWidget(detail)
    table = detail.findChild(QTableWidget, "enrichReport")
    assert table is not None
    assert table.rowCount() >= 2
    shot(runs, "enrich-runs-page")


def test_enrichment_settings_from_the_cards_save_the_order(qtbot: Any, window: Any, ctx: Any,
                                                          tmp_path: Path) -> None:
    EnrichWorld.make(ctx, tmp_path, contacts=2, providers=("apollo", "hunter"))
    page = window.show_page("integrations")
    button = page.findChild(QPushButton, "enrichmentSettingsButton")
    assert button is not None
    dialog = page.open_enrichment_settings()
    assert isinstance(dialog, EnrichSettingsDialog)
    qtbot.addWidget(dialog)
    dialog.points.setCurrentRow(0)  # Work e-mail
    first = dialog.order.keys(checked_only=False)[0]
    dialog.order.list.setCurrentRow(1)
    dialog.order.shift(-1)
    shot(dialog, "enrich-settings")
    dialog.save()
    assert default_order(ctx, ready_only=False)[D.EMAIL][1] == first

    from enginy_desktop.core import catalog
    from enginy_desktop.views.connect_dialog import ConnectDialog

    card = ConnectDialog(ctx, catalog.get("hunter"), parent=page)  # each enrichment card's Configure dialog
    qtbot.addWidget(card)
    button = card.findChild(QPushButton, "enrichmentSettingsFromCard")
    assert button is not None
    shot(card, "enrich-card-configure")
    settings = card.open_enrichment_settings()
    assert isinstance(settings, EnrichSettingsDialog)
    assert settings.isVisible()
    settings.reject()



def _ticked(dialog: Any, point: D) -> dict[str, bool]:
    dialog.waterfall.select(point)
    items = [dialog.order.list.item(i) for i in range(dialog.order.list.count())]
    return {str(it.data(Qt.ItemDataRole.UserRole)): it.checkState() == Qt.CheckState.Checked for it in items}


def test_a_provider_unticked_in_the_settings_stays_excluded_after_a_restart(qtbot: Any, ctx: Any, data_dir: Path,
                                                                           tmp_path: Path) -> None:
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.core.enrich import saved_waterfall

    world = EnrichWorld.make(ctx, tmp_path, contacts=4, providers=("apollo", "lusha"))
    dialog = EnrichSettingsDialog(ctx)
    qtbot.addWidget(dialog)
    assert all(_ticked(dialog, D.JOB_TITLE).values())  # nothing excluded at first
    dialog.waterfall.select(D.JOB_TITLE)
    keys = dialog.order.keys(checked_only=False)
    dialog.order.list.item(keys.index("lusha")).setCheckState(Qt.CheckState.Unchecked)
    assert "Lusha" not in dialog.waterfall.points.item(list(D).index(D.JOB_TITLE)).toolTip()
    shot(dialog, "enrich-settings-excluded")
    dialog.save()

    again = AppContext.open(data_dir)  # the application started again on the same data folder
    try:
        assert dict(saved_waterfall(again)[D.JOB_TITLE])["lusha"] is False
        assert "lusha" not in default_order(again)[D.JOB_TITLE]
        assert "lusha" in default_order(again)[D.EMAIL]  # excluded for job titles only
        settings = EnrichSettingsDialog(again)
        qtbot.addWidget(settings)
        assert _ticked(settings, D.JOB_TITLE)["lusha"] is False
        assert _ticked(settings, D.EMAIL)["lusha"] is True
        enrich = EnrichDialog(again, world.list_id, factory=world.factory)  # its starting state
        qtbot.addWidget(enrich)
        enrich._timer.stop()
        ticks = _ticked(enrich, D.JOB_TITLE)
        assert (ticks["apollo"], ticks["lusha"]) == (True, False)
        enrich.show()
        qtbot.waitExposed(enrich)
        shot(enrich, "enrich-dialog-excluded")
        assert "lusha" not in enrich.options().order[D.JOB_TITLE]
        # Ticked again for this run and saved from the dialog: no longer excluded.
        enrich.waterfall.select(D.JOB_TITLE)
        row = enrich.order.keys(checked_only=False).index("lusha")
        enrich.order.list.item(row).setCheckState(Qt.CheckState.Checked)
        enrich._timer.stop()
        assert "lusha" in enrich.options().order[D.JOB_TITLE]
        save_default_order(again, {p: enrich.waterfall.keys(p, asked_only=False) for p in D}, enrich._excluded())
        assert dict(saved_waterfall(again)[D.JOB_TITLE])["lusha"] is True
    finally:
        again.close()

def test_no_ready_provider_says_what_to_do(qtbot: Any, aloop: Any, ctx: Any, tmp_path: Path) -> None:  # noqa: F811
    from enginy_desktop.core.services.workspace import WorkspaceService
    from tests.support.enrich_world import write_csv

    result = WorkspaceService(ctx.store).import_csv(write_csv(tmp_path / "x.csv", 3), "contact", "Leads")
    dialog = EnrichDialog(ctx, int(result.list_id))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.notice.isVisible()
    assert "Integrations" in dialog.notice.text()
    dialog._timer.stop()
    aloop.run_until_complete(dialog.refresh_estimate())
    assert not dialog.start_button.isEnabled()


def test_enrichment_credits_show_with_their_decimals_in_runs(qtbot: Any) -> None:
    """Hunter's verifications cost half a credit: the Runs page and `runs` show 12.5 credits, and 0.5 is not 0."""
    from datetime import UTC, datetime

    from enginy_desktop.cli.sync import runs_counts_text
    from enginy_desktop.core.runs import RunInfo
    from enginy_desktop.views.runs_page import counts_text

    def run(credits: float) -> RunInfo:
        return RunInfo(id=1, kind="enrichment", crm=None, list_id=1, list_name="Leads", state="finished",
                       options={}, counters={"records": 40, "found": 25, "credits": credits, "not_reasked": 3},
                       created_at=datetime.now(UTC), started_at=None, finished_at=None, error=None)

    assert "12.5 credits spent" in counts_text(run(12.5))
    assert "0.5 credits spent" in counts_text(run(0.5))
    assert "3 not asked again after a crash" in counts_text(run(0.5))
    assert "12.5 credits" in runs_counts_text(run(12.5).counters)
    assert "0.5 credits" in runs_counts_text(run(0.5).counters)
    assert "3 not asked again after a crash" in runs_counts_text(run(0.5).counters)

    from enginy_desktop.views.run_progress import CounterTiles

    tiles = CounterTiles((("credits", "Credits spent", ""), ("found", "Values found", "good")))
    qtbot.addWidget(tiles)
    tiles.set_counts({"credits": 12.5, "found": 25})
    assert tiles.values["credits"].text() == "12.5"  # the run's detail tile too
    assert tiles.values["found"].text() == "25"


def test_the_waterfall_is_ordered_per_data_point_in_the_enrich_dialog(qtbot: Any, aloop: Any,  # noqa: F811
                                                                      ctx: Any, tmp_path: Path) -> None:
    world = EnrichWorld.make(ctx, tmp_path, contacts=6, providers=("hunter", "lusha"))
    dialog = EnrichDialog(ctx, world.list_id, factory=world.factory)
    qtbot.addWidget(dialog)
    dialog._timer.stop()
    wf = dialog.waterfall
    assert [wf.points.item(i).text() for i in range(wf.points.count())] == ["Work e-mail", "Mobile / direct phone",
                                                                            "Job title"]  # what the dialog finds
    wf.select(D.PHONE)
    keys = wf.order.keys()
    assert keys[:2] == ["hunter", "lusha"]
    wf.order.list.setCurrentRow(1)
    wf.order.shift(-1)  # Lusha first, for phones only
    wf.select(D.JOB_TITLE)
    wf.order.list.item(wf.order.keys(checked_only=False).index("hunter")).setCheckState(Qt.CheckState.Unchecked)
    order = dialog.options().order
    assert order[D.EMAIL] == ["hunter", "lusha"]
    assert order[D.PHONE] == ["lusha", "hunter"]
    assert order[D.JOB_TITLE] == ["lusha"]  # Hunter is not asked for titles
    assert "Lusha → Hunter" in wf.points.item(1).toolTip()
    dialog.point_boxes[D.INDUSTRY].setChecked(True)  # a new data point gets its own list, the others keep theirs
    assert wf.points.count() == 4
    assert dialog.options().order[D.PHONE] == ["lusha", "hunter"]
    dialog.point_boxes[D.INDUSTRY].setChecked(False)
    dialog.save_default.setChecked(True)
    dialog._timer.stop()
    aloop.run_until_complete(dialog.refresh_estimate())
    result = aloop.run_until_complete(dialog.start())
    assert result is not None
    assert result.state == "finished"
    saved = default_order(ctx)
    assert saved[D.EMAIL][:2] == ["hunter", "lusha"]
    assert saved[D.PHONE][:2] == ["lusha", "hunter"]

    again = EnrichDialog(ctx, world.list_id, factory=world.factory)  # the saved orders come back, per data point
    qtbot.addWidget(again)
    again._timer.stop()
    again.waterfall.select(D.PHONE)
    again.waterfall.copy_all.click()  # this order for every data point
    again._timer.stop()  # the estimate it schedules is not needed here
    assert again.options().order[D.EMAIL] == ["lusha", "hunter"]


def test_on_a_short_screen_the_options_scroll_and_enrich_stays_in_view(qtbot: Any, aloop: Any,  # noqa: F811
                                                                         window: Any, ctx: Any, tmp_path: Path,
                                                                         monkeypatch: Any) -> None:
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QScreen

    world = EnrichWorld.make(ctx, tmp_path, contacts=5, providers=("hunter", "lusha"))
    # A laptop's 768 pixels less the task bar, or a scaled screen: shorter than the dialog with every option shown.
    monkeypatch.setattr(QScreen, "availableGeometry", lambda _self: QRect(0, 0, 1366, 600))
    page = window.show_page("lists")
    page.refresh_lists()
    page.select_list("Leads")
    aloop.run_until_complete(page.tasks.wait())
    dialog = aloop.run_until_complete(page.open_enrich(factory=world.factory))
    qtbot.addWidget(dialog)
    qtbot.waitExposed(dialog)
    assert dialog.minimumHeight() <= 560
    assert dialog.height() <= 560
    button = dialog.start_button
    assert dialog.rect().contains(button.mapTo(dialog, button.rect().bottomRight()))  # Enrich can be clicked
    assert dialog.options_scroll.verticalScrollBar().maximum() > 0  # the options scroll instead
    shot(dialog, "enrich-short-screen")
    dialog._timer.stop()
    dialog.reject()
    aloop.run_until_complete(dialog.tasks.wait())


def test_a_run_stopped_at_the_cap_is_paused_at_cap_and_resumes_with_a_higher_one(qtbot: Any, ctx: Any,
                                                                                 tmp_path: Path) -> None:
    """The Runs page says "Paused at cap", never "Cancelled", and its Resume asks for a higher cap (the same one
    would stop it again at once)."""
    import asyncio

    from PySide6.QtWidgets import QDoubleSpinBox

    from enginy_desktop.core.enrich import EnrichOptions, run_enrichment, start_enrichment
    from enginy_desktop.views.runs_page import RunsTableModel, RunSummary

    world = EnrichWorld.make(ctx, tmp_path, contacts=30, providers=("hunter",))
    info = start_enrichment(ctx, EnrichOptions(world.list_id, [D.EMAIL], {D.EMAIL: ["hunter"]}, max_credits=2))
    stopped = asyncio.run(run_enrichment(ctx, info.id, factory=world.factory))
    assert RunsTableModel.text(RunsTableModel(), stopped, 4) == "Paused at cap"
    summary = RunSummary(stopped)
    qtbot.addWidget(summary)
    assert summary.state.text() == "Paused at cap"
    assert "cancelled" not in (summary.error.text() if summary.error else "").lower()
    detail = enrich_run_detail(ctx, stopped, summary)
    resume = detail.findChild(QPushButton, "enrichResume")
    cap = detail.findChild(QDoubleSpinBox, "enrichResumeCap")
    assert resume is not None
    assert resume.text() == "Resume with a higher cap"
    assert cap is not None
    assert cap.minimum() > 2
    assert cap.value() > 2
