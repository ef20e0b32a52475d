"""CSV import and list-opening benchmark (DESIGN §12: a 1,000,000-contact list imports fast and opens at once).

Generates a contacts CSV (Apollo-like headers, 1 company per 20 contacts, one custom column) in a temporary
folder, imports it into a fresh data folder in a child process (so its peak memory is measured alone), then
opens the list through the workspace service the way the list page does: count, then the first page; then a
sorted first page (the one-off cost of sorting the whole list) and a page deep inside it.

    python benchmarks/import_csv.py [--rows 1000000] [--runs 3] [--parallel auto|yes|no] [--keep DIR]

Prints ``name: value unit`` lines; with several runs, the medians. ``import_rows_per_cpu_s`` divides by the CPU
time of the importing process and its parser instead of the wall clock (steadier on a busy machine).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST = ["Ana", "Luis", "María", "John", "Jane", "Pedro", "Lucía", "Tom", "Sara", "Iván", "Zoë", "Ömer"]
LAST = ["García", "Smith", "López", "Doe", "Martínez", "Brown", "Pérez", "Jones", "Núñez", "O'Brien"]
TITLES = ["Head of Sales", "CEO", "Sales Ops Manager", "Director de Ventas", "SDR", "VP Marketing"]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "First Name",
                "Last Name",
                "Email",
                "Title",
                "Company",
                "Website",
                "Person Linkedin Url",
                "City",
                "Country",
                "Lead Score",
            ]
        )
        for i in range(rows):
            c = i // 20
            w.writerow(
                [
                    rnd.choice(FIRST),
                    rnd.choice(LAST),
                    f"person{i}@company{c}.com",
                    rnd.choice(TITLES),
                    f"Company {c}",
                    f"https://www.company{c}.com",
                    f"https://www.linkedin.com/in/person-{i}",
                    "Madrid",
                    "Spain",
                    str(rnd.randrange(100)),
                ]
            )


def child_import(csv_path: str, data_dir: str, parallel: str) -> None:
    """Runs in a child process: one import; prints a JSON line with its figures."""
    from enginy_desktop.core.importers.csv_import import import_csv
    from enginy_desktop.core.store import Store

    store = Store.open(Path(data_dir))
    par = None if parallel == "auto" else parallel == "yes"
    started = time.perf_counter()
    result = import_csv(store, Path(csv_path), kind="contact", list_name="Benchmark", parallel=par)
    seconds = time.perf_counter() - started
    store.close()
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    kids_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    own, kids = self_usage.ru_maxrss, kids_usage.ru_maxrss
    cpu = sum(u.ru_utime + u.ru_stime for u in (self_usage, kids_usage))
    # ru_maxrss is KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    print(
        json.dumps(
            {
                "rows": result.rows_read,
                "imported": result.imported,
                "rejected": result.rejected,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "rss_mb": own * scale / 1e6,
                "parser_rss_mb": kids * scale / 1e6,
            }
        )
    )


def open_list(data_dir: Path) -> dict[str, float]:
    from enginy_desktop.core.services.workspace import WorkspaceService
    from enginy_desktop.core.store import Store

    store = Store.open(data_dir)
    try:
        service = WorkspaceService(store)
        t0 = time.perf_counter()
        info = service.find_list("Benchmark")
        assert info is not None
        n = service.count(info.id)
        first = service.page(info.id, 0, 100)
        t1 = time.perf_counter()
        deep = service.page(info.id, n - 100, 100)
        t2 = time.perf_counter()
        sorted_first = service.page(info.id, 0, 100, sort_column="last_name")
        t3 = time.perf_counter()
        sorted_deep = service.page(info.id, n // 2, 100, sort_column="last_name")
        t4 = time.perf_counter()
        filtered = service.count(info.id, "person12345")
        t5 = time.perf_counter()
        assert len(first) == len(deep) == len(sorted_first) == len(sorted_deep) == 100
        assert filtered >= 1
        return {
            "list_open_ms": (t1 - t0) * 1000,
            "list_page_deep_ms": (t2 - t1) * 1000,
            "list_sort_first_page_ms": (t3 - t2) * 1000,
            "list_sorted_page_ms": (t4 - t3) * 1000,
            "list_filter_ms": (t5 - t4) * 1000,
        }
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--parallel", choices=("auto", "yes", "no"), default="auto")
    parser.add_argument("--keep", metavar="DIR", help="keep the CSV and the last data folder in DIR")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_import(*args.child)
        return 0

    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="enginy-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        csv_path = tmp / f"contacts-{args.rows}.csv"
        if not csv_path.exists():
            t = time.perf_counter()
            generate(csv_path, args.rows)
            print(f"# generated {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
        rates, cpu_rates, rss, parser_rss, opens = [], [], [], [], []
        for run in range(args.runs):
            data_dir = tmp / f"data-{run}"
            shutil.rmtree(data_dir, ignore_errors=True)
            data_dir.mkdir()
            out = (
                subprocess.run(
                    [sys.executable, __file__, "--child", str(csv_path), str(data_dir), args.parallel],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            figures = json.loads(out)
            assert figures["imported"] == args.rows, figures
            rates.append(figures["rows"] / figures["seconds"])
            cpu_rates.append(figures["rows"] / figures["cpu_seconds"])
            rss.append(figures["rss_mb"])
            parser_rss.append(figures["parser_rss_mb"])
            opens.append(open_list(data_dir))
            open_ms = opens[-1]["list_open_ms"]
            print(f"# run {run + 1}: {rates[-1]:,.0f} rows/s, {rss[-1]:.0f} MB, open {open_ms:.0f} ms")
            if run < args.runs - 1 or not args.keep:
                shutil.rmtree(data_dir, ignore_errors=True)
        print(f"import_rows_per_s: {statistics.median(rates):.0f} rows/s")
        # Rows per CPU-second of the importing process and its parser (start-up included): steadier than the
        # wall-clock rate on a machine that is busy with other work.
        print(f"import_rows_per_cpu_s: {statistics.median(cpu_rates):.0f} rows/s")
        print(f"import_peak_rss_mb: {statistics.median(rss):.0f} MB")
        print(f"import_parser_peak_rss_mb: {statistics.median(parser_rss):.0f} MB")
        for key in opens[0]:
            print(f"{key}: {statistics.median(o[key] for o in opens):.0f} ms")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
