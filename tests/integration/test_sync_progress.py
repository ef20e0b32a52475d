"""Every phase of a sync that shows a total reaches it: "Matching contacts: 80 / 80", never stuck at 0. On every
CRM emulator, identified by e-mail (batch reads or searches) and by the default identifier (searches or a listing),
a first sync and one with the links of the first (re-reads and the changes since)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from enginy_desktop.adapters.pipedrive import TokenLedger
from enginy_desktop.core import sync
from enginy_desktop.core.runs import Progress
from tests.support.crm_world import CRMS, crm_world


@pytest.fixture(autouse=True)
def _fresh_ledger() -> Any:
    TokenLedger.forget()
    yield
    TokenLedger.forget()


@pytest.mark.parametrize("by_email", [True, False], ids=["by-email", "default-identifier"])
@pytest.mark.parametrize("crm", CRMS)
def test_every_phase_with_a_total_reaches_it(ctx: Any, crm: str, by_email: bool) -> None:
    with crm_world(ctx, crm) as w:
        w.configure(w.basics(), by_email=by_email)
        for i in range(0, 12, 3):
            w.add_contact(f"Lead{i}", "Test", f"lead{i}@acme.test")
        w.contacts("Leads", [{"first_name": f"Lead{i}", "last_name": "Test", "email": f"lead{i}@acme.test"}
                             for i in range(12)])
        for _ in range(2):  # the second sync starts from the links of the first
            snapshots: list[Progress] = []
            result = asyncio.run(sync.sync_list(ctx, "Leads", progress=snapshots.append))
            assert not result.cancelled
            last: dict[str, Progress] = {}
            for snap in snapshots:
                last[snap.phase] = snap
            assert {"Matching contacts", "Storing contact links"} <= set(last)
            assert last["Matching contacts"].total == 12
            for phase, snap in last.items():
                if snap.total is not None:
                    assert snap.done == snap.total, f"{crm}: {phase} ended at {snap.done} / {snap.total}"
