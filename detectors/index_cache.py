"""A similarity index kept beside a store: built once, then refreshed from what changed.

`gapbot search`/`similar` and the Slack app's `/gaps search`/`similar` ask the same
question of the same items. Building the index over 100,000 items takes seconds; a query
takes milliseconds. So each process keeps one index per `Store` (`index_for(store)`):

- the first call builds it from the store (only the columns the index reads);
- later calls re-index the items whose `synced_at` or `updated` moved past the newest one
  already indexed (with a small overlap, so an item committed late in a sync is not
  missed, and each item's version compared so nothing is re-indexed twice);
- when the number of live items differs from the index's (an item deleted, or marked gone
  by a full sync, which touches neither time), the live keys are compared and the
  difference removed or added.

The index's idf is that of the first build; `rebuild` (or a new process) refreshes it.
Queries change the index's internal caches, so every call goes through one lock per store.

Queries rank by the final scorer's similarity (`Match.similarity`), without the hubness
correction the duplicate detector applies: hubness needs a scan of every item's
neighbourhood, which costs far more than the build (44 s for 10,000 items of a
34-word vocabulary, against 0.7 s to build), and an index refreshed item by item would rank
new items with a hubness the others lack. A query is "what resembles this text", and the
similarity answers that.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, or_, select
from sqlmodel import col

from config.settings import GapbotConfig
from detectors.similarity import (
    QUERY_CANDIDATES,
    IndexedText,
    Match,
    SemanticVectors,
    SimilarityIndex,
)
from store.db import Store
from store.models import WorkItem

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)
"""Items this much older than the newest indexed change are looked at again."""
BATCH = 5000
"""Rows read per query while building."""

_COLUMNS = (
    col(WorkItem.key),
    col(WorkItem.title),
    col(WorkItem.body),
    col(WorkItem.labels),
    col(WorkItem.components),
    col(WorkItem.synced_at),
    col(WorkItem.updated),
    col(WorkItem.gone),
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Version = tuple[datetime | None, datetime | None]
T = TypeVar("T")


def _text(row: Any) -> IndexedText:
    return IndexedText(
        key=row.key,
        title=row.title or "",
        body=row.body or "",
        labels=tuple(row.labels or ()),
        components=tuple(row.components or ()),
    )


def _newest(version: Version) -> datetime | None:
    # When the item was written to the store; the source's `updated` only without it.
    synced, updated = version
    return synced if synced is not None else updated


def _by_similarity(matches: list[Match], limit: int) -> list[Match]:
    ranked = sorted(matches, key=lambda m: (-m.similarity, m.key))[:limit]
    return [Match(key=m.key, score=m.similarity, similarity=m.similarity) for m in ranked]


class StoreIndex:
    """One store's similarity index, refreshed from the store before each use."""

    def __init__(self, store: Store, semantic: SemanticVectors | None = None) -> None:
        """An index over `store` (built on first use), with embedding vectors if given."""
        self._store = weakref.ref(store)
        self._semantic = semantic
        self._lock = threading.Lock()
        self._index: SimilarityIndex | None = None
        self._versions: dict[str, Version] = {}
        self._watermark: datetime | None = None
        self._seen: tuple[Any, ...] = ()
        self.build_seconds = 0.0

    @property
    def store(self) -> Store:
        """The store this index reads."""
        store = self._store()
        if store is None:  # pragma: no cover - the cache holds indexes by weak store keys
            msg = "the store of this index is gone"
            raise RuntimeError(msg)
        return store

    @contextmanager
    def fresh(self) -> Iterator[SimilarityIndex]:
        """The index, up to date with the store, held under the lock while in use."""
        with self._lock:
            if self._index is None:
                self._build()
            else:
                self._refresh()
            assert self._index is not None
            yield self._index

    def use(self, action: Callable[[SimilarityIndex], T]) -> T:
        """Run `action` on the fresh index (under the lock) and return what it returns."""
        with self.fresh() as index:
            return action(index)

    def rebuild(self) -> None:
        """Build the index again from the store (fresh idf and hubness)."""
        with self._lock:
            self._build()

    def search(self, text: str, limit: int) -> list[Match]:
        """The items most like free text, best first (score: the similarity)."""
        found = self.use(lambda index: index.search(text, QUERY_CANDIDATES) if len(index) else [])
        return _by_similarity(found, limit)

    def similar(self, key: str, limit: int) -> list[Match]:
        """The items most like item `key`, best first; KeyError when it is not indexed."""
        return _by_similarity(self.use(lambda index: index.similar(key, QUERY_CANDIDATES)), limit)

    def __contains__(self, key: object) -> bool:
        """Whether the (fresh) index holds `key`."""
        return self.use(lambda index: key in index)

    # -- building and refreshing ---------------------------------------------------------

    def _rows(self, query: Any) -> Iterable[Any]:
        with self.store.session() as session:
            yield from session.execute(query.execution_options(yield_per=BATCH))

    def _build(self) -> None:
        started = time.perf_counter()
        self._seen = self._state()
        texts: list[IndexedText] = []
        versions: dict[str, Version] = {}
        query = select(*_COLUMNS).where(col(WorkItem.gone).is_(False))
        for row in self._rows(query):
            texts.append(_text(row))
            versions[row.key] = (row.synced_at, row.updated)
        index = SimilarityIndex(self._semantic)
        index.build(texts, scan=False)
        self._index = index
        self._versions = versions
        self._watermark = max(
            (stamp for v in versions.values() if (stamp := _newest(v)) is not None),
            default=None,
        )
        self.build_seconds = time.perf_counter() - started
        log.info("similarity index: %d items in %.1fs", len(texts), self.build_seconds)

    def _state(self) -> tuple[Any, ...]:
        """Live items' count and newest times: one aggregate tells whether anything changed."""
        query = select(
            func.count(), func.max(col(WorkItem.synced_at)), func.max(col(WorkItem.updated))
        ).where(col(WorkItem.gone).is_(False))
        with self.store.session() as session:
            return tuple(session.execute(query).one())

    def _refresh(self) -> None:
        assert self._index is not None
        state = self._state()
        if state == self._seen:
            return
        changed: list[IndexedText] = []
        gone: list[str] = []
        # With no timestamp indexed yet, any timestamped item is new to the index.
        since = (self._watermark or _EPOCH + OVERLAP) - OVERLAP
        query = select(*_COLUMNS).where(
            or_(
                col(WorkItem.synced_at) >= since,
                col(WorkItem.synced_at).is_(None) & (col(WorkItem.updated) >= since),
            )
        )
        for row in self._rows(query):
            version = (row.synced_at, row.updated)
            if row.gone:
                if row.key in self._versions:
                    gone.append(row.key)
                continue
            if self._versions.get(row.key) == version:
                continue
            changed.append(_text(row))
            self._versions[row.key] = version
            newest = _newest(version)
            if newest is not None and (self._watermark is None or newest > self._watermark):
                self._watermark = newest
        for key in gone:
            self._versions.pop(key, None)
        self._index.remove(gone)
        self._index.upsert(changed)
        if int(state[0] or 0) != len(self._versions):
            self._reconcile_keys()
        self._seen = state

    def _reconcile_keys(self) -> None:
        """Make the index hold exactly the store's live keys (after deletions or `gone`)."""
        assert self._index is not None
        with self.store.session() as session:
            live = set(
                session.scalars(select(col(WorkItem.key)).where(col(WorkItem.gone).is_(False)))
            )
        stale = [key for key in self._versions if key not in live]
        missing = live - self._versions.keys()
        for key in stale:
            del self._versions[key]
        self._index.remove(stale)
        if missing:
            added: list[IndexedText] = []
            keys = sorted(missing)
            for start in range(0, len(keys), 500):
                query = select(*_COLUMNS).where(col(WorkItem.key).in_(keys[start : start + 500]))
                for row in self._rows(query):
                    added.append(_text(row))
                    self._versions[row.key] = (row.synced_at, row.updated)
            self._index.upsert(added)
        log.debug("similarity index: %d removed, %d added by key", len(stale), len(missing))


_CACHE: weakref.WeakKeyDictionary[Store, StoreIndex] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def index_for(store: Store, config: GapbotConfig | None = None) -> StoreIndex:
    """This process's index of `store` (one per Store object, built on first use).

    With `config`, the index blends in embedding vectors when the config asks for them
    (`detectors.duplicates.embeddings`); the first call for a store decides.
    """
    with _CACHE_LOCK:
        found = _CACHE.get(store)
        if found is None:
            semantic = None
            if config is not None and config.detectors.duplicates.embeddings:
                from detectors.semantic import StoredEmbeddings  # noqa: PLC0415 - optional

                semantic = StoredEmbeddings(store)
            found = StoreIndex(store, semantic)
            _CACHE[store] = found
        return found


def warm(store: Store, config: GapbotConfig | None = None) -> threading.Thread:
    """Build `store`'s index in a background thread (so the first query need not wait)."""

    def run() -> None:
        try:
            index_for(store, config).use(len)
        except Exception as exc:  # a failed warm-up only means the first query builds it
            log.warning("similarity index warm-up failed: %s: %s", type(exc).__name__, exc)

    thread = threading.Thread(target=run, name="gapbot-index-warmup", daemon=True)
    thread.start()
    return thread
