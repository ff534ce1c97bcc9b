"""Writing and reading work items and links: the queries connectors, imports and the CLI share.

Writes are upserts by key (`INSERT ... ON CONFLICT DO UPDATE`), atomic in both SQLite and
PostgreSQL, so two processes syncing at once never fail on a duplicate key and importing the
same file twice changes nothing. An item's declared links are replaced with the item: a link
removed at the source disappears on the next sync.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Date, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from store.models import Link, UTCDateTime, WorkItem

# SQLite allows 32,766 bound parameters; a WorkItem row binds about 40.
UPSERT_BATCH = 500
_ITEM_TABLE = WorkItem.__table__  # type: ignore[attr-defined]
_LINK_TABLE = Link.__table__  # type: ignore[attr-defined]
_ITEM_COLUMNS = [c.name for c in _ITEM_TABLE.columns]
_ITEM_COLUMN_SET = frozenset(_ITEM_COLUMNS)
_LINK_COLUMNS = frozenset({"source_key", "target_key", "type", "origin"})
"""The columns a link row names (its id is the database's)."""
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
    if session.get_bind().dialect.name == "sqlite" and all(
        row.keys() == _ITEM_COLUMN_SET for row in unique
    ):
        _sqlite_write(session, _ITEM_TABLE.name, unique)
    else:
        _upsert_items_generic(session, unique)
    return len(unique)


def _upsert_items_generic(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    stmt = _insert(session, _ITEM_TABLE)
    update_columns = {name: stmt.excluded[name] for name in _ITEM_COLUMNS if name != "key"}
    stmt = stmt.on_conflict_do_update(index_elements=["key"], set_=update_columns)
    for start in range(0, len(rows), UPSERT_BATCH):
        session.execute(stmt, rows[start : start + UPSERT_BATCH])


def _sqlite_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 - the fastest formatting
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def _sqlite_date(value: date | None) -> str | None:
    return None if value is None else "%04d-%02d-%02d" % (value.year, value.month, value.day)  # noqa: UP031


_JSON_ENCODE = json.JSONEncoder().encode
"""json.dumps with its default settings (as SQLAlchemy's JSON type uses it), minus the
per-call check of its keyword arguments."""


def _sqlite_json(value: Any) -> str:
    return "[]" if value == [] else _JSON_ENCODE(value)


def _sqlite_converter(column: Any) -> Callable[[Any], Any] | None:
    """How a value of `column` is stored by SQLite, as SQLAlchemy's own types store it."""
    if isinstance(column.type, UTCDateTime):
        return _sqlite_datetime
    if isinstance(column.type, Date):
        return _sqlite_date
    if isinstance(column.type, JSON):
        return _sqlite_json
    return None


_Plan = tuple[
    str, Callable[[dict[str, Any]], tuple[Any, ...]], tuple[tuple[int, Callable[[Any], Any]], ...]
]


@cache
def _sqlite_plan(table_name: str) -> _Plan:
    """A SQLite write's SQL with positional parameters, a getter of a row's parameters in that
    order, and (position, converter) for the parameters that need converting."""
    if table_name == _ITEM_TABLE.name:
        stmt = sqlite.insert(_ITEM_TABLE)
        update_columns = {name: stmt.excluded[name] for name in _ITEM_COLUMNS if name != "key"}
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_=update_columns)
        table, columns = _ITEM_TABLE, _ITEM_COLUMNS
    else:
        stmt = sqlite.insert(_LINK_TABLE).on_conflict_do_nothing(
            index_elements=["source_key", "target_key", "type"]
        )
        table, columns = _LINK_TABLE, list(_LINK_COLUMNS)
    compiled = stmt.compile(dialect=sqlite.dialect(), column_keys=columns)
    names = list(compiled.positiontup or ())
    converters = {c.name: _sqlite_converter(c) for c in table.columns}
    conversions = tuple(
        (position, convert)
        for position, name in enumerate(names)
        if (convert := converters[name]) is not None
    )
    return str(compiled), itemgetter(*names), conversions


def _sqlite_write(session: Session, table_name: str, rows: Sequence[dict[str, Any]]) -> None:
    """A SQLite upsert without SQLAlchemy's per-row, per-column bind processing.

    That processing was most of an import's time (about 40 columns a row, each through a
    type's processor); here each column's storage conversion is one plain function, applied
    only to the columns that need one. The values written are those SQLAlchemy would write
    (tests/test_store.py compares them with the generic path's).
    """
    sql, getter, conversions = _sqlite_plan(table_name)
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = getter(row)
        if conversions:
            converted = list(values)
            for position, convert in conversions:
                converted[position] = convert(converted[position])
            values = tuple(converted)
        params.append(values)
    connection = session.connection()
    for start in range(0, len(params), UPSERT_BATCH):
        connection.exec_driver_sql(sql, params[start : start + UPSERT_BATCH])


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
    if not postgres and all(row.keys() == _LINK_COLUMNS for row in unique):
        _sqlite_write(session, _LINK_TABLE.name, unique)
    else:
        _insert_links_generic(session, unique)


def _insert_links_generic(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    stmt = _insert(session, _LINK_TABLE).on_conflict_do_nothing(
        index_elements=["source_key", "target_key", "type"]
    )
    for start in range(0, len(rows), UPSERT_BATCH):
        session.execute(stmt, rows[start : start + UPSERT_BATCH])


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
