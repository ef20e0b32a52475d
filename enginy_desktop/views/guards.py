"""Application-wide input rules, installed once on the QApplication (by :func:`theme.apply_theme`).

- The mouse wheel never changes a dropdown, spin box or date field that does not have keyboard focus: turning
  the wheel to scroll a page over a mapping dropdown used to change the mapping. The event goes to the
  scrolling area underneath instead, so the page still scrolls.
- Push buttons are never "auto-default": Qt would otherwise make whichever button has focus the one Enter
  presses (and the default moves with Tab). Each dialog names its one default button (``make_primary``).
- Table headers read like the cells under them: left-aligned (a number column's header says otherwise through
  its model), not centred over a left-aligned column.
- A table cell cut by its column's width shows its whole text as a tooltip (when its model gives none), in
  every table of the app, report tables included.
- A dialog never gets shorter than its content needs at its narrowest: Qt's minimum size of a layout leaves out
  the extra lines of word-wrapped text, so a dialog resized to its minimum squashed its fields and cut their
  text. Only what must stay whole counts; scroll areas, lists and stretch may still shrink.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QHeaderView,
    QPushButton,
    QToolTip,
    QWidget,
)

_GUARDED = (QComboBox, QAbstractSpinBox)


def _guarded_owner(obj: QObject) -> QWidget | None:
    """The dropdown or spin box ``obj`` is (or is a part of, like a spin box's line edit), if any."""
    widget = obj if isinstance(obj, QWidget) else None
    for _ in range(3):
        if widget is None:
            return None
        if isinstance(widget, _GUARDED):
            return widget
        widget = widget.parentWidget()
    return None


class InputGuard(QObject):
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if kind == QEvent.Type.Wheel:
            owner = _guarded_owner(obj)
            if owner is not None and not owner.hasFocus() and not _popup_open(owner):
                area = _scroll_area_of(owner)
                if area is not None:
                    QCoreApplication.sendEvent(area.viewport(), event)
                return True  # swallowed: the unfocused field keeps its value
        elif kind == QEvent.Type.Polish and isinstance(obj, QPushButton):
            obj.setAutoDefault(False)  # explicit: "auto" would turn on once the button is in a dialog
        elif kind == QEvent.Type.Polish and isinstance(obj, QHeaderView) and not obj.property("alignedOnce"):
            obj.setProperty("alignedOnce", True)  # once: a view may choose another alignment afterwards
            if obj.orientation() == Qt.Orientation.Horizontal:
                obj.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        elif kind == QEvent.Type.Show and isinstance(obj, QDialog):
            keep_text_readable(obj)
        elif kind == QEvent.Type.ToolTip and isinstance(event, QHelpEvent) and isinstance(obj, QWidget):
            view = obj.parentWidget()
            if isinstance(view, QAbstractItemView) and obj is view.viewport():
                return show_cut_cell_text(view, event)
        return False


def keep_text_readable(dialog: QDialog) -> None:
    """Raise ``dialog``'s minimum height to what its content needs at its minimum width: every word-wrapped text
    whole and every field at its height, while scroll areas, lists and stretch keep only their own minimum (so a
    tall dialog can still be made short enough for a small screen); a dialog of a fixed height sizes itself."""
    layout = dialog.layout()
    if layout is None or dialog.minimumHeight() == dialog.maximumHeight() or not layout.hasHeightForWidth():
        return
    layout.activate()
    narrowest = max(dialog.minimumWidth(), layout.totalMinimumSize().width())
    margins = dialog.contentsMargins()
    # The layout's least height for a width: wrapped text at its height for that width, the rest at its minimum
    # (what the layout itself honours when it is given less than its preferred height).
    least = layout.minimumHeightForWidth(narrowest - margins.left() - margins.right())
    need = max(least + margins.top() + margins.bottom(), layout.totalMinimumSize().height())
    if need > dialog.minimumHeight():
        dialog.setMinimumHeight(min(need, dialog.maximumHeight()))
    if not dialog.testAttribute(Qt.WidgetAttribute.WA_Resized) and not dialog.isMaximized():
        # Sized by Qt (at most two thirds of the screen): open as tall as the content likes where the screen has
        # room (less the title bar), never shorter than the minimum.
        room = dialog.screen().availableGeometry().height() - 40 if dialog.screen() is not None else need
        wanted = min(layout.totalHeightForWidth(dialog.width()), room, dialog.maximumHeight())
        if wanted > dialog.height():
            dialog.resize(dialog.width(), max(wanted, dialog.minimumHeight()))


def show_cut_cell_text(view: QAbstractItemView, event: QHelpEvent) -> bool:
    """Show the whole text of the cell under the mouse when its column cuts it and its model has no tooltip for
    it; True when shown (the event is handled)."""
    index = view.indexAt(event.pos())
    if not index.isValid() or index.data(Qt.ItemDataRole.ToolTipRole):
        return False  # nothing there, or the model's own tooltip (the view shows it)
    text = index.data(Qt.ItemDataRole.DisplayRole)
    if text in (None, ""):
        return False
    text = str(text)
    rect = view.visualRect(index)
    padding = 16  # the cell's padding on both sides (style.qss)
    if "\n" not in text and view.fontMetrics().horizontalAdvance(text) + padding <= rect.width():
        return False  # the whole text shows
    QToolTip.showText(event.globalPos(), text, view.viewport(), rect)
    return True


def _popup_open(widget: QWidget) -> bool:
    if isinstance(widget, QComboBox):
        view = widget.view()
        return view is not None and view.isVisible()
    return False


def _scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


def install(app: QCoreApplication) -> InputGuard:
    """Install the guard once per application; returns it."""
    guard = app.findChild(InputGuard, "inputGuard")
    if guard is None:
        guard = InputGuard(app)
        guard.setObjectName("inputGuard")
        app.installEventFilter(guard)
    return guard
