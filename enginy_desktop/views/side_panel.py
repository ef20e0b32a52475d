"""The left column of a workspace page: a title (with an action beside it, if any) over a list of two-line items
(a name, and a caption under it: "120 contacts"), as the Lists and Campaigns pages show their lists."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QListWidget, QVBoxLayout, QWidget

from .workspace_widgets import TwoLineDelegate

SIDE_WIDTH = 240


class SidePanel(QFrame):
    """``items`` is the list (its object and accessible names given); ``body`` is the layout to add more to."""

    def __init__(self, title: str, list_name: str, accessible_name: str, action: QWidget | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidePanel")
        self.setFixedWidth(SIDE_WIDTH)
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(8, 12, 8, 8)
        self.body.setSpacing(8)
        heading = QLabel(title)
        heading.setObjectName("sideTitle")
        if action is None:
            self.body.addWidget(heading)
        else:
            head = QHBoxLayout()
            head.addWidget(heading, 1)
            head.addWidget(action)
            self.body.addLayout(head)
        self.items = QListWidget()
        self.items.setObjectName(list_name)
        self.items.setAccessibleName(accessible_name)
        self.items.setItemDelegate(TwoLineDelegate(self.items))
        self.items.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.body.addWidget(self.items, 1)
