"""`gapbot demo`: see what gapbot would tell you, before creating any account."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress as RichProgress
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

from bot.commands.sync import BarProgress, LineProgress
from bot.output import info, is_terminal, stderr, stdout
from bot.slack_render import render_channel
from config.errors import InputError
from connectors.sync import Progress

if TYPE_CHECKING:
    from bot.demo import DemoResult


def show_result(result: DemoResult, elapsed: float) -> None:
    """What the channels received, where the report is, and found versus planted."""
    from sandbox.scoring import score_line  # noqa: PLC0415 - loads the whole pipeline

    for name in sorted(result.channels):
        stdout.print(render_channel(name, result.channels[name]))
    stdout.print(f"Weekly report (HTML): {result.report_path}", markup=False, highlight=False)
    stdout.print(f"Sandbox config and store: {result.folder}", markup=False, highlight=False)
    stdout.print(score_line(result.scores), markup=False, highlight=False)
    info(f"demo finished in {elapsed:.1f}s")


def demo_command(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Folder for the sandbox's config, store and report (default: a new temporary one).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated organisation.")] = 7,
    size: Annotated[
        float, typer.Option("--size", help="Scale of the organisation (1 = about 450 items).")
    ] = 1.0,
) -> None:
    """The whole pipeline on the built-in sandbox: no accounts needed."""
    from bot.demo import run_demo  # noqa: PLC0415 - loads the whole pipeline

    if size <= 0 or size > 200:
        msg = "--size must be more than 0 and at most 200"
        raise InputError(msg)
    folder = directory or Path(tempfile.mkdtemp(prefix="gapbot-demo-"))
    if directory is not None and directory.exists() and any(directory.iterdir()):
        if not (directory / "gapbot.db").exists():
            msg = f"--dir: {directory} is not empty and is not a previous demo's folder"
            raise InputError(msg)
        (directory / "gapbot.db").unlink()
    started = time.perf_counter()
    progress: Progress
    if is_terminal():
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[items]} items"),
            TextColumn("{task.fields[scopes]}"),
            TimeElapsedColumn(),
        )
        with RichProgress(*columns, console=stderr, transient=True) as bar:
            result = run_demo(folder, seed=seed, size=size, progress=BarProgress(bar), step=info)
    else:
        progress = LineProgress()
        result = run_demo(folder, seed=seed, size=size, progress=progress, step=info)
    show_result(result, time.perf_counter() - started)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("demo")(demo_command)
