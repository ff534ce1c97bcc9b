"""Writing and reading work items and links: the queries connectors, imports and the CLI share.

Writes are upserts by key (`INSERT ... ON CONFLICT DO UPDATE`), atomic in both SQLite and
PostgreSQL, so two processes syncing at once never fail on a duplicate key and importing the
same file twice changes nothing. An item's declared links are replaced with the item: a link
removed at the source disappears on the next sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from store.models import Link, WorkItem

# SQLite allows 32,766 bound parameters; a WorkItem row binds about 40.
UPSERT_BATCH = 500
_ITEM_TABLE = WorkItem.__table__  # type: ignore[attr-defined]
_LINK_TABLE = Link.__table__  # type: ignore[attr-defined]
_ITEM_COLUMNS = [c.name for c in _ITEM_TABLE.columns]
_PG_DELETE_LINKS = text(
    "DELETE FROM link USING unnest(CAST(:origins AS text[])) AS o(origin) "
    "WHERE link.origin = o.origin"
)


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert_items(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or update WorkItem rows by key; returns how many rows were written."""
    if not rows:
        return 0
    # The last row for a key wins, as if written one after another.
    unique = list({row["key"]: row for row in rows}.values())
    stmt = _insert(session, _ITEM_TABLE)
    update_columns = {name: stmt.excluded[name] for name in _ITEM_COLUMNS if name != "key"}
    stmt = stmt.on_conflict_do_update(index_elements=["key"], set_=update_columns)
    for start in range(0, len(unique), UPSERT_BATCH):
        session.execute(stmt, unique[start : start + UPSERT_BATCH])
    return len(unique)


def replace_links(session: Session, origins: Iterable[str], rows: Sequence[dict[str, Any]]) -> None:
    """Make the links declared by `origins` exactly `rows` (each row names its origin)."""
    origin_list = list(dict.fromkeys(origins))
    postgres = session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(origin_list), UPSERT_BATCH):
        chunk = origin_list[start : start + UPSERT_BATCH]
        if postgres:
            # A join on unnest() keeps PostgreSQL on the origin index; with `IN (...)` and a
            # table that grew inside this transaction (no statistics yet) it picks a
            # sequential scan per batch, and a 100,000-item import slows tenfold.
            session.execute(_PG_DELETE_LINKS, {"origins": chunk})
        else:
            session.execute(delete(Link).where(col(Link.origin).in_(chunk)))
    if not rows:
        return
    unique = list({(r["source_key"], r["target_key"], r["type"]): r for r in rows}.values())
    stmt = _insert(session, _LINK_TABLE).on_conflict_do_nothing(
        index_elements=["source_key", "target_key", "type"]
    )
    for start in range(0, len(unique), UPSERT_BATCH):
        session.execute(stmt, unique[start : start + UPSERT_BATCH])


def list_items(
    session: Session,
    *,
    team: str | None = None,
    source: str | None = None,
    include_gone: bool = False,
) -> list[WorkItem]:
    """Items in key order, optionally of one team and/or source."""
    query = select(WorkItem).order_by(WorkItem.key)
    if team:
        query = query.where(col(WorkItem.team) == team)
    if source:
        query = query.where(col(WorkItem.source) == source)
    if not include_gone:
        query = query.where(col(WorkItem.gone).is_(False))
    return list(session.scalars(query))


def get_item(session: Session, key: str) -> WorkItem | None:
    """One item by key."""
    return session.get(WorkItem, key)


def count_items(session: Session) -> int:
    """How many items the store holds."""
    return int(session.scalar(select(func.count()).select_from(WorkItem)) or 0)


def links_of(session: Session, keys: Iterable[str]) -> list[Link]:
    """Links that start or end at any of `keys`."""
    key_list = list(keys)
    if not key_list:
        return []
    query = select(Link).where(
        col(Link.source_key).in_(key_list) | col(Link.target_key).in_(key_list)
    )
    return list(session.scalars(query))


def all_links(session: Session) -> list[Link]:
    """Every link."""
    return list(session.scalars(select(Link).order_by(col(Link.id))))
