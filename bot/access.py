"""Who sees what: restricted teams' items only in their own and allowed channels.

A team with `restricted: true` shows its items, titles and gaps only in its `slack_channel`
and its `allowed_channels`. Everywhere else (other channels, direct messages, App Home) a
gap that touches one of its items is left out entirely, as if it did not exist, and search
results never list its items. Every command, alert and summary goes through `Audience`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from config.settings import GapbotConfig
from store.models import Finding, WorkItem


def normalize_channel(ref: str) -> str:
    """A channel reference as compared: no '#', lower case ('#Payments' -> 'payments')."""
    return ref.strip().lstrip("#").lower()


def channel_key(name: str) -> str:
    """The key a channel has in subscriptions and deliveries: '#name'."""
    return "#" + normalize_channel(name)


@dataclass(frozen=True)
class Audience:
    """Where an answer is shown: a channel (by name and id), or a person privately.

    A direct message, App Home and ephemeral answers in an unknown channel are private: they
    see no restricted team's items.
    """

    channel_name: str = ""
    channel_id: str = ""

    @classmethod
    def private(cls) -> Audience:
        """A direct message or App Home."""
        return cls()

    def refs(self) -> set[str]:
        """The references that name this audience's channel."""
        return {normalize_channel(r) for r in (self.channel_name, self.channel_id) if r}


class AccessRules:
    """The config's restricted teams, asked per team, item or finding."""

    def __init__(self, config: GapbotConfig) -> None:
        """Index each restricted team's allowed channels."""
        self._allowed: dict[str, set[str]] = {}
        for team in config.teams:
            if team.restricted:
                channels = [team.slack_channel, *team.allowed_channels]
                self._allowed[team.name] = {normalize_channel(c) for c in channels if c}

    @property
    def restricted_teams(self) -> set[str]:
        """Names of the restricted teams."""
        return set(self._allowed)

    def team_visible(self, team: str, audience: Audience) -> bool:
        """Whether `team`'s items may be shown to `audience`."""
        allowed = self._allowed.get(team)
        if allowed is None:
            return True
        return bool(allowed & audience.refs())

    def hidden_teams(self, audience: Audience) -> set[str]:
        """The restricted teams `audience` may not see."""
        return {team for team in self._allowed if not self.team_visible(team, audience)}

    def item_visible(self, item: WorkItem, audience: Audience) -> bool:
        """Whether an item may be shown."""
        return self.team_visible(item.team, audience)

    def finding_visible(
        self, finding: Finding, items: Mapping[str, WorkItem], audience: Audience
    ) -> bool:
        """Whether a gap may be shown: every team and every item it touches is visible."""
        if not self._allowed:
            return True
        if not all(self.team_visible(team, audience) for team in finding.teams or []):
            return False
        for key in finding.item_keys or []:
            item = items.get(key)
            if item is not None and not self.item_visible(item, audience):
                return False
        return True

    def visible_findings(
        self, findings: Iterable[Finding], items: Mapping[str, WorkItem], audience: Audience
    ) -> list[Finding]:
        """The findings `audience` may see, in order."""
        return [f for f in findings if self.finding_visible(f, items, audience)]
