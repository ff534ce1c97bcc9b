"""The shape every source's items take before the store: `ItemRecord`.

JSON Lines imports validate each line as an ItemRecord; the Jira CSV reader and the live
connectors build them too, so one set of rules (dates, ranks, categories, teams) applies to
every way an item comes in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.settings import UNASSIGNED_TEAM, TeamMap
from connectors.normalize import normalize_category, rank_from_priority
from store.models import utcnow

LINK_TYPES = ("blocks", "parent", "duplicates", "relates", "implements")
ITEM_KINDS = ("issue", "epic", "story", "task", "bug", "subtask", "pull_request")
MAX_KEY_LENGTH = 255


class LinkRecord(BaseModel):
    """A link declared by an item: `{"type": "blocks", "target": "CORE-9"}`."""

    model_config = ConfigDict(extra="forbid")

    type: str
    target: str = Field(min_length=1, max_length=MAX_KEY_LENGTH)

    @field_validator("type")
    @classmethod
    def _check_type(cls, value: str) -> str:
        text = value.strip().lower()
        aliases = {"blocked_by": "blocked_by", "duplicate": "duplicates", "relates_to": "relates"}
        text = aliases.get(text, text)
        if text not in (*LINK_TYPES, "blocked_by"):
            msg = f"'{value}' is not a link type ({', '.join(LINK_TYPES)})"
            raise ValueError(msg)
        return text


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class ItemRecord(BaseModel):
    """One work item as an import line or a connector hands it over."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    key: str = Field(min_length=1, max_length=MAX_KEY_LENGTH)
    title: str = Field(min_length=1)
    source: str = "import"
    kind: str = "issue"
    external_id: str | None = None
    body: str = ""
    url: str = ""
    project: str = ""
    team: str | None = None
    status: str = ""
    status_category: str | None = None
    priority: str = ""
    priority_rank: int | None = Field(default=None, ge=1, le=5)
    issue_type: str = ""
    assignee: str = ""
    assignee_email: str = ""
    labels: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)
    created: datetime | None = None
    updated: datetime | None = None
    resolved: datetime | None = None
    due: date | None = None
    parent: str | None = None
    links: list[LinkRecord] = Field(default_factory=list)
    draft: bool = False
    merged: bool = False
    merged_at: datetime | None = None
    review_requested_at: datetime | None = None
    first_review_at: datetime | None = None
    review_state: str = ""
    head_branch: str = ""
    files: list[str] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list)

    @field_validator(
        "created", "updated", "resolved", "merged_at", "review_requested_at", "first_review_at"
    )
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _to_utc(value)

    @field_validator("due", mode="before")
    @classmethod
    def _due_date(cls, value: Any) -> Any:
        # A due date written as a full timestamp means that day.
        if isinstance(value, str) and "T" in value:
            return value.split("T", 1)[0]
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        text = value.strip().lower().replace("-", "_").replace(" ", "_")
        aliases = {"pr": "pull_request", "pull": "pull_request", "sub_task": "subtask"}
        return aliases.get(text, text) or "issue"

    @field_validator("labels", "components", "files", "mentions", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _fill(self) -> ItemRecord:
        if self.merged_at is not None:
            self.merged = True
        if not self.project:
            self.project = project_of_key(self.key)
        return self

    def to_row(self, team_map: TeamMap | None, *, now: datetime | None = None) -> dict[str, Any]:
        """The WorkItem row this record becomes, with team, rank and category resolved."""
        team = self.team or (
            team_map.owner(project=self.project, components=self.components, labels=self.labels)
            if team_map
            else UNASSIGNED_TEAM
        )
        rank = self.priority_rank or rank_from_priority(self.priority)
        category = normalize_category(self.status_category, self.status)
        if self.kind == "pull_request" and self.merged and not self.status:
            category = "done"
        return {
            "key": self.key,
            "source": self.source,
            "kind": self.kind,
            "external_id": self.external_id,
            "title": self.title,
            "body": self.body,
            "url": self.url,
            "project": self.project,
            "team": team,
            "status": self.status,
            "status_category": category,
            "priority": self.priority,
            "priority_rank": rank,
            "issue_type": self.issue_type,
            "assignee": self.assignee,
            "assignee_email": self.assignee_email,
            "labels": list(self.labels),
            "components": list(self.components),
            "created": self.created,
            "updated": self.updated,
            "resolved": self.resolved,
            "due": self.due,
            "parent": self.parent,
            "draft": self.draft,
            "merged": self.merged,
            "merged_at": self.merged_at,
            "review_requested_at": self.review_requested_at,
            "first_review_at": self.first_review_at,
            "review_state": self.review_state,
            "head_branch": self.head_branch,
            "files": list(self.files),
            "mentions": list(self.mentions),
            "gone": False,
            "synced_at": now or utcnow(),
        }

    def link_rows(self) -> list[dict[str, str]]:
        """The links this item declares, as Link rows (`blocked_by` turned around)."""
        rows = []
        for link in self.links:
            if link.type == "blocked_by":
                rows.append({"source_key": link.target, "target_key": self.key, "type": "blocks"})
            else:
                rows.append({"source_key": self.key, "target_key": link.target, "type": link.type})
        if self.parent:
            rows.append({"source_key": self.parent, "target_key": self.key, "type": "parent"})
        for row in rows:
            row["origin"] = self.key
        return rows


def project_of_key(key: str) -> str:
    """`PAY` for `PAY-12`, `acme/web` for `acme/web#45`, else empty."""
    if "#" in key:
        return key.split("#", 1)[0]
    head, sep, tail = key.rpartition("-")
    if sep and tail.isdigit() and head:
        return head
    return ""
