"""Matching benchmark (DESIGN §12): 1,000,000 local x 1,000,000 CRM contacts, "LinkedIn URL OR first+last+company".

Run from the project root:

    python benchmarks/matching.py            # 250k, 500k and 1M, median of 3 runs each
    python benchmarks/matching.py --runs 5 --sizes 1000000

Prints ``name: value unit`` lines. Each size runs in a child process of its own so that its peak memory is its
own: ``match_peak_rss_mb`` is the child's peak resident size, synthetic records included. Timings cover the
whole :func:`match` call (loading fields, normalizing both sides, indexing, looking up, grouping), not the
generation of the data.

The data is realistic on purpose: 80 % of CRM contacts have a LinkedIn URL and 1 % are held twice; half the
local contacts exist in the CRM, written differently (other case, accents, legal forms, ``es.``/``m.`` LinkedIn
hosts, tracking parameters, trailing slashes), 70 % of them with a LinkedIn URL; the other half are new (1 % of
them twice in the list); 1 % have neither URL nor company. Records come as the CRM adapter and the workspace give
them: CRM records as ``(id, dict)`` pairs, local records as columns.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from enginy_desktop.core.matching.matcher import Columns, match  # noqa: E402
from enginy_desktop.core.matching.rules import ContactPreset, contact_rule  # noqa: E402

FIRST = ["Jane", "John", "José", "María", "Zoë", "Søren", "Łukasz", "Ana", "Chloé", "Mohammed", "Wei", "Aiko"]
LAST = ["Doe", "Smith", "García", "O'Brien", "Müller", "Nguyễn", "Kowalski", "Dubois", "Rossi", "Tanaka"]
FORMS = ["", " Inc", ", Inc.", " LLC", " GmbH", " S.A.", " Ltd", " B.V.", " SAS", " AB"]


def _pools(rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    firsts = [f"{rng.choice(FIRST)}{i % 7 or ''}{'abcdefghij'[i % 10]}" for i in range(3000)]
    lasts = [f"{rng.choice(LAST)}-{i}" for i in range(20000)]
    companies = [f"Company {i} {rng.choice(['Labs', 'Group', 'Systems', 'Partners'])}" for i in range(50000)]
    return firsts, lasts, companies


def _slug(text: str) -> str:
    """LinkedIn writes vanity slugs in ASCII: "José García" -> "jose-garcia"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text.lower()).split())


def _variant_url(rng: random.Random, slug: str) -> str:
    host = rng.choice(["https://www.linkedin.com", "https://es.linkedin.com", "http://m.linkedin.com", "linkedin.com"])
    tail = rng.choice(["", "/", "/?trk=public_profile", "?originalSubdomain=es"])
    return f"{host}/in/{slug}{tail}"


def generate(n: int, seed: int = 7) -> tuple[list[tuple[str, dict]], Columns]:
    rng = random.Random(seed)
    firsts, lasts, companies = _pools(rng)
    crm: list[tuple[str, dict]] = []
    crm_people: list[tuple[str, str, str, str]] = []
    for i in range(n):
        if i >= n - n // 100:  # the last 1 %: people the CRM already holds twice (same names, no URL)
            first, last, company, _ = crm_people[rng.randrange(len(crm_people))]
            crm.append((f"crm-{i}", {"firstname": first, "lastname": last, "company": company}))
            continue
        first, last, company = rng.choice(firsts), rng.choice(lasts), rng.choice(companies)
        slug = _slug(f"{first}-{last}-{i:x}")
        record = {
            "firstname": first,
            "lastname": last,
            "company": company + rng.choice(FORMS),
            "hs_linkedin_url": f"https://www.linkedin.com/in/{slug}" if rng.random() < 0.8 else None,
        }
        crm.append((f"crm-{i}", record))
        crm_people.append((first, last, company, slug))
    ids: list[int] = []
    cols: dict[str, list] = {"first_name": [], "last_name": [], "company_name": [], "linkedin_url": []}
    previous_new: tuple[str, str, str, str | None] | None = None
    for i in range(n):
        if i % 2 == 0:  # exists in the CRM, written differently
            first, last, company, slug = crm_people[rng.randrange(len(crm_people))]
            first = first.upper() if rng.random() < 0.2 else first
            company = company + rng.choice(FORMS)
            url = _variant_url(rng, slug) if rng.random() < 0.7 else None
        elif previous_new is not None and rng.random() < 0.01:  # the same new person twice in the list
            first, last, company, url = previous_new
        else:  # new
            first, last, company = rng.choice(firsts), rng.choice(lasts), rng.choice(companies) + " New"
            url = _variant_url(rng, f"new-{i:x}") if rng.random() < 0.7 else None
            previous_new = (first, last, company, url)
        if rng.random() < 0.01:  # no URL and no company: cannot be compared
            url, company = None, ""
        ids.append(i)
        cols["first_name"].append(first)
        cols["last_name"].append(last)
        cols["company_name"].append(company)
        cols["linkedin_url"].append(url)
    return crm, Columns(ids, cols)


def run_size(n: int, runs: int) -> dict[str, float]:
    crm, local = generate(n)
    rule = contact_rule(
        ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY,
        {"first_name": "firstname", "last_name": "lastname", "company_name": "company",
         "linkedin_url": "hs_linkedin_url"},
    )  # fmt: skip
    times = []
    summary = None
    for _ in range(runs):
        _clear_caches()
        gc.collect()
        start = time.perf_counter()
        result = match(rule, local, crm)
        times.append(time.perf_counter() - start)
        summary = result.summary
        del result
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert summary is not None
    return {
        "seconds": statistics.median(times),
        "min_seconds": min(times),
        "peak_rss_mb": peak_mb,
        "matched": summary.matched,
        "new": summary.new,
        "ambiguous": summary.ambiguous,
        "unmatchable": summary.unmatchable,
        "local_duplicates": summary.local_duplicates,
    }


def _clear_caches() -> None:
    """Each run starts cold: no normalization learned by a previous run."""
    from enginy_desktop.core.matching import normalize

    normalize._company_key.cache_clear()
    normalize._split_host.cache_clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 500_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_size(args.child, args.runs)))
        return 0
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--runs", str(args.runs)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        suffix = "" if n == 1_000_000 else f"_{n // 1000}k"
        print(f"match_seconds{suffix}: {figures['seconds']:.2f} s")
        print(f"match_peak_rss_mb{suffix}: {figures['peak_rss_mb']:.0f} MB")
        print(
            f"match_outcomes{suffix}: matched={figures['matched']} new={figures['new']} "
            f"ambiguous={figures['ambiguous']} unmatchable={figures['unmatchable']} "
            f"local_duplicates={figures['local_duplicates']} (runs={args.runs}, "
            f"fastest {figures['min_seconds']:.2f} s)"
        )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
