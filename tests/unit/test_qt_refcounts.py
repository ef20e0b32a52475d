"""PySide6 must not drop references to None and True (6.12.0 on Python 3.11 does, one per call of a void method or
of Signal.emit(): a long export or sync in the window then aborts the process with "deallocating None"). This is why
pyproject.toml excludes 6.12."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel


class _Emitter(QObject):
    fired = Signal()


def test_void_methods_and_emit_keep_the_references_of_none_and_true(qapp) -> None:  # type: ignore[no-untyped-def]
    label = QLabel()
    emitter = _Emitter()
    emitter.fired.connect(lambda: None)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(200):
        label.setText("x")
        emitter.fired.emit()
    assert sys.getrefcount(None) - none_before > -50, "PySide6 drops a reference to None per void call"
    assert sys.getrefcount(True) - true_before > -50, "PySide6 drops a reference to True per Signal.emit()"
