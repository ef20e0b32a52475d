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
    shot("integrations-small", 560, 600)
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
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "screenshots"))
