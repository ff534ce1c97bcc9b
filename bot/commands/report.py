"""`gapbot report` (the weekly gap report without Slack) and `gapbot status`."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlmodel import col

from bot.context import AppContext
from bot.output import info, print_table
from config.errors import InputError

STATUS_TIME_FORMAT = "%Y-%m-%d %H:%M %Z"


class ReportFormat(enum.StrEnum):
    """Formats `gapbot report` writes."""

    markdown = "markdown"
    html = "html"
    json = "json"


def _write(out: Path | None, text: str) -> None:
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        msg = f"--out: cannot write {out}: {exc.strerror or exc}"
        raise InputError(msg) from None


def report_command(
    ctx: typer.Context,
    team: Annotated[
        str | None, typer.Option("--team", help="One team's report (default: the organisation).")
    ] = None,
    output_format: Annotated[
        ReportFormat, typer.Option("--format", help="markdown, html or json.")
    ] = ReportFormat.markdown,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write to FILE instead of stdout (markdown: the chart goes beside it as .png).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """The weekly gap report, without Slack: the last complete week beside the four before."""
    from bot import reports  # noqa: PLC0415 - matplotlib loads only for this command

    context: AppContext = ctx.obj
    config = context.settings.config
    report = reports.build_weekly_report(
        context.store, config, datetime.now(UTC), team=team, channel=None
    )
    if output_format is ReportFormat.json:
        _write(out, reports.report_json_text(report))
    elif output_format is ReportFormat.html:
        _write(out, reports.report_html(report, report.chart_png()))
    else:
        chart_name = None
        if out is not None:
            chart_path = out.with_suffix(".png")
            try:
                chart_path.write_bytes(report.chart_png())
            except OSError as exc:
                msg = f"--out: cannot write {chart_path}: {exc.strerror or exc}"
                raise InputError(msg) from None
            chart_name = chart_path.name
        _write(out, reports.report_markdown(report, chart_path=chart_name))
    if out is not None:
        info(f"wrote the {report.scope} report for the week of {report.period} to {out}")


def _when(value: datetime | None, zone: Any) -> str:
    return value.astimezone(zone).strftime(STATUS_TIME_FORMAT) if value else "never"


def status_command(ctx: typer.Context) -> None:
    """Last run of each job and sync scope, their errors, and what is due next."""
    from bot.scheduler import last_failure, latest_runs, next_run_times  # noqa: PLC0415
    from bot.subscriptions import digest_targets  # noqa: PLC0415
    from store.models import SyncState  # noqa: PLC0415

    context: AppContext = ctx.obj
    config = context.settings.config
    zone = config.zone
    now = datetime.now(UTC)
    with context.store.session() as session:
        due = next_run_times(config, now, list(digest_targets(session, config, "daily")))
        runs = latest_runs(session)
        failures = {name: last_failure(session, name) for name in runs}
        states = list(
            session.scalars(select(SyncState).order_by(col(SyncState.source), col(SyncState.scope)))
        )
    names = list(due)
    # The steps that follow a sync, and any job run before under another schedule.
    names += [n for n in ("detect", "alert") if n not in names]
    names += sorted(n for n in runs if n not in names)
    rows = []
    for name in names:
        run = runs.get(name)
        if run is None:
            outcome = "never run"
        elif run.ok is None:
            outcome = "running"
        elif run.ok:
            outcome = "ok"
        else:
            outcome = "failed"
        failure = failures.get(name)
        error = run.error if run is not None and run.error else ""
        if not error and failure is not None:
            error = f"(last failure {_when(failure.started_at, zone)}) {failure.error}"
        counts = ", ".join(f"{k}={v}" for k, v in sorted((run.counts or {}).items())) if run else ""
        duration = (
            f"{run.duration_seconds:.1f}s" if run is not None and run.duration_seconds else ""
        )
        next_due = due.get(name)
        rows.append(
            (
                name,
                _when(run.started_at if run else None, zone),
                outcome,
                duration,
                counts,
                "after each sync" if name in ("detect", "alert") else _when(next_due, zone),
                error,
            )
        )
    print_table("jobs", ("job", "last run", "result", "took", "counts", "next due", "error"), rows)
    sync_rows = [
        (
            state.source,
            state.scope,
            _when(state.last_run, zone),
            _when(state.last_success, zone),
            state.items_synced,
            _when(state.cursor, zone),
            state.last_error,
        )
        for state in states
    ]
    print_table(
        "sync scopes",
        ("source", "scope", "last run", "last success", "items", "cursor", "error"),
        sync_rows or [("-", "no sync has run yet", "", "", "", "", "")],
    )


def register(app: typer.Typer) -> None:
    """Add `report` and `status` to the app."""
    app.command("report")(report_command)
    app.command("status")(status_command)
