"""`gapbot sync` and `gapbot check`: reading Jira and GitHub, and proving the set-up works."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.progress import (
    Progress as RichProgress,
)
from rich.progress import (
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from bot.context import AppContext
from bot.output import info, is_terminal, print_table, stderr
from config.errors import ConfigError, GapbotError, InputError, SourceError
from config.settings import Settings
from connectors.base import AuthError, ScopeNotFoundError
from connectors.sync import (
    SOURCES,
    Progress,
    ScopeResult,
    build_connectors,
    close_connectors,
    raise_for_report,
    run_sync,
)

log = logging.getLogger(__name__)


def sync_progress_bar(*, transient: bool = False) -> RichProgress:
    """The terminal's progress display for a sync: one line per source."""
    return RichProgress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[items]} items"),
        TextColumn("{task.fields[scopes]}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=transient,
    )


class BarProgress(Progress):
    """A rich progress line per source, counting items, on a terminal."""

    def __init__(self, progress: RichProgress) -> None:
        """Drive `progress`."""
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.done_scopes: dict[str, int] = {}
        self.total_scopes: dict[str, int] = {}

    def source_started(self, source: str, scopes: int) -> None:
        """Add the source's line."""
        self.total_scopes[source] = scopes
        self.done_scopes[source] = 0
        self.tasks[source] = self.progress.add_task(
            source, total=None, scopes=f"0/{scopes} scopes", items=0
        )

    def page_done(self, source: str, scope: str, items: int) -> None:
        """Count the page's items."""
        task = self.tasks[source]
        self.progress.advance(task, items)
        completed = int(self.progress.tasks[task].completed)
        self.progress.update(task, items=completed, description=f"{source} {scope}")

    def scope_done(self, result: ScopeResult) -> None:
        """Count the scope; print a line when it failed."""
        self.done_scopes[result.source] = self.done_scopes.get(result.source, 0) + 1
        total = self.total_scopes.get(result.source, 0)
        self.progress.update(
            self.tasks[result.source],
            scopes=f"{self.done_scopes[result.source]}/{total} scopes",
        )
        if result.status != "ok":
            self.progress.console.print(
                f"{result.source} {result.scope}: {result.status}: {result.error}", markup=False
            )

    def source_done(self, source: str) -> None:
        """Stop the spinner of the source."""
        task = self.tasks.get(source)
        if task is not None:
            done = self.progress.tasks[task].completed
            self.progress.update(task, description=source, total=done)


class LineProgress(Progress):
    """One log line per scope with counts and time, when stdout is not a terminal."""

    def scope_done(self, result: ScopeResult) -> None:
        """Print the scope's line."""
        line = (
            f"{result.source} {result.scope}: {result.items} items, {result.pages} pages "
            f"in {result.seconds:.1f}s"
        )
        if result.gone:
            line += f", {result.gone} gone"
        if result.status != "ok":
            line += f" — {result.status}: {result.error}"
        info(line)


def sync_command(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option("--source", help="Only this source: jira or github.")
    ] = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="Re-read everything and mark items that no longer exist."),
    ] = False,
) -> None:
    """Incremental sync from Jira and GitHub into the store."""
    if source is not None and source not in SOURCES:
        msg = f"--source: '{source}' is not a source (jira or github)"
        raise InputError(msg)
    context: AppContext = ctx.obj
    settings = context.settings
    connectors = build_connectors(settings, [source] if source else None)
    if not connectors:
        which = source or "Jira or GitHub"
        msg = f"nothing to sync: no team reads {which} (teams: jira_projects, jql, github_repos)"
        raise ConfigError(msg)
    store = context.store
    try:
        if is_terminal():
            with sync_progress_bar() as bar:
                report = run_sync(settings, store, connectors, full=full, progress=BarProgress(bar))
        else:
            report = run_sync(settings, store, connectors, full=full, progress=LineProgress())
    finally:
        close_connectors(connectors)
    items = sum(r.items for r in report.results)
    info(f"synced {items} items from {len(report.results)} scopes")
    raise_for_report(report)


@dataclass
class CheckRow:
    """One line of `gapbot check`."""

    part: str
    target: str
    ok: bool | None
    """True works, False broken, None skipped (not configured)."""
    detail: str


def _check_jira(settings: Settings) -> list[CheckRow]:
    from connectors.jira import JiraConnector  # noqa: PLC0415 - only loaded when checked

    connector = JiraConnector(settings, timeout=15)
    scopes = connector.scopes()
    if not scopes:
        return [CheckRow("jira", "", None, "no team reads Jira")]
    if not settings.jira_url:
        return [CheckRow("jira", "", False, "jira.url (or JIRA_URL) is not set")]
    rows = []
    try:
        connector.client()
    except GapbotError as exc:
        return [CheckRow("jira", settings.jira_url, False, str(exc))]
    kind = "Cloud" if connector.cloud else "Data Center"
    rows.append(
        CheckRow(
            "jira",
            settings.jira_url,
            True,
            f"{kind}, signed in as {connector.user} ({connector.credential_hint})",
        )
    )
    for scope in scopes:
        label = f"project {scope.project}" if scope.project else scope.name
        try:
            if scope.project:
                connector.check_scope(scope)
            else:
                connector.check_query(scope)
            rows.append(CheckRow("jira", label, True, "reachable"))
        except AuthError as exc:
            rows.append(CheckRow("jira", label, False, str(exc)))
            break
        except GapbotError as exc:
            rows.append(CheckRow("jira", label, False, str(exc)))
    return rows


def _check_github(settings: Settings) -> list[CheckRow]:
    from connectors.github import GitHubConnector  # noqa: PLC0415

    connector = GitHubConnector(settings, timeout=15)
    scopes = connector.scopes()
    if not scopes:
        return [CheckRow("github", "", None, "no team reads GitHub")]
    rows = []
    try:
        client = connector.client()
        login = connector._call("user", lambda: client.get_user().login)
    except GapbotError as exc:
        connector.close()
        return [CheckRow("github", settings.github_api_url, False, str(exc))]
    rows.append(
        CheckRow("github", settings.github_api_url, True, f"signed in as {login} (GITHUB_TOKEN)")
    )
    try:
        for configured in scopes:
            try:
                expanded = connector.expand_scope(configured)
                if configured.name.endswith("/*"):
                    rows.append(
                        CheckRow(
                            "github",
                            configured.name,
                            True,
                            f"{len(expanded)} repositories",
                        )
                    )
                    continue
                connector.check_scope(configured)
                rows.append(CheckRow("github", configured.name, True, "reachable"))
            except AuthError as exc:
                rows.append(CheckRow("github", configured.name, False, str(exc)))
                break
            except (ScopeNotFoundError, SourceError) as exc:
                rows.append(CheckRow("github", configured.name, False, str(exc)))
    finally:
        connector.close()
    return rows


def _check_slack(context: AppContext) -> list[CheckRow]:
    from slack_sdk import WebClient  # noqa: PLC0415
    from slack_sdk.errors import SlackApiError, SlackClientError  # noqa: PLC0415

    env = context.environment
    token = env.slack_bot_token.get_secret_value()
    if not token:
        return [CheckRow("slack", "", None, "skipped: SLACK_BOT_TOKEN is not set")]
    client = WebClient(token=token, base_url=env.slack_api_url, timeout=15)
    try:
        answer: Any = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "error") if exc.response else "error"
        detail = f"auth.test: {error}: check SLACK_BOT_TOKEN"
        return [CheckRow("slack", env.slack_api_url, False, detail)]
    except (SlackClientError, OSError) as exc:
        return [CheckRow("slack", env.slack_api_url, False, f"auth.test: {type(exc).__name__}")]
    return [
        CheckRow(
            "slack",
            env.slack_api_url,
            True,
            f"workspace {answer.get('team', '?')}, bot {answer.get('user', '?')}",
        )
    ]


def check_command(ctx: typer.Context) -> None:
    """Validate the config and reach Jira, GitHub and Slack; a table of what works."""
    context: AppContext = ctx.obj
    settings = context.settings  # ConfigError (exit 2) when the file is wrong
    rows = [CheckRow("config", str(context.config_path), True, "valid")]
    rows += _check_jira(settings)
    rows += _check_github(settings)
    rows += _check_slack(context)
    marks = {True: "ok", False: "FAIL", None: "skipped"}
    print_table(
        "gapbot check",
        ("part", "target", "status", "detail"),
        [(r.part, r.target, marks[r.ok], r.detail) for r in rows],
    )
    failed = [r for r in rows if r.ok is False]
    if failed:
        names = ", ".join(f"{r.part} {r.target}".strip() for r in failed)
        stderr.print(f"gapbot check: {len(failed)} problem(s): {names}", markup=False)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command("sync")(sync_command)
    app.command("check")(check_command)
