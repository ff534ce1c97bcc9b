"""Turning each tool's words for status and priority into gapbot's scales.

Priorities become a rank from 1 (highest) to 5 (lowest); statuses a category `todo`,
`in_progress` or `done`. Jira sites rename priorities, so a connector that knows the site's
priority scheme passes its order (`rank_from_scheme`); names alone are the fallback.
"""

from __future__ import annotations

import re

STATUS_CATEGORIES = ("todo", "in_progress", "done")
DEFAULT_RANK = 3

_PRIORITY_NAMES: dict[str, int] = {
    "highest": 1,
    "blocker": 1,
    "critical": 1,
    "urgent": 1,
    "showstopper": 1,
    "high": 2,
    "major": 2,
    "important": 2,
    "medium": 3,
    "normal": 3,
    "moderate": 3,
    "low": 4,
    "minor": 4,
    "lowest": 5,
    "trivial": 5,
    "none": 5,
}
_P_LEVEL = re.compile(r"^p\s*([0-5])\b")

_JIRA_CATEGORY_KEYS = {"new": "todo", "indeterminate": "in_progress", "done": "done"}
_DONE_WORDS = (
    "done",
    "closed",
    "resolved",
    "merged",
    "released",
    "complete",
    "completed",
    "fixed",
    "shipped",
    "won't do",
    "wont do",
    "won't fix",
    "cancelled",
    "canceled",
    "rejected",
    "duplicate",
)
_PROGRESS_WORDS = (
    "progress",
    "review",
    "doing",
    "development",
    "testing",
    "qa",
    "started",
    "active",
    "implementing",
    "blocked",
    "verification",
)


def rank_from_priority(name: str | None) -> int:
    """A rank 1..5 for a priority name (`Highest`, `Blocker`, `P1`, ...); unknown is 3."""
    if not name:
        return DEFAULT_RANK
    text = name.strip().lower()
    if text in _PRIORITY_NAMES:
        return _PRIORITY_NAMES[text]
    match = _P_LEVEL.match(text)
    if match:
        # P0 and P1 are both "drop everything"; P4 and below are the bottom.
        return max(1, min(5, int(match[1])))
    for word, rank in _PRIORITY_NAMES.items():
        if word in text:
            return rank
    return DEFAULT_RANK


def rank_from_scheme(name: str | None, ordered_names: list[str]) -> int:
    """A rank 1..5 from the position of `name` in a site's priority order (highest first)."""
    if not name or not ordered_names:
        return rank_from_priority(name)
    lowered = [n.lower() for n in ordered_names]
    if name.lower() not in lowered:
        return rank_from_priority(name)
    position = lowered.index(name.lower())
    if len(lowered) == 1:
        return DEFAULT_RANK
    return 1 + round(position * 4 / (len(lowered) - 1))


def category_from_jira(category_key: str | None) -> str | None:
    """gapbot's category for Jira's `statusCategory.key`, or None when unknown."""
    if not category_key:
        return None
    return _JIRA_CATEGORY_KEYS.get(category_key.strip().lower())


def category_from_status(status: str | None) -> str:
    """Guess the category from a status name, for sources that give no category."""
    if not status:
        return "todo"
    text = status.strip().lower()
    if text in STATUS_CATEGORIES:
        return text
    compact = text.replace("_", " ").replace("-", " ")
    if compact in ("to do", "todo", "open", "new", "backlog", "selected for development"):
        return "todo"
    if any(word in compact for word in _DONE_WORDS):
        return "done"
    if any(word in compact for word in _PROGRESS_WORDS):
        return "in_progress"
    return "todo"


def normalize_category(value: str | None, status: str | None = None) -> str:
    """A valid category from an explicit value (any common spelling) or the status name."""
    if value:
        text = value.strip().lower().replace(" ", "_").replace("-", "_")
        aliases = {
            "to_do": "todo",
            "new": "todo",
            "open": "todo",
            "indeterminate": "in_progress",
            "inprogress": "in_progress",
            "complete": "done",
            "closed": "done",
        }
        text = aliases.get(text, text)
        if text in STATUS_CATEGORIES:
            return text
    return category_from_status(status)
