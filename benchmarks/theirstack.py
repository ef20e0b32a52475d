"""TheirStack import benchmark (DESIGN §12, §15): companies imported per second against TheirStack's 4-requests-per-
second limit, and credits spent per company imported — never a credit for a company the list already has.

    python benchmarks/theirstack.py                      # 3,000 companies, pages of 100, 3 runs
    python benchmarks/theirstack.py --companies 1000 --runs 1

The TheirStack emulator runs on loopback in a child process with the paid plan's limit (4 requests per second,
sliding window). Each run, on a fresh data folder:

1. imports ``--companies`` companies using Python into a new list (the measured import);
2. imports again into the same list with a larger cap: the list's domains are excluded from the search, so every
   company returned is new;
3. the peer: the same second import done the naive way — paging the search without excluding the known domains and
   dropping duplicates locally — against a fresh emulator with the same data.

Printed, medians over the runs:

- ``requests_per_s_vs_limit``: search requests per second over the 4/s limit (≤ 1; near 1 when the limit binds);
- ``companies_per_s``: companies imported per second of the import;
- ``rate_limited_429``: throttled answers (0);
- ``credits_per_company``: credits spent per company imported, first import (3.0 is the price);
- ``credits_per_new_company_on_reimport``: the same for the second import (3.0: no credit for a duplicate);
- ``peer_credits_per_new_company``: the naive way's credits per new company on the same second import.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator_child import EmulatorChild  # noqa: E402

os.environ.setdefault("PYTHON_KEYRING_BACKEND", "tests.support.memory_keyring.FileKeyring")
os.environ.setdefault("ENGINY_TEST_KEYRING_FILE", str(Path(tempfile.mkdtemp()) / "keyring.json"))


def Emulator(config: dict[str, Any]) -> EmulatorChild:  # noqa: N802 - reads like the class it makes
    return EmulatorChild("enginy_desktop.sandbox.sources.theirstack", "TheirStackSandbox", "TheirStackSandboxConfig",
                         config)


async def naive_import(url: str, body: dict[str, Any], known: set[str], wanted: int,
                       page: int) -> tuple[set[str], int]:
    """The peer: page through the search without excluding known domains; keep the new ones.
    Returns (the new domains, credits spent)."""
    from enginy_desktop.adapters.sources.theirstack import TheirStackAdapter
    from enginy_desktop.sandbox.sources.theirstack import SANDBOX_KEY

    seen = set(known)
    new: set[str] = set()
    credits = offset = 0
    async with TheirStackAdapter(SANDBOX_KEY, url, plan="Paid") as ts:
        while len(new) < wanted:
            result = await ts.search(body, offset=offset, limit=page)
            credits += 3 * result.raw_count
            offset += result.raw_count
            for hit in result.companies:
                if hit.domain not in seen and len(new) < wanted:
                    seen.add(hit.domain)
                    new.add(hit.domain)
            if result.raw_count < page:
                break
    return new, credits


def one_run(companies: int, page: int) -> dict[str, float]:
    from enginy_desktop.core.context import AppContext
    from enginy_desktop.core.imports.theirstack import TheirStackFilters, run_import
    from enginy_desktop.sandbox.sources.theirstack import SANDBOX_KEY

    config = {"companies": companies * 12, "plan": "paid", "api_credits": 10_000_000}
    filters = TheirStackFilters(technologies=("python",))
    emulator = Emulator(config)
    ctx = AppContext.open(Path(tempfile.mkdtemp(prefix="ts-bench-")))
    try:
        ctx.integrations.save_connection("theirstack", {"api_key": SANDBOX_KEY, "base_url": emulator.url,
                                                        "plan": "Paid"})
        ctx.integrations.enable("theirstack")
        started = time.perf_counter()
        first = asyncio.run(run_import(ctx, filters, "Python shops", companies, page_size=page))
        elapsed = time.perf_counter() - started
        s1 = emulator.state()
        imported = first.counters["added"] + first.counters.get("linked", 0)
        second = asyncio.run(run_import(ctx, filters, "Python shops", companies, page_size=page))
        s2 = emulator.state()
        new2 = second.counters["added"] + second.counters.get("linked", 0)
        credits2 = s2["used_credits"] - s1["used_credits"]
    finally:
        ctx.close()
        emulator.close()
    peer = Emulator(config)
    try:
        body = filters.body()
        known, _ = asyncio.run(naive_import(peer.url, body, set(), companies, page))  # the peer's first import
        peer_new, peer_credits = asyncio.run(naive_import(peer.url, body, known, new2, page))
    finally:
        peer.close()
    return {
        "requests_per_s_vs_limit": (s1["searches"] / elapsed) / 4.0,
        "companies_per_s": imported / elapsed,
        "rate_limited_429": float(s1["rate_limited"] + s2["rate_limited"]),
        "credits_per_company": s1["used_credits"] / max(1, imported),
        "credits_per_new_company_on_reimport": credits2 / max(1, new2),
        "peer_credits_per_new_company": peer_credits / max(1, len(peer_new)),
        "companies_imported": float(imported),
        "import_seconds": elapsed,
    }


UNITS = {"requests_per_s_vs_limit": "ratio", "companies_per_s": "companies/s", "rate_limited_429": "answers",
         "credits_per_company": "credits", "credits_per_new_company_on_reimport": "credits",
         "peer_credits_per_new_company": "credits", "companies_imported": "companies", "import_seconds": "s"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=3000)
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.companies, args.page)))
        return
    results = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, __file__, "--one", "--companies", str(args.companies), "--page",
                              str(args.page)], capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"companies: {args.companies} companies")
    print(f"page_size: {args.page} companies")
    print("rate_limit: 4 requests/s")
    for name, unit in UNITS.items():
        print(f"{name}: {statistics.median(r[name] for r in results):.3f} {unit}")


if __name__ == "__main__":
    main()
