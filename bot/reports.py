"""The daily digest and the weekly gap report: their figures, Block Kit, text and posting.

The bot reads findings; it never recomputes them. A report is first a plain data object
(`DailyDigest`, `WeeklyReport`) built from the store, then rendered: Block Kit for Slack
(`slack_sdk.models.blocks`, within Slack's limits), Markdown, HTML (one self-contained file,
the chart inlined) or JSON.

Weeks run Monday to Sunday in the config's time zone. The weekly report covers the last
complete week (posted Monday 09:00, it covers the seven days before that Monday); "open"
means open at the week's end. Each figure stands beside the four weeks before it, read from
`Snapshot` (gap counts) and `WeeklyKpi` (programme KPIs) rows, which `write_snapshot` writes
when the weekly job runs; weeks without a row are computed from the findings' history.

Restricted teams (`restricted: true`) are shown only in their own channel and the channels
they allow: a finding touching one is left out of every other channel's digest and report,
and the organisation-wide report leaves out the team and its findings.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from sqlalchemy import delete, null, select
from sqlmodel import col

from bot import metrics
from bot.access import channel_key
from bot.charts import kind_label, render_open_gaps_chart
from bot.views.text import cut, escape
from bot.views.text import link as mrkdwn_link
from config.errors import GapbotError, InputError
from detectors.base import FINDING_KINDS
from store.models import Delivery, Finding, JobRun, Link, Snapshot, WeeklyKpi, WorkItem

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from slack_sdk import WebClient
    from sqlalchemy.orm import Session

    from config.settings import GapbotConfig
    from store.db import Store

log = logging.getLogger(__name__)

ORG_TEAM = "*"
"""The `team` of Snapshot and WeeklyKpi rows counting the whole organisation (once per gap)."""
HISTORY_WEEKS = 4
CHART_WEEKS = 12
TOP_LINES = 5
"""Findings listed per section (duplicates, inversions, stale PRs)."""
DIGEST_OLDEST = 3
DIGEST_MAX_NEW = 10
MAX_BLOCKS = 50
SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
CONTEXT_TEXT_LIMIT = 3000
MAX_DIGEST_LOOKBACK = timedelta(days=7)
KPI_NAMES = ("median_hours_to_first_review", "days_blocked_by_other_teams", "aligned_share")
KPI_LABELS = {
    "median_hours_to_first_review": "Median time to first review (hours)",
    "days_blocked_by_other_teams": "Days items spent blocked by another team",
    "aligned_share": "In-progress work aligned to an objective (%)",
}
FIGURE_NAMES = ("open", "new", "resolved")
HIDDEN_STATUSES = ("dismissed", "snoozed")


# --- text helpers ----------------------------------------------------------------------------


def fit_lines(lines: Sequence[str], limit: int = SECTION_TEXT_LIMIT) -> str:
    """Lines joined into at most `limit` characters, ending with "…and N more" if cut."""
    kept: list[str] = []
    used = 0
    for index, raw in enumerate(lines):
        line = cut(raw, limit - 20)
        remaining = len(lines) - index - 1
        tail = len(f"\n…and {remaining} more") if remaining else 0
        if used + len(line) + 1 + tail > limit:
            kept.append(f"…and {len(lines) - index} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def _fmt_number(value: float | None, *, percent: bool = False) -> str:
    if value is None:
        return "—"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{text}%" if percent else text


def _history_text(history: Sequence[float | None], *, percent: bool = False) -> str:
    return " · ".join(_fmt_number(v, percent=percent) for v in history)


# --- time helpers ----------------------------------------------------------------------------


def week_start_of(moment: datetime, zone: ZoneInfo) -> date:
    """The Monday (local date) of the week `moment` falls in."""
    local = moment.astimezone(zone).date()
    return local - timedelta(days=local.weekday())


def week_bounds(week: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The week starting Monday `week`, as [start, end) in aware UTC (local midnights)."""
    start = datetime.combine(week, time(0), tzinfo=zone)
    end = datetime.combine(week + timedelta(days=7), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def last_complete_week(now: datetime, zone: ZoneInfo) -> date:
    """The Monday of the last week that has ended by `now`."""
    return week_start_of(now, zone) - timedelta(days=7)


# --- visibility ------------------------------------------------------------------------------


def visible_in(
    config: GapbotConfig, teams: Iterable[str], *, channel: str | None, team: str | None
) -> bool:
    """Whether a finding of `teams` may be shown in `channel` (or to `team`'s own report).

    A restricted team's gaps are shown only in its own channel, its allowed channels, and
    its own team report.
    """
    for name in teams:
        owner = config.team(name)
        if owner is None or not owner.restricted:
            continue
        if team == owner.name:
            continue
        if channel and (channel == owner.slack_channel or channel in owner.allowed_channels):
            continue
        return False
    return True


def _scope_teams(config: GapbotConfig, team: str | None, channel: str | None) -> list[str] | None:
    """The teams a report is about (None: the whole organisation)."""
    if team:
        return [team]
    if channel:
        owners = [t.name for t in config.teams if t.slack_channel == channel]
        return owners or None
    return None


def _in_scope(
    finding: Finding,
    config: GapbotConfig,
    teams: list[str] | None,
    channel: str | None,
    team: str | None,
) -> bool:
    finding_teams = list(finding.teams or [])
    if teams is not None and not set(teams) & set(finding_teams):
        return False
    return visible_in(config, finding_teams, channel=channel, team=team)


# --- finding history -------------------------------------------------------------------------


def open_at(finding: Finding, moment: datetime) -> bool:
    """Whether `finding` was open (found, not resolved, not hidden by a person) at `moment`."""
    if finding.first_seen > moment:
        return False
    if finding.resolved_at is not None and finding.resolved_at <= moment:
        return False
    if finding.status == "resolved" and finding.resolved_at is None:
        return finding.last_seen > moment
    if (
        finding.status in HIDDEN_STATUSES
        and finding.status_at is not None
        and finding.status_at <= moment
    ):
        until = finding.snoozed_until
        return finding.status == "snoozed" and until is not None and until <= moment
    return True


def _count_week(
    findings: Sequence[Finding], start: datetime, end: datetime, moment: datetime
) -> dict[str, Counter[str]]:
    """open (at `moment`), new and resolved counts per kind for one week."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in FIGURE_NAMES}
    for finding in findings:
        if open_at(finding, moment):
            counts["open"][finding.kind] += 1
        if start <= finding.first_seen < end:
            counts["new"][finding.kind] += 1
        if finding.resolved_at is not None and start <= finding.resolved_at < end:
            counts["resolved"][finding.kind] += 1
    return counts


# --- data objects ----------------------------------------------------------------------------


@dataclass
class Figure:
    """A number for the reported week beside the same number for the weeks before."""

    current: float | None
    history: list[float | None]
    """The four weeks before, oldest first (None where nothing was recorded)."""


@dataclass
class FindingLine:
    """A finding as a report line."""

    id: str
    kind: str
    severity: str
    score: float
    summary: str
    teams: list[str]
    items: list[dict[str, str]]
    first_seen: datetime
    age_days: int


@dataclass
class WeeklyReport:
    """The weekly gap report's figures for one scope (a team or the organisation)."""

    scope: str
    team: str | None
    channel: str | None
    timezone: str
    week: date
    week_end: date
    generated_at: datetime
    totals: dict[str, Figure]
    by_kind: dict[str, dict[str, Figure]]
    by_team: dict[str, dict[str, int]]
    top_duplicates: list[FindingLine]
    priority_inversions: list[FindingLine]
    stale_prs: list[FindingLine]
    kpis: dict[str, Figure]
    chart_weeks: list[date]
    chart_series: dict[str, list[int]]

    @property
    def title(self) -> str:
        """The report's heading."""
        return f"Weekly gap report · {self.scope}"

    @property
    def period(self) -> str:
        """The week in words, e.g. '23–29 Nov 2026'."""
        start, end = self.week, self.week_end
        if start.month == end.month:
            return f"{start.day}–{end.day} {end.strftime('%b %Y')}"
        return f"{start.day} {start.strftime('%b')} – {end.day} {end.strftime('%b %Y')}"

    def chart_png(self) -> bytes:
        """The chart of open gaps by kind over the last 12 weeks."""
        return render_open_gaps_chart(
            self.chart_weeks, self.chart_series, title=f"Open gaps by kind · {self.scope}"
        )


@dataclass
class DailyDigest:
    """The daily digest for one channel."""

    channel: str
    teams: list[str]
    since: datetime
    generated_at: datetime
    new: list[FindingLine] = field(default_factory=list)
    resolved: list[FindingLine] = field(default_factory=list)
    oldest_open: list[FindingLine] = field(default_factory=list)
    open_count: int = 0

    @property
    def empty(self) -> bool:
        """Nothing new, nothing resolved and nothing open: no message is worth posting."""
        return not (self.new or self.resolved or self.oldest_open)


# --- building --------------------------------------------------------------------------------


@dataclass(slots=True)
class ItemFacts:
    """The columns of a WorkItem the reports use: read without the bodies, for speed."""

    key: str
    title: str
    url: str
    team: str
    kind: str
    status_category: str
    labels: list[str]
    parent: str | None
    created: datetime | None
    resolved: datetime | None
    review_requested_at: datetime | None
    first_review_at: datetime | None
    gone: bool


_FACT_COLUMNS = tuple(getattr(WorkItem, name) for name in ItemFacts.__dataclass_fields__)


def load_item_facts(
    session: Session, keys: Iterable[str] | None = None, *, labels: bool = True
) -> dict[str, ItemFacts]:
    """ItemFacts by key: every item, or only `keys`.

    Without `labels` (they only serve objectives), the labels' JSON is not read: decoding it
    for every item was 40% of a report's time on 100,000 items.
    """
    columns = [
        c if labels or c is not WorkItem.labels else null().label("labels") for c in _FACT_COLUMNS
    ]
    query = select(*columns)
    if keys is not None:
        wanted = sorted(set(keys))
        found: dict[str, ItemFacts] = {}
        for index in range(0, len(wanted), 500):
            chunk = query.where(col(WorkItem.key).in_(wanted[index : index + 500]))
            found.update((row[0], ItemFacts(*row)) for row in session.execute(chunk))
        return found
    return {row[0]: ItemFacts(*row) for row in session.execute(query)}


def _load_findings(session: Session) -> list[Finding]:
    return list(session.scalars(select(Finding).order_by(col(Finding.id))))


def _lines(session: Session, findings: Sequence[Finding], now: datetime) -> list[FindingLine]:
    items = load_item_facts(session, {k for f in findings for k in f.item_keys or []})
    return [_line(f, items, now) for f in findings]


def _line(finding: Finding, items: Mapping[str, ItemFacts], now: datetime) -> FindingLine:
    return FindingLine(
        id=finding.id,
        kind=finding.kind,
        severity=finding.severity,
        score=round(float(finding.score), 3),
        summary=finding.summary,
        teams=list(finding.teams or []),
        items=[
            {
                "key": key,
                "title": items[key].title if key in items else "",
                "url": items[key].url if key in items else "",
                "team": items[key].team if key in items else "",
            }
            for key in finding.item_keys or []
        ],
        first_seen=finding.first_seen,
        age_days=max(0, (now - finding.first_seen).days),
    )


_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def _top(findings: Iterable[Finding], kind: str, *, oldest_first: bool = False) -> list[Finding]:
    chosen = [f for f in findings if f.kind == kind and f.status == "open"]
    if oldest_first:
        chosen.sort(key=lambda f: (f.first_seen, f.id))
    else:
        chosen.sort(key=lambda f: (_SEVERITY_ORDER.get(f.severity, 3), -f.score, f.id))
    return chosen[:TOP_LINES]


def _snapshot_history(
    session: Session, team_key: str, weeks: Sequence[date]
) -> dict[date, dict[str, dict[str, int]]]:
    """Snapshot rows of `team_key` for `weeks`: week -> figure -> kind -> count."""
    rows = session.scalars(
        select(Snapshot).where(col(Snapshot.team) == team_key, col(Snapshot.week).in_(weeks))
    )
    found: dict[date, dict[str, dict[str, int]]] = {}
    for row in rows:
        week = found.setdefault(row.week, {name: {} for name in FIGURE_NAMES})
        week["open"][row.kind] = row.open_count
        week["new"][row.kind] = row.new_count
        week["resolved"][row.kind] = row.resolved_count
    return found


def _week_counts(
    session: Session,
    findings: Sequence[Finding],
    team_key: str,
    weeks: Sequence[date],
    *,
    zone: ZoneInfo,
    now: datetime,
) -> dict[date, dict[str, dict[str, int]]]:
    """figure -> kind -> count for each week: from Snapshot rows, else from the findings."""
    stored = _snapshot_history(session, team_key, weeks)
    result: dict[date, dict[str, dict[str, int]]] = {}
    for week in weeks:
        if week in stored:
            result[week] = stored[week]
            continue
        start, end = week_bounds(week, zone)
        counts = _count_week(findings, start, end, min(end, now))
        result[week] = {name: dict(counts[name]) for name in FIGURE_NAMES}
    return result


class KpiIndex:
    """What the KPIs need, indexed once and shared by every team's computation."""

    def __init__(
        self, config: GapbotConfig, items: Mapping[str, ItemFacts], links: Sequence[Link]
    ) -> None:
        """Index `items` and `links` for `config`'s objectives."""
        self.items = items
        self.objective_keys = {o.key for o in config.objectives}
        self.objective_labels = {label.lower() for o in config.objectives for label in o.labels}
        self.has_objectives = bool(config.objectives)
        self.blocks = [
            (link.source_key, link.target_key) for link in links if link.type == "blocks"
        ]
        self.parents: dict[str, set[str]] = defaultdict(set)
        self.neighbours: dict[str, set[str]] = defaultdict(set)
        for item in items.values():
            if item.parent:
                self.parents[item.key].add(item.parent)
        for link in links:
            if link.type == "parent":
                self.parents[link.target_key].add(link.source_key)
            elif link.type != "blocks":
                self.neighbours[link.source_key].add(link.target_key)
        self._aligned: dict[str, bool] = {}

    def _labelled(self, key: str) -> bool:
        item = self.items.get(key)
        return item is not None and bool(
            {label.lower() for label in item.labels or []} & self.objective_labels
        )

    def aligned(self, key: str) -> bool:
        """Whether the item reaches an objective: its key, labels, parents or links."""
        if key in self._aligned:
            return self._aligned[key]
        seen: set[str] = set()
        frontier = {key}
        result = False
        for _ in range(6):  # epics and initiatives sit a few levels up at most
            if frontier & self.objective_keys or any(self._labelled(k) for k in frontier):
                result = True
                break
            following: set[str] = set()
            for current in frontier:
                following |= self.parents.get(current, set()) | self.neighbours.get(current, set())
            seen |= frontier
            frontier = following - seen
            if not frontier:
                break
        self._aligned[key] = result
        return result

    def compute(
        self,
        teams: Sequence[str] | None,
        *,
        start: datetime,
        end: datetime,
        hidden_teams: frozenset[str] = frozenset(),
    ) -> dict[str, float | None]:
        """The KPIs for the week [start, end) over `teams` (None: all but `hidden_teams`)."""
        in_scope = [
            i
            for i in self.items.values()
            if (teams is None or i.team in teams) and i.team not in hidden_teams
        ]
        waits = []
        for item in in_scope:
            if item.kind != "pull_request" or item.first_review_at is None:
                continue
            if not start <= item.first_review_at < end:
                continue
            asked = item.review_requested_at or item.created
            if asked is None or asked > item.first_review_at:
                continue
            waits.append((item.first_review_at - asked).total_seconds() / 3600)
        median = round(statistics.median(waits), 1) if waits else None

        blocked_seconds = 0.0
        scope_keys = {i.key for i in in_scope}
        for source_key, target_key in self.blocks:
            if target_key not in scope_keys:
                continue
            blocker = self.items.get(source_key)
            blocked = self.items[target_key]
            if blocker is None or blocker.team == blocked.team or blocker.team in hidden_teams:
                continue
            begin = max([start] + [t for t in (blocked.created, blocker.created) if t is not None])
            finish = min([end] + [t for t in (blocked.resolved, blocker.resolved) if t is not None])
            if finish > begin:
                blocked_seconds += (finish - begin).total_seconds()

        aligned: float | None = None
        if self.has_objectives:
            working = [
                i.key
                for i in in_scope
                if i.status_category == "in_progress" and i.kind != "pull_request" and not i.gone
            ]
            if working:
                share = sum(1 for key in working if self.aligned(key)) / len(working)
                aligned = round(100 * share, 1)
        return {
            "median_hours_to_first_review": median,
            "days_blocked_by_other_teams": round(blocked_seconds / 86400, 1),
            "aligned_share": aligned,
        }


def compute_kpis(
    config: GapbotConfig,
    items: Mapping[str, ItemFacts],
    links: Sequence[Link],
    teams: Sequence[str] | None,
    *,
    start: datetime,
    end: datetime,
    hidden_teams: frozenset[str] = frozenset(),
) -> dict[str, float | None]:
    """The programme KPIs for the week [start, end) over `teams` (None: everyone).

    - median_hours_to_first_review: pull requests first reviewed in the week, from the
      review request (or creation) to the first review.
    - days_blocked_by_other_teams: for each item blocked (a `blocks` link) by another
      team's item, the days of the week both were unresolved, summed. Links carry no dates,
      so a link is taken to hold from when both items existed.
    - aligned_share: the share (%) of in-progress work (not pull requests) linked to an
      objective (its key, a parent chain or link reaching it, or one of its labels); None
      when no objectives are configured.

    `hidden_teams` (restricted teams the audience may not see) are left out entirely.
    """
    return KpiIndex(config, items, links).compute(
        teams, start=start, end=end, hidden_teams=hidden_teams
    )


def _kpi_items(
    session: Session, config: GapbotConfig, links: Sequence[Link], teams: list[str] | None
) -> dict[str, ItemFacts]:
    """The items the KPIs of `teams` read (all of them for the organisation).

    Without objectives, a team's KPIs read only its own items and the items blocking them;
    reading just those keeps a team's report fast on a large store (the alignment KPI walks
    parents and links anywhere, so with objectives every item is read).
    """
    if teams is None or config.objectives:
        return load_item_facts(session, labels=bool(config.objectives))
    query = select(*_FACT_COLUMNS).where(col(WorkItem.team).in_(teams))
    found = {row[0]: ItemFacts(*row) for row in session.execute(query)}
    blockers = {
        link.source_key
        for link in links
        if link.type == "blocks" and link.target_key in found and link.source_key not in found
    }
    found.update(load_item_facts(session, blockers))
    return found


def _hidden_teams(config: GapbotConfig, *, channel: str | None, team: str | None) -> frozenset[str]:
    """Restricted teams whose items may not be shown to this audience."""
    return frozenset(
        t.name
        for t in config.teams
        if t.restricted and not visible_in(config, [t.name], channel=channel, team=team)
    )


def build_weekly_report(
    store: Store,
    config: GapbotConfig,
    now: datetime,
    *,
    team: str | None = None,
    channel: str | None = None,
    week_to_date: bool = False,
) -> WeeklyReport:
    """The weekly report for `team` (or the organisation) as shown in `channel`.

    Args:
        store: The store.
        config: The config (time zone, teams, objectives).
        now: The time the report is made; it covers the last complete week before it.
        team: One team's report; None for the organisation-wide one.
        channel: Where it will be shown (decides which restricted teams may appear).
        week_to_date: Report the current week from its Monday up to `now` instead
            (`/gaps report`: this week's report, now).

    Returns:
        The report's figures.

    Raises:
        InputError: When `team` is not a configured team.
    """
    if team is not None and config.team(team) is None:
        known = ", ".join(t.name for t in config.teams)
        msg = f"--team: no team named '{team}' (teams: {known})"
        raise InputError(msg)
    zone = config.zone
    if week_to_date:
        week = week_start_of(now, zone)
        start, end = week_bounds(week, zone)[0], now
    else:
        week = last_complete_week(now, zone)
        start, end = week_bounds(week, zone)
    teams = _scope_teams(config, team, channel)
    team_key = team or ORG_TEAM
    history_weeks = [week - timedelta(days=7 * n) for n in range(HISTORY_WEEKS, 0, -1)]
    chart_weeks = [week - timedelta(days=7 * n) for n in range(CHART_WEEKS - 1, -1, -1)]

    with store.session() as session:
        all_findings = _load_findings(session)
        findings = [f for f in all_findings if _in_scope(f, config, teams, channel, team)]
        if team is None:
            # The organisation-wide counts leave out restricted teams' gaps altogether,
            # as the snapshots' `*` rows do.
            findings = [
                f for f in findings if visible_in(config, f.teams or [], channel=None, team=None)
            ]
        links = list(session.scalars(select(Link)))
        items = _kpi_items(session, config, links, teams)
        current = _count_week(findings, start, end, end)
        past = _week_counts(session, findings, team_key, history_weeks, zone=zone, now=now)
        chart_past = _week_counts(session, findings, team_key, chart_weeks[:-1], zone=zone, now=now)
        kpi_rows = session.scalars(
            select(WeeklyKpi).where(
                col(WeeklyKpi.team) == team_key, col(WeeklyKpi.week).in_(history_weeks)
            )
        )
        kpi_history: dict[tuple[date, str], float | None] = {
            (row.week, row.name): row.value for row in kpi_rows
        }

    totals = {
        name: Figure(
            current=sum(current[name].values()),
            history=[sum(past[w][name].values()) for w in history_weeks],
        )
        for name in FIGURE_NAMES
    }
    kinds = [
        k
        for k in FINDING_KINDS
        if any(current[n][k] for n in FIGURE_NAMES)
        or any(past[w][n].get(k) for w in history_weeks for n in FIGURE_NAMES)
    ]
    by_kind = {
        kind: {
            name: Figure(
                current=current[name][kind],
                history=[past[w][name].get(kind, 0) for w in history_weeks],
            )
            for name in FIGURE_NAMES
        }
        for kind in kinds
    }
    by_team: dict[str, dict[str, int]] = {}
    if team is None:
        for finding in findings:
            for name in finding.teams or []:
                row = by_team.setdefault(name, dict.fromkeys(FIGURE_NAMES, 0))
                row["open"] += open_at(finding, end)
                row["new"] += start <= finding.first_seen < end
                row["resolved"] += bool(
                    finding.resolved_at is not None and start <= finding.resolved_at < end
                )
        by_team = dict(sorted(by_team.items(), key=lambda kv: (-kv[1]["open"], kv[0])))

    with store.session() as session:
        top_duplicates = _lines(session, _top(findings, "duplicate"), now)
        priority_inversions = _lines(session, _top(findings, "priority_inversion"), now)
        stale_prs = _lines(session, _top(findings, "stale_pr", oldest_first=True), now)

    # Restricted teams' items stay out of the KPIs of reports they may not appear in.
    kpi_now = compute_kpis(
        config,
        items,
        links,
        teams,
        start=start,
        end=end,
        hidden_teams=_hidden_teams(config, channel=channel, team=team),
    )
    kpis = {
        name: Figure(
            current=kpi_now[name],
            history=[kpi_history.get((w, name)) for w in history_weeks],
        )
        for name in KPI_NAMES
        if not (name == "aligned_share" and not config.objectives)
    }
    chart_series = {
        kind: [chart_past[w]["open"].get(kind, 0) for w in chart_weeks[:-1]]
        + [current["open"][kind]]
        for kind in FINDING_KINDS
    }
    chart_series = {k: v for k, v in chart_series.items() if any(v)}
    return WeeklyReport(
        scope=team or "organisation",
        team=team,
        channel=channel,
        timezone=config.timezone,
        week=week,
        week_end=end.astimezone(zone).date() if week_to_date else week + timedelta(days=6),
        generated_at=now,
        totals=totals,
        by_kind=by_kind,
        by_team=by_team,
        top_duplicates=top_duplicates,
        priority_inversions=priority_inversions,
        stale_prs=stale_prs,
        kpis=kpis,
        chart_weeks=chart_weeks,
        chart_series=chart_series,
    )


def write_snapshot(
    store: Store,
    week: date,
    config: GapbotConfig | None = None,
    *,
    now: datetime | None = None,
) -> int:
    """Write the Snapshot (and WeeklyKpi) rows of the week starting Monday `week`.

    Rows are per team and kind, plus `*` for the organisation (each gap once, restricted
    teams' gaps left out). Open counts are taken at the week's end (or `now`, if earlier).
    Writing a week again replaces its rows.

    Args:
        store: The store.
        week: The Monday starting the week.
        config: The config (time zone, teams, restricted teams, objectives); without it,
            weeks are UTC weeks and no team is restricted.
        now: The time of writing (default: the clock).

    Returns:
        How many Snapshot rows were written.
    """
    if week.weekday() != 0:
        msg = f"a snapshot week starts on a Monday; {week.isoformat()} is a {week:%A}"
        raise InputError(msg)
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    zone = config.zone if config is not None else ZoneInfo("UTC")
    moment = now or datetime.now(UTC)
    start, end = week_bounds(week, zone)
    rows: list[Snapshot] = []
    kpi_rows: list[WeeklyKpi] = []
    with store.session() as session:
        findings = _load_findings(session)
        links = list(session.scalars(select(Link)))
        index = KpiIndex(config, load_item_facts(session), links) if config is not None else None
        configured = {t.name for t in config.teams} if config is not None else set()
        team_names = sorted(configured | {name for f in findings for name in f.teams or []})
        restricted = (
            frozenset(t.name for t in config.teams if t.restricted)
            if config is not None
            else frozenset()
        )
        scopes: list[tuple[str, list[Finding], list[str] | None]] = []
        org = [
            f
            for f in findings
            if config is None or visible_in(config, f.teams or [], channel=None, team=None)
        ]
        scopes.append((ORG_TEAM, org, None))
        for name in team_names:
            scopes.append((name, [f for f in findings if name in (f.teams or [])], [name]))
        for team_key, chosen, teams in scopes:
            counts = _count_week(chosen, start, end, min(end, moment))
            for kind in FINDING_KINDS:
                rows.append(
                    Snapshot(
                        week=week,
                        team=team_key,
                        kind=kind,
                        open_count=counts["open"][kind],
                        new_count=counts["new"][kind],
                        resolved_count=counts["resolved"][kind],
                    )
                )
            if index is not None:
                hidden = restricted if team_key == ORG_TEAM else frozenset()
                values = index.compute(teams, start=start, end=end, hidden_teams=hidden)
                kpi_rows.extend(
                    WeeklyKpi(week=week, team=team_key, name=name, value=value)
                    for name, value in values.items()
                )
        session.execute(delete(Snapshot).where(col(Snapshot.week) == week))
        session.execute(delete(WeeklyKpi).where(col(WeeklyKpi.week) == week))
        session.add_all(rows)
        session.add_all(kpi_rows)
    return len(rows)


def build_daily_digest(
    store: Store, config: GapbotConfig, channel: str, now: datetime
) -> DailyDigest:
    """The digest for `channel`: new and resolved gaps since the last digest, the oldest open.

    Its teams are the channel's own (the config's `slack_channel`) and those it subscribed
    to with `/gaps subscribe TEAM daily`. "Since" is the last successful digest to this
    channel (so Monday's covers the weekend), at most a week back, or the last 24 hours
    when there was none.
    """
    from bot.subscriptions import digest_targets  # noqa: PLC0415 - the Slack app's tables

    with store.session() as session:
        teams = digest_targets(session, config, "daily").get(channel_key(channel), [])
        last = session.scalars(
            select(JobRun)
            .where(
                col(JobRun.job) == f"digest:{channel}",
                col(JobRun.ok).is_(True),
                col(JobRun.started_at) < now,
            )
            .order_by(col(JobRun.started_at).desc())
            .limit(1)
        ).first()
        since = now - timedelta(days=1)
        if last is not None:
            since = max(last.started_at, now - MAX_DIGEST_LOOKBACK)
        all_findings = _load_findings(session)
        findings = [f for f in all_findings if _in_scope(f, config, teams, channel, None)]
        new = [f for f in findings if f.status == "open" and f.first_seen >= since]
        new.sort(key=lambda f: (_SEVERITY_ORDER.get(f.severity, 3), -f.score, f.id))
        resolved = [
            f
            for f in findings
            if f.status == "resolved" and f.resolved_at is not None and f.resolved_at >= since
        ]
        resolved.sort(key=lambda f: (f.resolved_at or now, f.id))
        still_open = sorted(
            (f for f in findings if f.status == "open"), key=lambda f: (f.first_seen, f.id)
        )
        new_ids = {f.id for f in new}
        oldest = [f for f in still_open if f.id not in new_ids][:DIGEST_OLDEST]
        return DailyDigest(
            channel=channel,
            teams=teams,
            since=since,
            generated_at=now,
            new=_lines(session, new, now),
            resolved=_lines(session, resolved, now),
            oldest_open=_lines(session, oldest, now),
            open_count=len(still_open),
        )


# --- Block Kit -------------------------------------------------------------------------------


def _finding_text(line: FindingLine, *, with_age: bool = False) -> str:
    keys = " ↔ ".join(mrkdwn_link(i["url"], i["key"]) for i in line.items[:3])
    age = f" · open {line.age_days} d" if with_age else ""
    summary = escape(cut(line.summary, 200))
    return f"• {keys}: {summary} _({line.severity}{age})_"


def digest_blocks(digest: DailyDigest) -> list[Block]:
    """The digest as one message's blocks (within Slack's limits)."""
    teams = ", ".join(digest.teams) or digest.channel
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=cut(f"Daily gaps · {teams}", 150))),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=escape(
                        f"{len(digest.new)} new · {len(digest.resolved)} resolved · "
                        f"{digest.open_count} open"
                    )
                )
            ]
        ),
    ]
    sections = (
        (
            "New since yesterday",
            [_finding_text(x) for x in digest.new[:DIGEST_MAX_NEW]],
            len(digest.new),
        ),
        (
            "Resolved",
            [_finding_text(x) for x in digest.resolved[:DIGEST_MAX_NEW]],
            len(digest.resolved),
        ),
        (
            "Oldest open",
            [_finding_text(x, with_age=True) for x in digest.oldest_open],
            len(digest.oldest_open),
        ),
    )
    for title, shown, total in sections:
        if not shown:
            continue
        lines = [f"*{title}*", *shown]
        if total > len(shown):
            lines.append(f"…and {total - len(shown)} more (`/gaps` lists them)")
        blocks.append(SectionBlock(text=MarkdownTextObject(text=fit_lines(lines))))
    return blocks[:MAX_BLOCKS]


def digest_text(digest: DailyDigest) -> str:
    """The notification fallback text of the digest."""
    return (
        f"Daily gaps: {len(digest.new)} new, {len(digest.resolved)} resolved, "
        f"{digest.open_count} open"
    )


def _figure_text(label: str, figure: Figure, *, percent: bool = False) -> str:
    return (
        f"*{label}:* {_fmt_number(figure.current, percent=percent)}  "
        f"_(4 weeks before: {_history_text(figure.history, percent=percent)})_"
    )


def weekly_blocks(report: WeeklyReport) -> list[Block]:
    """The weekly report as one message's blocks (within Slack's limits)."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=cut(report.title, HEADER_TEXT_LIMIT))),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=escape(
                        f"Week of {report.period} ({report.timezone}) · each figure beside "
                        "the 4 weeks before, oldest first · chart in the thread"
                    )
                )
            ]
        ),
        SectionBlock(
            text=MarkdownTextObject(
                text=fit_lines(
                    [
                        _figure_text("Open gaps", report.totals["open"]),
                        _figure_text("New this week", report.totals["new"]),
                        _figure_text("Resolved this week", report.totals["resolved"]),
                    ]
                )
            )
        ),
    ]
    if report.by_kind:
        lines = ["*By kind* (open / new / resolved)"]
        for kind, figures in report.by_kind.items():
            lines.append(
                f"• {kind_label(kind)}: {_fmt_number(figures['open'].current)} / "
                f"{_fmt_number(figures['new'].current)} / "
                f"{_fmt_number(figures['resolved'].current)}  "
                f"_(open before: {_history_text(figures['open'].history)})_"
            )
        blocks.append(SectionBlock(text=MarkdownTextObject(text=fit_lines(lines))))
    if report.by_team:
        lines = ["*By team* (open / new / resolved)"]
        lines += [
            f"• {escape(name)}: {row['open']} / {row['new']} / {row['resolved']}"
            for name, row in report.by_team.items()
        ]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=fit_lines(lines))))
    for title, entries in (
        ("Top duplicate pairs", report.top_duplicates),
        ("Priority inversions", report.priority_inversions),
        ("Stale pull requests", report.stale_prs),
    ):
        if entries:
            lines = [f"*{title}*"] + [
                _finding_text(e, with_age=title == "Stale pull requests") for e in entries
            ]
            blocks.append(SectionBlock(text=MarkdownTextObject(text=fit_lines(lines))))
    if report.kpis:
        lines = ["*Programme KPIs*"] + [
            _figure_text(KPI_LABELS[name], figure, percent=name == "aligned_share")
            for name, figure in report.kpis.items()
        ]
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=fit_lines(lines))))
    return blocks[:MAX_BLOCKS]


def weekly_text(report: WeeklyReport) -> str:
    """The notification fallback text of the weekly report."""
    totals = report.totals
    return (
        f"{report.title} ({report.period}): {_fmt_number(totals['open'].current)} open, "
        f"{_fmt_number(totals['new'].current)} new, "
        f"{_fmt_number(totals['resolved'].current)} resolved"
    )


# --- Markdown, HTML, JSON --------------------------------------------------------------------


def _md_escape(text: str) -> str:
    # Outside text must not become HTML or a table cell break in the rendered Markdown.
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\n", " ")
    )


def _md_items(line: FindingLine) -> str:
    parts = []
    for item in line.items[:3]:
        key = _md_escape(item["key"])
        parts.append(f"[{key}]({item['url']})" if item["url"] else key)
    return " ↔ ".join(parts)


def report_json(report: WeeklyReport) -> dict[str, Any]:
    """The report as JSON-ready data (dates as ISO strings)."""
    data = asdict(report)

    def convert(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    result: dict[str, Any] = convert(data)
    result["period"] = report.period
    return result


def report_markdown(report: WeeklyReport, *, chart_path: str | None = None) -> str:
    """The report as Markdown; `chart_path` is linked as the chart image when given."""

    def figure_row(label: str, figure: Figure, *, percent: bool = False) -> str:
        history = " | ".join(_fmt_number(v, percent=percent) for v in figure.history)
        return f"| {label} | **{_fmt_number(figure.current, percent=percent)}** | {history} |"

    weeks = [report.week - timedelta(days=7 * n) for n in range(HISTORY_WEEKS, 0, -1)]
    week_heads = " | ".join(f"{w.day} {w:%b}" for w in weeks)
    separator = "|---|---:|" + "---:|" * HISTORY_WEEKS
    out = [
        f"# {report.title}",
        "",
        f"Week of {report.period} ({report.timezone}). Each figure beside the four weeks "
        "before it, oldest first.",
        "",
        f"| | this week | {week_heads} |",
        separator,
        figure_row("Open gaps", report.totals["open"]),
        figure_row("New", report.totals["new"]),
        figure_row("Resolved", report.totals["resolved"]),
    ]
    for name, figure in report.kpis.items():
        out.append(figure_row(KPI_LABELS[name], figure, percent=name == "aligned_share"))
    if chart_path:
        out += ["", f"![Open gaps by kind over the last 12 weeks]({chart_path})"]
    if report.by_kind:
        out += [
            "",
            "## By kind",
            "",
            "| kind | open | new | resolved | open, 4 weeks before |",
            "|---|---:|---:|---:|---|",
        ]
        for kind, figures in report.by_kind.items():
            out.append(
                f"| {kind_label(kind)} | {_fmt_number(figures['open'].current)} | "
                f"{_fmt_number(figures['new'].current)} | "
                f"{_fmt_number(figures['resolved'].current)} | "
                f"{_history_text(figures['open'].history)} |"
            )
    if report.by_team:
        out += ["", "## By team", "", "| team | open | new | resolved |", "|---|---:|---:|---:|"]
        out += [
            f"| {_md_escape(name)} | {row['open']} | {row['new']} | {row['resolved']} |"
            for name, row in report.by_team.items()
        ]
    for title, entries in (
        ("Top duplicate pairs", report.top_duplicates),
        ("Priority inversions", report.priority_inversions),
        ("Stale pull requests", report.stale_prs),
    ):
        out += ["", f"## {title}", ""]
        if not entries:
            out.append("None open.")
            continue
        for entry in entries:
            age = f", open {entry.age_days} d" if title == "Stale pull requests" else ""
            out.append(
                f"- {_md_items(entry)}: {_md_escape(entry.summary)} "
                f"({entry.severity}{age}, `{entry.id}`)"
            )
    return "\n".join(out) + "\n"


_HTML_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:52rem;
margin:1.5rem auto;padding:0 1rem;color:#1d1c1d;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.8rem}
table{border-collapse:collapse;width:100%;margin:.6rem 0}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}
img{max-width:100%;height:auto}.muted{color:#616061}li{margin:.25rem 0}
""".strip()


def report_html(report: WeeklyReport, chart_png: bytes | None = None) -> str:
    """The report as one self-contained HTML page (the chart inlined as a base64 PNG)."""
    esc = html.escape

    def cells(figure: Figure, *, percent: bool = False) -> str:
        values = [f"<td><strong>{_fmt_number(figure.current, percent=percent)}</strong></td>"]
        values += [f"<td>{_fmt_number(v, percent=percent)}</td>" for v in figure.history]
        return "".join(values)

    weeks = [report.week - timedelta(days=7 * n) for n in range(HISTORY_WEEKS, 0, -1)]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(report.title)}</title><style>{_HTML_STYLE}</style></head><body>",
        f"<h1>{esc(report.title)}</h1>",
        f'<p class="muted">Week of {esc(report.period)} ({esc(report.timezone)}). Each figure '
        "beside the four weeks before it, oldest first.</p>",
        "<table><thead><tr><th></th><th>this week</th>"
        + "".join(f"<th>{w.day} {w:%b}</th>" for w in weeks)
        + "</tr></thead><tbody>",
    ]
    for label, name in (("Open gaps", "open"), ("New", "new"), ("Resolved", "resolved")):
        parts.append(f"<tr><td>{label}</td>{cells(report.totals[name])}</tr>")
    for name, figure in report.kpis.items():
        percent = name == "aligned_share"
        parts.append(f"<tr><td>{esc(KPI_LABELS[name])}</td>{cells(figure, percent=percent)}</tr>")
    parts.append("</tbody></table>")
    if chart_png:
        encoded = base64.b64encode(chart_png).decode("ascii")
        parts.append(
            f'<img alt="Open gaps by kind over the last 12 weeks" '
            f'src="data:image/png;base64,{encoded}">'
        )
    if report.by_kind:
        parts.append(
            "<h2>By kind</h2><table><thead><tr><th>kind</th><th>open</th><th>new</th>"
            "<th>resolved</th><th>open, 4 weeks before</th></tr></thead><tbody>"
        )
        for kind, figures in report.by_kind.items():
            parts.append(
                f"<tr><td>{esc(kind_label(kind))}</td>"
                f"<td>{_fmt_number(figures['open'].current)}</td>"
                f"<td>{_fmt_number(figures['new'].current)}</td>"
                f"<td>{_fmt_number(figures['resolved'].current)}</td>"
                f"<td>{esc(_history_text(figures['open'].history))}</td></tr>"
            )
        parts.append("</tbody></table>")
    if report.by_team:
        parts.append(
            "<h2>By team</h2><table><thead><tr><th>team</th><th>open</th><th>new</th>"
            "<th>resolved</th></tr></thead><tbody>"
        )
        for name, row in report.by_team.items():
            parts.append(
                f"<tr><td>{esc(name)}</td><td>{row['open']}</td><td>{row['new']}</td>"
                f"<td>{row['resolved']}</td></tr>"
            )
        parts.append("</tbody></table>")
    for title, entries in (
        ("Top duplicate pairs", report.top_duplicates),
        ("Priority inversions", report.priority_inversions),
        ("Stale pull requests", report.stale_prs),
    ):
        parts.append(f"<h2>{esc(title)}</h2>")
        if not entries:
            parts.append("<p>None open.</p>")
            continue
        parts.append("<ul>")
        for entry in entries:
            links = " ↔ ".join(
                f'<a href="{esc(i["url"])}">{esc(i["key"])}</a>'
                if i["url"].startswith(("https://", "http://"))
                else esc(i["key"])
                for i in entry.items[:3]
            )
            age = f", open {entry.age_days} d" if title == "Stale pull requests" else ""
            parts.append(
                f"<li>{links}: {esc(entry.summary)} "
                f'<span class="muted">({esc(entry.severity)}{age}, {esc(entry.id)})</span></li>'
            )
        parts.append("</ul>")
    parts.append(
        f'<p class="muted">Made by gapbot at {esc(report.generated_at.isoformat())}.</p>'
        "</body></html>"
    )
    return "\n".join(parts) + "\n"


def report_json_text(report: WeeklyReport) -> str:
    """The report as JSON text."""
    return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"


# --- posting ---------------------------------------------------------------------------------


def _slack_error(exc: Exception) -> str:
    """Slack's error code (counted in the metrics), or the failure in one line."""
    if isinstance(exc, SlackApiError) and exc.response is not None:
        error = str(exc.response.get("error", "") or "")
        metrics.record_api_error("slack", error or exc.response.status_code)
        if error:
            return error
    else:
        metrics.record_api_error("slack", type(exc).__name__)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _already_posted(store: Store, kind: str, channel: str, since: datetime) -> bool:
    with store.session() as session:
        found = session.scalars(
            select(col(Delivery.id)).where(
                col(Delivery.kind) == kind,
                col(Delivery.channel) == channel,
                col(Delivery.status) == "posted",
                col(Delivery.created_at) >= since,
            )
        ).first()
    return found is not None


def _record_post(store: Store, kind: str, channel: str, ts: str, now: datetime) -> None:
    with store.session() as session:
        session.add(
            Delivery(
                kind=kind,
                finding_id=None,
                channel=channel,
                ts=ts,
                status="posted",
                attempts=1,
                created_at=now,
                posted_at=now,
            )
        )


def post_daily_digest(
    client: WebClient, store: Store, config: GapbotConfig, channel: str, now: datetime
) -> dict[str, int]:
    """Post `channel`'s digest (once per local day; nothing when there is nothing to say).

    Returns:
        Counts: posted (0 or 1), new, resolved, open.

    Raises:
        GapbotError: When Slack refuses the message (the job records it and retries next time).
    """
    local_midnight = datetime.combine(now.astimezone(config.zone).date(), time(0), config.zone)
    if _already_posted(store, "digest", channel, local_midnight.astimezone(UTC)):
        log.info("digest for %s already posted today", channel)
        return {"posted": 0}
    digest = build_daily_digest(store, config, channel, now)
    counts = {
        "new": len(digest.new),
        "resolved": len(digest.resolved),
        "open": digest.open_count,
        "posted": 0,
    }
    if digest.empty:
        return counts
    try:
        response = client.chat_postMessage(
            channel=channel, text=digest_text(digest), blocks=digest_blocks(digest)
        )
    except (SlackClientError, OSError) as exc:
        msg = f"Slack refused the digest for {channel}: {_slack_error(exc)}"
        raise GapbotError(msg) from None
    _record_post(store, "digest", channel, str(response.get("ts", "")), now)
    metrics.record_posted("digest")
    counts["posted"] = 1
    return counts


def post_report_message(client: WebClient, report: WeeklyReport, channel: str) -> tuple[str, str]:
    """Post the report's message to `channel`.

    Returns:
        The message's ts and the channel's id (as Slack answered it).

    Raises:
        SlackApiError: When Slack refuses it.
    """
    response = client.chat_postMessage(
        channel=channel, text=weekly_text(report), blocks=weekly_blocks(report), unfurl_links=False
    )
    # files.completeUploadExternal wants the channel's id; chat.postMessage answers with it.
    return str(response["ts"]), str(response.get("channel") or channel)


def upload_chart(
    client: WebClient, report: WeeklyReport, channel_id: str, thread_ts: str
) -> str | None:
    """Upload the report's chart into the thread `thread_ts` with files_upload_v2.

    Returns:
        The uploaded file's id.

    Raises:
        SlackApiError: When Slack refuses a step of the upload.
    """
    upload = client.files_upload_v2(
        channel=channel_id,
        thread_ts=thread_ts,
        file=report.chart_png(),
        filename=f"open-gaps-{report.scope}-{report.week.isoformat()}.png",
        title=f"Open gaps by kind, 12 weeks to {report.period}",
        alt_txt=f"Line chart of open gaps by kind over the 12 weeks to {report.period}",
    )
    file_info = upload.get("file") or {}
    return file_info.get("id") if isinstance(file_info, dict) else None


def post_weekly_report(
    client: WebClient, report: WeeklyReport, channel: str
) -> tuple[str, str | None]:
    """Post the report to `channel`, then its chart into the message's thread.

    Returns:
        The message's ts and the uploaded file's id.

    Raises:
        SlackApiError: When Slack refuses either call.
    """
    ts, channel_id = post_report_message(client, report, channel)
    return ts, upload_chart(client, report, channel_id, ts)


def _team_report_kind(team: str) -> str:
    """The Delivery kind of a team's report in a channel that subscribed to it (16 chars)."""
    import hashlib  # noqa: PLC0415

    return "weekly:" + hashlib.sha256(team.encode()).hexdigest()[:9]


def post_weekly_reports(
    client: WebClient, store: Store, config: GapbotConfig, now: datetime
) -> dict[str, int]:
    """The weekly job: write the week's snapshot, then post each team's and the org report.

    Each team with a channel gets its own report; `slack.report_channel` gets the
    organisation-wide one. A channel already served this week is skipped, so a re-run after a
    partial failure posts only what is missing. One channel failing does not stop the others;
    the job fails at the end, naming them.

    Returns:
        Counts: snapshot rows written, reports posted, channels skipped.

    Raises:
        GapbotError: When Slack refused some channels.
    """
    from bot.subscriptions import digest_targets  # noqa: PLC0415 - the Slack app's tables

    week = last_complete_week(now, config.zone)
    snapshot_rows = write_snapshot(store, week, config, now=now)
    week_end_utc = week_bounds(week, config.zone)[1]
    with store.session() as session:
        subscribed = digest_targets(session, config, "weekly")
    own = {channel_key(t.slack_channel): t.name for t in config.teams if t.slack_channel}
    # Each team channel's own report first (config order), then subscribed teams' reports.
    targets: list[tuple[str | None, str, str]] = []
    for channel, names in subscribed.items():
        for name in names:
            # A channel may get several teams' reports: each is its own Delivery kind.
            kind = "weekly_report" if own.get(channel) == name else _team_report_kind(name)
            targets.append((name, channel, kind))
    if config.slack.report_channel:
        targets.append((None, channel_key(config.slack.report_channel), "org_report"))
    posted = skipped = 0
    failures: list[str] = []
    for team, channel, kind in targets:
        if _already_posted(store, kind, channel, week_end_utc):
            skipped += 1
            continue
        report = build_weekly_report(store, config, now, team=team, channel=channel)
        try:
            ts, channel_id = post_report_message(client, report, channel)
        except (SlackClientError, OSError) as exc:
            failures.append(f"{channel}: {_slack_error(exc)}")
            continue
        # Recorded before the upload: a re-run must not post the message twice.
        _record_post(store, kind, channel, ts, now)
        metrics.record_posted("weekly_report")
        posted += 1
        try:
            upload_chart(client, report, channel_id, ts)
        except (SlackClientError, OSError) as exc:
            failures.append(f"{channel}: chart upload failed: {_slack_error(exc)}")
    if failures:
        msg = f"weekly report not posted to {len(failures)} channel(s): " + "; ".join(failures)
        raise GapbotError(msg)
    return {"snapshot_rows": snapshot_rows, "posted": posted, "skipped": skipped}
