"""Cold start of the real command to the painted main window.

    python benchmarks/startup.py [--runs 7] [--command "enginy-desktop"]

Each run starts a new process (`enginy-desktop --self-check`, offscreen) on a prepared data folder and measures
from just before the process is spawned to the window's first paint (the app reports the monotonic time of its
first paint event; CLOCK_MONOTONIC is shared by all processes). Prints the median as
`startup_to_paint: N ms` (budget: under 1000 ms), plus the first-ever start on an empty folder.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time


def one_run(command: list[str], data_dir: str) -> float:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    t0 = time.monotonic()
    out = subprocess.run(
        [*command, "--data-dir", data_dir, "--self-check"], capture_output=True, text=True, env=env, timeout=120
    )
    if out.returncode != 0:
        raise SystemExit(f"self-check failed: {out.stderr.strip()}")
    painted = float(re.search(r"painted_monotonic=([\d.]+)", out.stdout).group(1))  # type: ignore[union-attr]
    return (painted - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--command", default=f"{shlex.quote(sys.executable)} -m enginy_desktop")
    args = parser.parse_args()
    command = shlex.split(args.command)
    with tempfile.TemporaryDirectory() as data_dir:
        first = one_run(command, data_dir)
        runs = [one_run(command, data_dir) for _ in range(args.runs)]
    print(f"startup_first_run_new_database: {first:.0f} ms")
    print(f"startup_to_paint: {statistics.median(runs):.0f} ms")
    print(f"startup_to_paint_min: {min(runs):.0f} ms")
    print(f"startup_to_paint_max: {max(runs):.0f} ms")


if __name__ == "__main__":
    main()
