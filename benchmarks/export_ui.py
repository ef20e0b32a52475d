"""Export benchmark (b) through the window (issue 7, DESIGN §12): 100,000 contacts with no rate limit, driven the
way a user does — the export dialog, its preview, **Export** with the progress dialog open, then the report —
against the HubSpot sandbox on loopback (a child process, so this process holds only the app).

    python benchmarks/export_ui.py                     # 100,000 contacts (20,000 already in the CRM), 3 runs
    python benchmarks/export_ui.py --contacts 20000 --repeat 1

Each run is a fresh child process (its own data folder, sandbox and peak memory) and prints:

- ``max_event_loop_stall_ms``: the longest the window's event loop went without turning, from opening the dialog
  to the report on screen (a 2 ms asyncio heartbeat on the qasync loop; budget ≤ 50), and per stage
  (``stall_prepare_ms``: the dialog opening; ``stall_plan_ms``: planning and the preview; ``stall_start_ms``:
  Export, the run journaled and the progress dialog opened; ``stall_run_ms``: the run; ``stall_report_ms``: the
  report read and shown);
- ``records_per_s``: contacts exported per second of the run (Export to the end), and ``records_per_s_total``
  with the planning included;
- ``peak_rss_mb``: the process's peak resident memory, Qt and set-up included (budget ≤ 400).

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
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.period)
            now = time.perf_counter()
            gap = now - last - self.period
            if gap > self.worst.get(self.stage, 0.0):
                self.worst[self.stage] = gap
            last = now

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._beat())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def one(contacts: int, existing: int) -> dict[str, float]:
    """One measured export in this process; returns the figures."""
    import keyring
    import qasync
    from PySide6.QtWidgets import QApplication

    from tests.support.memory_keyring import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    from export import _config, _connect, _export, _list, _person, _sandbox_process  # type: ignore[import-not-found]

    from enginy_desktop.core.context import AppContext
    from enginy_desktop.core.services.workspace import WorkspaceService
    from enginy_desktop.views import theme
    from enginy_desktop.views.export_dialog import ExportDialog
    from enginy_desktop.views.main_window import MainWindow
    from enginy_desktop.views.run_progress import ProgressDialog

    proc, url = _sandbox_process()
    app = QApplication.instance() or QApplication([])
    theme.apply_theme(app, dark=False)  # type: ignore[arg-type]
    figures: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = AppContext.open(Path(tmp))
            try:
                _connect(ctx, url, tier="API add-on")
                _config(ctx)
                if existing:
                    _list(ctx, "First", (_person(i) for i in range(existing)))
                    _, (first, _), _ = asyncio.run(_export(ctx, "First"))  # puts `existing` contacts in the CRM
                    assert first.state == "finished", first.error
                _list(ctx, "Big", ({**_person(i), "job_title": "VP Sales"} for i in range(contacts)))
                list_id = WorkspaceService(ctx.store).get_list("Big").id

                loop = qasync.QEventLoop(app)
                asyncio.set_event_loop(loop)
                window = MainWindow(ctx, settings_path=Path(tmp) / "w.ini")
                window.resize(1280, 800)
                window.show()
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
                                                     for w in app.topLevelWidgets()))
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
            finally:
                ctx.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return figures


UNITS = {"ms": "ms", "per_s": "records/s", "mb": "MB", "seconds": "s"}


def _unit(name: str) -> str:
    return next((u for k, u in UNITS.items() if name.endswith(k) or f"_{k}" in name), "records")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child: one run, JSON out
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    if args.one:
        print("FIGURES " + json.dumps(one(args.contacts, args.existing)), flush=True)
        return
    runs: list[dict[str, float]] = []
    for i in range(args.repeat):
        cmd = [sys.executable, __file__, "--one", "--contacts", str(args.contacts), "--existing", str(args.existing)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=3600)
        line = next((x for x in out.stdout.splitlines() if x.startswith("FIGURES ")), None)
        if out.returncode != 0 or line is None:
            print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"run {i + 1} failed (exit {out.returncode})")
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
