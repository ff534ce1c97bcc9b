"""Who is who: Slack users matched to the Jira/GitHub people items are assigned to.

App Home shows the open gaps touching the viewer's items. Items name their assignee by
e-mail (`assignee_email`) and name; Slack finds a user by e-mail with `users.lookupByEmail`
(scope `users:read.email`). The config's `slack.user_map` (person name or e-mail -> Slack
user id) covers people whose e-mails differ or are hidden (Jira Cloud privacy settings).

Lookups are cached per process (`PeopleDirectory`): each e-mail is asked once per
`CACHE_SECONDS`, and only e-mails of people whose items have open gaps are asked at all.
"""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from config.settings import GapbotConfig
from store.findings import OPEN
from store.models import Finding, FindingItem, WorkItem

log = logging.getLogger(__name__)

CACHE_SECONDS = 6 * 3600.0
"""How long a lookup (found or not) is trusted: people join, leave and change e-mails."""
NOT_FOUND = "users_not_found"


class PeopleDirectory:
    """Slack user ids by e-mail through `users.lookupByEmail`, cached in this process."""

    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        """An empty cache whose answers live `cache_seconds`."""
        self.cache_seconds = cache_seconds
        self._ids: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def slack_id(self, client: WebClient, email: str) -> str | None:
        """The Slack user id of `email`; '' when Slack has nobody with it; None when unknown.

        None means Slack could not be asked (missing scope, revoked token...): nothing is
        cached then, so the next view asks again.
        """
        email = email.strip().lower()
        if not email:
            return ""
        now = time.monotonic()
        with self._lock:
            cached = self._ids.get(email)
        if cached is not None and now - cached[1] < self.cache_seconds:
            return cached[0]
        try:
            user = client.users_lookupByEmail(email=email).get("user") or {}
            found = str(user.get("id") or "")
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if exc.response is not None else ""
            if error != NOT_FOUND:
                log.warning(
                    "users.lookupByEmail failed (%s): App Home needs the users:read.email "
                    "scope, or slack.user_map in the config",
                    error or type(exc).__name__,
                )
                return None
            found = ""
        with self._lock:
            self._ids[email] = (found, now)
        return found

    def emails_of(self, client: WebClient, user_id: str, emails: list[str]) -> set[str]:
        """Those of `emails` that belong to Slack user `user_id`."""
        mine: set[str] = set()
        for email in emails:
            found = self.slack_id(client, email)
            if found is None:  # Slack cannot be asked: do not try every other e-mail too
                break
            if found == user_id:
                mine.add(email)
        return mine


def gap_assignee_emails(session: Session) -> list[str]:
    """E-mails of the people assigned to items that open gaps touch (lower case, sorted)."""
    query = (
        select(func.lower(col(WorkItem.assignee_email)))
        .join(FindingItem, col(FindingItem.item_key) == col(WorkItem.key))
        .join(Finding, col(Finding.id) == col(FindingItem.finding_id))
        .where(col(Finding.status) == OPEN, col(WorkItem.assignee_email) != "")
        .distinct()
    )
    return sorted(str(e) for e in session.scalars(query) if e)


def viewer_item_keys(
    session: Session, config: GapbotConfig, user_id: str, emails: set[str]
) -> set[str]:
    """Keys of the live items assigned to the viewer: by their e-mails or slack.user_map."""
    people = [person for person, slack_id in config.slack.user_map.items() if slack_id == user_id]
    conditions = []
    if emails:
        conditions.append(func.lower(col(WorkItem.assignee_email)).in_(sorted(emails)))
    if people:
        conditions.append(col(WorkItem.assignee).in_(people))
        conditions.append(func.lower(col(WorkItem.assignee_email)).in_([p.lower() for p in people]))
    if not conditions:
        return set()
    query = select(col(WorkItem.key)).where(or_(*conditions), col(WorkItem.gone).is_(False))
    return set(session.scalars(query))
