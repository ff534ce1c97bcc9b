"""How long the weekly report, the snapshot, the chart and a digest take at company scale.

Generates an organisation (30 teams, 20,000 work items, 3,000 findings over 16 weeks, a
blocking link per 20 items) in a fresh SQLite store (or DATABASE_URL if set), writes 12
weeks of snapshots, then times each step. Prints the figures; asserts nothing.

    python bench/bench_reports.py [--items 20000] [--findings 3000] [--teams 30]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.reports import (
    build_daily_digest,
    build_weekly_report,
    digest_blocks,
    last_complete_week,
    weekly_blocks,
    write_snapshot,
)
from config.settings import GapbotConfig
from detectors.base import FINDING_KINDS
from store.db import Store
from store.models import Finding, Link, WorkItem

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _config(teams: int) -> GapbotConfig:
    return GapbotConfig.model_validate(
        {
            "timezone": "Europe/Berlin",
            "slack": {"report_channel": "#eng-leads"},
            "teams": [
                {
                    "name": f"team{i:02d}",
                    "slack_channel": f"#team{i:02d}",
                    "jira_projects": [f"T{i:02d}"],
                    "restricted": i == 0,
                }
                for i in range(teams)
            ],
            "objectives": [{"key": "OBJ-1", "labels": ["okr"]}],
        }
    )


def _seed(store: Store, *, teams: int, items: int, findings: int) -> None:
    rng = random.Random(8)
    rows: list[Any] = []
    for n in range(items):
        team = n % teams
        created = NOW - timedelta(days=rng.uniform(0, 120))
        is_pr = n % 5 == 0
        rows.append(
            WorkItem(
                key=f"T{team:02d}-{n}",
                title=f"item {n}",
                team=f"team{team:02d}",
                kind="pull_request" if is_pr else "story",
                status_category=rng.choice(["todo", "in_progress", "done"]),
                labels=["okr"] if n % 7 == 0 else [],
                parent=f"T{team:02d}-{n - 1}" if n % 3 == 0 and n else None,
                created=created,
                review_requested_at=created + timedelta(hours=1) if is_pr else None,
                first_review_at=created + timedelta(hours=rng.uniform(2, 90)) if is_pr else None,
            )
        )
        if n % 20 == 0 and n:
            rows.append(
                Link(
                    source_key=f"T{(team + 1) % teams:02d}-{n - 1}",
                    target_key=f"T{team:02d}-{n}",
                    type="blocks",
                    origin=f"T{team:02d}-{n}",
                )
            )
    for n in range(findings):
        first = NOW - timedelta(days=rng.uniform(0, 112))
        resolved = first + timedelta(days=rng.uniform(1, 40)) if n % 2 else None
        a, b = rng.randrange(teams), rng.randrange(teams)
        rows.append(
            Finding(
                id=f"f-{n}",
                kind=FINDING_KINDS[n % len(FINDING_KINDS)],
                summary=f"gap {n} <between> & items",
                teams=sorted({f"team{a:02d}", f"team{b:02d}"}),
                item_keys=[f"T{a:02d}-{n}", f"T{b:02d}-{n + 1}"],
                score=rng.random(),
                status="resolved" if resolved and resolved < NOW else "open",
                first_seen=first,
                last_seen=NOW,
                resolved_at=resolved if resolved and resolved < NOW else None,
            )
        )
    with store.session() as session:
        session.add_all(rows)


def _time(label: str, func: Callable[[], Any], repeat: int = 3) -> Any:
    timings = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        timings.append(time.perf_counter() - started)
    print(f"{label:<44} median {statistics.median(timings) * 1000:8.1f} ms  (n={repeat})")
    return result


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--findings", type=int, default=3_000)
    parser.add_argument("--teams", type=int, default=30)
    args = parser.parse_args()
    config = _config(args.teams)
    with tempfile.TemporaryDirectory() as scratch:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{scratch}/bench.db"
        store = Store(url)
        started = time.perf_counter()
        _seed(store, teams=args.teams, items=args.items, findings=args.findings)
        print(
            f"store {store.dialect}: {args.items} items, {args.findings} findings, "
            f"{args.teams} teams seeded in {time.perf_counter() - started:.1f} s"
        )
        week = last_complete_week(NOW, config.zone)
        for back in range(11, -1, -1):
            write_snapshot(store, week - timedelta(days=7 * back), config, now=NOW)
        _time(
            "write_snapshot (one week, all teams)",
            lambda: write_snapshot(store, week, config, now=NOW),
        )
        org = _time(
            "build_weekly_report (organisation)",
            lambda: build_weekly_report(store, config, NOW, channel="#eng-leads"),
        )
        _time(
            "build_weekly_report (one team)",
            lambda: build_weekly_report(store, config, NOW, team="team05", channel="#team05"),
        )
        _time("weekly_blocks (organisation)", lambda: [b.to_dict() for b in weekly_blocks(org)])
        png = _time("chart_png (12 weeks)", org.chart_png)
        digest = _time(
            "build_daily_digest (one channel)",
            lambda: build_daily_digest(store, config, "#team05", NOW),
        )
        _time("digest_blocks", lambda: [b.to_dict() for b in digest_blocks(digest)])
        print(
            f"chart PNG size: {len(png) / 1024:.0f} KiB; org report open gaps: "
            f"{org.totals['open'].current}"
        )
        store.dispose()


if __name__ == "__main__":
    main()
