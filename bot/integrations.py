"""What the Slack app asks of other parts: the similarity index and the weekly report.

- `search_items` / `similar_items`: ranked items from this process's similarity index of
  the store (`detectors.index_cache.index_for`, shared with `gapbot search`/`similar`; built
  once, then refreshed from what changed), with the items of teams the audience may not see
  left out.
- `weekly_report`: `bot.reports.build_weekly_report` for the week to date (what
  `/gaps report` means: this week's report, now), rendered with `weekly_blocks`.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import Block
from sqlalchemy import select
from sqlmodel import col

from detectors.index_cache import index_for
from detectors.similarity import Match
from store.db import Store
from store.models import WorkItem

if TYPE_CHECKING:
    from config.settings import GapbotConfig, Settings

log = logging.getLogger(__name__)

REPORT_CACHE_SECONDS = 60.0
"""How long `/gaps report` answers with the report it made for the same channel."""
HIDDEN_MARGIN = 3
"""Ask the index for this many times the results when some teams are hidden."""


def _items(store: Store, matches: list[Match]) -> list[tuple[WorkItem, float]]:
    """The matched items (still live) with their scores, in the matches' order."""
    keys = [m.key for m in matches]
    if not keys:
        return []
    with store.session() as session:
        found = {
            i.key: i
            for i in session.scalars(
                select(WorkItem).where(col(WorkItem.key).in_(keys), col(WorkItem.gone).is_(False))
            )
        }
    return [(found[m.key], m.score) for m in matches if m.key in found]


def _ask_for(limit: int, hidden_teams: set[str]) -> int:
    return limit * HIDDEN_MARGIN + 10 if hidden_teams else limit


def search_items(
    store: Store,
    text: str,
    *,
    limit: int,
    hidden_teams: set[str],
    config: GapbotConfig | None = None,
) -> list[tuple[WorkItem, float]]:
    """Items most like `text`, best first, none of `hidden_teams`."""
    matches = index_for(store, config).search(text, _ask_for(limit, hidden_teams))
    ranked = _items(store, matches)
    return [(i, s) for i, s in ranked if i.team not in hidden_teams][:limit]


def similar_items(
    store: Store,
    key: str,
    *,
    limit: int,
    hidden_teams: set[str],
    config: GapbotConfig | None = None,
) -> list[tuple[WorkItem, float]]:
    """Items most like item `key`, best first, none of `hidden_teams` ([] if not indexed)."""
    try:
        matches = index_for(store, config).similar(key, _ask_for(limit, hidden_teams))
    except KeyError:
        return []
    ranked = _items(store, matches)
    return [(i, s) for i, s in ranked if i.team not in hidden_teams and i.key != key][:limit]


@dataclass(frozen=True)
class RenderedReport:
    """A report ready for Slack: its fallback text and blocks."""

    text: str
    blocks: list[Block]


@dataclass
class _Cached:
    lock: threading.Lock = field(default_factory=threading.Lock)
    made_at: float = -1e9
    report: RenderedReport | None = None


_REPORTS: weakref.WeakKeyDictionary[Store, dict[str, _Cached]] = weakref.WeakKeyDictionary()
_REPORTS_LOCK = threading.Lock()


def weekly_report(
    store: Store, settings: Settings, *, channel: str, now: datetime
) -> RenderedReport:
    """This week's report so far, as shown in `channel` ('#name'; '' for a DM).

    Restricted teams are left out unless `channel` may see them; a team's channel gets its
    team's report, any other channel the organisation's.

    A report reads every item (its KPIs) and takes a second or two on 100,000 items; twenty
    people asking at once would queue behind each other. So one report per channel is made
    at a time, and what was made in the last `REPORT_CACHE_SECONDS` is answered again.
    """
    with _REPORTS_LOCK:
        cached = _REPORTS.setdefault(store, {}).setdefault(channel, _Cached())
    with cached.lock:
        if cached.report is None or time.monotonic() - cached.made_at > REPORT_CACHE_SECONDS:
            cached.report = _make_report(store, settings, channel=channel, now=now)
            cached.made_at = time.monotonic()
        return cached.report


def _make_report(
    store: Store, settings: Settings, *, channel: str, now: datetime
) -> RenderedReport:
    from bot.access import channel_key  # noqa: PLC0415
    from bot.reports import build_weekly_report, weekly_blocks, weekly_text  # noqa: PLC0415

    config = settings.config
    owners = [
        t.name for t in config.teams if t.slack_channel and channel_key(t.slack_channel) == channel
    ]
    report = build_weekly_report(
        store,
        config,
        now,
        team=owners[0] if len(owners) == 1 else None,
        channel=channel or None,
        week_to_date=True,
    )
    return RenderedReport(text=weekly_text(report), blocks=weekly_blocks(report))
