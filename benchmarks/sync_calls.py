"""Sync benchmark (issue 5, DESIGN §12): API calls and time of syncing 10,000 contacts with HubSpot.

Run from the project root:

    python benchmarks/sync_calls.py                 # 10,000 contacts, 3 repetitions, medians printed
    python benchmarks/sync_calls.py --contacts 2000 --runs 1

Each repetition starts the HubSpot sandbox on loopback (``sandbox.server.serve``) at HubSpot's Professional limit
(190 requests per 10 s, search 4 per second), seeds it with as many contacts as the list holds (and a tenth as many
companies, plus duplicates of 1 % of the list's people), imports a list of the same size into a fresh workspace —
60 % of it are the CRM's contacts written differently (other case, accents dropped, LinkedIn URLs without ``www.``
or with a trailing slash, company names without their legal form), 40 % are new — and syncs the list twice with the
default identifiers (LinkedIn URL OR first + last + company name; companies by domain). Both syncs match the list's
contacts and their companies.

Prints ``name: value unit`` lines: ``api_calls_per_1000_records`` (budget ≤ 15) and ``sync_seconds`` of the first
sync, the same for the second sync (``second_…``, which re-uses the links of the first), the number of requests the
sandbox answered with 429, and the outcome counts. Calls are HTTP requests the adapter sent (retries included),
per 1,000 contacts of the list.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("PYTHON_KEYRING_BACKEND", "tests.support.memory_keyring.FileKeyring")

from enginy_desktop.cli import run as cli  # noqa: E402
from enginy_desktop.core.context import AppContext  # noqa: E402
from enginy_desktop.core.sync import sync_list  # noqa: E402
from enginy_desktop.sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig, RateLimit, create_app  # noqa: E402
from enginy_desktop.sandbox.server import serve  # noqa: E402

LEGAL = (" Inc.", " LLC", " Ltd", " GmbH", " S.L.", " SAS", " B.V.")
NEW_FIRST = ["Aitana", "Bruno", "Carla", "Dario", "Elena", "Fabio", "Greta", "Hugo", "Irene", "Jonas", "Kira", "Leo"]
NEW_LAST = ["Arnau", "Bosch", "Cortés", "Duran", "Esteve", "Ferrer", "Gil", "Homs", "Iglesias", "Jover", "Llull"]


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _local_rows(sandbox: object, n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    crm = [r.props for r in sandbox.objects["contacts"].values()]  # type: ignore[attr-defined]
    rng.shuffle(crm)
    rows = []
    known = int(n * 0.6)
    for props in crm[:known]:
        first, last = props.get("firstname", ""), props.get("lastname", "")
        company = props.get("company", "")
        for form in LEGAL:
            if company.endswith(form) and rng.random() < 0.5:
                company = company[: -len(form)]
        if rng.random() < 0.2:
            first, last = first.upper(), last.upper()
        if rng.random() < 0.2:
            first, last = _plain(first), _plain(last)
        linkedin = props.get("hs_linkedin_url", "")
        if linkedin and rng.random() < 0.5:
            linkedin = rng.choice([linkedin + "/", linkedin.replace("https://www.", "https://"),
                                   linkedin.replace("www.", "es.")])
        website = props.get("website", "")
        domain = website.replace("https://www.", "") if website else ""
        rows.append({"First name": first, "Last name": last, "Email": props.get("email", ""), "Company": company,
                     "Company domain": domain, "LinkedIn URL": linkedin})
    for i in range(n - known):
        first, last = rng.choice(NEW_FIRST), f"{rng.choice(NEW_LAST)}-{i}"
        company = f"Newco {i // 8}"
        rows.append({"First name": first, "Last name": last, "Email": f"{first.lower()}.{i}@newco{i // 8}.io",
                     "Company": company, "Company domain": f"newco{i // 8}.io",
                     "LinkedIn URL": f"https://www.linkedin.com/in/{first.lower()}-new-{i}" if rng.random() < 0.8
                     else ""})
    rng.shuffle(rows)
    return rows


def _cli(data_dir: Path, *argv: str, stdin: str = "") -> None:
    out, err = io.StringIO(), io.StringIO()
    code = cli(["--data-dir", str(data_dir), *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {err.getvalue()}")


def one_run(n: int, seed: int) -> dict[str, float]:
    config = HubSpotSandboxConfig(seed_contacts=n, rate_limit=RateLimit(190, 10.0), search_rate_limit=RateLimit(4, 1.0),
                                  random_seed=seed)
    app = create_app(config)
    sandbox = app.state.sandbox
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        os.environ["ENGINY_TEST_KEYRING_FILE"] = str(Path(tmp) / "keyring.json")
        rows = _local_rows(sandbox, n, seed)
        # 1 % of the list is held twice in the CRM (same name and company, no LinkedIn URL): ambiguous when the
        # local row has no LinkedIn URL either.
        for row in rows[: n // 100]:
            if row["Company"]:
                sandbox.insert("contacts", {"firstname": row["First name"], "lastname": row["Last name"],
                                            "company": row["Company"]})
        path = Path(tmp) / "list.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        with serve(app) as url:
            _cli(data_dir, "connect", "hubspot", "--set", f"base_url={url}", "--set", "tier=Professional",
                 "--secret-stdin", "token", stdin=DEFAULT_TOKEN + "\n")
            _cli(data_dir, "integrations", "enable", "hubspot")
            _cli(data_dir, "import", "contacts", str(path), "--list", "Benchmark")
            ctx = AppContext.open(data_dir)
            try:
                figures: dict[str, float] = {}
                for label in ("", "second_"):
                    before = len(sandbox.requests)
                    started = time.perf_counter()
                    result = asyncio.run(sync_list(ctx, "Benchmark"))
                    figures[f"{label}sync_seconds"] = time.perf_counter() - started
                    figures[f"{label}api_calls"] = result.api_calls
                    figures[f"{label}api_calls_per_1000_records"] = result.api_calls * 1000 / n
                    log = sandbox.requests[before:]
                    figures[f"{label}http_429_count"] = sum(1 for r in log if r.status == 429)
                    contacts = result.objects["contact"]
                    companies = result.objects["company"]
                    figures[f"{label}contact_calls"] = contacts.api_calls
                    figures[f"{label}company_calls"] = companies.api_calls
                    for key in ("matched", "new", "ambiguous", "unmatchable"):
                        figures[f"{label}contacts_{key}"] = contacts.counts.get(key, 0)
                    figures[f"{label}companies"] = companies.total
                    print(f"# {label or 'first_'}sync: contacts {contacts.strategy}; companies {companies.strategy}",
                          file=sys.stderr)
                return figures
            finally:
                ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    results = [one_run(args.contacts, args.seed + i) for i in range(args.runs)]
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(f"contacts: {args.contacts} records")
    print(f"runs: {args.runs} (medians)")
    print(f"api_calls_per_1000_records: {med['api_calls_per_1000_records']:.1f} calls")
    print(f"sync_seconds: {med['sync_seconds']:.2f} s")
    print(f"api_calls: {med['api_calls']:.0f} calls (contacts {med['contact_calls']:.0f}, companies "
          f"{med['company_calls']:.0f} for {med['companies']:.0f} companies)")
    print(f"http_429_count: {med['http_429_count']:.0f} requests")
    print(f"second_api_calls_per_1000_records: {med['second_api_calls_per_1000_records']:.1f} calls")
    print(f"second_sync_seconds: {med['second_sync_seconds']:.2f} s")
    print(f"second_api_calls: {med['second_api_calls']:.0f} calls (contacts {med['second_contact_calls']:.0f}, "
          f"companies {med['second_company_calls']:.0f})")
    print(f"second_http_429_count: {med['second_http_429_count']:.0f} requests")
    print(f"contacts_outcomes: {med['contacts_matched']:.0f} matched, {med['contacts_new']:.0f} new, "
          f"{med['contacts_ambiguous']:.0f} ambiguous, {med['contacts_unmatchable']:.0f} unmatchable")


if __name__ == "__main__":
    main()
