"""Benchmark: `gapbot sync` against the sandbox with 20,000 Jira issues and 5,000 GitHub items.

The fake servers run in this process (threads); `gapbot sync` runs as a real subprocess, as a
user runs it, so the figures include start-up, the client libraries and the store. Printed:
items per second per source (first sync), the subprocess's peak memory (max RSS), and the
wall time of a re-sync with nothing changed.

    python bench/sync_bench.py [--jira 20000] [--github 5000] [--database-url URL]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sandbox.github_server import GitHubModel, GitHubServer  # noqa: E402
from sandbox.jira_server import JiraModel, JiraServer  # noqa: E402

JIRA_PROJECTS = ["PAY", "CORE", "GROW", "DATA"]
REPOS = ["acme/payments-api", "acme/checkout-web", "acme/platform", "acme/growth", "acme/data"]
WORDS = [
    "checkout",
    "payment",
    "refund",
    "invoice",
    "login",
    "signup",
    "search",
    "cache",
    "latency",
    "timeout",
    "retry",
    "webhook",
    "export",
    "import",
    "report",
    "dashboard",
    "billing",
    "tax",
    "currency",
    "mobile",
    "android",
    "ios",
    "api",
    "gateway",
    "queue",
]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build_jira(count: int, rng: random.Random) -> JiraModel:
    """A Cloud site with `count` issues over four projects, with links and parents."""
    model = JiraModel(deployment="Cloud")
    start = datetime.now(UTC) - timedelta(days=200)
    for project in JIRA_PROJECTS:
        model.add_project(project)
    categories = [("To Do", "new"), ("In Progress", "indeterminate"), ("Done", "done")]
    for n in range(count):
        project = JIRA_PROJECTS[n % len(JIRA_PROJECTS)]
        when = start + timedelta(minutes=n * 10)
        status, category = rng.choice(categories)
        model.add_issue(
            project,
            _text(rng, 6).capitalize(),
            description=_text(rng, 40) + "\n" + _text(rng, 20),
            status=status,
            category=category,
            priority=rng.choice(model.priorities),
            issuetype=rng.choice(["Story", "Task", "Bug"]),
            assignee=f"Dev {rng.randrange(60)}",
            labels=rng.sample(WORDS, 2),
            created=when,
            updated=when,
        )
    keys = [i["key"] for i in model.issues]
    for _ in range(count // 10):
        model.links.append(
            ("Blocks", model.get(rng.choice(keys))["id"], model.get(rng.choice(keys))["id"])  # type: ignore[index]
        )
    return model


def build_github(count: int, rng: random.Random) -> GitHubModel:
    """`count` issues and pull requests (a third PRs) over five repositories."""
    model = GitHubModel()
    start = datetime.now(UTC) - timedelta(days=100)
    for n in range(count):
        repo = REPOS[n % len(REPOS)]
        when = start + timedelta(minutes=n * 20)
        if n % 3 == 0:
            model.add_pull(
                repo,
                f"PAY-{rng.randrange(1, 5000)} {_text(rng, 5)}",
                body=f"{_text(rng, 30)}\nFixes #{rng.randrange(1, 100)}",
                head=f"feature/{rng.choice(WORDS)}-{n}",
                requested_reviewers=[f"dev{rng.randrange(60)}"],
                reviews=[
                    {
                        "user": f"dev{rng.randrange(60)}",
                        "state": "APPROVED",
                        "submitted_at": when + timedelta(hours=5),
                    }
                ]
                if n % 2
                else [],
                files=[f"src/{rng.choice(WORDS)}/{i}.py" for i in range(rng.randrange(1, 20))],
                created=when,
                updated=when,
            )
        else:
            model.add_issue(repo, _text(rng, 6), body=_text(rng, 30), created=when, updated=when)
    return model


def _own_cpu() -> float:
    """CPU seconds this process (the fake servers) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_sync(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Run `gapbot ARGS`; returns (wall seconds, CPU seconds, peak RSS in MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        sys.stderr.write(stderr)
        msg = f"gapbot {' '.join(args)} exited {process.returncode}"
        raise SystemExit(msg)
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    """Build the sandbox, sync, re-sync, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jira", type=int, default=20_000, help="Jira issues")
    parser.add_argument("--github", type=int, default=5_000, help="GitHub issues and PRs")
    parser.add_argument("--database-url", default="", help="default: a new SQLite file")
    options = parser.parse_args()
    rng = random.Random(42)
    built = time.perf_counter()
    jira_model = build_jira(options.jira, rng)
    github_model = build_github(options.github, rng)
    print(f"sandbox: {options.jira} Jira issues, {options.github} GitHub items "
          f"(built in {time.perf_counter() - built:.1f}s)")  # fmt: skip
    with (
        tempfile.TemporaryDirectory() as tmp,
        JiraServer(jira_model) as jira,
        GitHubServer(github_model) as github,
    ):
        workdir = Path(tmp)
        teams = [
            {"name": "payments", "jira_projects": ["PAY", "GROW"], "github_repos": REPOS[:2]},
            {"name": "platform", "jira_projects": ["CORE", "DATA"], "github_repos": REPOS[2:]},
        ]
        (workdir / "gapbot.yaml").write_text(yaml.safe_dump({"teams": teams}))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": tmp,
            "PYTHONPATH": str(REPO_ROOT),
            "LANG": "C.UTF-8",
            "DATABASE_URL": options.database_url or f"sqlite:///{workdir / 'bench.db'}",
            "JIRA_URL": jira.url,
            "JIRA_EMAIL": jira_model.email,
            "JIRA_API_TOKEN": jira_model.token,
            "GITHUB_API_URL": github.url,
            "GITHUB_TOKEN": github_model.token,
        }
        print(f"store: {env['DATABASE_URL'].split('?')[0]}")
        for source, count in (("jira", options.jira), ("github", options.github)):
            before = len(jira.requests) + len(github.requests)
            fake_cpu = _own_cpu()
            seconds, cpu, rss = run_sync(["sync", "--source", source], workdir, env)
            fake_cpu = _own_cpu() - fake_cpu
            requests = len(jira.requests) + len(github.requests) - before
            print(
                f"first sync  {source:<6} {count:>6} items in {seconds:6.1f}s = "
                f"{count / seconds:7.0f} items/s ({requests} requests, peak RSS {rss:.0f} MiB)\n"
                f"            CPU: gapbot {cpu:.1f}s ({count / cpu:.0f} items/s), "
                f"fake server {fake_cpu:.1f}s"
            )
        before = len(jira.requests) + len(github.requests)
        seconds, cpu, rss = run_sync(["sync"], workdir, env)
        requests = len(jira.requests) + len(github.requests) - before
        print(
            f"re-sync, nothing changed, both sources: {seconds:.2f}s wall, {cpu:.2f}s CPU "
            f"({requests} requests, peak RSS {rss:.0f} MiB)"
        )
        seconds, cpu, _ = run_sync(["--help"], workdir, env)
        print(f"  (the CLI's start-up alone, `gapbot --help`: {seconds:.2f}s wall, {cpu:.2f}s CPU)")
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
