"""Design tokens (UI.md) in one place, the style sheet loader, and icon lookup."""

from __future__ import annotations

from functools import cache
from importlib import resources

from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

SPACING = (4, 8, 12, 16, 24, 32)
RADIUS_CARD = 8
RADIUS_BUTTON = 6

LIGHT = {
    "window": "#F6F7F9",
    "surface": "#FFFFFF",
    "border": "#E3E6EB",
    "border_hover": "#C9CED6",
    "text": "#1F2430",
    "text_secondary": "#5B6272",
    "text_disabled": "#A0A6B1",
    "accent": "#4F46E5",
    "accent_hover": "#4338CA",
    "accent_tint": "#EEF0FF",
    "on_accent": "#FFFFFF",
    "focus_ring": "#312E81",
    "success": "#15803D",
    "success_tint": "#E8F6EE",
    "warning": "#B45309",
    "warning_tint": "#FFF6E5",
    "danger": "#B91C1C",
    "danger_tint": "#FDECEC",
    "nav": "#FFFFFF",
    "nav_selected": "#EEF0FF",
    "track_off": "#C9CED6",
}

DARK = {
    "window": "#14161B",
    "surface": "#1E2128",
    "border": "#2E323C",
    "border_hover": "#454B57",
    "text": "#E7E9EE",
    "text_secondary": "#A3A9B6",
    "text_disabled": "#6B7280",
    "accent": "#818CF8",
    "accent_hover": "#A5B4FC",
    "accent_tint": "#272A4A",
    "on_accent": "#14161B",
    "focus_ring": "#E0E7FF",
    "success": "#4ADE80",
    "success_tint": "#173024",
    "warning": "#FBBF24",
    "warning_tint": "#3A2E12",
    "danger": "#F87171",
    "danger_tint": "#3B1A1A",
    "nav": "#1A1C22",
    "nav_selected": "#272A4A",
    "track_off": "#4B5261",
}

_palette: dict[str, str] = LIGHT


def tokens() -> dict[str, str]:
    return _palette


def color(name: str) -> QColor:
    return QColor(_palette[name])


def is_dark_system() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None:
        from PySide6.QtCore import Qt

        return bool(hints.colorScheme() == Qt.ColorScheme.Dark)
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def apply_theme(app: QApplication, dark: bool | None = None) -> None:
    """Install the style sheet with the light or dark tokens (the system's choice unless told)."""
    global _palette
    _palette = DARK if (is_dark_system() if dark is None else dark) else LIGHT
    template = (resources.files("enginy_desktop.resources") / "style.qss").read_text("utf-8")
    icons_dir = str(resources.files("enginy_desktop.resources") / "icons").replace("\\", "/")
    sheet = template.replace("@icons", icons_dir).replace("@variant", "-dark" if _palette is DARK else "")
    for name, value in sorted(_palette.items(), key=lambda kv: -len(kv[0])):
        sheet = sheet.replace(f"@{name}", value)
    if app.style().name().lower() != "fusion":
        # Replace the style only once: Qt crashes when the style changes under a wizard that was shown.
        app.setStyle("Fusion")
    pal = app.palette()
    pal.setColor(QPalette.ColorRole.Window, color("window"))
    pal.setColor(QPalette.ColorRole.Base, color("surface"))
    pal.setColor(QPalette.ColorRole.Text, color("text"))
    pal.setColor(QPalette.ColorRole.WindowText, color("text"))
    pal.setColor(QPalette.ColorRole.ButtonText, color("text"))
    pal.setColor(QPalette.ColorRole.Button, color("surface"))
    pal.setColor(QPalette.ColorRole.Highlight, color("accent"))
    pal.setColor(QPalette.ColorRole.PlaceholderText, color("text_disabled"))
    pal.setColor(QPalette.ColorRole.ToolTipBase, color("surface"))
    pal.setColor(QPalette.ColorRole.ToolTipText, color("text"))
    app.setPalette(pal)
    app.setStyleSheet(sheet)
    from . import guards

    guards.install(app)


@cache
def icon(name: str) -> QIcon:
    path = resources.files("enginy_desktop.resources") / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()
