"""Render Enginy Desktop's screens offscreen to PNG files, for review and for the docs.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py OUT_DIR

Uses a throw-away data folder and an in-memory keyring; never touches your own data.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import ClassVar

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(out: Path) -> None:
    import keyring
    from keyring.backend import KeyringBackend
    from PySide6.QtWidgets import QApplication

    class _Memory(KeyringBackend):
        priority = 1  # type: ignore[assignment]
        data: ClassVar[dict[tuple[str, str], str]] = {}

        def get_password(self, s: str, u: str) -> str | None:
            return self.data.get((s, u))

        def set_password(self, s: str, u: str, p: str) -> None:
            self.data[(s, u)] = p

        def delete_password(self, s: str, u: str) -> None:
            self.data.pop((s, u), None)

    keyring.set_keyring(_Memory())
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.views import theme
    from enginy_desktop.views.main_window import MainWindow

    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    dark = "--dark" in sys.argv
    theme.apply_theme(app, dark=dark)  # type: ignore[arg-type]
    suffix = "-dark" if dark else ""
    data = Path(tempfile.mkdtemp())
    ctx = AppContext.open(data)
    ctx.integrations.save_connection("hubspot", {"token": "pat-na1-demo-token"})
    ctx.integrations.enable("hubspot")
    ctx.integrations.save_connection("slack", {"webhook_url": "https://hooks.slack.com/services/T0/B0/x"})
    ctx.integrations.enable("slack")
    ctx.integrations.enable("apollo")
    win = MainWindow(ctx, settings_path=data / "w.ini")
    page = win.integrations_page

    def shot(name: str, w: int = 1280, h: int = 800) -> None:
        win.resize(w, h)
        win.show()
        for _ in range(5):
            app.processEvents()
        win.grab().save(str(out / f"{name}{suffix}.png"))

    shot("integrations-all")
    page.tabs.setCurrentIndex(1)
    shot("integrations-enabled")
    page.tabs.setCurrentIndex(2)
    shot("integrations-disabled")
    page.tabs.setCurrentIndex(0)
    shot("integrations-900", 900, 700)
    shot("integrations-small", 720, 540)
    page.search.setText("email")
    shot("integrations-search")
    page.search.setText("zzz")
    shot("integrations-search-empty")
    page.search.clear()
    for k in ("hubspot", "slack", "apollo"):
        ctx.integrations.disable(k)
    page.refresh()
    page.tabs.setCurrentIndex(1)
    shot("integrations-enabled-empty")
    page.tabs.setCurrentIndex(0)

    from enginy_desktop.core import catalog
    from enginy_desktop.views.connect_dialog import ConnectDialog, CrmConflictDialog

    for key in ("hubspot", "proxycurl", "slack"):
        dlg = ConnectDialog(ctx, catalog.get(key), win)
        dlg.show()
        for _ in range(5):
            app.processEvents()
        dlg.grab().save(str(out / f"connect-{key}{suffix}.png"))
        dlg.close()
    dlg = ConnectDialog(ctx, catalog.get("apollo"), win)
    dlg.show()
    dlg.save()
    app.processEvents()
    dlg.grab().save(str(out / f"connect-apollo-invalid{suffix}.png"))
    dlg.close()
    box = CrmConflictDialog(catalog.get("hubspot"), catalog.get("zoho"), win)
    box.show()
    app.processEvents()
    box.grab().save(str(out / f"crm-conflict{suffix}.png"))
    box.close()
    ctx.close()
    workspace_screens(app, out, suffix)
    print(f"screenshots in {out}")


def workspace_screens(app, out: Path, suffix: str) -> None:  # type: ignore[no-untyped-def]
    """Lists, the CSV import dialog, Campaigns, Team & identities — with generated data.

    ``--million DIR`` also shoots a list of a million contacts from the data folder DIR (for example the one
    ``benchmarks/import_csv.py --keep DIR`` leaves in DIR/data-0).
    """
    import asyncio
    import csv
    import time

    from enginy_desktop.core.context import AppContext
    from enginy_desktop.core.services.workspace import WorkspaceService
    from enginy_desktop.views.import_dialog import ImportDialog
    from enginy_desktop.views.main_window import MainWindow

    def settle(widget) -> None:  # type: ignore[no-untyped-def]
        for _ in range(6):
            app.processEvents()

    def grab(widget, name: str, w: int | None = None, h: int | None = None) -> None:  # type: ignore[no-untyped-def]
        if w and h:
            widget.resize(w, h)
        widget.show()
        settle(widget)
        widget.grab().save(str(out / f"{name}{suffix}.png"))

    data = Path(tempfile.mkdtemp())
    files = Path(tempfile.mkdtemp())
    ctx = AppContext.open(data)
    win = MainWindow(ctx, settings_path=data / "w.ini")
    win.resize(1280, 800)
    win.show_page("lists")
    grab(win, "lists-empty")
    grab(win, "lists-empty-small", 700, 560)

    first = ["Ana", "Bruno", "Carla", "Dana", "Elena", "Fede", "Gema", "Hugo", "Irene", "Jon"]
    last = ["Zubiri", "Álvarez", "Moss", "Pérez", "Brown", "Núñez", "Smith", "Ortega", "López", "Ruiz"]
    titles = ["Head of Sales", "CEO", "Sales Ops Manager", "Director de Ventas", "SDR", "VP Marketing"]
    people = files / "q3_leads.csv"
    with open(people, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["First Name", "Last Name", "Email", "Title", "Company", "Website", "Person Linkedin Url",
                    "City", "Country", "Lead Score"])
        for i in range(200):
            c = i % 23
            w.writerow([first[i % 10], last[(i // 10) % 10], f"{first[i % 10].lower()}.{i}@company{c}.com",
                        titles[i % 6], f"Company {c}", f"https://www.company{c}.com",
                        f"https://www.linkedin.com/in/person-{i}", ["Madrid", "Barcelona", "Lisbon"][i % 3],
                        "Spain" if i % 3 < 2 else "Portugal", str((i * 37) % 100)])
        w.writerow(["Nina", "Costa", "nina(at)globex", "CEO", "Globex", "", "", "Lima", "Peru", "5"])
        w.writerow(["", "", "", "Intern", "Nowhere", "", "", "", "", "1"])
    service = WorkspaceService(ctx.store)
    service.create_user("Ana García", "ana@enginy.ai", make_current=True)
    service.create_user("Luis Pérez", "luis@enginy.ai")
    service.create_identity("linkedin", "Ana García", "https://www.linkedin.com/in/ana-garcia")
    service.import_csv(people, "contact", "Q3 leads")
    accounts = files / "accounts.csv"
    accounts.write_text("Company Name,Domain,Industry,# Employees\n" + "".join(
        f"Company {c},company{c}.com,Software,{(c + 1) * 40}\n" for c in range(23)), encoding="utf-8")
    service.import_csv(accounts, "company", "Target accounts")

    win.show_page("integrations")
    page = win.show_page("lists")
    page.select_list("Q3 leads")
    page.table.selectRow(2)
    grab(win, "lists-data", 1280, 800)
    grab(win, "lists-data-small", 720, 540)
    page.show_next_step(page.current.id, "Imported into “Q3 leads”.")  # the bar offered after an import
    grab(win, "lists-next-step", 1280, 800)
    grab(win, "lists-next-step-small", 720, 540)
    page.next_step.setVisible(False)
    win.resize(1280, 800)
    page.set_column_visible("custom:Lead Score", True)
    page.search.setText("madrid")
    asyncio.run(page.apply_query())
    page.model.setData(page.model.index(0, page.model.column_index("email")), "not an email")
    for r in range(1, 13):
        page.table.selectionModel().select(page.model.index(r, 0), page.table.selectionModel().SelectionFlag.Select
                                           | page.table.selectionModel().SelectionFlag.Rows)
    grab(win, "lists-filtered-edit-error")
    box = page.confirm_delete_records()
    grab(box, "lists-confirm-delete")
    box.close()
    page.search.clear()
    asyncio.run(page.apply_query())

    dialog = page.open_import()
    dialog.load_file(people)
    dialog.set_mapping("Lead Score", "ignore")
    grab(dialog, "import-setup", 900, 660)
    grab(dialog, "import-setup-small", 700, 560)
    dialog.tabs.setCurrentIndex(1)
    grab(dialog, "import-preview", 900, 660)
    dialog.tabs.setCurrentIndex(0)
    dialog.list_name.setText("Q3 leads (copy)")
    asyncio.run(dialog.run_import())
    grab(dialog, "import-summary", 900, 660)
    grab(dialog, "import-summary-small", 700, 560)
    dialog.reject()

    from enginy_desktop.core.importers.csv_import import ImportProgress
    from enginy_desktop.views.import_dialog import CancelGate

    dialog = ImportDialog(service, win, reports_dir=data / "reports")
    dialog.load_file(people)
    dialog.progress_title.setText("Importing q3_leads.csv into “Q3 leads”")
    dialog.pages.setCurrentIndex(dialog.PAGE_PROGRESS)
    dialog._started = time.monotonic() - 4
    dialog._latest = ImportProgress(240_000, 40_000_000, 155_000_000, 239_800, 120, 80)
    dialog._refresh_progress()
    grab(dialog, "import-progress", 900, 660)
    dialog._running, dialog._gate, dialog._list_name = True, CancelGate(), "Q3 leads"
    question = dialog.request_cancel()
    grab(question, "import-cancel-question")
    question.close()
    dialog._running = False
    dialog.close()

    definition, events = files / "campaign.csv", files / "events.csv"
    definition.write_text(
        "campaign,identity,identity_name,step,type\n"
        "Q3 Outreach,ana@enginy.ai,Ana García,1,email\nQ3 Outreach,,,2,email\n"
        "Q3 Outreach,,,3,linkedin_connection_request\nQ3 Outreach,,,4,linkedin_message\n"
        "Founders follow-up,https://www.linkedin.com/in/ana-garcia,Ana García,1,linkedin_connection_request\n"
        "Founders follow-up,,,2,linkedin_message\n",
        encoding="utf-8",
    )
    rows = ["campaign,email,step,event,timestamp"]
    for i in range(40):
        email = f"{first[i % 10].lower()}.{i}@company{i % 23}.com"
        rows.append(f"Q3 Outreach,{email},,added,2026-03-01 08:{i:02d}")
        if i % 4 != 3:
            rows.append(f"Q3 Outreach,{email},1,sent,2026-03-02 09:{i:02d}")
        if i % 4 == 0:
            rows.append(f"Q3 Outreach,{email},1,opened,2026-03-02 10:{i:02d}")
            rows.append(f"Q3 Outreach,{email},1,opened,2026-03-03 10:{i:02d}")
        if i % 8 == 0:
            rows.append(f"Q3 Outreach,{email},1,clicked,2026-03-03 11:{i:02d}")
            rows.append(f"Q3 Outreach,{email},2,sent,2026-03-05 09:{i:02d}")
        if i % 16 == 0:
            rows.append(f"Q3 Outreach,{email},4,sent,2026-03-07 09:{i:02d}")
            rows.append(f"Q3 Outreach,{email},4,replied,2026-03-08 12:{i:02d}")
    rows.append("Q3 Outreach,ghost@nowhere.com,1,sent,2026-03-02 09:00")
    events.write_text("\n".join(rows) + "\n", encoding="utf-8")
    campaigns = win.show_page("campaigns")
    grab(win, "campaigns-empty", 1280, 800)
    cdialog = campaigns.open_import()
    cdialog.definition.set_path(definition)
    cdialog.events.set_path(events)
    asyncio.run(cdialog.run_import())
    grab(cdialog, "campaign-import-result")
    cdialog.close()
    campaigns.refresh(select="Q3 Outreach")
    grab(win, "campaigns", 1280, 800)
    grab(win, "campaigns-small", 720, 540)
    win.resize(1280, 800)

    team = win.show_page("team")
    grab(win, "team", 1280, 800)
    grab(win, "team-small", 720, 540)
    win.show_page("runs")
    grab(win, "runs-empty", 1280, 800)
    win.set_demo(True)  # the badge the demo shows
    grab(win, "runs-empty-demo-small", 720, 540)
    win.set_demo(False)
    win.resize(1280, 800)
    person = team.add_identity()
    person.address.setText("https://example.com/ana")
    person.save()
    grab(person, "team-identity-invalid")
    person.close()
    win.close()
    ctx.close()

    million = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--million=")), None)
    if million:
        big = AppContext.open(Path(million))
        started = time.perf_counter()
        win = MainWindow(big, settings_path=data / "w2.ini")
        win.resize(1280, 800)
        page = win.show_page("lists")
        win.show()
        settle(win)
        print(f"1M window with Lists page painted in {time.perf_counter() - started:.2f} s")
        page.table.scrollToBottom()
        grab(win, "lists-million")
        # What a click on the Last name header does, timed (the order is computed in a worker thread):
        page.want_sort = "last_name"
        started = time.perf_counter()
        asyncio.run(page.apply_query())
        print(f"1M list sorted by last name in {time.perf_counter() - started:.2f} s (in a worker thread)")
        page.table.scrollToTop()
        grab(win, "lists-million-sorted")
        win.close()
        big.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "screenshots"))
