"""The store-backed similarity index: built once, then refreshed from what changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col

from detectors.index_cache import index_for
from store.db import Store
from store.items import upsert_items
from store.models import WorkItem

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _row(key: str, title: str, synced: datetime) -> dict:
    return WorkItem(key=key, title=title, team="payments", synced_at=synced).model_dump()


def test_index_follows_the_store(store: Store) -> None:
    with store.session() as session:
        upsert_items(
            session,
            [
                _row("PAY-1", "Okta SSO login fails for EU users", T0),
                _row("CORE-1", "Okta SSO login broken in EU region", T0),
                _row("PAY-2", "Quarterly tax export as CSV", T0),
            ],
        )
    index = index_for(store)
    assert index_for(store) is index
    assert [m.key for m in index.similar("PAY-1", 1)] == ["CORE-1"]
    built = index.build_seconds

    # A synced change re-indexes that item (a newer synced_at), without a rebuild.
    with store.session() as session:
        upsert_items(
            session,
            [
                _row("PAY-2", "Okta SSO login fails for EU users on mobile", T0 + timedelta(minutes=15)),
                _row("DAT-1", "Kafka consumer lag dashboard", T0 + timedelta(minutes=15)),
            ],
        )  # fmt: skip
    assert index.similar("PAY-1", 1)[0].key == "PAY-2"
    assert index.search("kafka lag", 1)[0].key == "DAT-1"
    assert index.build_seconds == built

    # Items marked gone (no time changes) or deleted leave the index.
    with store.session() as session:
        session.execute(update(WorkItem).where(col(WorkItem.key) == "PAY-2").values(gone=True))
        session.execute(delete(WorkItem).where(col(WorkItem.key) == "DAT-1"))
    assert "PAY-2" not in index
    assert "DAT-1" not in index
    assert [m.key for m in index.similar("PAY-1", 5)] == ["CORE-1"]
    assert index.search("kafka lag", 5) == []
