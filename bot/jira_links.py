"""The "Link as duplicate" button's effect: a Jira "Duplicate" link, recorded in the store.

Only when the config allows Jira writes (`jira.writes: true`) and both items of a duplicate
finding are Jira issues. The newer issue is linked as duplicating the older one through the
`jira` library (`JIRA.create_issue_link`). The store learns the link at once (the next sync
brings the same link from Jira), so the next detection run no longer flags the pair; the
finding is marked resolved by the person who clicked, and when.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from config.errors import GapbotError, InputError
from config.settings import Settings
from connectors.base import RetryPolicy
from connectors.jira import JiraConnector
from store.db import Store
from store.findings import OPEN, require_finding
from store.models import Link, WorkItem

log = logging.getLogger(__name__)

JIRA_LINK_TYPE = "Duplicate"
STORE_LINK_TYPE = "duplicates"


def can_link(settings: Settings, kind: str, items: list[WorkItem | None]) -> bool:
    """Whether the button is offered: Jira writes on, a duplicate, two Jira issues."""
    return (
        settings.config.jira.writes
        and kind == "duplicate"
        and len(items) == 2
        and all(item is not None and item.source == "jira" for item in items)
    )


def _order(a: WorkItem, b: WorkItem) -> tuple[WorkItem, WorkItem]:
    """(duplicate, original): the issue created later duplicates the earlier one."""

    def created(item: WorkItem) -> tuple[bool, datetime | None, str]:
        return (item.created is None, item.created, item.key)

    return (b, a) if created(a) <= created(b) else (a, b)


def link_duplicate(
    store: Store, settings: Settings, finding_id: str, *, by: str, now: datetime
) -> str:
    """Link the finding's two issues as duplicates in Jira; returns what was done, in words.

    Raises:
        InputError: The finding is not an open duplicate of two Jira issues, or writes are off.
        GapbotError: Jira refused (the message names the problem; no secret in it).
    """
    if not settings.config.jira.writes:
        msg = "Jira writes are off (jira.writes: false in the config)"
        raise InputError(msg)
    with store.session() as session:
        finding = require_finding(session, finding_id)
        keys = list(finding.item_keys or [])
        items = [session.get(WorkItem, key) for key in keys]
        if finding.status != OPEN:
            msg = f"gap {finding_id} is no longer open ({finding.status})"
            raise InputError(msg)
        if not can_link(settings, finding.kind, items):
            msg = f"gap {finding_id} is not a duplicate of two Jira issues"
            raise InputError(msg)
    first, second = items
    assert first is not None
    assert second is not None
    duplicate, original = _order(first, second)
    connector = JiraConnector(settings, retry=RetryPolicy(attempts=2))
    try:
        connector._call(
            "link",
            lambda: connector.client().create_issue_link(
                JIRA_LINK_TYPE, inwardIssue=duplicate.key, outwardIssue=original.key
            ),
        )
    except GapbotError as exc:
        msg = f"Jira did not link {duplicate.key} to {original.key}: {exc}"
        raise GapbotError(msg) from None
    finally:
        if connector._client is not None:
            connector._client.close()
    done = f"Linked in Jira: {duplicate.key} duplicates {original.key}"
    with store.session() as session:
        exists = session.scalars(
            select(col(Link.id)).where(
                col(Link.source_key) == duplicate.key,
                col(Link.target_key) == original.key,
                col(Link.type) == STORE_LINK_TYPE,
            )
        ).first()
        if exists is None:
            # Declared by the duplicate's data, as the next sync of it will declare it.
            session.add(
                Link(
                    source_key=duplicate.key,
                    target_key=original.key,
                    type=STORE_LINK_TYPE,
                    origin=duplicate.key,
                )
            )
        finding = require_finding(session, finding_id)
        finding.status = "resolved"
        finding.status_by = by
        finding.status_reason = done
        finding.status_at = now
        finding.resolved_at = now
        session.add(finding)
    log.info("%s (by %s, gap %s)", done, by, finding_id)
    return done
