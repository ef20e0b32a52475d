"""Lists page benchmark (DESIGN §12: a list of 1,000,000 contacts opens and scrolls smoothly; the UI never freezes).

Opens the Lists page offscreen on a data folder holding a big list, the way a user does, and measures:

* ``lists_page_open_ms`` — from building the page to the first painted table (count, columns, one page of rows);
* ``scroll_jump_ms`` — median and worst time of a jump to a random place in the list, painted;
* ``sort_ms`` / ``filter_ms`` — a header click and a filter, until the table shows the result;
* ``loop_stall_max_ms`` — the longest the event loop went without running while sorting and filtering (the
  order is computed in a worker thread, so this stays small).

    python benchmarks/lists_page.py --data DIR          # a data folder with a big list (the largest is used)
    python benchmarks/lists_page.py --rows 1000000      # or generate one first (about 20 s for a million)

``benchmarks/import_csv.py --keep DIR`` leaves a million-contact data folder in ``DIR/data-0``.
Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_data(rows: int) -> Path:
    from import_csv import generate  # type: ignore[import-not-found]

    from enginy_desktop.core.importers.csv_import import import_csv
    from enginy_desktop.core.store import Store

    folder = Path(tempfile.mkdtemp(prefix="enginy-lists-bench-"))
    csv_path = folder / "contacts.csv"
    generate(csv_path, rows)
    data = folder / "data"
    data.mkdir()
    store = Store.open(data)
    import_csv(store, csv_path, kind="contact", list_name="Benchmark")
    store.close()
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", metavar="DIR", help="a data folder holding a big list")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate when --data is not given")
    args = parser.parse_args()

    import keyring
    import qasync
    from keyring.backends import null
    from PySide6.QtWidgets import QApplication

    keyring.set_keyring(null.Keyring())
    data = Path(args.data) if args.data else make_data(args.rows)

    from enginy_desktop.core.context import AppContext
    from enginy_desktop.views import theme
    from enginy_desktop.views.lists_page import ListsPage
    from enginy_desktop.views.main_window import MainWindow
    from enginy_desktop.views.tasks import keep_window_responsive

    app = QApplication.instance() or QApplication([])
    theme.apply_theme(app, dark=False)  # type: ignore[arg-type]
    keep_window_responsive()  # as the application does at its start
    ctx = AppContext.open(data)
    win = MainWindow(ctx, settings_path=Path(tempfile.mkdtemp()) / "w.ini")
    win.resize(1280, 800)
    win.show()
    app.processEvents()

    def paint(page: ListsPage) -> None:
        page.table.viewport().repaint()
        app.processEvents()

    started = time.perf_counter()
    page = win.show_page("lists")
    assert isinstance(page, ListsPage)
    biggest = max(page._lists, key=lambda i: i.count)
    page.select_list(biggest.id)
    paint(page)
    open_ms = (time.perf_counter() - started) * 1000
    print(f"# list '{biggest.name}': {biggest.count:,} records")

    bar = page.table.verticalScrollBar()
    rnd = random.Random(7)
    jumps = []
    for _ in range(40):
        t = time.perf_counter()
        bar.setValue(rnd.randrange(bar.maximum() + 1))
        paint(page)
        jumps.append((time.perf_counter() - t) * 1000)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    async def timed(start_work) -> tuple[float, float]:  # type: ignore[no-untyped-def]
        stall = 0.0
        done = False

        async def watch() -> None:
            nonlocal stall
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                stall = max(stall, now - last - 0.005)
                last = now

        watcher = asyncio.ensure_future(watch())
        t = time.perf_counter()
        start_work()
        await page.tasks.wait()
        page.table.viewport().repaint()  # paints now; processEvents() inside a task would nest the loop
        elapsed = time.perf_counter() - t
        done = True
        await watcher
        return elapsed * 1000, stall * 1000

    sort_ms, sort_stall = loop.run_until_complete(timed(lambda: page.sort_by("full_name")))
    page.search.setText("person12345")
    filter_ms, filter_stall = loop.run_until_complete(timed(page._apply_filter_now))
    shown = page.model.total
    loop.close()
    asyncio.set_event_loop(None)
    win.close()
    ctx.close()

    print(f"lists_page_open_ms: {open_ms:.0f} ms")
    print(f"scroll_jump_median_ms: {statistics.median(jumps):.1f} ms")
    print(f"scroll_jump_max_ms: {max(jumps):.1f} ms")
    print(f"sort_ms: {sort_ms:.0f} ms")
    print(f"filter_ms: {filter_ms:.0f} ms ({shown} matching)")
    print(f"loop_stall_max_ms: {max(sort_stall, filter_stall):.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
