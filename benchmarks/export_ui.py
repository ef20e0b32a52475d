"""Export benchmark (b) through the window (issue 7, DESIGN §12): 100,000 contacts with no rate limit, driven the
way a user does — the export dialog, its preview, **Export** with the progress dialog open, then the report —
against the HubSpot sandbox on loopback (a child process, so this process holds only the app).

    python benchmarks/export_ui.py                     # 100,000 contacts (20,000 already in the CRM), 3 runs
    python benchmarks/export_ui.py --contacts 20000 --repeat 1

Each run gets a fresh sandbox and data folder, prepared by one child process (the contacts, and the first export
that puts some of them in the CRM); another child, holding only the app, is measured and prints:

- ``max_event_loop_stall_ms``: the longest the window's event loop went without turning, from opening the dialog
  to the report on screen (a 2 ms asyncio heartbeat on the qasync loop; budget ≤ 50), and per stage
  (``stall_prepare_ms``: the dialog opening; ``stall_plan_ms``: planning and the preview; ``stall_start_ms``:
  Export, the run journaled and the progress dialog opened; ``stall_run_ms``: the run; ``stall_report_ms``: the
  report read and shown);
- ``records_per_s``: contacts exported per second of the run (Export to the end), and ``records_per_s_total``
  with the planning included;
- ``peak_rss_mb``: the measured process's peak resident memory, Qt and the window included (budget ≤ 400);
  ``rss_window_mb``: the same process with the window open, before the export; ``rss_<stage>_mb``: the highest
  resident memory seen in each stage (sampled every 50 ms), to tell where the peak is.

The parent prints the median of each figure over the runs (``name: value unit``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "tests.support.memory_keyring.FileKeyring")
os.environ.setdefault("ENGINY_TEST_KEYRING_FILE", str(Path(tempfile.mkdtemp()) / "keyring.json"))


class Heartbeat:
    """The largest gap between turns of the event loop, per named stage."""

    def __init__(self, period: float = 0.002) -> None:
        self.period = period
        self.stage = "setup"
        self.worst: dict[str, float] = {}
        self.rss: dict[str, float] = {}  # the highest resident memory seen in each stage (MB)
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        last = time.perf_counter()
        beats = 0
        while True:
            await asyncio.sleep(self.period)
            now = time.perf_counter()
            gap = now - last - self.period
            if gap > self.worst.get(self.stage, 0.0):
                self.worst[self.stage] = gap
            last = now
            beats += 1
            if beats % 25 == 0:  # about every 50 ms: where the memory peaks
                rss = _rss_mb()
                if rss > self.rss.get(self.stage, 0.0):
                    self.rss[self.stage] = rss

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._beat())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def setup(folder: Path, url: str, contacts: int, existing: int) -> None:
    """The data folder of a run (in its own process, so the measured one holds only the app): HubSpot connected
    to the sandbox, the benchmark's Export Mapping, ``existing`` contacts exported once already (they are
    updated), and the list "Big" of ``contacts``."""
    import keyring

    from tests.support.memory_keyring import FileKeyring

    keyring.set_keyring(FileKeyring())
    from export import _config, _connect, _export, _list, _person

    from enginy_desktop.core.context import AppContext

    ctx = AppContext.open(folder)
    try:
        _connect(ctx, url, tier="API add-on")
        _config(ctx)
        if existing:
            _list(ctx, "First", (_person(i) for i in range(existing)))
            _, (first, _), _ = asyncio.run(_export(ctx, "First"))  # puts `existing` contacts in the CRM
            assert first.state == "finished", first.error
        _list(ctx, "Big", ({**_person(i), "job_title": "VP Sales"} for i in range(contacts)))
    finally:
        ctx.close()


def one(folder: Path, contacts: int) -> dict[str, float]:
    """One measured export of the list "Big" of ``folder`` through the window; returns the figures."""
    import keyring
    import qasync
    from PySide6.QtWidgets import QApplication

    from tests.support.memory_keyring import FileKeyring

    keyring.set_keyring(FileKeyring())
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.core.services.workspace import WorkspaceService
    from enginy_desktop.views import theme
    from enginy_desktop.views.export_dialog import ExportDialog
    from enginy_desktop.views.main_window import MainWindow
    from enginy_desktop.views.run_progress import ProgressDialog
    from enginy_desktop.views.tasks import keep_window_responsive

    app = QApplication.instance() or QApplication([])
    theme.apply_theme(app, dark=False)  # type: ignore[arg-type]
    keep_window_responsive()  # as the application does at its start
    figures: dict[str, float] = {}
    ctx = AppContext.open(folder)
    try:
        list_id = WorkspaceService(ctx.store).get_list("Big").id
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        window = MainWindow(ctx, settings_path=folder / "w.ini")
        window.resize(1280, 800)
        window.show()
        figures["rss_window_mb"] = _rss_mb()
        beat = Heartbeat()
        progress_seen: list[bool] = []

        async def flow() -> None:
            beat.start()
            await asyncio.sleep(0.05)
            beat.stage = "prepare"
            dialog = ExportDialog(ctx, list_id, parent=window)
            dialog.show()
            await dialog.tasks.wait()
            assert dialog.setup is not None
            assert dialog.setup.refusal is None, dialog.refusal_text.text()
            beat.stage = "plan"
            started = time.monotonic()
            plan = await dialog.make_plan()
            assert plan is not None, dialog.refusal_text.text()
            planned = time.monotonic()
            await asyncio.sleep(0.2)  # the preview on screen
            beat.stage = "start"  # Export: the run journaled, the progress dialog opened
            task = asyncio.ensure_future(dialog.run_export())
            ran = 0.0
            while not task.done():
                handle = dialog.handle
                if handle is not None and handle.latest is not None and beat.stage == "start":
                    beat.stage = "run"
                if handle is not None and handle.done and beat.stage == "run":
                    beat.stage, ran = "report", time.monotonic()  # the report is read and shown
                if beat.stage == "run":
                    progress_seen.append(any(isinstance(w, ProgressDialog) and w.isVisible()
                                             for w in QApplication.topLevelWidgets()))
                await asyncio.sleep(0.01)
            result = task.result()
            ran = ran or time.monotonic()
            beat.stage = "report"
            await asyncio.sleep(0.3)  # the report on screen
            assert result is not None
            assert result.state == "finished", result
            assert dialog.report is not None
            assert dialog.stage() == "report"
            figures["records_per_s"] = contacts / (ran - planned)
            figures["records_per_s_total"] = contacts / (ran - started)
            figures["plan_seconds"] = planned - started
            figures["run_seconds"] = ran - planned
            figures["created"] = float(result.counters.get("created", 0))
            figures["updated"] = float(result.counters.get("updated", 0))
            await beat.stop()
            dialog.close()

        loop.run_until_complete(flow())
        window.close()
        loop.close()
        assert progress_seen
        assert sum(progress_seen) >= len(progress_seen) - 1, "the progress dialog was shut"
        for stage in ("prepare", "plan", "start", "run", "report"):
            figures[f"stall_{stage}_ms"] = beat.worst.get(stage, 0.0) * 1000
        figures["max_event_loop_stall_ms"] = max(figures[f"stall_{s}_ms"]
                                                 for s in ("prepare", "plan", "start", "run", "report"))
        figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        for stage in ("prepare", "plan", "start", "run", "report"):
            figures[f"rss_{stage}_mb"] = beat.rss.get(stage, 0.0)
    finally:
        ctx.close()
    return figures


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


UNITS = {"ms": "ms", "per_s": "records/s", "mb": "MB", "seconds": "s"}


def _unit(name: str) -> str:
    return next((u for k, u in UNITS.items() if name.endswith(k) or f"_{k}" in name), "records")


def _child(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False,
                          timeout=3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--setup", metavar="DIR", help=argparse.SUPPRESS)  # a child: prepare a data folder
    parser.add_argument("--one", metavar="DIR", help=argparse.SUPPRESS)  # a child: one measured run, JSON out
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    if args.setup:
        setup(Path(args.setup), args.url, args.contacts, args.existing)
        return
    if args.one:
        print("FIGURES " + json.dumps(one(Path(args.one), args.contacts)), flush=True)
        return
    from export import _sandbox_process

    runs: list[dict[str, float]] = []
    for i in range(args.repeat):
        proc, url = _sandbox_process()  # a fresh CRM for each run
        try:
            with tempfile.TemporaryDirectory() as folder:
                size = ["--contacts", str(args.contacts), "--existing", str(args.existing), "--url", url]
                prepared = _child("--setup", folder, *size)
                if prepared.returncode != 0:
                    print(prepared.stderr[-4000:], file=sys.stderr)
                    raise SystemExit(f"run {i + 1}: the set-up failed (exit {prepared.returncode})")
                out = _child("--one", folder, *size)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        line = next((x for x in out.stdout.splitlines() if x.startswith("FIGURES ")), None)
        if line is None:
            print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"run {i + 1} failed (exit {out.returncode})")
        if out.returncode != 0:  # after its figures: the interpreter's exit (see the README on PySide6 6.12)
            print(f"# run {i + 1}: the measured process exited with {out.returncode} after its figures",
                  file=sys.stderr)
        figures = json.loads(line.split(" ", 1)[1])
        runs.append(figures)
        print(f"# run {i + 1}: " + ", ".join(f"{k}={v:.1f}" for k, v in figures.items()), flush=True)
    print(f"contacts: {args.contacts} records")
    print(f"runs: {len(runs)} runs")
    for name in runs[0]:
        value = statistics.median(r[name] for r in runs)
        print(f"{name}: {value:.1f} {_unit(name)}")


if __name__ == "__main__":
    main()
