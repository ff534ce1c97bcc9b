"""Small pieces the rule modules share: the link graph, how items are named, time arithmetic.

Everything here is pure: it reads a `Snapshot` (or plain values) and returns plain values.
The graph helpers are cheap (one pass over the links), so each rule builds what it needs
rather than sharing mutable state through the frozen snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta, tzinfo

from config.settings import UNASSIGNED_TEAM
from detectors.base import Detector, Severity, Snapshot
from store.models import WorkItem

PULL_REQUEST = "pull_request"
TODO = "todo"
IN_PROGRESS = "in_progress"
DONE = "done"
RANK_NAMES = {1: "Highest", 2: "High", 3: "Medium", 4: "Low", 5: "Lowest"}
MAX_LISTED_KEYS = 20
"""A finding names at most this many items (a parent with 200 children names the first 20)."""
_WEEKDAYS_PER_WEEK = 5
_SATURDAY = 5


def detector(kind: str) -> Callable[[Detector], Detector]:
    """Give a rule its stable id, the finding kind it produces (the registry keys by it)."""

    def mark(function: Detector) -> Detector:
        function.detector_id = kind  # type: ignore[attr-defined]
        return function

    return mark


def is_pull_request(item: WorkItem) -> bool:
    """Whether the item is a pull request (PRs carry no priority of their own)."""
    return item.kind == PULL_REQUEST


def is_done(item: WorkItem) -> bool:
    """Whether the item is finished (done, closed, merged)."""
    return item.status_category == DONE or item.merged


def is_open_pr(item: WorkItem) -> bool:
    """Whether the item is a pull request that is neither merged nor closed."""
    return is_pull_request(item) and not is_done(item)


def has_team(item: WorkItem) -> bool:
    """Whether a configured team owns the item."""
    return bool(item.team) and item.team != UNASSIGNED_TEAM


def priority_name(item: WorkItem) -> str:
    """The item's priority as its tool names it, else the name of its rank."""
    return item.priority or RANK_NAMES.get(item.priority_rank, f"rank {item.priority_rank}")


def describe(item: WorkItem, *, with_priority: bool = True) -> str:
    """`PAY-12 (Highest, payments)`: how explanations name an item."""
    if with_priority and not is_pull_request(item):
        return f"{item.key} ({priority_name(item)}, {item.team})"
    return f"{item.key} ({item.team})"


def status_note(item: WorkItem) -> str:
    """` (In Review)`: the site's own status word, when it says more than the category."""
    # "in progress (In Progress)" says nothing twice; a site's own word ("In Review") helps.
    plain = item.status.strip().lower().replace("_", " ") in (
        "to do",
        "todo",
        "in progress",
        "done",
    )
    return f" ({item.status})" if item.status and not plain else ""


def progress_phrase(item: WorkItem) -> str:
    """`which is not started` / `which is in progress (In Review)`: an item's state in words."""
    if item.status_category == TODO:
        return f"which is not started{status_note(item)}"
    if item.status_category == IN_PROGRESS:
        return f"which is in progress{status_note(item)}"
    return f"which is done{status_note(item)}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 day`, `3 days`."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def team_tuple(items: Iterable[WorkItem]) -> tuple[str, ...]:
    """The distinct teams of `items`, sorted."""
    return tuple(sorted({item.team for item in items if item.team}))


def listed_keys(keys: Iterable[str]) -> tuple[str, ...]:
    """At most MAX_LISTED_KEYS keys, in the order given, without repeats."""
    return tuple(dict.fromkeys(keys))[:MAX_LISTED_KEYS]


def severity_from(value: float, medium_at: float, high_at: float) -> Severity:
    """`high` from `high_at` up, `medium` from `medium_at`, `low` below."""
    if value >= high_at:
        return "high"
    if value >= medium_at:
        return "medium"
    return "low"


def blocking_pairs(snapshot: Snapshot) -> Iterator[tuple[WorkItem, WorkItem]]:
    """(blocker, waiting) for every `blocks` link whose two items the store holds."""
    items = snapshot.items
    for link in snapshot.links:
        if link.type != "blocks":
            continue
        blocker = items.get(link.source_key)
        waiting = items.get(link.target_key)
        if blocker is not None and waiting is not None and blocker.key != waiting.key:
            yield blocker, waiting


def cross_team_blocking_pairs(snapshot: Snapshot) -> Iterator[tuple[WorkItem, WorkItem]]:
    """(blocker, waiting) pairs of two different configured teams, both still open."""
    for blocker, waiting in blocking_pairs(snapshot):
        if (
            has_team(blocker)
            and has_team(waiting)
            and blocker.team != waiting.team
            and not is_done(blocker)
            and not is_done(waiting)
        ):
            yield blocker, waiting


def children_by_parent(snapshot: Snapshot) -> dict[str, list[WorkItem]]:
    """Each parent key's child items, from `parent` links and the items' own parent field."""
    items = snapshot.items
    child_keys: dict[str, dict[str, None]] = defaultdict(dict)
    for link in snapshot.links:
        if link.type == "parent" and link.target_key in items:
            child_keys[link.source_key][link.target_key] = None
    for item in items.values():
        if item.parent:
            child_keys[item.parent][item.key] = None
    return {
        parent: [items[key] for key in keys if key != parent] for parent, keys in child_keys.items()
    }


def parent_of(snapshot: Snapshot) -> dict[str, str]:
    """Each item key's parent key (the item's field wins over a `parent` link)."""
    parents: dict[str, str] = {}
    for link in snapshot.links:
        if link.type == "parent":
            parents.setdefault(link.target_key, link.source_key)
    for item in snapshot.items.values():
        if item.parent:
            parents[item.key] = item.parent
    return parents


def prs_by_ticket(snapshot: Snapshot) -> dict[str, list[WorkItem]]:
    """Each ticket key's pull requests, from `implements` links (PR → ticket)."""
    items = snapshot.items
    found: dict[str, dict[str, WorkItem]] = defaultdict(dict)
    for link in snapshot.links:
        if link.type != "implements":
            continue
        pr = items.get(link.source_key)
        if pr is not None and is_pull_request(pr):
            found[link.target_key][pr.key] = pr
    return {ticket: list(prs.values()) for ticket, prs in found.items()}


def local_today(snapshot: Snapshot) -> date:
    """Today's date in the configured time zone."""
    return snapshot.now.astimezone(snapshot.config.zone).date()


def whole_days(start: datetime, end: datetime) -> int:
    """Whole days from `start` to `end` (0 when `end` is earlier)."""
    return max(0, (end - start) // timedelta(days=1))


def _weekdays_between(first: date, last: date) -> int:
    """Monday-to-Friday dates in [first, last)."""
    total = (last - first).days
    if total <= 0:
        return 0
    weeks, rest = divmod(total, 7)
    count = weeks * _WEEKDAYS_PER_WEEK
    start_weekday = first.weekday()
    count += sum(1 for offset in range(rest) if (start_weekday + offset) % 7 < _SATURDAY)
    return count


def working_hours_between(start: datetime, end: datetime, zone: tzinfo) -> float:
    """Hours from `start` to `end` that fall on a weekday (Monday to Friday) in `zone`.

    Working hours here are whole weekdays, not office hours: a review request sent on a
    Friday evening starts counting on Monday at midnight, local time. Local wall-clock
    time is used, so a daylight-saving change shifts the count by at most an hour.
    """
    if end <= start:
        return 0.0
    local_start = start.astimezone(zone).replace(tzinfo=None)
    local_end = end.astimezone(zone).replace(tzinfo=None)
    first_day, last_day = local_start.date(), local_end.date()
    if first_day == last_day:
        if first_day.weekday() >= _SATURDAY:
            return 0.0
        return (local_end - local_start).total_seconds() / 3600
    hours = 0.0
    if first_day.weekday() < _SATURDAY:
        next_midnight = datetime.combine(first_day + timedelta(days=1), datetime.min.time())
        hours += (next_midnight - local_start).total_seconds() / 3600
    hours += 24 * _weekdays_between(first_day + timedelta(days=1), last_day)
    if last_day.weekday() < _SATURDAY:
        midnight = datetime.combine(last_day, datetime.min.time())
        hours += (local_end - midnight).total_seconds() / 3600
    return hours


def short_date(moment: datetime | date) -> str:
    """`Mon 3 Nov` for a time or date."""
    return f"{moment:%a} {moment.day} {moment:%b}"
