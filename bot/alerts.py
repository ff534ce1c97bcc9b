"""Alert delivery after each detection run: batched, capped, polite, and exactly once.

`deliver_alerts(store, settings, client, now)` is the one entry point (the scheduler calls it
after each detection run). It:

1. queues a pending `Delivery` row for each open finding at or above a channel's severity,
   for each channel subscribed to one of the finding's teams (config channels by default)
   and each person subscribed by DM whose items it touches — once per finding and channel,
   so a channel subscribed to two teams gets each gap once, and a restricted team's gap only
   where that team may be seen;
2. updates the message of each posted finding that has since resolved (`chat.update`) and
   says so in the alert's thread;
3. posts, per channel, one message with up to ten pending gaps and "and N more" with the
   command that lists them — only within the channel's working hours (in the config's time
   zone, `slack.working_days`, Monday to Friday by default) and while the channel is under its
   daily cap.

Deliveries are committed per channel right after Slack answers, so a restart or a second run
posts nothing twice; a refused post (channel gone, bad token) leaves them pending for the
next run, and says why in one line.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.access import AccessRules, Audience
from bot.slack_client import SlackDeliveryError, post_message, update_message
from bot.subscriptions import (
    SEVERITY_ORDER,
    ChannelTarget,
    channel_id_of,
    channel_targets,
    user_subscriptions,
)
from bot.views.findings import MAX_GAPS_PER_MESSAGE, Message, alert_message
from bot.views.text import escape
from config.settings import GapbotConfig, Settings
from store.db import Store
from store.models import Delivery, Finding, FindingItem, WorkItem, utcnow

log = logging.getLogger(__name__)

ALERT = "alert"
RESOLVED_NOTE = "resolved"
PENDING = "pending"
POSTED = "posted"
"""Shown with its buttons in the channel's alert message."""
LISTED = "listed"
"""Counted in the message's "and N more": delivered, not shown in full."""
_BATCH = 500
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    queued: int = 0
    messages_posted: int = 0
    gaps_posted: int = 0
    gaps_listed: int = 0
    messages_updated: int = 0
    pending: int = 0
    waiting_for_hours: list[str] = field(default_factory=list)
    capped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def load_items(session: Session, keys: Iterable[str]) -> dict[str, WorkItem]:
    """Items by key, for the keys the store holds."""
    wanted = sorted(set(keys))
    items: dict[str, WorkItem] = {}
    for start in range(0, len(wanted), _BATCH):
        chunk = wanted[start : start + _BATCH]
        for item in session.scalars(select(WorkItem).where(col(WorkItem.key).in_(chunk))):
            items[item.key] = item
    return items


def severity_rank(finding: Finding) -> tuple[int, float, datetime, str]:
    """Sort key: most severe, highest score, oldest first."""
    return (
        -SEVERITY_ORDER.get(finding.severity, 1),
        -finding.score,
        finding.first_seen,
        finding.id,
    )


WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def in_working_hours(
    now: datetime, hours: str, zone: ZoneInfo, days: Sequence[str] = WEEKDAYS[:5]
) -> bool:
    """Whether `now` is within `hours` (`HH:MM-HH:MM` local) on one of the working `days`."""
    local = now.astimezone(zone)
    if WEEKDAYS[local.weekday()] not in days:
        return False
    match = _HOURS.match(hours.strip())
    if not match:
        return True
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    minute = local.hour * 60 + local.minute
    return start <= minute < end


def local_midnight(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of `now`'s day in `zone`."""
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone)


def user_item_keys(session: Session, config: GapbotConfig, user_id: str, email: str) -> set[str]:
    """Keys of the items assigned to a Slack user (by e-mail or the config's user_map)."""
    people = [person for person, slack_id in config.slack.user_map.items() if slack_id == user_id]
    conditions = []
    if email:
        conditions.append(func.lower(WorkItem.assignee_email) == email.lower())
        conditions.append(func.lower(WorkItem.assignee) == email.lower())
    if people:
        conditions.append(col(WorkItem.assignee).in_(people))
        conditions.append(col(WorkItem.assignee_email).in_(people))
    if not conditions:
        return set()
    query = select(col(WorkItem.key)).where(or_(*conditions)).where(col(WorkItem.gone).is_(False))
    return set(session.scalars(query))


def findings_touching(session: Session, keys: set[str], *, status: str = "open") -> list[Finding]:
    """Findings (of `status`) touching any of `keys`."""
    found: dict[str, Finding] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _BATCH):
        query = (
            select(Finding)
            .join(FindingItem, col(FindingItem.finding_id) == col(Finding.id))
            .where(col(FindingItem.item_key).in_(ordered[start : start + _BATCH]))
            .where(col(Finding.status) == status)
        )
        for finding in session.scalars(query):
            found[finding.id] = finding
    return sorted(found.values(), key=severity_rank)


def _queue(session: Session, config: GapbotConfig) -> int:
    """Add pending deliveries for open findings not yet delivered; drop stale pending ones."""
    rules = AccessRules(config)
    findings = list(session.scalars(select(Finding).where(col(Finding.status) == "open")))
    open_ids = {f.id for f in findings}
    existing: set[tuple[str, str]] = set()
    for row in session.scalars(select(Delivery).where(col(Delivery.kind) == ALERT)):
        if row.status == PENDING and row.finding_id not in open_ids:
            # Resolved, dismissed or snoozed before it went out: nothing to say any more.
            session.delete(row)
            continue
        existing.add((row.finding_id or "", row.channel))
    items = load_items(session, (k for f in findings for k in f.item_keys or []))
    wanted: list[tuple[str, str]] = []
    for key, target in channel_targets(session, config).items():
        audience = Audience(channel_name=key)
        for finding in findings:
            if target.wants(list(finding.teams or []), finding.severity) and (
                rules.finding_visible(finding, items, audience)
            ):
                wanted.append((finding.id, key))
    threshold = SEVERITY_ORDER.get(config.slack.min_severity, 1)
    for sub in user_subscriptions(session):
        keys = user_item_keys(session, config, sub.user_id, sub.email)
        for finding in findings_touching(session, keys):
            if SEVERITY_ORDER.get(finding.severity, 1) < threshold:
                continue
            if rules.finding_visible(finding, items, Audience.private()):
                wanted.append((finding.id, sub.user_id))
    queued = 0
    for finding_id, key in wanted:
        if (finding_id, key) in existing:
            continue
        existing.add((finding_id, key))
        session.add(Delivery(kind=ALERT, finding_id=finding_id, channel=key, status=PENDING))
        queued += 1
    return queued


def render_alert(session: Session, config: GapbotConfig, key: str, ts: str) -> Message | None:
    """The alert message `ts` in channel `key` as it should look now (after clicks, fixes)."""
    rows = list(
        session.scalars(
            select(Delivery)
            .where(col(Delivery.channel) == key, col(Delivery.ts) == ts)
            .where(col(Delivery.kind) == ALERT)
            .order_by(col(Delivery.id))
        )
    )
    if not rows:
        return None
    shown_ids = [r.finding_id for r in rows if r.status == POSTED and r.finding_id]
    more = sum(1 for r in rows if r.status == LISTED)
    by_id = {
        f.id: f for f in session.scalars(select(Finding).where(col(Finding.id).in_(shown_ids)))
    }
    shown = [by_id[i] for i in shown_ids if i in by_id]
    items = load_items(session, (k for f in shown for k in f.item_keys or []))
    audience = Audience(channel_name=key) if key.startswith("#") else Audience.private()
    shown = AccessRules(config).visible_findings(shown, items, audience)
    return alert_message(
        _label(key),
        shown,
        items,
        more=more,
        command=_more_command(config, session, key),
        link_duplicates=config.jira.writes,
    )


def _label(key: str) -> str:
    return key if key.startswith("#") else "you"


def _more_command(config: GapbotConfig, session: Session, key: str) -> str:
    target = channel_targets(session, config).get(key)
    teams = sorted(target.teams) if target else []
    suffix = f" {teams[0]}" if len(teams) == 1 else ""
    return f"{config.slack.command} summary{suffix}"


def _update_resolved(
    store: Store, config: GapbotConfig, client: WebClient, report: DeliveryReport
) -> bool:
    """Re-render messages whose gaps resolved, and say so once in each alert's thread.

    Returns False when Slack refused the token, so nothing else is tried this run.
    """
    with store.session() as session:
        noted = {
            (r.finding_id, r.channel)
            for r in session.scalars(select(Delivery).where(col(Delivery.kind) == RESOLVED_NOTE))
        }
        query = (
            select(Delivery, Finding)
            .join(Finding, col(Finding.id) == col(Delivery.finding_id))
            .where(col(Delivery.kind) == ALERT, col(Delivery.status) == POSTED)
            .where(col(Finding.status) == "resolved")
        )
        todo = [
            (d.channel, d.ts, f.id, f.summary)
            for d, f in session.execute(query).all()
            if (f.id, d.channel) not in noted
        ]
    by_message: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for channel, ts, finding_id, summary in todo:
        by_message[(channel, ts)].append((finding_id, summary))
    for (key, ts), resolved in by_message.items():
        with store.session() as session:
            message = render_alert(session, config, key, ts)
            channel_id = channel_id_of(session, key)
            try:
                if message is not None:
                    update_message(
                        client, channel_id, ts, text=message.text, blocks=message.block_dicts()
                    )
                    report.messages_updated += 1
                for finding_id, summary in resolved:
                    reply = post_message(
                        client,
                        session,
                        key,
                        text=f":white_check_mark: Resolved: {escape(summary)}",
                        blocks=[],
                        thread_ts=ts,
                    )
                    session.add(
                        Delivery(
                            kind=RESOLVED_NOTE,
                            finding_id=finding_id,
                            channel=key,
                            ts=reply.ts,
                            thread_ts=ts,
                            status=POSTED,
                            posted_at=utcnow(),
                            attempts=1,
                        )
                    )
            except SlackDeliveryError as exc:
                report.errors.append(exc.message)
                log.error("%s", exc.message)
                if exc.fatal:
                    return False
    return True


def _posted_today(session: Session, key: str, since: datetime) -> int:
    query = (
        select(func.count(func.distinct(Delivery.ts)))
        .where(col(Delivery.channel) == key, col(Delivery.kind) == ALERT)
        .where(col(Delivery.status).in_([POSTED, LISTED]))
        .where(col(Delivery.posted_at) >= since)
    )
    return int(session.scalar(query) or 0)


def _post_channel(
    store: Store,
    config: GapbotConfig,
    client: WebClient,
    *,
    key: str,
    target: ChannelTarget | None,
    now: datetime,
    report: DeliveryReport,
) -> bool:
    """Post one channel's pending gaps as one message; False when the token is refused."""
    zone = config.zone
    hours = (target.working_hours if target else "") or config.slack.working_hours
    with store.session() as session:
        rows = list(
            session.scalars(
                select(Delivery).where(
                    col(Delivery.channel) == key,
                    col(Delivery.kind) == ALERT,
                    col(Delivery.status) == PENDING,
                )
            )
        )
        if not rows:
            return True
        if not in_working_hours(now, hours, zone, config.slack.working_days):
            report.waiting_for_hours.append(key)
            report.pending += len(rows)
            return True
        if _posted_today(session, key, local_midnight(now, zone)) >= config.slack.daily_alert_cap:
            report.capped.append(key)
            report.pending += len(rows)
            return True
        findings = {
            f.id: f
            for f in session.scalars(
                select(Finding).where(col(Finding.id).in_([r.finding_id for r in rows]))
            )
        }
        rows = [r for r in rows if r.finding_id in findings]
        rows.sort(key=lambda r: severity_rank(findings[r.finding_id or ""]))
        shown_rows = rows[:MAX_GAPS_PER_MESSAGE]
        listed_rows = rows[MAX_GAPS_PER_MESSAGE:]
        shown = [findings[r.finding_id or ""] for r in shown_rows]
        items = load_items(session, (k for f in shown for k in f.item_keys or []))
        message = alert_message(
            _label(key),
            shown,
            items,
            more=len(listed_rows),
            command=_more_command(config, session, key),
            link_duplicates=config.jira.writes,
        )
        try:
            posted = post_message(
                client, session, key, text=message.text, blocks=message.block_dicts()
            )
        except SlackDeliveryError as exc:
            for row in rows:
                row.attempts += 1
                row.error = exc.message
                session.add(row)
            report.errors.append(exc.message)
            report.pending += len(rows)
            log.error("%s", exc.message)
            return not exc.fatal
        for row, status in [(r, POSTED) for r in shown_rows] + [(r, LISTED) for r in listed_rows]:
            row.status = status
            row.ts = posted.ts
            row.posted_at = now
            row.attempts += 1
            row.error = ""
            session.add(row)
        report.messages_posted += 1
        report.gaps_posted += len(shown_rows)
        report.gaps_listed += len(listed_rows)
    return True


def deliver_alerts(
    store: Store, settings: Settings, client: WebClient, now: datetime | None = None
) -> DeliveryReport:
    """Post new gaps to their channels and update resolved ones (see the module docstring).

    Args:
        store: The store holding findings and deliveries.
        settings: The config (teams, slack section, time zone) and environment.
        client: The Web API client (`bot.slack_client.make_client`).
        now: The time to judge working hours and daily caps by (default: now).

    Returns:
        What was queued, posted, updated, what waits and why, and Slack's refusals.
    """
    config = settings.config
    moment = now or utcnow()
    report = DeliveryReport()
    with store.session() as session:
        report.queued = _queue(session, config)
        targets = channel_targets(session, config)
        channels = sorted(
            set(
                session.scalars(
                    select(col(Delivery.channel))
                    .where(col(Delivery.kind) == ALERT, col(Delivery.status) == PENDING)
                    .distinct()
                )
            )
        )
    if not _update_resolved(store, config, client, report):
        return report
    for key in channels:
        if not _post_channel(
            store, config, client, key=key, target=targets.get(key), now=moment, report=report
        ):
            break
    return report


def refresh_finding_messages(
    store: Store, settings: Settings, client: WebClient, finding_id: str
) -> int:
    """Re-render every alert message that shows `finding_id` (after a click); how many."""
    with store.session() as session:
        spots = sorted(
            {
                (d.channel, d.ts)
                for d in session.scalars(
                    select(Delivery).where(
                        col(Delivery.finding_id) == finding_id,
                        col(Delivery.kind) == ALERT,
                        col(Delivery.status) == POSTED,
                    )
                )
                if d.ts
            }
        )
    updated = 0
    for key, ts in spots:
        with store.session() as session:
            message = render_alert(session, settings.config, key, ts)
            channel_id = channel_id_of(session, key)
        if message is None:
            continue
        try:
            update_message(client, channel_id, ts, text=message.text, blocks=message.block_dicts())
            updated += 1
        except SlackDeliveryError as exc:
            log.error("cannot update the alert in %s: %s", key, exc.message)
    return updated
