"""Hooks into parts other modules provide: the similarity index and the weekly report.

The Slack app imports them lazily, so it runs (and says clearly what is missing) before
they exist:

- `detectors.similarity.search(store, text, limit=N)` and
  `detectors.similarity.similar(store, key, limit=N)`, each returning ranked
  `(WorkItem | key, score)` pairs or dicts with `key` and `score`;
- `bot.reports.build_weekly_report(store, config, now, channel=...)` (restricted teams
  already filtered for `channel`) with `weekly_text` and `weekly_blocks` to show it.

Without the similarity index `search` falls back to a keyword match on titles (ranked with
rapidfuzz) and `similar` says the index is not installed; without the report module
`report` says so.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Iterable
from datetime import datetime
from types import ModuleType, SimpleNamespace
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import and_, or_, select
from sqlmodel import col

from config.settings import Settings
from store.db import Store
from store.models import WorkItem

log = logging.getLogger(__name__)

KEYWORD_CANDIDATES = 400
_WORD = re.compile(r"[\w-]{3,}", re.UNICODE)
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "that",
        "this",
        "are",
        "was",
        "not",
        "but",
        "have",
        "has",
        "into",
        "when",
        "what",
        "who",
        "why",
        "how",
        "any",
        "all",
        "can",
        "our",
        "its",
        "out",
        "off",
    ]
)


class NotAvailable(Exception):
    """The optional module is not installed in this build."""


def _optional(module: str, attribute: str) -> Any:
    try:
        loaded: ModuleType = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise NotAvailable(module) from None
        raise
    function = getattr(loaded, attribute, None)
    if function is None:
        raise NotAvailable(f"{module}.{attribute}")
    return function


def _ranked(store: Store, results: Iterable[Any]) -> list[tuple[WorkItem, float]]:
    """Normalise the similarity module's results to (item, score) pairs."""
    pairs: list[tuple[Any, float]] = []
    for entry in results:
        if isinstance(entry, dict):
            pairs.append((entry.get("key") or entry.get("item"), float(entry.get("score", 0))))
        elif isinstance(entry, tuple | list) and len(entry) == 2:
            pairs.append((entry[0], float(entry[1])))
        else:
            pairs.append((entry, float(getattr(entry, "score", 0.0))))
    keys = [p if isinstance(p, str) else getattr(p, "key", "") for p, _ in pairs]
    with store.session() as session:
        found = {
            i.key: i for i in session.scalars(select(WorkItem).where(col(WorkItem.key).in_(keys)))
        }
    return [(found[k], s) for k, (_, s) in zip(keys, pairs, strict=True) if k in found]


def search_items(
    store: Store, text: str, *, limit: int, hidden_teams: set[str]
) -> tuple[list[tuple[WorkItem, float]], bool]:
    """Items most like `text` and whether the similarity index answered (else keywords)."""
    try:
        search = _optional("detectors.similarity", "search")
    except NotAvailable:
        return keyword_search(store, text, limit=limit, hidden_teams=hidden_teams), False
    ranked = _ranked(store, search(store, text, limit=limit + len(hidden_teams) * 5 + 10))
    return [(i, s) for i, s in ranked if i.team not in hidden_teams][:limit], True


def similar_items(
    store: Store, key: str, *, limit: int, hidden_teams: set[str]
) -> list[tuple[WorkItem, float]]:
    """Items most like item `key`; NotAvailable without the similarity index."""
    similar = _optional("detectors.similarity", "similar")
    raw = similar(store, key, limit=limit + len(hidden_teams) * 5 + 10)
    if isinstance(raw, dict):
        raw = raw.get(key, [])
    ranked = _ranked(store, raw)
    return [(i, s) for i, s in ranked if i.team not in hidden_teams and i.key != key][:limit]


def keyword_search(
    store: Store, text: str, *, limit: int, hidden_teams: set[str]
) -> list[tuple[WorkItem, float]]:
    """Open-first items whose titles share the query's words, ranked by rapidfuzz."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
    words = sorted(set(words), key=len, reverse=True)[:5]
    if not words:
        return []
    matches = [col(WorkItem.title).ilike(f"%{w}%") for w in words]
    query = select(WorkItem).where(
        and_(or_(*matches), col(WorkItem.gone).is_(False)),
    )
    if hidden_teams:
        query = query.where(col(WorkItem.team).not_in(sorted(hidden_teams)))
    with store.session() as session:
        candidates = list(session.scalars(query.limit(KEYWORD_CANDIDATES)))
    scored = [
        (item, fuzz.token_set_ratio(text.lower(), item.title.lower()) / 100.0)
        for item in candidates
    ]
    scored.sort(key=lambda p: (-p[1], p[0].status_category == "done", p[0].key))
    return scored[:limit]


def weekly_report(store: Store, settings: Settings, *, channel: str, now: datetime) -> Any:
    """This week's report for `channel`; NotAvailable without `bot.reports`."""
    build = _optional("bot.reports", "build_weekly_report")
    report = build(store, settings.config, now, channel=channel or None)
    text = _optional("bot.reports", "weekly_text")(report)
    blocks = _optional("bot.reports", "weekly_blocks")(report)
    return SimpleNamespace(text=text, blocks=blocks)
