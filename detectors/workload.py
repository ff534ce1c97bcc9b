"""Workload: one person spread over too much work across teams.

overload
    A person (the assignee; their e-mail when known, so two spellings of one name still
    meet) with more than `detectors.overload.max_in_progress` (default 5) tickets in
    progress across two or more teams or projects. Pull requests are not counted: their
    open/closed state says little about the work in flight, and their authors are GitHub
    logins that rarely match Jira names. Severity: twice the limit or more is high,
    otherwise medium. Facts: the teams and projects involved, and whether the count is past
    twice the limit. Sample::

        [medium] Dana Lee has 7 items in progress across payments, platform
        Overloaded person: Dana Lee has 7 items in progress across 2 teams (payments,
        platform) and 2 projects (CORE, PAY), more than the limit of 5: PAY-1 (High),
        CORE-4 (Medium), PAY-3 (Medium), PAY-2 (Low), PAY-5 (Low) and 2 more.
"""

from __future__ import annotations

from collections import defaultdict

from detectors.base import DetectedGap, Snapshot
from detectors.common import (
    IN_PROGRESS,
    detector,
    is_pull_request,
    listed_keys,
    priority_name,
    team_tuple,
)
from store.models import WorkItem

MAX_NAMED = 5


def person_of(item: WorkItem) -> str:
    """The key a person's items are grouped by: the e-mail when known, else the name."""
    return (item.assignee_email or item.assignee).strip().lower()


@detector("overload")
def detect_overload(snapshot: Snapshot) -> list[DetectedGap]:
    """People with more in-progress tickets than the limit, across teams or projects."""
    limit = snapshot.config.detectors.overload.max_in_progress
    by_person: dict[str, list[WorkItem]] = defaultdict(list)
    for item in snapshot.items.values():
        if item.status_category != IN_PROGRESS or is_pull_request(item):
            continue
        person = person_of(item)
        if person:
            by_person[person].append(item)
    gaps: list[DetectedGap] = []
    for person, work in sorted(by_person.items()):
        if len(work) <= limit:
            continue
        teams = team_tuple(work)
        projects = tuple(sorted({i.project for i in work if i.project}))
        if len(teams) < 2 and len(projects) < 2:
            continue
        work.sort(key=lambda i: (i.priority_rank, i.key))
        name = work[0].assignee or person
        named = ", ".join(f"{i.key} ({priority_name(i)})" for i in work[:MAX_NAMED])
        if len(work) > MAX_NAMED:
            named += f" and {len(work) - MAX_NAMED} more"
        very = len(work) >= 2 * limit
        gaps.append(
            DetectedGap(
                kind="overload",
                item_keys=listed_keys(i.key for i in work),
                subject=f"person:{person}",
                summary=f"{name} has {len(work)} items in progress across {', '.join(teams)}",
                explanation=(
                    f"Overloaded person: {name} has {len(work)} items in progress across "
                    f"{len(teams)} {'team' if len(teams) == 1 else 'teams'} ({', '.join(teams)}) "
                    f"and {len(projects)} {'project' if len(projects) == 1 else 'projects'} "
                    f"({', '.join(projects)}), more than the limit of {limit}: {named}."
                ),
                severity="high" if very else "medium",
                score=min(1.0, len(work) / (3 * limit)),
                teams=teams,
                facts=(teams, projects, very),
                extra={"person": name},
            )
        )
    return gaps


WORKLOAD_DETECTORS = (detect_overload,)
