"""The command line's progress lines: a new phase at once, then at most one line a second, a phase's last count
always, and never the same line twice in a row."""

from __future__ import annotations

import io

from enginy_desktop.cli.progress import ProgressLines


def test_progress_lines_print_each_phase_the_last_count_once_and_throttle_the_rest() -> None:
    now = [0.0]
    out = io.StringIO()
    lines = ProgressLines(out, clock=lambda: now[0])
    lines("Enriching", "Enriching · 0/80")
    now[0] = 0.2
    lines("Enriching", "Enriching · 10/80")  # within the second: left out
    now[0] = 1.5
    lines("Enriching", "Enriching · 40/80")
    now[0] = 1.6
    lines("Enriching", "Enriching · 80/80", last=True)  # the last count, though within the second
    lines("Enriching", "Enriching · 80/80", last=True)  # published again when the run ends: not repeated
    lines("Writing", "Writing · 0/80")  # a new phase at once
    assert out.getvalue().splitlines() == ["Enriching · 0/80", "Enriching · 40/80", "Enriching · 80/80",
                                           "Writing · 0/80"]

