"""The store: migrations, upserts by key, links replaced with their item, times in UTC."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import text

from store.db import Store, current_revision, has_schema
from store.items import count_items, get_item, links_of, replace_links, upsert_items


def _row(key: str, title: str = "Fix login", **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "key": key,
        "source": "import",
        "kind": "issue",
        "external_id": None,
        "title": title,
        "body": "",
        "url": "",
        "project": key.split("-", maxsplit=1)[0],
        "team": "payments",
        "status": "Open",
        "status_category": "todo",
        "priority": "High",
        "priority_rank": 2,
        "issue_type": "",
        "assignee": "",
        "assignee_email": "",
        "labels": ["a"],
        "components": [],
        "created": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "updated": None,
        "resolved": None,
        "due": None,
        "parent": None,
        "draft": False,
        "merged": False,
        "merged_at": None,
        "review_requested_at": None,
        "first_review_at": None,
        "review_state": "",
        "head_branch": "",
        "files": [],
        "mentions": [],
        "gone": False,
        "synced_at": None,
    }
    row.update(extra)
    return row


def test_migrations_create_the_schema(store: Store) -> None:
    from alembic.script import ScriptDirectory

    from store.db import MIGRATIONS_DIR

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert has_schema(store.engine)
    assert current_revision(store.engine) == head
    # Migrating again is a no-op.
    Store(store.url).dispose()
    assert current_revision(store.engine) == head


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    opened = Store(sqlite_url)
    with opened.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    opened.dispose()


def test_upsert_by_key_inserts_then_updates(store: Store) -> None:
    with store.session() as session:
        upsert_items(session, [_row("PAY-1"), _row("PAY-2")])
    with store.session() as session:
        upsert_items(session, [_row("PAY-1", title="Fix login on Safari", labels=["b", "c"])])
    with store.session() as session:
        assert count_items(session) == 2
        item = get_item(session, "PAY-1")
        assert item is not None
        assert item.title == "Fix login on Safari"
        assert item.labels == ["b", "c"]
        assert item.created == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_links_are_replaced_with_their_origin(store: Store) -> None:
    with store.session() as session:
        upsert_items(session, [_row("PAY-1")])
        replace_links(
            session,
            ["PAY-1"],
            [
                {
                    "source_key": "PAY-1",
                    "target_key": "CORE-9",
                    "type": "blocks",
                    "origin": "PAY-1",
                },
                {
                    "source_key": "PAY-1",
                    "target_key": "OTHER-1",
                    "type": "relates",
                    "origin": "PAY-1",
                },
            ],
        )
    with store.session() as session:
        replace_links(
            session,
            ["PAY-1"],
            [{"source_key": "PAY-1", "target_key": "CORE-9", "type": "blocks", "origin": "PAY-1"}],
        )
    with store.session() as session:
        links = links_of(session, ["PAY-1"])
        assert [(link.target_key, link.type) for link in links] == [("CORE-9", "blocks")]


def test_concurrent_upserts_of_the_same_keys_do_not_fail(store: Store) -> None:
    errors: list[BaseException] = []

    def write(title: str) -> None:
        try:
            for _ in range(5):
                with store.session() as session:
                    upsert_items(session, [_row(f"PAY-{n}", title=title) for n in range(50)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.session() as session:
        assert count_items(session) == 50


def test_schema_head_constant_is_alembics_head(store: Store) -> None:
    from store.db import SCHEMA_HEAD, head_revision

    assert head_revision(store.engine) == SCHEMA_HEAD


def test_sqlite_fast_writes_store_what_sqlalchemy_stores(tmp_path: Path) -> None:
    """The SQLite import path skips SQLAlchemy's bind processing: its bytes must not differ."""
    from store import items as store_items

    berlin = timezone(timedelta(hours=2))
    rows = [
        _row("PAY-1"),
        _row(
            "PAY-2",
            title='Über "quoted" \' title',
            labels=["ünïcode", 'with "quotes"', "a,b"],
            components=["x"],
            created=datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=berlin),
            updated=datetime(2026, 3, 29, 2, 30),  # naive: taken as UTC
            resolved=datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            due=date(2026, 2, 28),
            draft=True,
            merged=True,
            files=["a/b.py"],
            mentions=["PAY-1"],
            synced_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
    ]
    links = [
        {"source_key": "PAY-1", "target_key": "PAY-2", "type": "blocks", "origin": "PAY-1"},
        {"source_key": "PAY-2", "target_key": "X-9", "type": "relates", "origin": "PAY-2"},
    ]
    fast, generic = Store(f"sqlite:///{tmp_path}/fast.db"), Store(f"sqlite:///{tmp_path}/slow.db")
    with fast.session() as session:
        upsert_items(session, rows)
        replace_links(session, ["PAY-1", "PAY-2"], links)
    with generic.session() as session:
        store_items._upsert_items_generic(session, rows)
        store_items._insert_links_generic(session, links)

    def dump(store: Store) -> list[tuple[object, ...]]:
        with store.engine.connect() as connection:
            items = connection.exec_driver_sql("SELECT * FROM work_item ORDER BY key").all()
            link_rows = connection.exec_driver_sql(
                "SELECT source_key, target_key, type, origin FROM link ORDER BY source_key"
            ).all()
        return [tuple(row) for row in [*items, *link_rows]]

    assert dump(fast) == dump(generic)
    with fast.session() as session:
        item = get_item(session, "PAY-2")
        assert item is not None
        assert item.created == datetime(2026, 3, 28, 23, 30, 0, 123456, tzinfo=UTC)
        assert item.labels == ["ünïcode", 'with "quotes"', "a,b"]
        assert item.due == date(2026, 2, 28)
        assert item.merged is True
