"""The Slack app's own tables: channel subscriptions, DM subscriptions, learned channel ids.

Kept apart from `store/models.py` so the Slack app's schema (migration 0005_slack) changes
nothing the rest of the store relies on.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from store.models import UTCDateTime, utcnow


class SlackSubscription(SQLModel, table=True):
    """A channel's subscription to one team's gaps (or an opt-out of a config default).

    Channels named as a team's `slack_channel` in the config are subscribed to that team's
    alerts without a row; a row with mode `off` opts such a channel out.
    """

    __tablename__ = "slack_subscription"

    channel: str = Field(primary_key=True, max_length=255)
    """The channel as '#name' (the key alerts and deliveries use)."""
    team: str = Field(primary_key=True, max_length=255)
    channel_id: str = Field(default="", max_length=64)
    mode: str = Field(default="alerts", max_length=16)
    """`alerts` (after each detection run), `daily`, `weekly` (digests), or `off`."""
    min_severity: str = Field(default="", max_length=16)
    """Lowest severity posted here; empty uses the config's slack.min_severity."""
    working_hours: str = Field(default="", max_length=16)
    """`HH:MM-HH:MM` in the config's time zone; empty uses slack.working_hours."""
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SlackUserSubscription(SQLModel, table=True):
    """A person who asked for their own gaps by direct message (`/gaps subscribe me`)."""

    __tablename__ = "slack_user_subscription"

    user_id: str = Field(primary_key=True, max_length=64)
    email: str = Field(default="", max_length=255)
    """The person's Slack e-mail, matched against items' assignee e-mail."""
    mode: str = Field(default="alerts", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SlackChannel(SQLModel, table=True):
    """What gapbot learned about a channel: its id for '#name', and whether it is private."""

    __tablename__ = "slack_channel"

    name: str = Field(primary_key=True, max_length=255)
    """'#name' as the config and the subscriptions write it."""
    channel_id: str = Field(default="", max_length=64, index=True)
    is_private: bool | None = Field(default=None)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
