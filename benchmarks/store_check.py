"""Integrity-check benchmark: what SQLite's ``PRAGMA quick_check`` costs on a big store, and what opening costs
with and without it (the decision of when to run it at open rests on these figures; see docs/reliability.md).

Builds a store of ``--rows`` contacts with the generator of ``benchmarks/import_csv.py`` (or reuses the one in
``--keep DIR``), then measures, in this process, with the file in the page cache:

* ``store_quick_check_ms`` — ``PRAGMA quick_check`` on the whole file;
* ``store_open_ms`` — ``Store.open`` + close when no check is due (the usual start);
* ``store_open_after_crash_ms`` — ``Store.open`` + close after a process died with the store open (check runs).

    python benchmarks/store_check.py [--rows 1000000] [--runs 5] [--keep DIR]

Prints ``name: value unit`` lines (medians).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("import_csv_bench", Path(__file__).with_name("import_csv.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="keep (and reuse) the CSV and the store in DIR")
    args = parser.parse_args()

    from enginy_desktop.core.importers.csv_import import import_csv
    from enginy_desktop.core.store import OPEN_MARKER_PREFIX, Store, quick_check

    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="enginy-check-"))
    tmp.mkdir(parents=True, exist_ok=True)
    data_dir = tmp / f"store-{args.rows}"
    try:
        if not (data_dir / "enginy.db").exists():
            csv_path = tmp / f"contacts-{args.rows}.csv"
            if not csv_path.exists():
                _generator()(csv_path, args.rows)  # type: ignore[operator]
            data_dir.mkdir(parents=True, exist_ok=True)
            store = Store.open(data_dir)
            import_csv(store, csv_path, list_name="Benchmark")
            store.close()
        db = data_dir / "enginy.db"
        print(f"# store: {db.stat().st_size / 1e6:.0f} MB", file=sys.stderr)
        quick_check(db)  # warm the page cache once
        checks, opens, crashed = [], [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            assert quick_check(db) == ""
            checks.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            store = Store.open(data_dir)
            store.close()
            opens.append((time.perf_counter() - t) * 1000)
            (data_dir / f"{OPEN_MARKER_PREFIX}0-benchmark").touch()  # what a killed process leaves behind
            t = time.perf_counter()
            store = Store.open(data_dir)
            assert store.checked_because
            store.close()
            crashed.append((time.perf_counter() - t) * 1000)
        print(f"store_quick_check_ms: {statistics.median(checks):.0f} ms")
        print(f"store_open_ms: {statistics.median(opens):.0f} ms")
        print(f"store_open_after_crash_ms: {statistics.median(crashed):.0f} ms")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
