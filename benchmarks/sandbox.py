"""HubSpot sandbox benchmark: how fast it seeds and answers, so benchmarks that use it know its own ceiling.

Seeds N contacts (default 100,000; a tenth as many companies), then times batch reads of 100 contacts by id,
in-process (ASGITransport) and over loopback (uvicorn in a thread), with the rate limit off; each figure is the
median of ``--repeat`` runs (the two kinds alternate, so both see the same machine load). The CPU time per
in-process request is printed too: it barely moves when other programs load the machine.

    python benchmarks/sandbox.py [--contacts 100000] [--requests 300] [--repeat 5]

Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from enginy_desktop.sandbox.crm.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig, create_app
from enginy_desktop.sandbox.kit.server import serve


async def batch_reads(client: httpx.AsyncClient, ids: list[str], requests: int) -> float:
    started = time.perf_counter()
    for i in range(requests):
        chunk = [{"id": rid} for rid in ids[(i * 100) % len(ids):][:100]]
        r = await client.post("/crm/objects/2026-03/contacts/batch/read",
                              json={"inputs": chunk, "properties": ["email", "firstname", "lastname"],
                                    "propertiesWithHistory": []})
        r.raise_for_status()
    return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    app = create_app(HubSpotSandboxConfig(seed_contacts=args.contacts, rate_limit=None, daily_limit=None))
    print(f"sandbox_seed_contacts_{args.contacts}: {time.perf_counter() - started:.2f} s")
    sb = app.state.sandbox
    ids = [str(r.id) for r in sb.live("contacts")]
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}

    async def in_process() -> float:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://api.hubapi.com",
                                     headers=headers) as client:
            return await batch_reads(client, ids, args.requests)

    in_process_runs: list[float] = []
    cpu_runs: list[float] = []
    loopback_runs: list[float] = []
    with serve(app) as base_url:
        async def loopback() -> float:
            async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
                return await batch_reads(client, ids, args.requests)

        for _ in range(args.repeat):
            cpu_started = time.process_time()
            in_process_runs.append(asyncio.run(in_process()))
            cpu_runs.append((time.process_time() - cpu_started) / args.requests * 1000)
            loopback_runs.append(asyncio.run(loopback()))
    print(f"sandbox_in_process_batch_reads: {statistics.median(in_process_runs):.0f} requests/s")
    # CPU time per in-process request (client and emulator together): steady when other programs load the
    # machine, which the requests-per-second figures are not.
    print(f"sandbox_in_process_cpu_per_request: {statistics.median(cpu_runs):.2f} ms")
    print(f"sandbox_loopback_batch_reads: {statistics.median(loopback_runs):.0f} requests/s")


if __name__ == "__main__":
    main()
