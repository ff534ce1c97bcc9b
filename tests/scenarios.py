"""Small, readable detector scenarios: a few items and links, a fixed "now", a config.

`item("PAY-12", team="payments", priority="Highest", status="To Do")` builds a WorkItem
the way an import would (rank and category from the names); `snapshot(...)` wraps items and
links for a rule; `store_rows(...)` gives the rows to write the same scenario into a store.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from config.settings import DetectorsConfig, GapbotConfig, Objective, Team
from connectors.normalize import normalize_category, rank_from_priority
from detectors.base import Snapshot
from store.models import Link, WorkItem

NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
"""A Wednesday, noon UTC: every scenario is judged at this time."""
TEAMS = (
    Team(name="payments", slack_channel="#payments", jira_projects=["PAY"]),
    Team(name="platform", slack_channel="#platform", jira_projects=["CORE"]),
    Team(name="web", slack_channel="#web", jira_projects=["WEB"], github_repos=["acme/web"]),
)


def days_ago(days: float) -> datetime:
    """NOW minus `days`."""
    return NOW - timedelta(days=days)


def item(key: str, **fields: Any) -> WorkItem:
    """A WorkItem with sensible defaults; `priority` and `status` set rank and category."""
    project = key.split("#", maxsplit=1)[0] if "#" in key else key.rsplit("-", 1)[0]
    values: dict[str, Any] = {
        "key": key,
        "title": f"Title of {key}",
        "project": project,
        "team": {"PAY": "payments", "CORE": "platform", "WEB": "web", "acme/web": "web"}.get(
            project, "unassigned"
        ),
        "created": days_ago(30),
        "updated": days_ago(1),
        "url": f"https://example.test/{key}",
    }
    values.update(fields)
    if "priority" in fields and "priority_rank" not in fields:
        values["priority_rank"] = rank_from_priority(fields["priority"])
    if "status" in fields and "status_category" not in fields:
        values["status_category"] = normalize_category(None, fields["status"])
    if values.get("kind") == "pull_request":
        values.setdefault("source", "github")
    return WorkItem(**values)


def pr(key: str, **fields: Any) -> WorkItem:
    """An open pull request."""
    fields.setdefault("status", "open")
    fields.setdefault("status_category", "in_progress")
    return item(key, kind="pull_request", **fields)


def link(source: str, kind: str, target: str) -> Link:
    """`link("CORE-88", "blocks", "PAY-12")`: CORE-88 blocks PAY-12."""
    return Link(source_key=source, target_key=target, type=kind, origin=source)


def config(objectives: Iterable[Objective] = (), **detectors: dict[str, Any]) -> GapbotConfig:
    """The scenario config; `blocked={"days": 3}` overrides a detector's settings."""
    return GapbotConfig(
        teams=list(TEAMS),
        objectives=list(objectives),
        detectors=DetectorsConfig.model_validate(detectors),
    )


def snapshot(
    items: Iterable[WorkItem],
    links: Iterable[Link] = (),
    *,
    now: datetime = NOW,
    settings: GapbotConfig | None = None,
) -> Snapshot:
    """A snapshot of `items` and `links` judged at `now`."""
    return Snapshot(
        items={i.key: i for i in items},
        links=list(links),
        now=now,
        config=settings or config(),
    )


def store_rows(items: Iterable[WorkItem]) -> list[dict[str, Any]]:
    """The items as rows for `store.items.upsert_items`."""
    columns = [c.name for c in WorkItem.__table__.columns]  # type: ignore[attr-defined]
    return [{name: getattr(i, name) for name in columns} for i in items]


def link_rows(links: Iterable[Link]) -> list[dict[str, Any]]:
    """The links as rows for `store.items.replace_links`."""
    return [
        {"source_key": x.source_key, "target_key": x.target_key, "type": x.type, "origin": x.origin}
        for x in links
    ]
