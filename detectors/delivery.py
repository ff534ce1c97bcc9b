"""Delivery gaps: work waiting on reviews, on other teams, on dates, or told two ways.

Four rules, each a pure function `(snapshot) -> list[DetectedGap]`. A ticket's pull requests
are those with an `implements` link to it (PR → ticket).

stale_pr
    An open pull request, not a draft, with no review `detectors.stale_pr.review_wait_hours`
    (default 48) working hours after review was requested, or after it was opened when no
    request is known. Working hours are the hours of Monday to Friday in `timezone` (whole
    weekdays, not office hours): a request on Friday evening starts counting on Monday.
    Severity: three times the wait is high; a PR whose tickets are all Low or Lowest is low;
    otherwise medium. Facts: when the wait started (a new review request re-opens a
    dismissed finding). Sample::

        [high] acme/web#45 has had no review for 171 working hours
        Stale pull request: acme/web#45 (web) has waited 171 working hours for a first
        review since review was requested on Mon 2 Nov (the limit is 48). It implements
        WEB-12 (High, web).

blocked
    An open item blocked by an open item of another team for more than
    `detectors.blocked.days` (default 5) days. Links carry no time of their own, so the
    blocking is dated from the later of the two items' `created` times: the link cannot be
    older than either item. This overstates the wait when the link was added long after both
    items existed; it is the best the store knows. Severity: high after three times the
    limit, after twice the limit for High and Highest items, or when three or more items
    wait on the same blocker; low for Low and Lowest items; medium otherwise. Sample::

        [medium] PAY-12 (Highest) blocked for 9 days by CORE-88 of platform
        Blocked across teams: PAY-12 (Highest, payments) has been blocked for 9 days by
        CORE-88 (Low, platform), which is not started.

overdue
    Two cases. An open item (not a pull request) more than `detectors.overdue.grace_days`
    (default 0) days past its due date, in `timezone`'s today; severity high from 14 days
    late (or 3 for a Highest item), medium from 3 days late or for High items, low below.
    And an open parent due before one of its open children; severity by the days between
    the dates (14 high, 3 medium). Facts: the due dates. Sample::

        [medium] PAY-12 (High) is 9 days overdue
        Overdue: PAY-12 (High, payments) was due on Mon 2 Nov, 9 days ago, and is in
        progress (In Review).

status_drift
    The ticket and its pull requests tell different stories. Three cases: a PR merged
    `detectors.status_drift.merged_days` (default 3) or more days ago whose ticket is not done
    and has no other open PR; a ticket done while a PR of it is still open; a ticket in "to
    do" with an open PR (work invisible in the plan). Severity: a merge 14 or more days old
    is high; a to-do ticket ranked Low or Lowest is low; otherwise medium. Sample::

        [medium] acme/web#45 merged 5 days ago, WEB-12 still in progress
        Status drift: acme/web#45 (web) was merged 5 days ago (Fri 6 Nov) but the ticket
        it implements, WEB-12 (High, web), is still in progress (In Review).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from detectors.base import DetectedGap, Severity, Snapshot
from detectors.common import (
    TODO,
    cross_team_blocking_pairs,
    describe,
    detector,
    is_done,
    is_open_pr,
    is_pull_request,
    local_today,
    plural,
    priority_name,
    progress_phrase,
    prs_by_ticket,
    severity_from,
    short_date,
    status_note,
    team_tuple,
    whole_days,
    working_hours_between,
)
from store.models import WorkItem

REVIEWED_STATES = frozenset({"approved", "changes_requested", "commented", "dismissed"})
"""`review_state` values that mean someone has reviewed the pull request."""
CROWDED_BLOCKER = 3
"""Items waiting on one blocker that make every one of its blocked findings high."""
LONG_AGO_DAYS = 14


def _ranked(item: WorkItem) -> str:
    return f"{item.key} ({priority_name(item)})"


def _was_reviewed(pr: WorkItem) -> bool:
    return pr.first_review_at is not None or pr.review_state.lower() in REVIEWED_STATES


@detector("stale_pr")
def detect_stale_prs(snapshot: Snapshot) -> list[DetectedGap]:
    """Open, ready pull requests with no review for too many working hours."""
    limit = snapshot.config.detectors.stale_pr.review_wait_hours
    zone = snapshot.config.zone
    tickets_of: dict[str, list[WorkItem]] = defaultdict(list)
    for ticket_key, prs in prs_by_ticket(snapshot).items():
        ticket = snapshot.items.get(ticket_key)
        if ticket is not None:
            for pr in prs:
                tickets_of[pr.key].append(ticket)
    gaps: list[DetectedGap] = []
    for pr in snapshot.items.values():
        if not is_open_pr(pr) or pr.draft or _was_reviewed(pr):
            continue
        start = pr.review_requested_at or pr.created
        if start is None:
            continue
        hours = working_hours_between(start, snapshot.now, zone)
        if hours < limit:
            continue
        since = "review was requested" if pr.review_requested_at else "it was opened"
        tickets = sorted(tickets_of.get(pr.key, []), key=lambda t: (t.priority_rank, t.key))
        severity: Severity = "high" if hours >= 3 * limit else "medium"
        if severity == "medium" and tickets and all(t.priority_rank >= 4 for t in tickets):
            severity = "low"
        implements = f" It implements {', '.join(describe(t) for t in tickets)}." if tickets else ""
        gaps.append(
            DetectedGap(
                kind="stale_pr",
                item_keys=(pr.key, *(t.key for t in tickets)),
                subject=pr.key,
                summary=f"{pr.key} has had no review for {hours:.0f} working hours",
                explanation=(
                    f"Stale pull request: {describe(pr)} has waited {hours:.0f} working hours "
                    f"for a first review since {since} on {short_date(start.astimezone(zone))} "
                    f"(the limit is {limit}).{implements}"
                ),
                severity=severity,
                score=min(1.0, hours / (4 * limit)),
                teams=team_tuple([pr, *tickets]),
                facts=(start.isoformat(),),
            )
        )
    return gaps


def _blocked_since(blocker: WorkItem, waiting: WorkItem) -> datetime | None:
    """When the blocking can have started at the earliest: the later item's creation."""
    times = [t for t in (blocker.created, waiting.created) if t is not None]
    return max(times) if times else None


@detector("blocked")
def detect_blocked(snapshot: Snapshot) -> list[DetectedGap]:
    """Items blocked by another team's item for more than the configured days."""
    limit = snapshot.config.detectors.blocked.days
    pairs = list(cross_team_blocking_pairs(snapshot))
    waiting_count = Counter(blocker.key for blocker, _ in pairs)
    gaps: list[DetectedGap] = []
    for blocker, waiting in pairs:
        since = _blocked_since(blocker, waiting)
        if since is None:
            continue
        days = whole_days(since, snapshot.now)
        if days <= limit:
            continue
        others = waiting_count[blocker.key] - 1
        severity: Severity = "medium"
        if waiting.priority_rank >= 4:
            severity = "low"
        if (
            days >= 3 * max(limit, 1)
            or (waiting.priority_rank <= 2 and days >= 2 * max(limit, 1))
            or others + 1 >= CROWDED_BLOCKER
        ):
            severity = "high"
        crowd = (
            f" {plural(others, 'other item')} {'waits' if others == 1 else 'wait'} "
            f"on {blocker.key} too."
            if others
            else ""
        )
        gaps.append(
            DetectedGap(
                kind="blocked",
                item_keys=(waiting.key, blocker.key),
                summary=(
                    f"{_ranked(waiting)} blocked for {plural(days, 'day')} by {blocker.key} "
                    f"of {blocker.team}"
                ),
                explanation=(
                    f"Blocked across teams: {describe(waiting)} has been blocked for "
                    f"{plural(days, 'day')} by {describe(blocker)}, "
                    f"{progress_phrase(blocker)}.{crowd}"
                ),
                severity=severity,
                score=min(1.0, days / (4 * max(limit, 1))),
                teams=team_tuple((waiting, blocker)),
                facts=(waiting.priority_rank, blocker.priority_rank, blocker.status_category),
            )
        )
    return gaps


def _overdue_severity(days_late: int, rank: int) -> Severity:
    if days_late >= LONG_AGO_DAYS or (rank == 1 and days_late >= 3):
        return "high"
    if days_late >= 3 or rank <= 2:
        return "medium"
    return "low"


@detector("overdue")
def detect_overdue(snapshot: Snapshot) -> list[DetectedGap]:
    """Open items past their due date, and parents due before one of their children."""
    grace = snapshot.config.detectors.overdue.grace_days
    today = local_today(snapshot)
    items = snapshot.items
    gaps: list[DetectedGap] = []
    for item in items.values():
        if item.due is None or is_done(item) or is_pull_request(item):
            continue
        days_late = (today - item.due).days
        if days_late > grace:
            gaps.append(
                DetectedGap(
                    kind="overdue",
                    item_keys=(item.key,),
                    subject=f"late:{item.key}",
                    summary=f"{_ranked(item)} is {plural(days_late, 'day')} overdue",
                    explanation=(
                        f"Overdue: {describe(item)} was due on {short_date(item.due)}, "
                        f"{plural(days_late, 'day')} ago, and is "
                        f"{progress_phrase(item).removeprefix('which is ')}."
                    ),
                    severity=_overdue_severity(days_late, item.priority_rank),
                    score=min(1.0, days_late / 30),
                    teams=team_tuple((item,)),
                    facts=(item.due.isoformat(),),
                )
            )
        # A parent due before its child: the plan cannot hold.
        parent = items.get(item.parent) if item.parent else None
        if (
            parent is not None
            and parent.due is not None
            and not is_done(parent)
            and parent.due < item.due
        ):
            gap_days = (item.due - parent.due).days
            gaps.append(
                DetectedGap(
                    kind="overdue",
                    item_keys=(parent.key, item.key),
                    subject=f"parent_due:{parent.key}>{item.key}",
                    summary=(
                        f"{parent.key} is due {plural(gap_days, 'day')} before its child {item.key}"
                    ),
                    explanation=(
                        f"Overdue: parent {describe(parent)} is due on "
                        f"{short_date(parent.due)}, {plural(gap_days, 'day')} before its child "
                        f"{describe(item)}, due on {short_date(item.due)}."
                    ),
                    severity=severity_from(gap_days, 3, LONG_AGO_DAYS),
                    score=min(1.0, gap_days / 30),
                    teams=team_tuple((parent, item)),
                    facts=(parent.due.isoformat(), item.due.isoformat()),
                )
            )
    return gaps


def _merged_time(pr: WorkItem) -> datetime | None:
    return pr.merged_at or pr.resolved


def _pr_list(prs: list[WorkItem]) -> str:
    return ", ".join(describe(pr) for pr in prs)


@detector("status_drift")
def detect_status_drift(snapshot: Snapshot) -> list[DetectedGap]:
    """A ticket and its pull requests disagree about where the work stands."""
    merged_days = snapshot.config.detectors.status_drift.merged_days
    merged_cutoff = snapshot.now - timedelta(days=merged_days)
    zone = snapshot.config.zone
    gaps: list[DetectedGap] = []
    for ticket_key, prs in sorted(prs_by_ticket(snapshot).items()):
        ticket = snapshot.items.get(ticket_key)
        if ticket is None or is_pull_request(ticket):
            continue
        open_prs = sorted((p for p in prs if is_open_pr(p)), key=lambda p: p.key)
        merged = [p for p in prs if p.merged and _merged_time(p) is not None]
        if not is_done(ticket) and not open_prs and merged:
            last = max(merged, key=lambda p: (_merged_time(p), p.key))
            merged_at = _merged_time(last)
            assert merged_at is not None  # filtered above; narrows the type
            if merged_at <= merged_cutoff:
                days = whole_days(merged_at, snapshot.now)
                gaps.append(
                    DetectedGap(
                        kind="status_drift",
                        item_keys=(ticket.key, last.key),
                        subject=f"merged_not_done:{ticket.key}",
                        summary=(
                            f"{last.key} merged {plural(days, 'day')} ago, {ticket.key} still "
                            f"{'not started' if ticket.status_category == TODO else 'in progress'}"
                        ),
                        explanation=(
                            f"Status drift: {describe(last)} was merged "
                            f"{plural(days, 'day')} ago ({short_date(merged_at.astimezone(zone))}) "
                            f"but the ticket it implements, {describe(ticket)}, is still "
                            f"{progress_phrase(ticket).removeprefix('which is ')}."
                        ),
                        severity="high" if days >= LONG_AGO_DAYS else "medium",
                        score=min(1.0, days / 30),
                        teams=team_tuple([ticket, last]),
                        facts=("merged_not_done", ticket.status_category, last.key),
                    )
                )
        elif is_done(ticket) and open_prs:
            gaps.append(
                DetectedGap(
                    kind="status_drift",
                    item_keys=(ticket.key, *(p.key for p in open_prs)),
                    subject=f"done_pr_open:{ticket.key}",
                    summary=f"{ticket.key} is done but {open_prs[0].key} is still open",
                    explanation=(
                        f"Status drift: {describe(ticket)} is done"
                        f"{status_note(ticket)} but "
                        f"{'its pull request' if len(open_prs) == 1 else 'its pull requests'} "
                        f"{_pr_list(open_prs)} {'is' if len(open_prs) == 1 else 'are'} "
                        "still open."
                    ),
                    severity="medium",
                    score=0.5,
                    teams=team_tuple([ticket, *open_prs]),
                    facts=("done_pr_open", tuple(p.key for p in open_prs)),
                )
            )
        elif ticket.status_category == TODO and open_prs:
            gaps.append(
                DetectedGap(
                    kind="status_drift",
                    item_keys=(ticket.key, *(p.key for p in open_prs)),
                    subject=f"todo_with_pr:{ticket.key}",
                    summary=f"{ticket.key} is still to do while {open_prs[0].key} is open",
                    explanation=(
                        f"Status drift: {describe(ticket)} is still to do"
                        f"{status_note(ticket)} while "
                        f"{'pull request' if len(open_prs) == 1 else 'pull requests'} "
                        f"{_pr_list(open_prs)} {'is' if len(open_prs) == 1 else 'are'} open: "
                        "the work is invisible in the plan."
                    ),
                    severity="low" if ticket.priority_rank >= 4 else "medium",
                    score=0.4,
                    teams=team_tuple([ticket, *open_prs]),
                    facts=("todo_with_pr", tuple(p.key for p in open_prs)),
                )
            )
    return gaps


DELIVERY_DETECTORS = (detect_stale_prs, detect_blocked, detect_overdue, detect_status_drift)
