"""Helpers for tests that sync from the sandbox servers: settings, data, store snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from config.settings import Environment, GapbotConfig, Settings
from connectors.base import RetryPolicy
from sandbox.github_server import GitHubModel
from sandbox.jira_server import JiraModel
from store.db import Store
from store.models import Link, SyncState, WorkItem

BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TEAMS: list[dict[str, Any]] = [
    {
        "name": "payments",
        "slack_channel": "#payments",
        "jira_projects": ["PAY"],
        "github_repos": ["acme/payments-api"],
    },
    {
        "name": "platform",
        "slack_channel": "#platform",
        "jira_projects": ["CORE"],
        "github_repos": ["acme/platform"],
        "jira_components": ["Platform"],
    },
]


class Sleeps:
    """A RetryPolicy sleep that records the waits instead of waiting."""

    def __init__(self) -> None:
        """Start with no waits."""
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        """Record one wait."""
        self.waits.append(seconds)


def quick_retry(sleeps: Sleeps | None = None, **kwargs: Any) -> RetryPolicy:
    """A retry policy that records its waits (no real sleeping)."""
    kwargs.setdefault("attempts", 4)
    kwargs.setdefault("base_delay", 0.5)
    return RetryPolicy(sleep=sleeps or Sleeps(), **kwargs)


def make_settings(
    *,
    jira_url: str = "",
    github_url: str = "",
    cloud: bool = True,
    jira_token: str = "jira-token",
    github_token: str = "gh-token",
    teams: list[dict[str, Any]] | None = None,
    **config: Any,
) -> Settings:
    """Settings for the sandbox servers (Cloud: e-mail + API token; DC: a PAT)."""
    env = Environment(
        jira_url=jira_url,
        jira_email="bot@example.com" if cloud else "",
        jira_api_token=jira_token if cloud else "",
        jira_pat="" if cloud else jira_token,
        github_token=github_token,
        github_api_url=github_url,
    )
    return Settings(GapbotConfig(teams=teams or TEAMS, **config), env)


def fill_jira(model: JiraModel, count: int = 30, start: datetime = BASE_TIME) -> None:
    """PAY and CORE issues, one minute apart, with links, an epic and a component owner."""
    model.add_project("PAY", "Payments")
    model.add_project("CORE", "Core")
    model.add_issue("CORE", "Platform epic", issuetype="Epic", created=start, priority="High")
    for n in range(count):
        when = start + timedelta(minutes=n + 1)
        model.add_issue(
            "PAY",
            f"Payment task {n}",
            description=f"Details of task {n}\nsecond line",
            created=when,
            updated=when,
            status=("To Do", "In Progress", "Done")[n % 3],
            category=("new", "indeterminate", "done")[n % 3],
            priority=model.priorities[n % len(model.priorities)],
            assignee=f"Dev {n % 4}",
            assignee_email=f"dev{n % 4}@example.com",
            labels=["checkout"] if n % 5 == 0 else [],
            components=["Platform"] if n == 7 else [],
        )


def fill_github(model: GitHubModel, count: int = 12, start: datetime = BASE_TIME) -> None:
    """Issues and pull requests in acme/payments-api, one minute apart."""
    for n in range(count):
        when = start + timedelta(minutes=n + 1)
        if n % 3 == 2:
            model.add_pull(
                "acme/payments-api",
                f"PAY-{n} make payments faster",
                body=f"Closes #{n}",
                head=f"feature/pay-{n}",
                created=when,
                updated=when,
                requested_reviewers=["carol"],
                reviews=[
                    {"user": "bob", "state": "COMMENTED", "submitted_at": when + timedelta(hours=1)}
                ],
                files=[f"src/file{i}.py" for i in range(3)],
            )
        else:
            model.add_issue("acme/payments-api", f"Payments issue {n}", created=when, updated=when)
    model.add_repo("acme/platform")


def snapshot(store: Store) -> dict[str, Any]:
    """The store's content that a sync decides: items (without sync times), links, cursors."""
    with store.session() as session:
        items = {
            item.key: {
                name: getattr(item, name)
                for name in WorkItem.model_fields
                if name not in ("synced_at",)
            }
            for item in session.scalars(select(WorkItem))
        }
        links = sorted(
            (link.source_key, link.target_key, link.type) for link in session.scalars(select(Link))
        )
        cursors = {
            (state.source, state.scope): (state.cursor, state.last_error)
            for state in session.scalars(select(SyncState))
        }
    return {"items": items, "links": links, "cursors": cursors}


def state_of(store: Store, source: str, scope: str) -> SyncState | None:
    """One SyncState row."""
    with store.session() as session:
        return session.get(SyncState, (source, scope))
