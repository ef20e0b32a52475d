"""Chaos: the real command (``python -m enginy_desktop export``) against the HubSpot sandbox on loopback, killed
with SIGKILL at random points of its first seconds — one of them inside the transaction that journals the run —
then resumed (or exported again when the kill left no run), for several seeds. Every time, the emulator's own API
must hold each record exactly once: 0 duplicates, 0 missing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import keyring
import pytest

from enginy_desktop.sandbox.faults import FaultConfig
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig
from tests.support.export_world import CONTACT_BASICS, world

TOTAL = 600
EXISTING = 150  # already in the CRM: updated, never created again


def _command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "enginy_desktop", "--data-dir", str(data_dir), *args]


def _crm_emails(url: str) -> Counter[str]:
    """Every contact's e-mail, read page by page through the emulator's HTTP API (as HubSpot would list them)."""
    seen: Counter[str] = Counter()
    after: str | None = None
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=30) as client:
        while True:
            params: dict[str, Any] = {"limit": 100, "properties": "email"}
            if after:
                params["after"] = after
            reply = client.get("/crm/objects/2026-03/contacts", params=params)
            reply.raise_for_status()
            body = reply.json()
            seen.update(r["properties"]["email"] for r in body["results"])
            after = (body.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return seen


def _kill_after(cmd: list[str], env: dict[str, str], delay: float, log: Path) -> int:
    with log.open("a") as out:
        child = subprocess.Popen(cmd, env=env, stdout=out, stderr=out)
        try:
            child.wait(delay)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
    return child.returncode


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("seed", [3, 11, 29])
def test_random_kills_never_lose_or_double_a_record(ctx: Any, data_dir: Path, tmp_path: Path, seed: int) -> None:
    from tests.support.memory_keyring import FileKeyring

    keyring.set_keyring(FileKeyring())  # the child processes read the connection's token from this file
    rng = random.Random(seed)
    config = HubSpotSandboxConfig(owners=2, rate_limit=None, search_rate_limit=None,
                                  faults=FaultConfig(latency_ms=200, path_prefix="/crm/objects/2026-03/contacts/batch"))
    with world(ctx, config=config) as w:
        w.configure(list(CONTACT_BASICS))
        for i in range(EXISTING):
            w.add_crm_contact(email=f"lead{i}@acme.test", firstname=f"Old{i}", lastname="Test")
        w.contacts("Leads", [{"first_name": f"Lead{i}", "last_name": "Test", "email": f"lead{i}@acme.test",
                              "company_name": "Acme"} for i in range(TOTAL)])
        env = dict(os.environ)
        log = tmp_path / "children.log"
        # 1. Killed inside the transaction that journals the run (the command says when it is there, and waits).
        mark = tmp_path / "reached"
        with log.open("a") as out:
            child = subprocess.Popen(_command(data_dir, "export", "--list", "Leads", "--yes"), stdout=out, stderr=out,
                                     env={**env, "ENGINY_PAUSE_AT": "journal=60", "ENGINY_PAUSE_MARK": str(mark)})
            try:
                for _ in range(600):
                    if mark.exists() or child.poll() is not None:
                        break
                    time.sleep(0.05)
                time.sleep(rng.random() * 0.5)  # anywhere in the transaction
                assert mark.read_text() == "journal\n", log.read_text()
                os.kill(child.pid, signal.SIGKILL)
            finally:
                if child.poll() is None:
                    child.kill()
                child.wait(10)
        assert child.returncode == -signal.SIGKILL, log.read_text()
        assert ctx.runs.history(kind="export") == []  # no half-journaled run to "finish" with nothing done
        # 2. Killed at random moments of an export, then of its resumes, until one is left to finish.
        _kill_after(_command(data_dir, "export", "--list", "Leads", "--yes"), env, 1.5 + rng.random() * 2.0, log)
        for _ in range(2):
            runs = ctx.runs.history(kind="export")
            if not runs or runs[0].state == "finished":
                break
            _kill_after(_command(data_dir, "resume", str(runs[0].id)), env, 0.8 + rng.random() * 1.5, log)
        runs = ctx.runs.history(kind="export")
        if runs and runs[0].state != "finished":
            done = subprocess.run(_command(data_dir, "resume", str(runs[0].id)), env=env, capture_output=True,
                                  text=True, timeout=120)
        else:  # the kill came before the run was journaled (or after it ended): the export is simply run again
            done = subprocess.run(_command(data_dir, "export", "--list", "Leads", "--yes"), env=env,
                                  capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr + log.read_text()
        emails = _crm_emails(w.url)
        assert len(emails) == TOTAL  # 0 missing
        assert [e for e, n in emails.items() if n > 1] == []  # 0 duplicates
        assert set(emails) == {f"lead{i}@acme.test" for i in range(TOTAL)}
