"""The Campaigns page: import a campaign (definition + events log) through the dialog, then read its identity,
steps and leads with the eight campaign properties exactly as the core derives them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from enginy_desktop.core.campaigns import PROPERTY_NAMES, CampaignService
from enginy_desktop.core.context import AppContext
from enginy_desktop.core.services.workspace import WorkspaceService
from enginy_desktop.views.campaigns_page import CampaignImportDialog, CampaignsPage, LeadsModel
from tests.ui.workspace_helpers import aloop, picker, settle  # noqa: F401

DEFINITION = """campaign,identity,identity_name,step,type
Q3 Outreach,ana@enginy.ai,Ana García,1,email
Q3 Outreach,ana@enginy.ai,Ana García,2,email
Q3 Outreach,ana@enginy.ai,Ana García,3,linkedin_connection_request
Q3 Outreach,ana@enginy.ai,Ana García,4,linkedin_message
"""
EVENTS = """campaign,email,linkedin,step,event,timestamp
Q3 Outreach,jane@acme.com,,,added,2026-03-01 08:00
Q3 Outreach,jane@acme.com,,1,sent,2026-03-02 09:15
Q3 Outreach,jane@acme.com,,1,opened,2026-03-02 10:01
Q3 Outreach,jane@acme.com,,1,opened,2026-03-03 10:01
Q3 Outreach,jane@acme.com,,1,clicked,2026-03-03 10:02
Q3 Outreach,,https://www.linkedin.com/in/bob-roe,4,sent,2026-03-08 16:40
Q3 Outreach,,https://www.linkedin.com/in/bob-roe,4,replied,2026-03-09 16:40
Q3 Outreach,carl@acme.com,,,added,2026-03-04 08:00
Q3 Outreach,ghost@nowhere.com,,1,sent,2026-03-02 09:15
"""
CONTACTS = """First Name,Last Name,Email,Person Linkedin Url
Jane,Doe,jane@acme.com,
Bob,Roe,,https://www.linkedin.com/in/bob-roe
Carl,Kent,carl@acme.com,
"""


@pytest.fixture
def files(ctx: AppContext, tmp_path: Path) -> tuple[Path, Path]:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    WorkspaceService(ctx.store).import_csv(contacts, "contact", "Leads")
    definition, events = tmp_path / "campaign.csv", tmp_path / "events.csv"
    definition.write_text(DEFINITION, encoding="utf-8")
    events.write_text(EVENTS, encoding="utf-8")
    return definition, events


def campaigns_page(window) -> CampaignsPage:  # type: ignore[no-untyped-def]
    window.show_page("campaigns")
    page = window.pages["campaigns"]
    assert isinstance(page, CampaignsPage)
    return page


def import_through_dialog(page: CampaignsPage, loop, definition: Path | None, events: Path | None,  # type: ignore[no-untyped-def]
                          qtbot) -> CampaignImportDialog:
    page.import_button.click()
    dialog = page.current_dialog
    assert isinstance(dialog, CampaignImportDialog)
    if definition is not None:
        dialog.definition.pick = picker(definition)
        dialog.definition.choose.click()
    if events is not None:
        dialog.events.pick = picker(events)
        dialog.events.choose.click()
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    settle(loop, dialog)
    return dialog


def test_no_campaigns_says_what_to_do(window) -> None:  # type: ignore[no-untyped-def]
    page = campaigns_page(window)
    assert page.body.currentIndex() == 0
    assert page.empty_state.title.text() == "No campaigns yet"
    assert "Import a campaign from CSV files" in page.empty_state.text.text()


def test_imported_campaign_shows_identity_steps_and_the_eight_properties(  # type: ignore[no-untyped-def]
    window, ctx: AppContext, files: tuple[Path, Path], qtbot, aloop  # noqa: F811
) -> None:
    page = campaigns_page(window)
    dialog = import_through_dialog(page, aloop, *files, qtbot)
    result = dialog.result_label.text()
    assert result.startswith("⚠ Campaigns created Q3 Outreach.")
    assert "9 rows read — 8 recorded, 0 already recorded, 1 rejected; 3 leads added to campaigns." in result
    assert "line 10:" in result
    assert dialog.save_rejected_button.isVisible()
    out = files[0].parent / "rejected.csv"
    dialog.pick_save_file = picker(out)
    dialog.save_rejected_button.click()
    with out.open(encoding="utf-8-sig") as f:
        assert [r["line"] for r in csv.DictReader(f)] == ["10"]
    dialog.close_button.click()

    assert page.campaign_names() == ["Q3 Outreach"]
    assert page.campaign_title.text() == "Q3 Outreach"
    assert page.campaign_identity.text() == "Run by Ana García <ana@enginy.ai> · Email sender"
    assert page.campaign_steps.text() == (
        "1. 1st Email   →   2. 2nd Email   →   3. LinkedIn Connection Request   →   4. 1st LinkedIn"
    )
    assert page.status.text() == "3 leads · 4 steps (3 messages)"
    headers = [page.model.headerData(c, Qt.Orientation.Horizontal) for c in range(page.model.columnCount())]
    assert headers[:2] == ["Lead", "Email or LinkedIn"]
    assert sorted(headers[2:]) == sorted([*PROPERTY_NAMES, "Added"])
    assert page.model.rowCount() == 3
    rows = {page.lead_properties(r)["Lead"]: page.lead_properties(r) for r in range(3)}
    jane, bob, carl = rows["Jane Doe"], rows["Bob Roe"], rows["Carl Kent"]
    for lead in (jane, bob, carl):
        assert lead["Campaign Sequence Details"] == "1st Email, 2nd Email, LinkedIn Connection Request, 1st LinkedIn"
    assert [jane[p] for p in PROPERTY_NAMES[1:]] == [
        "Message Sent (1/3) - Email", "2", "1", "Yes (1st Message)", "Yes (1st Message)", "No", "Ongoing",
    ]
    assert [bob[p] for p in PROPERTY_NAMES[1:]] == [
        "Message Replied (3/3) - LinkedIn", "0", "0", "No", "No", "Yes (3rd Message)", "Replied",
    ]
    assert [carl[p] for p in PROPERTY_NAMES[1:]] == [
        "Added to Campaign", "0", "0", "No", "No", "No", "Not Started",
    ]
    assert bob["Email or LinkedIn"] == "https://www.linkedin.com/in/bob-roe"
    # Exactly what the core derives (and Step 3 exports).
    for lead in CampaignService(ctx.store).leads("Q3 Outreach"):
        shown = rows[lead.name]
        assert {k: str(v) for k, v in lead.properties.as_dict().items()} == {p: shown[p] for p in PROPERTY_NAMES}


def test_a_bad_definition_is_refused_whole(window, ctx: AppContext, tmp_path: Path, qtbot, aloop) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    bad = tmp_path / "bad.csv"
    bad.write_text("campaign,identity,step,type\nX,ana@enginy.ai,1,email\nX,,2,fax\n", encoding="utf-8")
    page = campaigns_page(window)
    dialog = import_through_dialog(page, aloop, bad, None, qtbot)
    text = dialog.result_label.text()
    assert text.startswith("✗ The definition bad.csv was not imported:")
    assert text.endswith("Nothing was changed.")
    assert CampaignService(ctx.store).list_campaigns() == []
    assert page.body.currentIndex() == 0


def test_an_events_log_on_its_own_and_missing_leads_in_a_list(  # type: ignore[no-untyped-def]
    window, ctx: AppContext, files: tuple[Path, Path], tmp_path: Path, qtbot, aloop  # noqa: F811
) -> None:
    page = campaigns_page(window)
    import_through_dialog(page, aloop, files[0], None, qtbot).close_button.click()
    assert page.current is not None
    assert page.current.lead_count == 0
    assert page.leads_stack.currentWidget() is page.leads_empty
    more = tmp_path / "more.csv"
    more.write_text("campaign,email,step,event,timestamp\nQ3 Outreach,new@lead.com,1,sent,2026-03-05 09:00\n",
                    encoding="utf-8")
    page.import_button.click()
    dialog = page.current_dialog
    assert isinstance(dialog, CampaignImportDialog)
    dialog.events.pick = picker(more)
    dialog.events.choose.click()
    dialog.create_missing.setChecked(True)
    dialog.missing_list.setText("From campaigns")
    dialog.import_button.click()
    settle(aloop, dialog)
    assert dialog.result_label.text().startswith("✓ Events log: 1 row read — 1 recorded")
    assert "1 contact created" in dialog.result_label.text()
    assert page.model.rowCount() == 1
    assert page.lead_properties(0)["Campaign Engagement Status"] == "Message Sent (1/3) - Email"
    assert WorkspaceService(ctx.store).get_list("From campaigns").count == 1


def test_the_leads_model_passes_the_model_tester(ctx: AppContext, files: tuple[Path, Path], qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    from enginy_desktop.core.importers.campaign_import import import_definition, import_events

    import_definition(ctx.store, files[0])
    import_events(ctx.store, files[1])
    service = CampaignService(ctx.store)
    model = LeadsModel(service)
    model.PAGE = 2  # fetchMore in two steps
    model.load(service.get("Q3 Outreach"))
    assert model.rowCount() == 2
    assert model.canFetchMore(model.index(-1, -1))
    qtmodeltester.check(model)
    model.fetchMore(model.index(-1, -1))
    assert model.rowCount() == 3
    qtmodeltester.check(model, force_py=True)
    model.load(None)
    qtmodeltester.check(model)
