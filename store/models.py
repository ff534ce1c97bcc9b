"""The store's tables, as DESIGN.md's data section describes them.

Times are stored as naive UTC and read back as aware UTC (`UTCDateTime`), so SQLite and
PostgreSQL agree and no code compares a naive time with an aware one. Lists (labels,
components, files) are JSON columns: they are read with the item, never queried inside.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Turn an aware time into naive UTC; a naive time is taken to be UTC already."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Mark the stored naive UTC time as UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def _ts(**kwargs: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, **kwargs)


def _json_list() -> Any:
    return Field(default_factory=list, sa_column_kwargs={}, sa_type=JSON)


class WorkItem(SQLModel, table=True):
    """One ticket, issue or pull request, whatever tool it came from."""

    __tablename__ = "work_item"
    __table_args__ = (
        Index("ix_work_item_team_status", "team", "status_category"),
        Index("ix_work_item_source_project", "source", "project"),
        Index("ix_work_item_updated", "updated"),
        Index("ix_work_item_external", "source", "external_id"),
        Index("ix_work_item_assignee", "assignee"),
    )

    key: str = Field(primary_key=True, max_length=255)
    source: str = Field(default="import", max_length=32)
    kind: str = Field(default="issue", max_length=32)
    external_id: str | None = Field(default=None, max_length=64)
    title: str = Field(sa_type=Text)
    body: str = Field(default="", sa_type=Text)
    url: str = Field(default="", sa_type=Text)
    project: str = Field(default="", max_length=255)
    team: str = Field(default="unassigned", max_length=255)
    status: str = Field(default="", max_length=255)
    status_category: str = Field(default="todo", max_length=16)
    priority: str = Field(default="", max_length=64)
    priority_rank: int = Field(default=3)
    issue_type: str = Field(default="", max_length=64)
    assignee: str = Field(default="", max_length=255)
    assignee_email: str = Field(default="", max_length=255)
    labels: list[str] = _json_list()
    components: list[str] = _json_list()
    created: datetime | None = _ts()
    updated: datetime | None = _ts()
    resolved: datetime | None = _ts()
    due: date | None = Field(default=None)
    parent: str | None = Field(default=None, max_length=255, index=True)
    # Pull requests only.
    draft: bool = Field(default=False)
    merged: bool = Field(default=False)
    merged_at: datetime | None = _ts()
    review_requested_at: datetime | None = _ts()
    first_review_at: datetime | None = _ts()
    review_state: str = Field(default="", max_length=32)
    head_branch: str = Field(default="", max_length=255)
    files: list[str] = _json_list()
    mentions: list[str] = _json_list()
    gone: bool = Field(default=False)
    synced_at: datetime | None = _ts()


class Link(SQLModel, table=True):
    """A directed edge between two keys; the target may be an item the store does not hold."""

    __tablename__ = "link"
    __table_args__ = (
        UniqueConstraint("source_key", "target_key", "type", name="uq_link"),
        Index("ix_link_target", "target_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_key: str = Field(max_length=255, index=True)
    target_key: str = Field(max_length=255)
    type: str = Field(max_length=32)
    origin: str = Field(default="", max_length=255, index=True)
    """The key of the item whose data declared this link; re-syncing that item replaces them."""


class Finding(SQLModel, table=True):
    """One gap, with its lifecycle."""

    __tablename__ = "finding"
    __table_args__ = (Index("ix_finding_kind_status", "kind", "status"),)

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    severity: str = Field(default="medium", max_length=16)
    score: float = Field(default=0.0)
    summary: str = Field(sa_type=Text)
    explanation: str = Field(default="", sa_type=Text)
    teams: list[str] = _json_list()
    item_keys: list[str] = _json_list()
    facts: str = Field(default="", max_length=64)
    status: str = Field(default="open", max_length=16, index=True)
    status_by: str = Field(default="", max_length=255)
    status_reason: str = Field(default="", sa_type=Text)
    status_at: datetime | None = _ts()
    snoozed_until: datetime | None = _ts()
    first_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = _ts()


class FindingItem(SQLModel, table=True):
    """Which items a finding touches, for "every gap touching KEY" without scanning JSON."""

    __tablename__ = "finding_item"

    finding_id: str = Field(
        primary_key=True, max_length=64, foreign_key="finding.id", ondelete="CASCADE"
    )
    item_key: str = Field(primary_key=True, max_length=255, index=True)


class Delivery(SQLModel, table=True):
    """What was posted where and when, so nothing is posted twice and a restart loses nothing."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("finding_id", "channel", "kind", name="uq_delivery"),
        Index("ix_delivery_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="alert", max_length=16)
    finding_id: str | None = Field(
        default=None, max_length=64, foreign_key="finding.id", ondelete="CASCADE"
    )
    channel: str = Field(max_length=255)
    ts: str = Field(default="", max_length=64)
    thread_ts: str = Field(default="", max_length=64)
    status: str = Field(default="pending", max_length=16)
    error: str = Field(default="", sa_type=Text)
    attempts: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    posted_at: datetime | None = _ts()


class SyncState(SQLModel, table=True):
    """Per source and scope: the cursor of the last complete sync, and the last error."""

    __tablename__ = "sync_state"

    source: str = Field(primary_key=True, max_length=32)
    scope: str = Field(primary_key=True, max_length=255)
    cursor: datetime | None = _ts()
    last_run: datetime | None = _ts()
    last_success: datetime | None = _ts()
    last_error: str = Field(default="", sa_type=Text)
    items_synced: int = Field(default=0)


class Snapshot(SQLModel, table=True):
    """Weekly counts per team and kind: the history behind the report's trends."""

    __tablename__ = "snapshot"

    week: date = Field(primary_key=True)
    team: str = Field(primary_key=True, max_length=255)
    kind: str = Field(primary_key=True, max_length=32)
    open_count: int = Field(default=0)
    new_count: int = Field(default=0)
    resolved_count: int = Field(default=0)


class JobRun(SQLModel, table=True):
    """One run of a scheduled job: the persistent record `gapbot status` and catch-up read.

    APScheduler's memory job store forgets everything on restart, so a missed run is found
    by comparing the schedule with the last run recorded here.
    """

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_job_started", "job", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=255)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = _ts()
    duration_seconds: float | None = Field(default=None)
    ok: bool | None = Field(default=None)
    """None while running, then True or False."""
    error: str = Field(default="", sa_type=Text)
    counts: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    runner: str = Field(default="", max_length=255)
    """host:pid of the process that ran it (which scheduler was the leader)."""
    trigger: str = Field(default="schedule", max_length=16)
    """`schedule`, `catch_up` (a run missed while down) or `manual`."""


class WeeklyKpi(SQLModel, table=True):
    """A programme KPI for one week and team (`*` is the organisation), for report trends."""

    __tablename__ = "weekly_kpi"

    week: date = Field(primary_key=True)
    team: str = Field(primary_key=True, max_length=255)
    name: str = Field(primary_key=True, max_length=64)
    value: float | None = Field(default=None)


class TextEmbedding(SQLModel, table=True):
    """A sentence embedding of one text, keyed by the digest of the model id and the text.

    Content-addressed: an edited title hashes to a new digest and gets a new vector, and a new
    model id makes every digest new, so nothing ever needs invalidating.
    """

    __tablename__ = "text_embedding"

    digest: str = Field(primary_key=True, max_length=64)
    """sha256 hex of the model id, a newline and the text (`detectors.embeddings.text_digest`)."""
    vector: bytes = Field(sa_type=LargeBinary)
    """float32, little-endian, one value per dimension."""
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


ALL_TABLES = (
    WorkItem,
    Link,
    Finding,
    FindingItem,
    Delivery,
    SyncState,
    Snapshot,
    JobRun,
    WeeklyKpi,
    TextEmbedding,
)
