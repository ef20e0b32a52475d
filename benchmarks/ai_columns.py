"""AI columns benchmark (DESIGN §12): an AI column over 5,000 rows through the window, against the OpenAI emulator
on loopback (a child process) at a configured requests- and tokens-per-minute limit.

    python benchmarks/ai_columns.py                          # 5,000 rows, RPM 6,000, TPM 1,000,000, 3 runs
    python benchmarks/ai_columns.py --rows 1000 --runs 1 --rpm 3000 --tpm 300000

The emulator starts with the account's allowance used up (as right after a busy minute), so the whole run is paced
by the limits — no first-minute burst flatters the figure. Each run: a fresh data folder with ``--rows`` contacts
(one in 50 without a job title), a yes/no column, the run started as a user starts it on the qasync loop — the AI
column dialog open, then **Run** (worker thread, progress dialog open) — and the same column run again. The process
hands the interpreter over as the application does (``keep_window_responsive``). Printed,
medians over the runs:

- ``rows_per_min_vs_ceiling``: rows answered per minute over the lower of the two ceilings — RPM, and TPM divided
  by the tokens a row used (≥ 0.9);
- ``requests_per_row``: requests sent per row asked (429 retries included; 1.0 is ideal);
- ``tokens_per_row``: prompt + completion tokens per row, as the emulator counted them;
- ``rate_limited_429``: throttled answers during the run (no storm: a handful at most);
- ``estimate_error_pct``: the offline estimate against the tokens the run reported (within ±15);
- ``requests_on_rerun``: requests the second run sent (0: every row is already done or cached);
- ``max_event_loop_stall_ms``: the longest the window's event loop went without turning from **Run** in the dialog to
  the end of the run, progress dialog open (≤ 50); ``stall_at_s``: when it happened, from Run;
  ``stall_at_run_ms``: the longest that began in the first half second from Run (the progress dialog opening, the
  worker starting);
- ``idle_process_stall_ms`` (the peer): the same heartbeat in an idle process started beside the run, for the
  same time — what the machine's own scheduling costs any process (on a loaded machine, most of the figure above).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator_child import EmulatorChild  # noqa: E402

os.environ.setdefault("PYTHON_KEYRING_BACKEND", "tests.support.memory_keyring.FileKeyring")
os.environ.setdefault("ENGINY_TEST_KEYRING_FILE", str(Path(tempfile.mkdtemp()) / "keyring.json"))


def Emulator(config: dict[str, Any]) -> EmulatorChild:  # noqa: N802 - reads like the class it makes
    return EmulatorChild("enginy_desktop.sandbox.ai.openai", "OpenAISandbox", "OpenAISandboxConfig", config)


IDLE_BEAT = """
import asyncio, sys, time
async def main(seconds):
    worst, last, end = 0.0, time.perf_counter(), time.perf_counter() + seconds
    while time.perf_counter() < end:
        await asyncio.sleep(0.002)
        now = time.perf_counter()
        worst, last = max(worst, now - last - 0.002), now
    print(worst * 1000)
asyncio.run(main(float(sys.argv[1])))
"""


class Heartbeat:
    def __init__(self, period: float = 0.002, first: float = 0.5) -> None:
        self.period = period
        self.worst = 0.0
        self.worst_at = 0.0
        self.first = first  # the stalls that begin within this many seconds of the origin (Run) also count apart
        self.worst_first = 0.0
        self.origin = time.perf_counter()
        self.task: asyncio.Task[None] | None = None

    def reset(self) -> None:
        self.worst = self.worst_first = 0.0
        self.origin = time.perf_counter()

    async def beat(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.period)
            now = time.perf_counter()
            stall = now - last - self.period
            if stall > self.worst:
                self.worst, self.worst_at = stall, last - self.origin
            if last - self.origin < self.first:
                self.worst_first = max(self.worst_first, stall)
            last = now


def one_run(rows: int, rpm: int, tpm: int) -> dict[str, float]:
    import qasync
    from PySide6.QtWidgets import QApplication, QMainWindow

    from enginy_desktop.core.ai.columns import AiColumnService
    from enginy_desktop.core.ai.run import estimate, run_column
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.sandbox.ai.openai import SANDBOX_KEY
    from enginy_desktop.views import theme
    from enginy_desktop.views.ai_column_dialog import AiColumnDialog
    from enginy_desktop.views.tasks import keep_window_responsive
    from tests.support.ai_world import contacts_list

    emulator = Emulator({"rpm": rpm, "tpm": tpm, "initial_fraction": 0.0})
    data = Path(tempfile.mkdtemp(prefix="ai-bench-"))
    ctx = AppContext.open(data)
    try:
        list_id, _ids = contacts_list(ctx, rows, empty_titles=range(0, rows, 50))
        ctx.integrations.save_connection("openai", {"api_key": SANDBOX_KEY, "base_url": emulator.url + "/v1"})
        ctx.integrations.enable("openai")
        column = AiColumnService(ctx.store).create(
            list_id, "B2B", "{{first_name}} ({{job_title}}) works at {{company_name}}, a {{company.industry}} company "
            "with {{company.employee_count}} employees. Is it a B2B company?", "yes_no")
        guess = estimate(ctx, column.id)

        app = QApplication.instance()
        if not isinstance(app, QApplication):
            app = QApplication([])
        theme.apply_theme(app, dark=False)
        keep_window_responsive()  # as the application does at its start
        window = QMainWindow()
        window.resize(1280, 800)
        window.show()
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        beat = Heartbeat()

        async def main() -> tuple[Any, float]:
            # As a user does it: the AI column dialog is open (its estimate on screen), then Run.
            dialog = AiColumnDialog(ctx, list_id, column_id=column.id, parent=window)
            dialog.show()
            beat.task = asyncio.ensure_future(beat.beat())
            await dialog.tasks.wait()
            # The peer: an idle process's heartbeat for about as long as the run takes (rows / RPM) — started
            # before the pause, so that starting it is not counted at Run.
            idle = subprocess.Popen([sys.executable, "-c", IDLE_BEAT, str(rows / max(1, rpm) * 60 + 0.2)],
                                    stdout=subprocess.PIPE, text=True)
            await asyncio.sleep(0.2)
            beat.reset()
            started = beat.origin
            result = await dialog.run()
            elapsed = time.perf_counter() - started
            beat.task.cancel()
            idle_ms.append(float(idle.communicate(timeout=120)[0].strip() or "nan"))
            return result, elapsed

        idle_ms: list[float] = []
        result, elapsed = loop.run_until_complete(main())
        stats = emulator.state()
        c = result.counters
        asked = c.get("requests", 0)  # rows answered by the model in this run
        tokens = c.get("prompt_tokens", 0) + c.get("completion_tokens", 0)
        tokens_per_row = tokens / max(1, c.get("requests", 1))
        ceiling = min(rpm, tpm / tokens_per_row)
        before = stats["requests"]
        asyncio.run(run_column(ctx, column.id))
        after = emulator.state()["requests"]
        window.close()
        loop.close()
        asyncio.set_event_loop(None)
        return {
            "rows_per_min_vs_ceiling": (asked / elapsed * 60) / ceiling,
            "requests_per_row": stats["requests"] / max(1, asked),
            "tokens_per_row": tokens_per_row,
            "rate_limited_429": float(stats["rate_limited"]),
            "estimate_error_pct": (guess.tokens - tokens) / max(1, tokens) * 100,
            "requests_on_rerun": float(after - before),
            "max_event_loop_stall_ms": beat.worst * 1000,
            "stall_at_s": beat.worst_at,
            "stall_at_run_ms": beat.worst_first * 1000,
            "idle_process_stall_ms": idle_ms[0],
            "rows_asked": float(asked),
            "run_seconds": elapsed,
        }
    finally:
        ctx.close()
        emulator.close()


UNITS = {"rows_per_min_vs_ceiling": "ratio", "requests_per_row": "requests", "tokens_per_row": "tokens",
         "rate_limited_429": "answers", "estimate_error_pct": "%", "requests_on_rerun": "requests",
         "max_event_loop_stall_ms": "ms", "stall_at_s": "s", "stall_at_run_ms": "ms", "idle_process_stall_ms": "ms",
         "rows_asked": "rows", "run_seconds": "s"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rpm", type=int, default=6000)
    parser.add_argument("--tpm", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.rows, args.rpm, args.tpm)))
        return
    results = []
    for _ in range(args.runs):  # each run in its own process: a fresh window and heap
        out = subprocess.run([sys.executable, __file__, "--one", "--rows", str(args.rows), "--rpm", str(args.rpm),
                              "--tpm", str(args.tpm)], capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"rows: {args.rows} rows")
    print(f"rpm_limit: {args.rpm} requests/min")
    print(f"tpm_limit: {args.tpm} tokens/min")
    for name, unit in UNITS.items():
        value = statistics.median(r[name] for r in results)
        print(f"{name}: {value:.3f} {unit}" if abs(value) < 100 else f"{name}: {value:.1f} {unit}")


if __name__ == "__main__":
    main()
