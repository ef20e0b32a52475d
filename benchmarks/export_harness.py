"""What the per-CRM export benchmarks share (``benchmarks/export_<crm>.py``): a workspace with a list of contacts
(some already in the CRM with another job title, the rest new, optionally each with one of a few companies), the
whole export as the window and the command line run it (plan + run), the figures of a run from the emulator's
request log, medians, and ``name: value unit`` lines.

A CRM's benchmark describes itself with a :class:`CrmBench` (its field names, how to fill its emulator and how to
connect to it) and calls :func:`run_app`, then adds its own naive per-record script and its own figures. A script
starts with ``sys.path.insert(0, <the repository>)`` and imports this module before the app's: importing it puts
the keyring in a temporary file. :func:`arguments` makes the command line with the options every script takes,
:func:`print_figures` and :func:`print_ratios` print the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "tests.support.memory_keyring.FileKeyring")
os.environ.setdefault("ENGINY_TEST_KEYRING_FILE", str(Path(tempfile.mkdtemp()) / "keyring.json"))

from enginy_desktop.core.context import AppContext  # noqa: E402
from enginy_desktop.core.crm_config import ContactIdentifier, CrmConfig, FieldMapping, MappingKind  # noqa: E402
from enginy_desktop.core.matching.normalize import Kind  # noqa: E402
from enginy_desktop.core.matching.rules import Condition, ContactPreset, Rule  # noqa: E402
from enginy_desktop.sandbox.kit.server import serve  # noqa: E402

UNITS = {"seconds": "s", "records_per_s": "records/s", "api_calls_per_1000_contacts": "calls"}  # every script's


def row(i: int, prefix: str = "p") -> dict[str, Any]:
    """Contact ``i`` of the list (``prefix`` "x": someone else in the CRM, not in the list)."""
    return {"first_name": f"Ana{i}", "last_name": "Bosch", "email": f"{prefix}{i}@corp{i % 97}.example",
            "job_title": "Head of Sales", "phone": f"+34 600 {i:06d}"}


def in_crm(contacts: int, existing: int) -> Iterator[tuple[dict[str, Any], bool]]:
    """The people a CRM holds before a run: the first ``existing`` of the list (True: give them another job title,
    "Sales", so the export updates them) and as many others, not in the list (False)."""
    for i in range(existing):
        yield row(i), True
    for i in range(contacts, contacts + existing):
        yield row(i, "x"), False


@dataclass
class CrmBench:
    """One CRM as the harness needs it."""

    crm: str  # the catalog key
    contact_fields: Sequence[tuple[str, str, bool]]  # (Enginy field, CRM field, overwrite)
    company_fields: Sequence[tuple[str, str]]  # (Enginy company field, CRM field)
    email_field: str  # the contacts' identifier
    make_app: Callable[[int, int], Any]  # (contacts in the list, already in the CRM) -> the emulator's app
    settings: Callable[[str], dict[str, str]]  # the emulator's URL -> connection settings, secret included
    check: Callable[[Any, int, int], None] = field(default=lambda sb, existing, companies: None)
    before: Callable[[Any], Any] = field(default=lambda sb: None)  # what to note in the emulator before the run


@dataclass
class AppRun:
    sandbox: Any
    since: int  # the first request of the run in the emulator's log
    seconds: float
    counters: dict[str, Any]
    before: Any = None  # what ``CrmBench.before`` noted


def _configure(ctx: AppContext, bench: CrmBench) -> None:
    config = CrmConfig(crm=bench.crm)
    for source, crm_field, overwrite in bench.contact_fields:
        config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, crm_field, source=source, overwrite=overwrite))
    for source, crm_field in bench.company_fields:
        config.add_mapping("company", FieldMapping(MappingKind.ENGINY, crm_field, source=source))
    config.contact_identifier = ContactIdentifier(
        ContactPreset.CUSTOM, Rule.of(Condition("email", bench.email_field, Kind.EMAIL, "Email")))
    ctx.crm_configs.save(config)


def _fill(ctx: AppContext, contacts: int, companies: int) -> None:
    from sqlalchemy import insert

    from enginy_desktop.core.models import Company, Contact, ContactList, ListMembership, utcnow

    now = utcnow()
    with ctx.store.write() as s:
        company_ids: list[int] = []
        if companies:
            company_ids = list(s.execute(insert(Company).returning(Company.id, sort_by_parameter_order=True), [
                {"name": f"Firm {k}", "domain": f"firm{k}.example", "created_at": now, "updated_at": now,
                 "custom_fields": {}} for k in range(companies)]).scalars().all())
        lst = ContactList(name="Bench", kind="contacts")
        s.add(lst)
        s.flush()
        ids = s.execute(insert(Contact).returning(Contact.id, sort_by_parameter_order=True), [
            {**row(i), "created_at": now, "updated_at": now, "custom_fields": {},
             **({"company_id": company_ids[i % companies]} if companies else {})}
            for i in range(contacts)]).scalars().all()
        s.execute(insert(ListMembership), [{"list_id": lst.id, "record_id": rid, "position": i}
                                           for i, rid in enumerate(ids)])


async def _export(ctx: AppContext, companies: bool) -> Any:
    from enginy_desktop.core.export.plan import ExportOptions, plan_export
    from enginy_desktop.core.export.run import execute, start_export

    plan = await plan_export(ctx, "Bench", ExportOptions(associated_companies=companies))
    run_id = start_export(ctx, plan)
    del plan
    return await execute(ctx, run_id, notify=False)


def run_app(bench: CrmBench, contacts: int, existing: int, companies: int = 0) -> AppRun:
    """The whole export on a fresh emulator (on loopback) and a fresh workspace; checks it finished with every
    existing contact updated."""
    from enginy_desktop.adapters.http import forget_limiters

    forget_limiters()  # a fresh process: no window carried over from the previous run
    app = bench.make_app(contacts, existing)
    sb = app.state.sandbox
    with tempfile.TemporaryDirectory() as tmp, serve(app) as url:
        ctx = AppContext.open(Path(tmp))
        try:
            ctx.integrations.save_connection(bench.crm, bench.settings(url))
            ctx.integrations.enable(bench.crm)
            _configure(ctx, bench)
            _fill(ctx, contacts, companies)
            since = len(sb.requests)
            noted = bench.before(sb)
            started = time.monotonic()
            result = asyncio.run(_export(ctx, bool(companies)))
            seconds = time.monotonic() - started
            assert result.state == "finished", result.error
            assert result.counters.get("updated", 0) == existing, result.counters
            bench.check(sb, existing, companies)
            return AppRun(sb, since, seconds, dict(result.counters), noted)
        finally:
            ctx.close()


def api_log(sb: Any, since: int = 0) -> list[Any]:
    """The vendor API requests of the emulator's log from ``since`` (the control API left out)."""
    return [e for e in sb.requests[since:] if not e.path.startswith("/__sandbox__")]


def steady_rate(log: Sequence[Any], trim: float = 0.1) -> float:
    """Requests per second between the first and the last ``trim`` of the requests (the start-up and the tail
    left out): the steady state."""
    times = sorted(e.t for e in log)
    if len(times) < 10:
        return 0.0
    lo, hi = int(len(times) * trim), int(len(times) * (1 - trim)) - 1
    span = times[hi] - times[lo]
    return (hi - lo) / span if span > 0 else 0.0


def window_rate(log: Sequence[Any], seconds: float) -> float:
    """The calls per ``seconds`` at steady state: the mean count of the windows of ``seconds`` that start at a
    request and end before the last one (what a vendor counting a sliding window sees; the tail of a run, when the
    last calls trickle out, is not a window of its own). Falls back to the whole run's rate for a run shorter than
    one window."""
    times = sorted(e.t for e in log)
    if len(times) < 2:
        return 0.0
    if times[-1] - times[0] <= seconds:
        return (len(times) - 1) / (times[-1] - times[0]) * seconds if times[-1] > times[0] else 0.0
    counts = []
    end = 0
    for start, t in enumerate(times):
        if t + seconds > times[-1]:
            break
        while end < len(times) and times[end] < t + seconds:
            end += 1
        counts.append(end - start)
    return sum(counts) / len(counts)


def busiest_window(log: Sequence[Any], seconds: float) -> int:
    """The most requests the emulator saw arrive in any window of ``seconds``."""
    times = sorted(e.t for e in log)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def print_figures(prefix: str, figures: dict[str, float], units: dict[str, str], digits: dict[str, int] | None = None
                  ) -> None:
    """``prefix + name: value unit`` lines: three decimals for ratios and shares (``share_…``), one otherwise."""
    for name, value in figures.items():
        places = (digits or {}).get(name, 3 if units.get(name) == "ratio" or name.startswith("share") else 1)
        print(f"{prefix}{name}: {value:.{places}f} {units[name]}")


def print_ratios(naive: dict[str, float], app: dict[str, float], names: Sequence[str], places: int = 1) -> None:
    """``naive_to_app_<name>_ratio`` lines: the naive script's figure over the app's."""
    for name in names:
        print(f"naive_to_app_{name.removesuffix('_per_1000_contacts')}_ratio: {naive[name] / app[name]:.{places}f} "
              "ratio")


def arguments(title: str, crm: str, *, contacts: int = 1000, existing: int = 300, companies: int | None = 100,
              naive_runs: int | None = 1, latency: bool = True) -> argparse.ArgumentParser:
    """The command line of the export benchmark against ``title``'s emulator with the options every one takes:
    ``--crm``, ``--contacts``, ``--existing``, ``--companies`` (unless None), ``--runs``, ``--naive-runs`` (None: as
    many as ``--runs``) and ``--latency-ms`` (unless ``latency`` is False); add the CRM's own."""
    parser = argparse.ArgumentParser(description=f"Export benchmark against the {title} emulator")
    parser.add_argument("--crm", default=crm)
    parser.add_argument("--contacts", type=int, default=contacts)
    parser.add_argument("--existing", type=int, default=existing)
    if companies is not None:
        parser.add_argument("--companies", type=int, default=companies)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive-runs", type=int, default=naive_runs,
                        help="the naive script is slow: default 1" if naive_runs == 1 else "default: --runs")
    if latency:
        parser.add_argument("--latency-ms", type=int, default=30, help="latency of every answer (default 30 ms)")
    return parser


__all__ = ["UNITS", "AppRun", "CrmBench", "api_log", "arguments", "busiest_window", "in_crm", "medians",
           "print_figures", "print_ratios", "row", "run_app", "steady_rate", "window_rate"]
