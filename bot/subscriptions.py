"""Which channels and people get which teams' gaps; what gapbot learned about channels.

A team's `slack_channel` from the config is subscribed to the team's alerts by default.
`/gaps subscribe TEAM [alerts|daily|weekly]` adds a row; `/gaps unsubscribe` writes mode
`off`, which also silences a config default. `channel_targets` joins both into what the
alert delivery and the digests need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.access import channel_key
from config.settings import GapbotConfig
from store.models import utcnow
from store.slack_models import SlackChannel, SlackSubscription, SlackUserSubscription

MODES = ("alerts", "daily", "weekly")
OFF = "off"
SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2}


@dataclass
class ChannelTarget:
    """One channel's subscriptions in one mode: its teams and its thresholds."""

    key: str
    """'#name'."""
    teams: dict[str, str] = field(default_factory=dict)
    """Team name -> lowest severity posted for it."""
    working_hours: str = ""
    """`HH:MM-HH:MM`, or empty for the config's slack.working_hours."""

    def wants(self, teams: list[str], severity: str) -> bool:
        """Whether a gap of these teams and severity goes to this channel."""
        level = SEVERITY_ORDER.get(severity, 1)
        return any(
            team in self.teams and level >= SEVERITY_ORDER.get(self.teams[team], 1)
            for team in teams
        )


def channel_targets(
    session: Session, config: GapbotConfig, mode: str = "alerts"
) -> dict[str, ChannelTarget]:
    """Every channel subscribed in `mode`, with its teams (config defaults included)."""
    default_severity = config.slack.min_severity
    targets: dict[str, ChannelTarget] = {}
    if mode == "alerts":
        for team in config.teams:
            if team.slack_channel:
                key = channel_key(team.slack_channel)
                targets.setdefault(key, ChannelTarget(key)).teams[team.name] = default_severity
    rows = session.scalars(select(SlackSubscription).order_by(col(SlackSubscription.created_at)))
    for row in rows:
        target = targets.get(row.channel)
        if row.mode != mode:
            # Any explicit row for (channel, team) replaces the config default for it.
            if target is not None:
                target.teams.pop(row.team, None)
            continue
        target = targets.setdefault(row.channel, ChannelTarget(row.channel))
        target.teams[row.team] = row.min_severity or default_severity
        if row.working_hours:
            target.working_hours = row.working_hours
    return {key: target for key, target in targets.items() if target.teams}


def digest_targets(session: Session, config: GapbotConfig, mode: str) -> dict[str, list[str]]:
    """Channel ('#name') -> teams, for the `daily` digests or the `weekly` reports.

    Each team's own `slack_channel` gets its team's (unless the channel unsubscribed from
    it); channels subscribed with `/gaps subscribe TEAM daily|weekly` get those teams' too.
    """
    targets: dict[str, list[str]] = {}
    for team in config.teams:
        if not team.slack_channel:
            continue
        key = channel_key(team.slack_channel)
        row = session.get(SlackSubscription, (key, team.name))
        if row is not None and row.mode == OFF:
            continue
        targets.setdefault(key, []).append(team.name)
    for key, target in channel_targets(session, config, mode).items():
        teams = targets.setdefault(key, [])
        teams.extend(name for name in target.teams if name not in teams)
    return targets


def subscribe(
    session: Session,
    *,
    channel: str,
    channel_id: str,
    team: str,
    mode: str,
    min_severity: str = "",
    working_hours: str = "",
    by: str = "",
) -> SlackSubscription:
    """Subscribe a channel to a team's gaps in `mode` (replacing its earlier choice)."""
    key = channel_key(channel)
    row = session.get(SlackSubscription, (key, team))
    if row is None:
        row = SlackSubscription(channel=key, team=team)
    row.channel_id = channel_id or row.channel_id
    row.mode = mode
    row.min_severity = min_severity
    row.working_hours = working_hours
    row.created_by = by
    row.created_at = utcnow()
    session.add(row)
    if channel_id:
        learn_channel(session, key, channel_id)
    return row


def unsubscribe(
    session: Session, config: GapbotConfig, *, channel: str, team: str | None = None
) -> list[str]:
    """Stop a channel's gaps (of one team, or all); returns the teams it stopped."""
    key = channel_key(channel)
    current = {
        team_name
        for mode in MODES
        for target in [channel_targets(session, config, mode).get(key)]
        if target is not None
        for team_name in target.teams
    }
    stopped = sorted(current if team is None else current & {team})
    for name in stopped:
        row = session.get(SlackSubscription, (key, name)) or SlackSubscription(
            channel=key, team=name
        )
        row.mode = OFF
        row.created_at = utcnow()
        session.add(row)
    return stopped


def subscribe_user(session: Session, user_id: str, email: str) -> SlackUserSubscription:
    """Send a person their own gaps by direct message."""
    row = session.get(SlackUserSubscription, user_id) or SlackUserSubscription(user_id=user_id)
    row.email = email.lower()
    row.mode = "alerts"
    session.add(row)
    return row


def unsubscribe_user(session: Session, user_id: str) -> bool:
    """Stop a person's direct messages; whether they were subscribed."""
    row = session.get(SlackUserSubscription, user_id)
    if row is None:
        return False
    session.delete(row)
    return True


def user_subscriptions(session: Session) -> list[SlackUserSubscription]:
    """Everyone who gets their own gaps by direct message."""
    return list(session.scalars(select(SlackUserSubscription)))


def lookup_channel(session: Session, key: str) -> SlackChannel | None:
    """What gapbot learned about channel `key` ('#name' or a user id for a DM)."""
    return session.get(SlackChannel, key)


def learn_channel(
    session: Session, key: str, channel_id: str, *, is_private: bool | None = None
) -> None:
    """Remember channel `key`'s id (and privacy, when known)."""
    row = session.get(SlackChannel, key) or SlackChannel(name=key)
    row.channel_id = channel_id
    if is_private is not None:
        row.is_private = is_private
    row.updated_at = utcnow()
    session.add(row)


def channel_id_of(session: Session, key: str) -> str:
    """The learned id of channel `key`, or `key` itself when none was learned."""
    row = session.get(SlackChannel, key)
    return row.channel_id if row is not None and row.channel_id else key
