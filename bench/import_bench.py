"""Import speed and memory: 100,000 JSON Lines items into SQLite and PostgreSQL.

    python bench/import_bench.py [--items 100000] [--pg postgresql://postgres@127.0.0.1:5432/test]

Prints items per second and the peak resident memory of a fresh process per store, so one
run's memory does not hide another's. The target: at least 20,000 items/s into SQLite, with
memory that does not grow with the file (compare --items 20000 with 100000).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = [
    "checkout",
    "payment",
    "login",
    "okta",
    "sso",
    "token",
    "refresh",
    "invoice",
    "ledger",
    "payout",
    "retry",
    "webhook",
    "timeout",
    "mobile",
    "android",
    "ios",
    "search",
    "index",
    "cache",
    "latency",
    "dashboard",
    "export",
    "csv",
    "report",
    "billing",
    "tax",
    "vat",
    "currency",
    "fraud",
    "risk",
    "onboarding",
    "signup",
    "email",
    "notification",
    "push",
    "queue",
]


def write_items(path: Path, count: int) -> None:
    """A JSON Lines file of `count` realistic items."""
    rng = random.Random(7)
    projects = ["PAY", "CORE", "WEB", "MOB", "DATA", "OPS"]
    with path.open("w", encoding="utf-8") as handle:
        for n in range(count):
            project = projects[n % len(projects)]
            record = {
                "key": f"{project}-{n}",
                "title": " ".join(rng.choices(WORDS, k=6)).capitalize(),
                "body": " ".join(rng.choices(WORDS, k=60)),
                "status": rng.choice(["To Do", "In Progress", "Done"]),
                "priority": rng.choice(["Highest", "High", "Medium", "Low", "Lowest"]),
                "assignee": f"person{rng.randrange(200)}",
                "labels": rng.sample(WORDS, 2),
                "components": [rng.choice(WORDS)],
                "created": "2026-09-01T10:00:00Z",
                "updated": "2026-11-01T10:00:00Z",
                "links": [{"type": "blocks", "target": f"CORE-{rng.randrange(count)}"}]
                if n % 2 == 0
                else [],
            }
            handle.write(json.dumps(record) + "\n")


def measure(database_url: str, path: Path, count: int) -> tuple[float, float]:
    """(items per second, peak MB) of one import in a child process."""
    code = f"""
import resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from store.db import Store
from connectors.imports import import_file
store = Store({database_url!r})
started = time.perf_counter()
result = import_file(store, Path({str(path)!r}), None)
elapsed = time.perf_counter() - started
assert result.items == {count}, result
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    elapsed, peak_mb = float(output[0]), float(output[1])
    return count / elapsed, peak_mb


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-pg", action="store_true", help="Skip PostgreSQL.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "items.jsonl"
        write_items(path, args.items)
        size_mb = path.stat().st_size / 1e6
        print(f"file: {args.items:,} items, {size_mb:.0f} MB")
        rate, peak = measure(f"sqlite:///{folder}/bench.db", path, args.items)
        print(f"sqlite:     {rate:,.0f} items/s, peak memory {peak:.0f} MB")
        if not args.no_pg:
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                sep = "&" if "?" in args.pg else "?"
                url = f"{args.pg}{sep}options=-csearch_path%3D{schema}"
                rate, peak = measure(url, path, args.items)
                print(f"postgresql: {rate:,.0f} items/s, peak memory {peak:.0f} MB")
            finally:
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(
        f"(peak memory of a bare interpreter with gapbot imported: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
    )


if __name__ == "__main__":
    main()
