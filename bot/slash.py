"""The slash command's answers: parse `/gaps TEXT`, read the store, build the reply.

The listener acknowledges first and calls `answer` afterwards (a Bolt lazy listener), so the
store's size never delays the acknowledgement. Every answer goes through the access rules of
the channel it is shown in.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import ColumnElement, Text, case, cast, exists, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot import integrations
from bot.access import AccessRules, Audience, channel_key
from bot.alerts import findings_touching, load_items, severity_rank, user_item_keys
from bot.subscriptions import (
    MODES,
    SEVERITY_ORDER,
    subscribe,
    subscribe_user,
    unsubscribe,
    unsubscribe_user,
)
from bot.views.findings import Message, gap_list_message, kind_label
from bot.views.pages import counts_section, help_message, item_results, notice
from bot.views.text import cut, escape
from config.errors import GapbotError
from config.settings import Settings
from store.db import Store
from store.findings import OPEN, findings_for_item, snooze
from store.items import get_item
from store.models import Finding, FindingItem, WorkItem, utcnow

log = logging.getLogger(__name__)

KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "dupes": ("duplicate",),
    "priorities": (
        "priority_inversion",
        "parent_child_priority",
        "focus_drift",
        "unaligned_work",
    ),
    "delivery": ("stale_pr", "blocked", "overdue", "status_drift"),
}
GROUP_TITLES = {
    "dupes": "Duplicated effort",
    "priorities": "Misaligned priorities",
    "delivery": "Delivery gaps",
}
KNOWN_VERBS = frozenset(
    {"summary", "search", "similar", "item", "report", "subscribe", "unsubscribe", "mute"}
    | set(KIND_GROUPS)
)
"""Everything else, 'help' included, is answered with the help."""
SEARCH_LIMIT = 10
MAX_SHOWN = 10
"""Gaps shown in full in one answer; the rest are counted ("and N more")."""
DEFAULT_MUTE_DAYS = 30
MAX_MUTE_DAYS = 365
_HOURS = re.compile(r"^\d{1,2}:\d{2}-\d{1,2}:\d{2}$")
_PRIVATE_NAMES = frozenset({"directmessage", "privategroup", "mpdm", ""})


def _json_element(value: str) -> str:
    """A LIKE pattern matching `value` as a string element of a JSON list's text."""
    quoted = json.dumps(value)
    escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class CommandRequest:
    """What Slack sent with the command."""

    text: str
    user_id: str
    channel_id: str
    channel_name: str

    @property
    def is_direct(self) -> bool:
        """Whether the command was typed in a direct message."""
        return self.channel_id.startswith("D") or self.channel_name == "directmessage"


def resolve_audience(
    client: WebClient | None, channel_id: str, channel_name: str
) -> tuple[Audience, str]:
    """Who sees the answer, and the channel's name ('' in a DM).

    Slack sends `privategroup` for some private channels: then `conversations.info` names it,
    so a restricted team's own private channel still sees its items.
    """
    if channel_id.startswith("D") or channel_name == "directmessage":
        return Audience.private(), ""
    name = channel_name
    if name in _PRIVATE_NAMES and client is not None and channel_id:
        try:
            info = client.conversations_info(channel=channel_id)
            name = str((info.get("channel") or {}).get("name") or "")
        except SlackApiError:
            name = ""
    if name in _PRIVATE_NAMES:
        name = ""
    return Audience(channel_name=name, channel_id=channel_id), name


class SlashCommands:
    """Answers `/gaps ...` from the store, for one channel's audience."""

    def __init__(self, store: Store, settings: Settings) -> None:
        """Answer from `store` with `settings`."""
        self.store = store
        self.settings = settings
        self.config = settings.config
        self.rules = AccessRules(settings.config)
        self.command = settings.config.slack.command

    # ---- dispatch ---------------------------------------------------------------------------

    def is_help(self, text: str) -> bool:
        """Whether `text` gets the help (answered in the acknowledgement itself)."""
        words = text.split()
        return not words or words[0].lower() not in KNOWN_VERBS

    def help(self) -> Message:
        """The help message."""
        return help_message(self.command)

    def answer(
        self, request: CommandRequest, client: WebClient | None, now: datetime | None = None
    ) -> Message:
        """The reply to one command; input problems become a short explanation."""
        words = request.text.split()
        if self.is_help(request.text):
            return self.help()
        verb, args = words[0].lower(), words[1:]
        audience, name = resolve_audience(client, request.channel_id, request.channel_name)
        moment = now or utcnow()
        try:
            if verb == "summary":
                return self.summary(args, audience)
            if verb == "search":
                return self.search(request.text.split(None, 1)[1:], audience)
            if verb == "similar":
                return self.similar(args, audience)
            if verb in KIND_GROUPS:
                return self.group(verb, args, audience)
            if verb == "item":
                return self.item(args, audience)
            if verb == "report":
                return self.report(name, moment)
            if verb == "subscribe":
                return self.subscribe(args, request, name, client)
            if verb == "unsubscribe":
                return self.unsubscribe(args, request, name)
            if verb == "mute":
                return self.mute(args, request, audience, moment)
        except GapbotError as exc:
            return notice(f":warning: {escape(str(exc))}")
        return self.help()

    # ---- shared reads -----------------------------------------------------------------------

    def _team_arg(self, args: Sequence[str]) -> str | None:
        if not args:
            return None
        name = args[0]
        if self.config.team(name) is None:
            teams = ", ".join(t.name for t in self.config.teams)
            msg = f"there is no team '{name}' (teams: {teams})"
            raise GapbotError(msg)
        return name

    def _open_filters(
        self,
        audience: Audience,
        *,
        kinds: Sequence[str] | None = None,
        team: str | None = None,
    ) -> list[ColumnElement[bool]]:
        """SQL conditions for the open findings the audience may see (of kinds, of a team).

        Counting and ordering happen in SQL: with thousands of open findings, loading each
        one's JSON columns to count them in Python took most of `summary`'s time.
        """
        filters: list[ColumnElement[bool]] = [col(Finding.status) == OPEN]
        if kinds:
            filters.append(col(Finding.kind).in_(list(kinds)))
        teams_text = cast(col(Finding.teams), Text)
        if team:
            filters.append(teams_text.like(_json_element(team), escape="\\"))
        hidden = self.rules.hidden_teams(audience)
        if hidden:
            filters.extend(
                ~teams_text.like(_json_element(name), escape="\\") for name in sorted(hidden)
            )
            touching_hidden = (
                select(col(FindingItem.finding_id))
                .join(WorkItem, col(WorkItem.key) == col(FindingItem.item_key))
                .where(
                    col(FindingItem.finding_id) == col(Finding.id),
                    col(WorkItem.team).in_(sorted(hidden)),
                )
            )
            filters.append(~exists(touching_hidden))
        return filters

    def _visible_open(
        self,
        session: Session,
        audience: Audience,
        *,
        kinds: Sequence[str] | None = None,
        team: str | None = None,
        limit: int = MAX_SHOWN,
    ) -> tuple[list[Finding], Counter[str]]:
        """The most severe open findings the audience may see, and all their counts by kind."""
        filters = self._open_filters(audience, kinds=kinds, team=team)
        counts: Counter[str] = Counter(
            {
                kind: int(n)
                for kind, n in session.execute(
                    select(col(Finding.kind), func.count()).where(*filters).group_by(Finding.kind)
                )
            }
        )
        severity = case(
            SEVERITY_ORDER,
            value=col(Finding.severity),
            else_=SEVERITY_ORDER["medium"],
        )
        # The order of `severity_rank`: most severe, highest score, oldest, then id.
        query = (
            select(Finding)
            .where(*filters)
            .order_by(
                severity.desc(),
                col(Finding.score).desc(),
                col(Finding.first_seen),
                col(Finding.id),
            )
            .limit(limit)
        )
        return list(session.scalars(query)), counts

    def _gap_list(
        self,
        session: Session,
        title: str,
        findings: list[Finding],
        *,
        more_hint: str,
        intro: str = "",
        total: int,
    ) -> Message:
        shown = findings[:MAX_SHOWN]
        items = load_items(session, (k for f in shown for k in f.item_keys or []))
        return gap_list_message(
            title,
            shown,
            items,
            total=total,
            more_hint=more_hint,
            intro=intro,
            link_duplicates=self.config.jira.writes,
        )

    # ---- the commands -----------------------------------------------------------------------

    def summary(self, args: Sequence[str], audience: Audience) -> Message:
        """Open gaps (of a team) by kind, the most severe first."""
        team = self._team_arg(args)
        with self.store.session() as session:
            findings, counts = self._visible_open(session, audience, team=team)
            total = sum(counts.values())
            scope = f" for {team}" if team else ""
            title = f"{total} open gap{'s' if total != 1 else ''}{scope}"
            return self._gap_list(
                session,
                title,
                findings,
                total=total,
                intro=counts_section(counts),
                more_hint=f"`gapbot gaps{' --team ' + escape(team) if team else ''}` lists all",
            )

    def group(self, verb: str, args: Sequence[str], audience: Audience) -> Message:
        """One family of gaps: dupes, priorities or delivery."""
        team = self._team_arg(args)
        kinds = KIND_GROUPS[verb]
        with self.store.session() as session:
            findings, counts = self._visible_open(session, audience, kinds=kinds, team=team)
            total = sum(counts.values())
            scope = f" for {team}" if team else ""
            kind_opts = " ".join(f"--kind {k}" for k in kinds[:1])
            return self._gap_list(
                session,
                f"{GROUP_TITLES[verb]}{scope}: {total} open",
                findings,
                total=total,
                more_hint=f"`gapbot gaps {kind_opts}` lists all",
            )

    def search(self, rest: Sequence[str], audience: Audience) -> Message:
        """Items most like the text: is anyone already working on this?"""
        text = rest[0].strip() if rest else ""
        if not text:
            return notice(f"Say what to look for: `{escape(self.command)} search okta sso login`")
        hidden = self.rules.hidden_teams(audience)
        results = integrations.search_items(
            self.store, text, limit=SEARCH_LIMIT, hidden_teams=hidden, config=self.config
        )
        return item_results(
            f"Items like “{cut(text, 80)}”",
            results,
            empty_text="Nobody seems to be working on that yet.",
        )

    def _visible_item(self, key: str, audience: Audience) -> WorkItem | None:
        with self.store.session() as session:
            item = get_item(session, key)
        if item is None or not self.rules.item_visible(item, audience):
            return None
        return item

    def similar(self, args: Sequence[str], audience: Audience) -> Message:
        """Items most like item KEY."""
        if not args:
            return notice(f"Which item? `{escape(self.command)} similar PAY-123`")
        key = args[0]
        if self._visible_item(key, audience) is None:
            return notice(f"No item {escape(key)} here.")
        hidden = self.rules.hidden_teams(audience)
        results = integrations.similar_items(
            self.store, key, limit=SEARCH_LIMIT, hidden_teams=hidden, config=self.config
        )
        return item_results(
            f"Items like {key}", results, empty_text=f"Nothing resembles {escape(key)}."
        )

    def item(self, args: Sequence[str], audience: Audience) -> Message:
        """Every open gap touching item KEY."""
        if not args:
            return notice(f"Which item? `{escape(self.command)} item PAY-123`")
        key = args[0]
        item = self._visible_item(key, audience)
        if item is None:
            return notice(f"No item {escape(key)} here.")
        with self.store.session() as session:
            findings = findings_for_item(session, key)
            items = load_items(session, (k for f in findings for k in f.item_keys or []))
            findings = sorted(
                self.rules.visible_findings(findings, items, audience), key=severity_rank
            )
            return gap_list_message(
                f"Open gaps touching {key}",
                findings[:10],
                items,
                total=len(findings),
                more_hint=f"`gapbot gaps` lists all; {escape(key)} is in each",
                empty_text=f"No open gaps touch {escape(key)}. :tada:",
                intro=escape(cut(f"{item.key}: {item.title}", 300)),
                link_duplicates=self.config.jira.writes,
            )

    def report(self, channel_name: str, now: datetime) -> Message:
        """This week's report so far, as this channel may see it."""
        built = integrations.weekly_report(
            self.store,
            self.settings,
            channel=channel_key(channel_name) if channel_name else "",
            now=now,
        )
        return Message(text=built.text, blocks=list(built.blocks))

    def subscribe(
        self,
        args: Sequence[str],
        request: CommandRequest,
        channel_name: str,
        client: WebClient | None,
    ) -> Message:
        """Subscribe this channel to a team's gaps, or the person to their own by DM."""
        if not args:
            return notice(
                f"Whose gaps? `{escape(self.command)} subscribe TEAM [alerts|daily|weekly]` "
                f"or `{escape(self.command)} subscribe me`"
            )
        if args[0].lower() == "me":
            return self._subscribe_me(request, client)
        team = self._team_arg(args[:1]) or ""
        mode, severity, hours = "alerts", "", ""
        for word in args[1:]:
            lowered = word.lower()
            if lowered in MODES:
                mode = lowered
            elif lowered in SEVERITY_ORDER:
                severity = lowered
            elif _HOURS.match(lowered):
                hours = lowered
            else:
                msg = f"'{word}' is not alerts, daily, weekly, low, medium, high or HH:MM-HH:MM"
                raise GapbotError(msg)
        if request.is_direct or not channel_name:
            return notice(
                "Subscribe a channel from inside it. For your own gaps by direct message: "
                f"`{escape(self.command)} subscribe me`"
            )
        audience = Audience(channel_name=channel_name, channel_id=request.channel_id)
        if not self.rules.team_visible(team, audience):
            return notice(
                f"{escape(team)} is a restricted team: its gaps go only to its own channels."
            )
        with self.store.session() as session:
            subscribe(
                session,
                channel=channel_name,
                channel_id=request.channel_id,
                team=team,
                mode=mode,
                min_severity=severity,
                working_hours=hours,
                by=request.user_id,
            )
        what = {"alerts": "new gaps after each check", "daily": "a daily digest"}.get(
            mode, "a weekly digest"
        )
        extra = f", {severity} and above" if severity else ""
        extra += f", between {hours}" if hours else ""
        return notice(
            f":white_check_mark: #{escape(channel_name)} now gets {escape(team)}'s {what}{extra}."
        )

    def _subscribe_me(self, request: CommandRequest, client: WebClient | None) -> Message:
        email = ""
        if client is not None:
            try:
                profile = (client.users_info(user=request.user_id).get("user") or {}).get(
                    "profile"
                ) or {}
                email = str(profile.get("email") or "")
            except SlackApiError as exc:
                log.warning("users.info failed for %s: %s", request.user_id, exc)
        mapped = request.user_id in self.config.slack.user_map.values()
        if not email and not mapped:
            return notice(
                "Slack did not tell gapbot your e-mail (scope users:read.email), and "
                "slack.user_map has no entry for you: ask an admin to add one."
            )
        with self.store.session() as session:
            subscribe_user(session, request.user_id, email)
            count = len(
                findings_touching(
                    session, user_item_keys(session, self.config, request.user_id, email)
                )
            )
        return notice(
            ":white_check_mark: You will get new gaps touching your items by direct message "
            f"({count} open now: see App Home)."
        )

    def unsubscribe(
        self, args: Sequence[str], request: CommandRequest, channel_name: str
    ) -> Message:
        """Stop this channel's gaps (of a team, or all), or the person's DMs."""
        if args and args[0].lower() == "me":
            with self.store.session() as session:
                was = unsubscribe_user(session, request.user_id)
            return notice(
                "You will get no more direct messages."
                if was
                else "You were not subscribed to direct messages."
            )
        if request.is_direct or not channel_name:
            return notice(
                f"Unsubscribe a channel from inside it, or `{escape(self.command)} unsubscribe me`."
            )
        team = self._team_arg(args[:1])
        with self.store.session() as session:
            stopped = unsubscribe(session, self.config, channel=channel_name, team=team)
        if not stopped:
            return notice(f"#{escape(channel_name)} was not subscribed to that.")
        return notice(
            f"#{escape(channel_name)} no longer gets gaps of {escape(', '.join(stopped))}."
        )

    def mute(
        self, args: Sequence[str], request: CommandRequest, audience: Audience, now: datetime
    ) -> Message:
        """Snooze one gap, or every open gap touching an item, for some days."""
        if not args:
            return notice(f"What to mute? `{escape(self.command)} mute PAY-123 14`")
        target = args[0]
        days = DEFAULT_MUTE_DAYS
        if len(args) > 1:
            if not args[1].isdigit() or not 0 < int(args[1]) <= MAX_MUTE_DAYS:
                msg = f"days must be a whole number from 1 to {MAX_MUTE_DAYS}, not '{args[1]}'"
                raise GapbotError(msg)
            days = int(args[1])
        with self.store.session() as session:
            finding = session.get(Finding, target)
            if finding is not None:
                candidates = [finding] if finding.status == OPEN else []
            else:
                item = get_item(session, target)
                if item is None or not self.rules.item_visible(item, audience):
                    return notice(f"No gap or item {escape(target)} here.")
                candidates = findings_for_item(session, target)
            items = load_items(session, (k for f in candidates for k in f.item_keys or []))
            visible = self.rules.visible_findings(candidates, items, audience)
            if finding is not None and not visible and finding.status == OPEN:
                return notice(f"No gap or item {escape(target)} here.")
            for found in visible:
                snooze(session, found.id, days=days, by=request.user_id, now=now)
        if not visible:
            return notice(f"Nothing open to mute for {escape(target)}.")
        names = ", ".join(f"`{escape(f.id)}` ({escape(kind_label(f.kind))})" for f in visible[:10])
        return notice(f":zzz: Muted for {days} days: {names}.")
