"""Helpers for the workspace screens' tests: a qasync loop, CSV files, fake file dialogs."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FIRST = ["Ana", "Bruno", "Carla", "Dana", "Elena", "Fede", "Gema", "Hugo", "Irene", "Jon"]
LAST = ["Zubiri", "Álvarez", "Moss", "Pérez", "Brown", "Núñez", "Smith", "Ortega", "López", "Ruiz"]


@pytest.fixture
def aloop(qapp) -> Iterator[asyncio.AbstractEventLoop]:  # type: ignore[no-untyped-def]
    """The application's qasync loop, set as the current loop so slots can start tasks on it.

    Tests never wait inside a task: they run ``aloop.run_until_complete(page.tasks.wait())`` from the test body.
    """
    import qasync

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    asyncio.set_event_loop(None)


def settle(loop: asyncio.AbstractEventLoop, holder: Any) -> None:
    """Run the loop until every task ``holder.tasks`` started has finished."""
    loop.run_until_complete(holder.tasks.wait())


def write_contacts(path: Path, n: int, *, extra_rows: list[list[str]] | None = None) -> Path:
    """A contacts CSV with Apollo-like headers and a custom "Score" column."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["First Name", "Last Name", "Email", "Title", "Company", "City", "Score"])
        for i in range(n):
            w.writerow([FIRST[i % 10], LAST[(i // 10) % 10], f"person{i}@acme{i % 7}.com", "SDR",
                        f"Acme {i % 7}", "Madrid", str(i % 100)])
        for row in extra_rows or []:
            w.writerow(row)
    return path


def picker(path: Path) -> Callable[..., None]:
    """A file dialog stand-in that "chooses" ``path`` at once (open and save pickers alike)."""

    def pick(_parent: Any, *args: Any) -> None:
        done = args[-1]
        done(path)

    return pick
