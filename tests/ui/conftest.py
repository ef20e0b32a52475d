from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from enginy_desktop.core.context import AppContext


@pytest.fixture(autouse=True)
def _theme(qapp):  # type: ignore[no-untyped-def]
    from enginy_desktop.views import theme

    theme.apply_theme(qapp, dark=False)


@pytest.fixture
def window(qtbot, ctx: AppContext, data_dir: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from enginy_desktop.views.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    # Widgets caught in reference cycles (slots, tracebacks of a worker's exception) are collected here, on the GUI
    # thread; left to the collector they may be destroyed later from whichever thread allocates next (a test's
    # server thread), which Qt reports as "Timers cannot be stopped from another thread".
    gc.collect()
