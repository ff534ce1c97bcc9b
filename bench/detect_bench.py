"""Benchmark: every registered detector on a store of 100,000 items and 50,000 links.

Generates an organisation (12 teams, tickets, epics, pull requests, people, due dates,
blocking, parent and implements links) into a store, then runs `run_detection` twice in a
fresh process: the first run inserts every finding, the second reconciles them (the steady
state of a scheduler that detects after every sync). Prints the time of each phase and the
process's peak memory. The target is under 10 s per run.

    python bench/detect_bench.py                      # SQLite file in a temporary folder
    python bench/detect_bench.py postgresql://postgres@127.0.0.1:5432/test
    python bench/detect_bench.py --items 20000 --links 10000
    python bench/detect_bench.py --with-duplicates     # also the duplicates detector

By default it runs every registered rule detector except `duplicate`, which has benchmarks
of its own (its similarity index dominates any run it is part of); `--with-duplicates`
adds it when its module is installed.

The PostgreSQL variant writes into a schema of its own and drops it afterwards.

Measured on 29 Nov 2026 on the shared 2-core development machine (load average about 5,
so wall times are inflated; CPU time is the steadier figure). About 20,500 findings open:

    store        run      wall     CPU     load   detectors  reconcile  peak RSS
    SQLite       first    5.6 s    3.6 s   1.9 s  1.5 s      1.6 s      378 MiB
    SQLite       second   5.0 s    3.4 s   2.0 s  1.7 s      1.0 s
    PostgreSQL   first    9.1 s    4.4 s   3.7 s  1.6 s      3.4 s      476 MiB
    PostgreSQL   second   7.4 s    3.9 s   2.9 s  1.9 s      2.1 s
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.settings import GapbotConfig, Objective, Team  # noqa: E402
from store.db import Store  # noqa: E402
from store.items import replace_links, upsert_items  # noqa: E402

NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
TEAM_NAMES = (
    "payments",
    "platform",
    "web",
    "mobile",
    "growth",
    "search",
    "data",
    "identity",
    "billing",
    "infra",
    "support",
    "risk",
)
PRIORITIES = (("Highest", 1), ("High", 2), ("Medium", 3), ("Low", 4), ("Lowest", 5))
STATUSES = (("To Do", "todo"), ("In Progress", "in_progress"), ("In Review", "in_progress"))
DONE = ("Done", "done")
PR_SHARE = 0.15
EPIC_SHARE = 0.03
PEOPLE = 400
BATCH = 2_000
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sa", "do", "fu")
VOCABULARY = sorted({a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES})[::2]
"""About 860 made-up words for titles. The rule detectors ignore titles; with
`--with-duplicates` the duplicates detector sees random word overlaps, not real language,
so its figures here say little about real stores."""


def bench_config() -> GapbotConfig:
    """Twelve teams, each with a Jira project and a repository; three objectives."""
    teams = [
        Team(
            name=name,
            slack_channel=f"#{name}",
            jira_projects=[name[:4].upper()],
            github_repos=[f"acme/{name}"],
        )
        for name in TEAM_NAMES
    ]
    objectives = [
        Objective(key="PAYM-1", title="Self-serve onboarding"),
        Objective(key="Faster checkout", labels=["checkout"]),
        Objective(key="GROW-2", title="Activation"),
    ]
    return GapbotConfig(teams=teams, objectives=objectives)


def _row(key: str, team: str, project: str, rng: random.Random, **extra: Any) -> dict[str, Any]:
    priority, rank = rng.choice(PRIORITIES)
    status, category = rng.choice(STATUSES) if rng.random() < 0.7 else DONE
    created = NOW - timedelta(days=rng.uniform(1, 400))
    updated = min(NOW, created + timedelta(days=rng.uniform(0, 60)))
    row: dict[str, Any] = {
        "key": key,
        "source": "jira",
        "kind": "story",
        "external_id": None,
        "title": " ".join(rng.sample(VOCABULARY, rng.randint(4, 8))),
        "body": "",
        "url": f"https://jira.example.test/browse/{key}",
        "project": project,
        "team": team,
        "status": status,
        "status_category": category,
        "priority": priority,
        "priority_rank": rank,
        "issue_type": "Story",
        "assignee": f"Person {rng.randrange(PEOPLE)}",
        "assignee_email": "",
        "labels": ["checkout"] if rng.random() < 0.05 else [],
        "components": [],
        "created": created,
        "updated": updated,
        "resolved": updated if category == "done" else None,
        "due": (NOW.date() + timedelta(days=rng.randint(-60, 90))) if rng.random() < 0.2 else None,
        "parent": None,
        "draft": False,
        "merged": False,
        "merged_at": None,
        "review_requested_at": None,
        "first_review_at": None,
        "review_state": "",
        "head_branch": "",
        "files": [],
        "mentions": [],
        "gone": False,
        "synced_at": NOW,
    }
    row.update(extra)
    return row


def generate(store: Store, items: int, links: int, seed: int = 7) -> None:
    """Write `items` items and `links` links into the store."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    tickets_by_team: dict[str, list[str]] = {t: [] for t in TEAM_NAMES}
    epics_by_team: dict[str, list[str]] = {t: [] for t in TEAM_NAMES}
    prs: list[tuple[str, str]] = []
    for number in range(items):
        team = TEAM_NAMES[number % len(TEAM_NAMES)]
        project = team[:4].upper()
        if rng.random() < PR_SHARE:
            key = f"acme/{team}#{number}"
            merged = rng.random() < 0.5
            opened = NOW - timedelta(days=rng.uniform(0.5, 60))
            row = _row(
                key,
                team,
                f"acme/{team}",
                rng,
                source="github",
                kind="pull_request",
                status="merged" if merged else "open",
                status_category="done" if merged else "in_progress",
                priority="",
                priority_rank=3,
                created=opened,
                merged=merged,
                merged_at=opened + timedelta(days=rng.uniform(0, 5)) if merged else None,
                draft=rng.random() < 0.1,
                review_requested_at=opened if rng.random() < 0.7 else None,
                first_review_at=opened + timedelta(hours=5) if rng.random() < 0.5 else None,
                due=None,
            )
            prs.append((key, team))
        else:
            key = f"{project}-{number}"
            is_epic = rng.random() < EPIC_SHARE
            parent = None
            if not is_epic and epics_by_team[team] and rng.random() < 0.4:
                parent = rng.choice(epics_by_team[team][-50:])
            row = _row(key, team, project, rng, kind="epic" if is_epic else "story", parent=parent)
            (epics_by_team if is_epic else tickets_by_team)[team].append(key)
        rows.append(row)
    link_rows: list[dict[str, Any]] = []
    # Parent links as the connectors declare them (one per child with a parent).
    link_rows += [
        {"source_key": r["parent"], "target_key": r["key"], "type": "parent", "origin": r["key"]}
        for r in rows
        if r["parent"]
    ]
    remaining = max(0, links - len(link_rows))
    implements = min(len(prs), remaining // 2)
    for pr_key, team in rng.sample(prs, implements):
        ticket = rng.choice(tickets_by_team[team])
        link_rows.append(
            {"source_key": pr_key, "target_key": ticket, "type": "implements", "origin": pr_key}
        )
    for _ in range(remaining - implements):
        blocker_team, waiting_team = rng.sample(TEAM_NAMES, 2)
        if rng.random() < 0.3:
            waiting_team = blocker_team
        blocker = rng.choice(tickets_by_team[blocker_team])
        waiting = rng.choice(tickets_by_team[waiting_team])
        link_rows.append(
            {"source_key": blocker, "target_key": waiting, "type": "blocks", "origin": blocker}
        )
    with store.session() as session:
        for start in range(0, len(rows), BATCH):
            upsert_items(session, rows[start : start + BATCH])
        replace_links(session, [], link_rows)


def measure(url: str, with_duplicates: bool) -> None:
    """Run detection twice and print the figures (run in a fresh process)."""
    from detectors.registry import registry
    from detectors.runner import run_detection

    store = Store(url)
    config = bench_config()
    specs = [s for s in registry().values() if with_duplicates or s.id != "duplicate"]
    print(f"detectors: {', '.join(s.id for s in specs)}")
    for label, moment in (("first run", NOW), ("second run", NOW + timedelta(hours=1))):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run_detection(store, config, moment, detectors=specs)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        detect = sum(run.seconds for run in result.runs)
        print(
            f"{label}: {total:.2f} s wall, {cpu:.2f} s CPU "
            f"(load {result.load_seconds:.2f} s, detectors "
            f"{detect:.2f} s, reconcile {result.reconcile_seconds:.2f} s) on "
            f"{result.items:,} items and {result.links:,} links: {result.open_total:,} open, "
            f"{len(result.new):,} new, {len(result.resolved):,} resolved"
        )
        if result.failed:
            print(f"  FAILED: {[(r.id, r.error) for r in result.failed]}")
    slowest = sorted(result.runs, key=lambda r: -r.seconds)[:3]
    print("slowest detectors: " + ", ".join(f"{r.id} {r.seconds:.2f} s" for r in slowest))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak memory (max RSS of the detecting process): {peak_kib / 1024:.0f} MiB")
    print(f"load average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    store.dispose()


def main() -> None:
    """Generate the store, then measure detection in a fresh process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--links", type=int, default=50_000)
    parser.add_argument(
        "--with-duplicates", action="store_true", help="also run the duplicates detector"
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.with_duplicates)
        return
    with tempfile.TemporaryDirectory() as folder:
        schema = ""
        if args.url:
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(args.url, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            separator = "&" if "?" in args.url else "?"
            url = f"{args.url}{separator}options={quote(f'-csearch_path={schema}')}"
        else:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
        try:
            started = time.perf_counter()
            store = Store(url)
            generate(store, args.items, args.links)
            store.dispose()
            print(
                f"generated {args.items:,} items and {args.links:,} links on "
                f"{'PostgreSQL' if args.url else 'SQLite'} in {time.perf_counter() - started:.1f} s"
            )
            command = [sys.executable, __file__, "--measure", url]
            if args.with_duplicates:
                command.append("--with-duplicates")
            subprocess.run(command, check=True)
        finally:
            if schema:
                with psycopg.connect(args.url, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
