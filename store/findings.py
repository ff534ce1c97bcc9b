"""Reading findings and the person-driven parts of their lifecycle (dismiss, snooze).

The detection runner writes findings; the CLI and the Slack buttons change their status
through these functions, so both do exactly the same thing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from config.errors import InputError
from store.models import Finding, FindingItem, WorkItem, utcnow

OPEN = "open"
RESOLVED = "resolved"
DISMISSED = "dismissed"
SNOOZED = "snoozed"
STATUSES = (OPEN, RESOLVED, DISMISSED, SNOOZED)


def get_finding(session: Session, finding_id: str) -> Finding | None:
    """One finding by id."""
    return session.get(Finding, finding_id)


def require_finding(session: Session, finding_id: str) -> Finding:
    """One finding by id, or InputError naming the id."""
    finding = get_finding(session, finding_id.strip())
    if finding is None:
        msg = f"no finding with id '{finding_id}' (see 'gapbot gaps')"
        raise InputError(msg)
    return finding


def list_findings(
    session: Session,
    *,
    kind: str | None = None,
    team: str | None = None,
    status: str | None = OPEN,
) -> list[Finding]:
    """Findings, most severe and newest first; filtered by kind, team and status."""
    query = select(Finding)
    if kind:
        query = query.where(col(Finding.kind) == kind)
    if status:
        query = query.where(col(Finding.status) == status)
    findings = list(session.scalars(query))
    if team:
        findings = [f for f in findings if team in (f.teams or [])]
    order = {"high": 0, "medium": 1, "low": 2}
    findings.sort(key=lambda f: (order.get(f.severity, 3), -f.score, f.id))
    return findings


def findings_for_item(session: Session, key: str, *, status: str | None = OPEN) -> list[Finding]:
    """Findings that touch the item `key`."""
    query = (
        select(Finding)
        .join(FindingItem, col(FindingItem.finding_id) == col(Finding.id))
        .where(col(FindingItem.item_key) == key)
    )
    if status:
        query = query.where(col(Finding.status) == status)
    return list(session.scalars(query.order_by(col(Finding.id))))


def dismiss(
    session: Session, finding_id: str, *, by: str, reason: str = "", now: datetime | None = None
) -> Finding:
    """Mark a finding 'not a gap'; it stays dismissed while its facts stay the same."""
    finding = require_finding(session, finding_id)
    finding.status = DISMISSED
    finding.status_by = by
    finding.status_reason = reason
    finding.status_at = now or utcnow()
    finding.snoozed_until = None
    session.add(finding)
    return finding


def snooze(
    session: Session,
    finding_id: str,
    *,
    days: float,
    by: str,
    now: datetime | None = None,
) -> Finding:
    """Hide a finding for `days`; it comes back afterwards if still found."""
    if days <= 0:
        msg = "--days must be more than 0"
        raise InputError(msg)
    finding = require_finding(session, finding_id)
    moment = now or utcnow()
    finding.status = SNOOZED
    finding.status_by = by
    finding.status_at = moment
    finding.snoozed_until = moment + timedelta(days=days)
    session.add(finding)
    return finding


def finding_json(finding: Finding, items: dict[str, WorkItem]) -> dict[str, Any]:
    """A finding in the shape of `gaps --json` (DESIGN.md)."""
    return {
        "id": finding.id,
        "kind": finding.kind,
        "severity": finding.severity,
        "status": finding.status,
        "score": round(float(finding.score), 4),
        "summary": finding.summary,
        "explanation": finding.explanation,
        "teams": list(finding.teams or []),
        "items": [
            {
                "key": key,
                "source": items[key].source if key in items else "",
                "title": items[key].title if key in items else "",
                "url": items[key].url if key in items else "",
                "team": items[key].team if key in items else "",
            }
            for key in finding.item_keys or []
        ],
        "first_seen": finding.first_seen.isoformat(),
        "last_seen": finding.last_seen.isoformat(),
    }
