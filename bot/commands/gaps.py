"""`gapbot detect`, `gapbot gaps`, `gapbot dismiss` and `gapbot snooze`: the findings.

`detect` runs the detectors and reconciles the findings (finding gaps is success: exit 0);
`gaps` lists open findings; `dismiss` and `snooze` do what the alert buttons do, recording
the operating-system user as the person who did it.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.context import AppContext
from bot.output import info, print_json, print_table, stderr
from config.errors import GapbotError, InputError
from config.settings import UNASSIGNED_TEAM
from detectors.base import FINDING_KINDS
from detectors.runner import DetectionResult, run_detection
from store.findings import dismiss, finding_json, list_findings, snooze
from store.models import WorkItem, utcnow

KEY_BATCH = 500
CLI_USER_FALLBACK = "cli"


def cli_user() -> str:
    """The operating-system user running the command: who dismissed or snoozed."""
    try:
        return getpass.getuser() or CLI_USER_FALLBACK
    except (KeyError, OSError):
        # No login name in a bare container (no USER, no passwd entry).
        return CLI_USER_FALLBACK


def summary_rows(result: DetectionResult) -> list[tuple[str, str, int, int, int]]:
    """(kind, team, open, new or re-opened, resolved) for every kind and team with any."""
    keys = sorted(set(result.open_counts) | set(result.new_counts) | set(result.resolved_counts))
    return [
        (
            kind,
            team,
            result.open_counts.get((kind, team), 0),
            result.new_counts.get((kind, team), 0),
            result.resolved_counts.get((kind, team), 0),
        )
        for kind, team in keys
    ]


class _EmbeddingBar:
    """Embedding progress as a bar on the terminal, as a line on stderr otherwise."""

    def __init__(self, bar: RichProgress | None) -> None:
        self._bar = bar
        self._task: TaskID | None = None

    def starting(self, texts: int) -> None:
        if self._bar is None:
            noun = "item text" if texts == 1 else "item texts"
            info(f"embedding {texts:,} {noun} for semantic matching (stored for later runs)")
            return
        self._task = self._bar.add_task("embedding item texts", total=texts)

    def advance(self, texts: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, texts)


@contextmanager
def embedding_progress_bar() -> Iterator[_EmbeddingBar]:
    """Progress of the embedding a first run with `duplicates.embeddings` does (minutes)."""
    if not stderr.is_terminal:
        yield _EmbeddingBar(None)
        return
    bar = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    )
    with bar:
        yield _EmbeddingBar(bar)


def detect_command(ctx: typer.Context) -> None:
    """Run the detectors, reconcile the findings and print a summary per kind and team."""
    context: AppContext = ctx.obj
    config = context.settings.config
    with embedding_progress_bar() as progress:
        result = run_detection(
            context.store,
            config,
            utcnow(),
            debug=bool(os.environ.get("GAPBOT_DEBUG")),
            embedding_progress=progress,
        )
    print_table(
        f"{result.open_total} open gaps",
        ("kind", "team", "open", "new", "resolved"),
        summary_rows(result),
    )
    ran = len(result.runs) - len(result.failed)
    elapsed = result.load_seconds + sum(r.seconds for r in result.runs)
    elapsed += result.reconcile_seconds
    info(
        f"{ran} detectors on {result.items} items and {result.links} links in {elapsed:.1f}s: "
        f"{result.open_total} open, {len(result.new)} new, {len(result.reopened)} re-opened, "
        f"{len(result.resolved)} resolved"
        + (f"; switched off: {', '.join(result.disabled)}" if result.disabled else "")
    )
    if result.failed:
        failures = "; ".join(f"{run.id} ({run.error})" for run in result.failed)
        msg = f"detector failed, the others' findings were saved: {failures}"
        raise GapbotError(msg)


def _items_by_key(session: Session, keys: Iterable[str]) -> dict[str, WorkItem]:
    wanted = sorted(set(keys))
    found: dict[str, WorkItem] = {}
    for start in range(0, len(wanted), KEY_BATCH):
        query = select(WorkItem).where(col(WorkItem.key).in_(wanted[start : start + KEY_BATCH]))
        found.update((item.key, item) for item in session.scalars(query))
    return found


def _check_team(context: AppContext, team: str) -> None:
    if not context.config_path.exists():
        return
    names = [t.name for t in context.settings.config.teams]
    if team not in names and team != UNASSIGNED_TEAM:
        msg = f"--team: unknown team '{team}' (teams: {', '.join([*names, UNASSIGNED_TEAM])})"
        raise InputError(msg)


def gaps_command(
    ctx: typer.Context,
    kind: Annotated[
        str | None, typer.Option("--kind", help=f"Only this kind: {', '.join(FINDING_KINDS)}.")
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="Only this team's gaps.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List open findings, most severe first."""
    context: AppContext = ctx.obj
    if kind is not None and kind not in FINDING_KINDS:
        msg = f"--kind: unknown kind '{kind}' (valid kinds: {', '.join(FINDING_KINDS)})"
        raise InputError(msg)
    if team is not None:
        _check_team(context, team)
    with context.store.session() as session:
        findings = list_findings(session, kind=kind, team=team)
        if as_json:
            items = _items_by_key(session, (k for f in findings for k in f.item_keys or []))
            print_json([finding_json(f, items) for f in findings])
            return
    rows = [(f.id, f.severity, f.kind, ", ".join(f.teams or []), f.summary) for f in findings]
    print_table(f"{len(findings)} open gaps", ("id", "severity", "kind", "teams", "summary"), rows)


def dismiss_command(
    ctx: typer.Context,
    finding: Annotated[str, typer.Argument(help="The finding's id (see 'gapbot gaps').")],
    reason: Annotated[str, typer.Option("--reason", help="Why this is not a gap.")] = "",
) -> None:
    """Mark a finding 'not a gap'; it stays dismissed until its facts change."""
    context: AppContext = ctx.obj
    with context.store.session() as session:
        dismissed = dismiss(session, finding, by=cli_user(), reason=reason, now=utcnow())
        info(f"dismissed {dismissed.id}: {dismissed.summary}")


def snooze_command(
    ctx: typer.Context,
    finding: Annotated[str, typer.Argument(help="The finding's id (see 'gapbot gaps').")],
    days: Annotated[float, typer.Option("--days", help="How many days to hide it.")],
) -> None:
    """Hide a finding for some days; it comes back afterwards if still found."""
    context: AppContext = ctx.obj
    with context.store.session() as session:
        snoozed = snooze(session, finding, days=days, by=cli_user(), now=utcnow())
        until = snoozed.snoozed_until.isoformat() if snoozed.snoozed_until else "?"
        info(f"snoozed {snoozed.id} until {until}: {snoozed.summary}")


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command("detect")(detect_command)
    app.command("gaps")(gaps_command)
    app.command("dismiss")(dismiss_command)
    app.command("snooze")(snooze_command)
