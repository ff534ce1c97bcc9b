"""Slash command latency of `gapbot serve --http` with 100,000 items in the store.

Starts the fake Slack Web API and the real `gapbot serve --http` (waitress) on free ports,
fills a SQLite store with N items (default 100,000) and a few thousand findings, then fires
20 concurrent signed slash commands of each kind and prints p50/p99 of the time to the
acknowledgement (HTTP 200 from the app) and to the full answer (arrival at response_url).
Targets: p99 acknowledgement < 300 ms, p99 full answer < 2 s.

    python bench/slack_bench.py [--items 100000] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import requests
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.slack_server import FakeSlack  # noqa: E402
from store.db import Store  # noqa: E402
from store.models import Finding, FindingItem, WorkItem  # noqa: E402

SECRET = "bench-signing-secret"  # noqa: S105 - signs requests to the local bench server
TEAMS = ["payments", "platform", "growth", "identity", "data"]
PROJECTS = ["PAY", "CORE", "GRO", "IDN", "DAT"]
WORDS = [
    "okta",
    "sso",
    "login",
    "checkout",
    "refund",
    "invoice",
    "rate",
    "limiter",
    "webhook",
    "retry",
    "timeout",
    "cache",
    "dashboard",
    "export",
    "csv",
    "billing",
    "tax",
    "currency",
    "mobile",
    "android",
    "ios",
    "push",
    "notification",
    "search",
    "index",
    "latency",
    "outage",
    "migration",
    "postgres",
    "kafka",
    "consumer",
    "lag",
    "audit",
    "log",
]
KINDS = ["duplicate", "priority_inversion", "stale_pr", "blocked", "overdue", "status_drift"]
COMMANDS = [
    "help",
    "summary",
    "summary payments",
    "dupes",
    "priorities",
    "delivery platform",
    "search okta sso login timeout",
    "similar PAY-15",
    "item PAY-15",
    "report",
]


def fill_store(url: str, n_items: int, n_findings: int) -> None:
    """N items over five teams, and findings over random pairs of them."""
    store = Store(url)
    rng = random.Random(7)
    rows = []
    for i in range(n_items):
        team = i % len(TEAMS)
        title = " ".join(rng.sample(WORDS, 5))
        rows.append(
            WorkItem(
                key=f"{PROJECTS[team]}-{i}",
                title=title,
                team=TEAMS[team],
                source="jira",
                url=f"https://jira.example/browse/{PROJECTS[team]}-{i}",
                status_category=rng.choice(["todo", "in_progress", "done"]),
                assignee_email=f"user{i % 300}@example.com",
            ).model_dump()
        )
    with store.session() as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(WorkItem), rows[start : start + 5000])
    with store.session() as session:
        findings, links = [], []
        for f in range(n_findings):
            a, b = rng.sample(range(n_items), 2)
            keys = [rows[a]["key"], rows[b]["key"]]
            fid = f"bench-{f:05d}"
            findings.append(
                Finding(
                    id=fid,
                    kind=rng.choice(KINDS),
                    severity=rng.choice(["low", "medium", "high"]),
                    score=rng.random(),
                    summary=f"{keys[0]} and {keys[1]} look related",
                    explanation="Shared words: " + rows[a]["title"],
                    teams=sorted({rows[a]["team"], rows[b]["team"]}),
                    item_keys=keys,
                ).model_dump()
            )
            links += [{"finding_id": fid, "item_key": k} for k in keys]
        session.execute(insert(Finding), findings)
        session.execute(insert(FindingItem), links)
    store.dispose()


def signed(body: str) -> dict[str, str]:
    """Slack's signature headers for `body`."""
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def one_command(url: str, slack: FakeSlack, text: str, tag: str) -> tuple[float, float]:
    """(seconds to ack, seconds to full answer) of one slash command."""
    channel = slack.channel("payments")
    assert channel is not None
    body = urlencode(
        {
            "team_id": "T0GAPBOT",
            "channel_id": channel.id,
            "channel_name": "payments",
            "user_id": "U1",
            "command": "/gaps",
            "text": text,
            "response_url": slack.response_url(tag),
            "trigger_id": "1.2.3",
        }
    )
    started = time.perf_counter()
    response = requests.post(f"{url}/slack/events", data=body, headers=signed(body), timeout=30)
    acked = time.perf_counter() - started
    response.raise_for_status()
    if text == "help":
        return acked, acked  # the help is the acknowledgement itself
    while tag not in slack.responses:
        if time.perf_counter() - started > 60:
            msg = f"no answer to {text!r}"
            raise RuntimeError(msg)
        time.sleep(0.002)
    return acked, time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=3_000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack:
        slack.add_channel("payments")
        db = f"sqlite:///{Path(tmp) / 'bench.db'}"
        started = time.perf_counter()
        fill_store(db, args.items, args.findings)
        print(
            f"store: {args.items} items, {args.findings} findings "
            f"in {time.perf_counter() - started:.1f}s"
        )
        config = Path(tmp) / "gapbot.yaml"
        config.write_text(
            "teams:\n"
            + "".join(
                f"  - name: {t}\n    slack_channel: '#{t}'\n    jira_projects: [{p}]\n"
                for t, p in zip(TEAMS, PROJECTS, strict=True)
            )
        )
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": db,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config), "serve", "--http",
             "--port", "0", "--host", "127.0.0.1"],
            cwd=tmp, env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert server.stderr is not None
            line = ""
            while "serving Slack on" not in line:
                line = server.stderr.readline()
                if not line and server.poll() is not None:
                    raise SystemExit("gapbot serve exited")
            match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            assert match
            url = f"http://127.0.0.1:{match[1]}"
            one_command(url, slack, "summary", "warmup")
            # serve builds the similarity index in the background at start; the first
            # search waits for it (printed), the measured ones use it.
            _, ready = one_command(url, slack, "search warm up", "warmup-index")
            print(f"first search (waits for the index build at start): {ready:.1f}s")
            print(f"{args.concurrency} concurrent commands of each kind, against serve --http")
            print(f"{'command':32} {'ack p50':>8} {'ack p99':>8} {'full p50':>9} {'full p99':>9}")
            all_acks: list[float] = []
            all_full: list[float] = []
            for index, text in enumerate(COMMANDS):
                with ThreadPoolExecutor(args.concurrency) as pool:
                    results = list(
                        pool.map(
                            lambda n, t=text, i=index: one_command(url, slack, t, f"c{i}-{n}"),
                            range(args.concurrency),
                        )
                    )
                acks = [r[0] for r in results]
                full = [r[1] for r in results]
                all_acks += acks
                all_full += full
                print(
                    f"{text:32} {statistics.median(acks) * 1000:7.0f}ms "
                    f"{percentile(acks, 99) * 1000:7.0f}ms "
                    f"{statistics.median(full) * 1000:8.0f}ms {percentile(full, 99) * 1000:8.0f}ms"
                )
            print(
                f"{'all':32} {statistics.median(all_acks) * 1000:7.0f}ms "
                f"{percentile(all_acks, 99) * 1000:7.0f}ms "
                f"{statistics.median(all_full) * 1000:8.0f}ms "
                f"{percentile(all_full, 99) * 1000:8.0f}ms"
            )
            print("targets: ack p99 < 300 ms, full answer p99 < 2000 ms")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
