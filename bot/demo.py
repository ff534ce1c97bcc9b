"""`gapbot demo`: the whole pipeline on a generated organisation, with no accounts.

It starts the sandbox's fake Jira, GitHub and Slack on free local ports, writes a config for
them in a folder of its own, and runs the real thing: sync through the real connectors,
detection, alert delivery to the fake Slack, the weekly report. Nothing outside the folder is
touched (the store is a SQLite file inside it, whatever DATABASE_URL says).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from bot.alerts import DeliveryReport, deliver_alerts
from bot.reports import (
    build_weekly_report,
    last_complete_week,
    post_weekly_report,
    report_html,
    write_snapshot,
)
from bot.slack_client import make_client
from config.settings import Environment, GapbotConfig, Settings
from connectors.sync import (
    Progress,
    SyncReport,
    build_connectors,
    close_connectors,
    run_sync,
)
from detectors.runner import DetectionResult, run_detection
from sandbox.github_server import GitHubServer
from sandbox.jira_server import JiraServer
from sandbox.org import Organisation, generate_org
from sandbox.scoring import KindScore, score
from sandbox.slack_server import FakeSlack
from store.db import Store
from store.findings import list_findings

DEMO_BOT_TOKEN = "xoxb-gapbot-demo"  # noqa: S105 - the sandbox Slack's own token, not a secret
DEMO_SIGNING_SECRET = "gapbot-demo-signing-secret"  # noqa: S105 - ditto
REPORT_FILE = "weekly-report.html"
CONFIG_FILE = "gapbot.yaml"
DATABASE_FILE = "gapbot.db"


@dataclass
class DemoResult:
    """What a demo run did, for the terminal and the tests."""

    folder: Path
    org: Organisation
    sync: SyncReport
    detection: DetectionResult
    delivery: DeliveryReport
    channels: dict[str, list[dict[str, Any]]]
    scores: dict[str, KindScore]
    report_path: Path
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Sandbox:
    """The running fake servers and the settings that point gapbot at them."""

    org: Organisation
    jira: JiraServer
    github: GitHubServer
    slack: FakeSlack
    settings: Settings
    store: Store
    result: DemoResult | None = None
    """The pipeline's outcome, once `run_demo` has it (set before `keep` is called)."""


def demo_config(org: Organisation, *, embeddings: bool = False) -> dict[str, Any]:
    """The sandbox's config file as data; `embeddings` turns semantic matching on."""
    config = org.config()
    if embeddings:
        detectors = config.setdefault("detectors", {})
        detectors.setdefault("duplicates", {})["embeddings"] = True
    return config


def demo_settings(
    org: Organisation,
    folder: Path,
    jira_url: str,
    github_url: str,
    slack_url: str,
    *,
    embeddings: bool = False,
) -> Settings:
    """Settings for the sandbox: the org's config file plus an environment of its own."""
    config = GapbotConfig.model_validate(demo_config(org, embeddings=embeddings))
    env = Environment(
        database_url=f"sqlite:///{folder / DATABASE_FILE}",
        jira_url=jira_url,
        jira_email=org.jira.email,
        jira_api_token=SecretStr(org.jira.token),
        github_token=SecretStr(org.github.token),
        github_api_url=github_url,
        slack_bot_token=SecretStr(DEMO_BOT_TOKEN),
        slack_signing_secret=SecretStr(DEMO_SIGNING_SECRET),
        slack_api_url=slack_url,
    )
    return Settings(config, env)


def write_demo_config(
    org: Organisation, folder: Path, settings: Settings, *, embeddings: bool = False
) -> Path:
    """The config file and an env file, so a person can run gapbot by hand against it."""
    path = folder / CONFIG_FILE
    header = "# Written by `gapbot demo` for its sandbox; the URLs are in demo.env.\n"
    config = demo_config(org, embeddings=embeddings)
    path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    env = settings.env
    lines = {
        "GAPBOT_CONFIG": str(path),
        "DATABASE_URL": env.database_url,
        "JIRA_URL": env.jira_url,
        "JIRA_EMAIL": env.jira_email,
        "JIRA_API_TOKEN": env.jira_api_token.get_secret_value(),
        "GITHUB_TOKEN": env.github_token.get_secret_value(),
        "GITHUB_API_URL": env.github_api_url,
        "SLACK_BOT_TOKEN": env.slack_bot_token.get_secret_value(),
        "SLACK_SIGNING_SECRET": env.slack_signing_secret.get_secret_value(),
        "SLACK_API_URL": env.slack_api_url,
    }
    (folder / "demo.env").write_text(
        "".join(f"export {k}={v}\n" for k, v in lines.items()), encoding="utf-8"
    )
    return path


@contextmanager
def running_sandbox(
    folder: Path, *, seed: int, size: float, embeddings: bool = False
) -> Iterator[Sandbox]:
    """Generate the organisation and serve it until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    org = generate_org(seed=seed, size=size)
    slack = FakeSlack(bot_token=DEMO_BOT_TOKEN, public_write=True)
    for team in org.config()["teams"]:
        slack.add_channel(team["slack_channel"])
    slack.add_channel(org.config()["slack"]["report_channel"])
    jira, github = JiraServer(org.jira), GitHubServer(org.github)
    with jira, github, slack:
        settings = demo_settings(
            org, folder, jira.url, github.url, slack.api_url, embeddings=embeddings
        )
        write_demo_config(org, folder, settings, embeddings=embeddings)
        store = Store(settings.database_url)
        try:
            yield Sandbox(org, jira, github, slack, settings, store)
        finally:
            store.dispose()


def report_time(now: datetime, settings: Settings) -> datetime:
    """When this week's report would go out: the coming Monday, 09:00 local.

    The sandbox's gaps were all found this week, so the report that shows them is the one
    sent at the end of it.
    """
    local = now.astimezone(settings.config.zone)
    return (local + timedelta(days=7 - local.weekday())).replace(
        hour=9, minute=0, second=0, microsecond=0
    )


def run_demo(
    folder: Path,
    *,
    seed: int = 7,
    size: float = 1.0,
    progress: Progress | None = None,
    step: Callable[[str], None] | None = None,
    keep: Callable[[Sandbox], None] | None = None,
    embeddings: bool = False,
) -> DemoResult:
    """Run the pipeline on the sandbox; `keep` is called with it still running, if given.

    `embeddings` turns on semantic matching (`detectors.duplicates.embeddings`).
    """
    say = step or (lambda _message: None)
    timings: dict[str, float] = {}
    with running_sandbox(folder, seed=seed, size=size, embeddings=embeddings) as sandbox:
        org, settings, store = sandbox.org, sandbox.settings, sandbox.store
        say(f"generated {org.item_count()} tickets, issues and pull requests of 5 teams")
        started = time.perf_counter()
        connectors = build_connectors(settings)
        try:
            sync_report = run_sync(settings, store, connectors, progress=progress)
        finally:
            close_connectors(connectors)
        timings["sync"] = time.perf_counter() - started
        say(f"synced from the sandbox Jira and GitHub in {timings['sync']:.1f}s")
        started = time.perf_counter()
        detection = run_detection(store, settings.config, org.now)
        timings["detect"] = time.perf_counter() - started
        say(f"ran the detectors in {timings['detect']:.1f}s")
        client = make_client(settings)
        delivery = deliver_alerts(store, settings, client, now=org.now)
        when = report_time(org.now, settings)
        write_snapshot(
            store, last_complete_week(when, settings.config.zone), settings.config, now=when
        )
        report = build_weekly_report(store, settings.config, when)
        report_path = folder / REPORT_FILE
        report_path.write_text(report_html(report, report.chart_png()), encoding="utf-8")
        channel = settings.config.slack.report_channel
        if channel:
            post_weekly_report(client, report, channel)
        with store.session() as session:
            findings = list_findings(session, status="open")
        result = DemoResult(
            folder=folder,
            org=org,
            sync=sync_report,
            detection=detection,
            delivery=delivery,
            channels=sandbox.slack.snapshot(),
            scores=score(org.planted, findings),
            report_path=report_path,
            timings=timings,
        )
        if keep is not None:
            sandbox.result = result
            keep(sandbox)
        return result
