"""Pieces the workspace screens (Lists, Campaigns, Team & identities) share.

* :func:`number` and :func:`count_text` format counts for the user's locale ("1,000,000 contacts").
* :class:`~enginy_desktop.views.tasks.TaskKeeper` (re-exported) starts the screens' background work.
* :class:`TwoLineDelegate` draws a name with a caption under it (lists and campaigns in the side panels).
* :func:`page_header` is the title, subtitle and action buttons at the top of a page.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from . import theme
from .formatting import count_text as count_text  # re-exported for the workspace pages
from .formatting import locale as locale
from .formatting import number as number
from .tasks import TaskKeeper as TaskKeeper  # re-exported for the screens

log = logging.getLogger(__name__)

CAPTION_ROLE = Qt.ItemDataRole.UserRole + 1


class TwoLineDelegate(QStyledItemDelegate):
    """An item's text (semibold) with its :data:`CAPTION_ROLE` text under it in the secondary colour."""

    PAD_X, PAD_Y, GAP = 10, 7, 2

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont]:
        title = QFont(option.font)
        title.setWeight(QFont.Weight.DemiBold)
        caption = QFont(option.font)
        caption.setPixelSize(12)
        return title, caption

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        title, caption = self._fonts(option)
        height = QFontMetrics(title).height() + self.GAP + QFontMetrics(caption).height() + 2 * self.PAD_Y
        return QSize(160, height)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        title_font, caption_font = self._fonts(opt)
        rect: QRect = opt.rect.adjusted(self.PAD_X, self.PAD_Y, -self.PAD_X, -self.PAD_Y)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setFont(title_font)
        painter.setPen(theme.color("accent" if selected else "text"))
        fm = QFontMetrics(title_font)
        painter.drawText(
            QRect(rect.left(), rect.top(), rect.width(), fm.height()),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            fm.elidedText(text, Qt.TextElideMode.ElideRight, rect.width()),
        )
        caption = str(index.data(CAPTION_ROLE) or "")
        painter.setFont(caption_font)
        painter.setPen(theme.color("text_secondary"))
        cm = QFontMetrics(caption_font)
        painter.drawText(
            QRect(rect.left(), rect.top() + fm.height() + self.GAP, rect.width(), cm.height()),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            cm.elidedText(caption, Qt.TextElideMode.ElideRight, rect.width()),
        )
        painter.restore()


def page_header(title: str, subtitle: str, parent: QWidget | None = None) -> tuple[QBoxLayout, QHBoxLayout]:
    """(header layout, actions layout): the page title and subtitle on the left, actions on the right."""
    header = QBoxLayout(QBoxLayout.Direction.LeftToRight)
    header.setSpacing(12)
    titles = QVBoxLayout()
    titles.setSpacing(4)
    title_label = QLabel(title, parent)
    title_label.setObjectName("pageTitle")
    subtitle_label = QLabel(subtitle, parent)
    subtitle_label.setObjectName("pageSubtitle")
    subtitle_label.setWordWrap(True)
    # The subtitle keeps room to read (a few words a line at the least); buttons beside it give way first (an
    # OverflowRow moves them into its ⋯ menu).
    subtitle_label.setMinimumWidth(260)
    titles.addWidget(title_label)
    titles.addWidget(subtitle_label)
    header.addLayout(titles, 1)
    actions = QHBoxLayout()
    actions.setSpacing(8)
    header.addLayout(actions, 0)
    return header, actions


def divider(parent: QWidget | None = None) -> QFrame:
    line = QFrame(parent)
    line.setObjectName("pageDivider")
    return line


def fit_height(dialog: QWidget) -> None:
    """Grow a dialog to its content's height at its current width.

    Word-wrapped text shown after a dialog opened (an error, a result) does not make it grow by itself; without
    this the other rows get squeezed.
    """
    layout = dialog.layout()
    if layout is None:
        return
    layout.activate()
    width = dialog.width()
    need = layout.totalMinimumSize().height()
    if layout.hasHeightForWidth():
        need = max(need, layout.totalHeightForWidth(width))
    if need > dialog.height():
        dialog.resize(width, need)


def set_state(widget: QWidget, name: str, value: str) -> None:
    """Set a dynamic property the style sheet selects on, and re-polish so the change shows."""
    widget.setProperty(name, value)
    widget.style().unpolish(widget)
    widget.style().polish(widget)
