"""Misaligned priorities: work ranked differently by the people who depend on each other.

Four rules, each a pure function `(snapshot) -> list[DetectedGap]`. Priorities are the
store's normalised rank (1 Highest … 5 Lowest); pull requests carry no priority of their
own and are left out of every rule here.

priority_inversion
    An item waits on (is blocked by) another team's item whose rank is at least
    `detectors.priority_inversion.min_rank_gap` (default 2) levels lower and that is not
    started. Severity: 3 or more levels apart is high, 2 medium, 1 low. Facts: both ranks
    and the blocker's status category. Sample::

        [medium] PAY-12 (High) waits on CORE-88 (Low), owned by platform
        Priority inversion: PAY-12 (High, payments) is blocked by CORE-88 (Low, platform),
        which is not started; the blocker is ranked 2 levels lower than the work waiting
        on it.

parent_child_priority
    Two cases. A parent ranked `parent_high_rank` (default 2, High) or higher whose open
    children are all ranked `min_rank_gap` (default 2) or more levels lower; or an open child
    ranked `min_rank_gap` or more levels above its open parent. Severity: 3 or more levels
    apart is high, otherwise medium. Sample::

        [high] PAY-7 (Highest) is ranked above its parent PAY-1 (Lowest)
        Parent and child disagree: PAY-7 (Highest, payments) is ranked 4 levels above its
        parent PAY-1 (Lowest, payments).

focus_drift
    Per team: high-priority items (rank `high_rank`, default 2, or higher) not done and not
    updated for `untouched_days` (default 7) while `min_lower_in_progress` (default 3) or
    more lower-priority items are in progress and were updated in that time. Severity: high
    when a Highest item or three or more high items sit untouched, else medium. Facts: the
    untouched items' keys. Sample::

        [medium] payments: 1 high-priority item untouched while 3 lower ones move
        Focus drift in payments: 1 high-priority item has not been updated for 7 days or
        more (PAY-1 (High), untouched for 12 days) while 3 lower-priority items are in
        progress: PAY-6 (Medium), PAY-5 (Low), PAY-7 (Low).

unaligned_work
    Only when `objectives` are configured. Per team: in-progress items that reach no
    objective (not an objective themselves, no objective label, no link to an objective,
    and none of that through their parents), when there are `min_items` (default 3) or more.
    One finding per team naming the count and the highest-ranked items. Objectives given
    only by `jql` cannot be evaluated from the store (detectors do no I/O): give them a key
    or labels. Severity by the unaligned share of the team's in-progress work: half or more
    high, a quarter or more medium. Facts: the count in steps of five, so a dismissed
    finding comes back when the count moves by a step, not by one item. Sample::

        [high] payments: 6 of 10 in-progress items serve no objective
        Unaligned work in payments: 6 of 10 in-progress items (60%) link to no objective
        (OBJ-1). Largest: PAY-3 (Highest), PAY-9 (High), PAY-4 (Medium), PAY-5 (Low),
        PAY-6 (Low) and 1 more.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from detectors.base import DetectedGap, Snapshot
from detectors.common import (
    IN_PROGRESS,
    TODO,
    children_by_parent,
    cross_team_blocking_pairs,
    describe,
    detector,
    has_team,
    is_done,
    is_pull_request,
    listed_keys,
    parent_of,
    plural,
    priority_name,
    progress_phrase,
    severity_from,
    team_tuple,
    whole_days,
)
from store.models import WorkItem

MAX_NAMED = 5
"""Items named in an explanation's list; the finding's item list holds more."""
UNALIGNED_FACTS_STEP = 5
MAX_ANCESTRY = 10
"""Parent levels walked when looking for an objective (guards against parent cycles)."""


def _ranked(item: WorkItem) -> str:
    return f"{item.key} ({priority_name(item)})"


def _name_list(items: list[WorkItem]) -> str:
    named = ", ".join(_ranked(item) for item in items[:MAX_NAMED])
    if len(items) > MAX_NAMED:
        named += f" and {len(items) - MAX_NAMED} more"
    return named


@detector("priority_inversion")
def detect_priority_inversion(snapshot: Snapshot) -> list[DetectedGap]:
    """An item waits on another team's not-started item ranked much lower."""
    settings = snapshot.config.detectors.priority_inversion
    gaps: list[DetectedGap] = []
    for blocker, waiting in cross_team_blocking_pairs(snapshot):
        if is_pull_request(blocker) or is_pull_request(waiting):
            continue
        if blocker.status_category != TODO:
            continue
        gap = blocker.priority_rank - waiting.priority_rank
        if gap < settings.min_rank_gap:
            continue
        gaps.append(
            DetectedGap(
                kind="priority_inversion",
                item_keys=(waiting.key, blocker.key),
                summary=(
                    f"{_ranked(waiting)} waits on {_ranked(blocker)}, owned by {blocker.team}"
                ),
                explanation=(
                    f"Priority inversion: {describe(waiting)} is blocked by {describe(blocker)}, "
                    f"{progress_phrase(blocker)}; the blocker is ranked "
                    f"{plural(gap, 'level')} lower than the work waiting on it."
                ),
                severity=severity_from(gap, 2, 3),
                score=gap / 4,
                teams=team_tuple((waiting, blocker)),
                facts=(waiting.priority_rank, blocker.priority_rank, blocker.status_category),
            )
        )
    return gaps


@detector("parent_child_priority")
def detect_parent_child_priority(snapshot: Snapshot) -> list[DetectedGap]:
    """A high parent whose open children are all low, or a child ranked far above its parent."""
    settings = snapshot.config.detectors.parent_child_priority
    items = snapshot.items
    gaps: list[DetectedGap] = []
    for parent_key, children in children_by_parent(snapshot).items():
        parent = items.get(parent_key)
        if parent is None or is_done(parent) or is_pull_request(parent):
            continue
        open_children = sorted(
            (c for c in children if not is_done(c) and not is_pull_request(c)),
            key=lambda c: (c.priority_rank, c.key),
        )
        if not open_children:
            continue
        # A parent ranked high whose open children are all far below it.
        smallest_gap = min(c.priority_rank for c in open_children) - parent.priority_rank
        if (
            parent.priority_rank <= settings.parent_high_rank
            and smallest_gap >= settings.min_rank_gap
        ):
            count = len(open_children)
            which = (
                "its only open child is" if count == 1 else f"all {count} of its open children are"
            )
            gaps.append(
                DetectedGap(
                    kind="parent_child_priority",
                    item_keys=listed_keys([parent.key, *(c.key for c in open_children)]),
                    subject=f"children_below:{parent.key}",
                    summary=(
                        f"{_ranked(parent)} has only lower-ranked open children "
                        f"({plural(count, 'item')})"
                    ),
                    explanation=(
                        f"Parent and child disagree: {describe(parent)} is ranked high but "
                        f"{which} "
                        f"ranked {plural(smallest_gap, 'level')} or more lower: "
                        f"{_name_list(open_children)}."
                    ),
                    severity=severity_from(smallest_gap, 0, 3),
                    score=smallest_gap / 4,
                    teams=team_tuple([parent, *open_children]),
                    facts=(
                        "children_below",
                        parent.priority_rank,
                        tuple((c.key, c.priority_rank) for c in open_children),
                    ),
                )
            )
        # A child ranked far above its parent.
        for child in open_children:
            gap = parent.priority_rank - child.priority_rank
            if gap < settings.min_rank_gap:
                continue
            gaps.append(
                DetectedGap(
                    kind="parent_child_priority",
                    item_keys=(child.key, parent.key),
                    subject=f"child_above:{parent.key}>{child.key}",
                    summary=f"{_ranked(child)} is ranked above its parent {_ranked(parent)}",
                    explanation=(
                        f"Parent and child disagree: {describe(child)} is ranked "
                        f"{plural(gap, 'level')} above its parent {describe(parent)}."
                    ),
                    severity=severity_from(gap, 0, 3),
                    score=gap / 4,
                    teams=team_tuple((child, parent)),
                    facts=("child_above", parent.priority_rank, child.priority_rank),
                )
            )
    return gaps


@detector("focus_drift")
def detect_focus_drift(snapshot: Snapshot) -> list[DetectedGap]:
    """A team's high-priority items sit untouched while its lower-priority ones move."""
    settings = snapshot.config.detectors.focus_drift
    cutoff = snapshot.now - timedelta(days=settings.untouched_days)
    untouched: dict[str, list[WorkItem]] = defaultdict(list)
    moving: dict[str, list[WorkItem]] = defaultdict(list)
    for item in snapshot.items.values():
        if is_pull_request(item) or is_done(item) or not has_team(item):
            continue
        touched = item.updated or item.created
        if touched is None:
            # Without any time we cannot tell stale from fresh; say nothing.
            continue
        if item.priority_rank <= settings.high_rank:
            if touched <= cutoff:
                untouched[item.team].append(item)
        elif item.status_category == IN_PROGRESS and touched > cutoff:
            moving[item.team].append(item)
    gaps: list[DetectedGap] = []
    for team, stale in sorted(untouched.items()):
        lower = moving.get(team, [])
        if len(lower) < settings.min_lower_in_progress:
            continue
        stale.sort(key=lambda i: (i.priority_rank, i.updated or i.created, i.key))
        lower.sort(key=lambda i: (i.priority_rank, i.key))
        ages = [
            f"{_ranked(i)}, untouched for "
            f"{plural(whole_days(i.updated or i.created or snapshot.now, snapshot.now), 'day')}"
            for i in stale[:MAX_NAMED]
        ]
        if len(stale) > MAX_NAMED:
            ages.append(f"and {len(stale) - MAX_NAMED} more")
        verb = "has" if len(stale) == 1 else "have"
        high = any(i.priority_rank == 1 for i in stale) or len(stale) >= 3
        gaps.append(
            DetectedGap(
                kind="focus_drift",
                item_keys=listed_keys([*(i.key for i in stale), *(i.key for i in lower)]),
                subject=f"team:{team}",
                summary=(
                    f"{team}: {plural(len(stale), 'high-priority item')} untouched while "
                    f"{len(lower)} lower ones move"
                ),
                explanation=(
                    f"Focus drift in {team}: {plural(len(stale), 'high-priority item')} {verb} "
                    f"not been updated for {settings.untouched_days} days or more "
                    f"({'; '.join(ages)}) while {plural(len(lower), 'lower-priority item')} "
                    f"{'is' if len(lower) == 1 else 'are'} in progress: {_name_list(lower)}."
                ),
                severity="high" if high else "medium",
                score=min(1.0, 0.2 * len(stale) + 0.05 * len(lower)),
                teams=(team,),
                facts=tuple(i.key for i in sorted(stale, key=lambda i: i.key)),
            )
        )
    return gaps


@detector("unaligned_work")
def detect_unaligned_work(snapshot: Snapshot) -> list[DetectedGap]:
    """In-progress work that serves no configured objective, per team."""
    objectives = snapshot.config.objectives
    if not objectives:
        return []
    settings = snapshot.config.detectors.unaligned_work
    objective_keys = {o.key for o in objectives}
    objective_labels = {label.lower() for o in objectives for label in o.labels}
    linked = {
        end
        for link in snapshot.links
        for end, other in ((link.source_key, link.target_key), (link.target_key, link.source_key))
        if other in objective_keys
    }
    parents = parent_of(snapshot)
    items = snapshot.items
    verdicts: dict[str, bool] = {}

    def serves_objective(key: str) -> bool:
        chain: list[str] = []
        current: str | None = key
        aligned = False
        while current is not None and len(chain) < MAX_ANCESTRY:
            if current in verdicts:
                aligned = verdicts[current]
                break
            chain.append(current)
            item = items.get(current)
            labels = {label.lower() for label in item.labels} if item is not None else set()
            if current in objective_keys or current in linked or labels & objective_labels:
                aligned = True
                break
            current = parents.get(current)
        for visited in chain:
            verdicts[visited] = aligned
        return aligned

    in_progress: dict[str, int] = defaultdict(int)
    unaligned: dict[str, list[WorkItem]] = defaultdict(list)
    for item in items.values():
        if item.status_category != IN_PROGRESS or is_pull_request(item) or not has_team(item):
            continue
        in_progress[item.team] += 1
        if not serves_objective(item.key):
            unaligned[item.team].append(item)
    named_objectives = ", ".join(o.key for o in objectives[:MAX_NAMED])
    gaps: list[DetectedGap] = []
    for team, found in sorted(unaligned.items()):
        if len(found) < settings.min_items:
            continue
        found.sort(key=lambda i: (i.priority_rank, i.created or snapshot.now, i.key))
        total = in_progress[team]
        share = len(found) / total
        gaps.append(
            DetectedGap(
                kind="unaligned_work",
                item_keys=listed_keys(i.key for i in found),
                subject=f"team:{team}",
                summary=f"{team}: {len(found)} of {total} in-progress items serve no objective",
                explanation=(
                    f"Unaligned work in {team}: {len(found)} of {total} in-progress items "
                    f"({share:.0%}) link to no objective ({named_objectives}). "
                    f"Largest: {_name_list(found)}."
                ),
                severity=severity_from(share, 0.25, 0.5),
                score=share,
                teams=(team,),
                facts=(len(found) // UNALIGNED_FACTS_STEP,),
            )
        )
    return gaps


PRIORITY_DETECTORS = (
    detect_priority_inversion,
    detect_parent_child_priority,
    detect_focus_drift,
    detect_unaligned_work,
)
