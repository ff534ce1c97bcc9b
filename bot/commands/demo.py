"""`gapbot demo`: see what gapbot would tell you, before creating any account.

`--serve` then keeps the sandbox running with the real Slack app and a web page over the
fake Slack's channels (see `bot.demo_serve`) until Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress as RichProgress

from bot.commands.sync import BarProgress, LineProgress, sync_progress_bar
from bot.output import info, is_terminal, stdout
from config.errors import InputError
from connectors.sync import Progress

if TYPE_CHECKING:
    from bot.demo import DemoResult, Sandbox

MATPLOTLIB_CACHE = ".matplotlib"
"""Where matplotlib's font cache goes inside the demo's folder (not the user's home)."""


def show_result(result: DemoResult, elapsed: float) -> None:
    """What the channels received, where the report is, and found versus planted."""
    from bot.slack_render import render_channel  # noqa: PLC0415 - see demo_command
    from sandbox.scoring import score_line  # noqa: PLC0415

    for name in sorted(result.channels):
        # Wrap long lines inside the panels (the console's default is not to wrap).
        stdout.print(render_channel(name, result.channels[name]), soft_wrap=False)
    stdout.print(f"Weekly report (HTML): {result.report_path}", markup=False, highlight=False)
    stdout.print(f"Sandbox config and store: {result.folder}", markup=False, highlight=False)
    stdout.print(score_line(result.scores), markup=False, highlight=False)
    info(f"demo finished in {elapsed:.1f}s")


def prepare_folder(directory: Path | None) -> Path:
    """The demo's folder: a new temporary one, or `--dir` if it is empty or a past demo's.

    Raises:
        InputError: `--dir` is a file, or a folder holding something else.
    """
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="gapbot-demo-"))
    if directory.exists() and not directory.is_dir():
        msg = f"--dir: {directory} exists and is not a folder"
        raise InputError(msg)
    if directory.exists() and any(directory.iterdir()):
        if not (directory / "gapbot.db").is_file():
            msg = f"--dir: {directory} exists, is not empty and is not a previous demo's folder"
            raise InputError(msg)
        # A previous demo's store: start afresh (its other files are rewritten).
        (directory / "gapbot.db").unlink()
    return directory


def check_port(port: int) -> None:
    """Fail before the pipeline runs, not after, when `--port` is taken.

    Raises:
        InputError: Nothing can listen on 127.0.0.1:`port`.
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            msg = f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc})"
            raise InputError(msg) from None


def wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM: both end `--serve` cleanly."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        stop.wait()
        return

    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def serve_keeper(port: int, shown: Callable[[Sandbox], None]) -> Callable[[Sandbox], None]:
    """The `keep` callback of `--serve`: show the result, then serve until stopped."""

    def keep(sandbox: Sandbox) -> None:
        from bot.demo_serve import serving  # noqa: PLC0415 - Bolt and waitress load on demand

        shown(sandbox)
        with serving(sandbox, port=port) as served:
            stdout.print(
                f"Slack app (HTTP mode): {served.app_url}/slack/events",
                markup=False,
                highlight=False,
            )
            stdout.print(
                f"Sandbox Slack page: {served.page.url}  (open it in a browser; Ctrl-C stops)",
                markup=False,
                highlight=False,
            )
            wait_for_stop()
        info("stopping the sandbox")

    return keep


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
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Then keep the sandbox running with the Slack app and a local web page of its "
            "channels, to click the buttons and try slash commands (Ctrl-C stops).",
        ),
    ] = False,
    port: Annotated[
        int,
        typer.Option("--port", help="Port of --serve's web page on 127.0.0.1 (0: a free one)."),
    ] = 0,
) -> None:
    """The whole pipeline on the built-in sandbox: no accounts needed."""
    if size <= 0 or size > 200:
        msg = "--size must be more than 0 and at most 200"
        raise InputError(msg)
    if not 0 <= port <= 65535:
        msg = "--port must be between 0 and 65535"
        raise InputError(msg)
    if serve:
        check_port(port)
    folder = prepare_folder(directory)
    # matplotlib keeps a font cache in the home folder unless told otherwise: the demo
    # leaves nothing behind outside its folder. It must be set before matplotlib loads.
    os.environ.setdefault("MPLCONFIGDIR", str(folder / MATPLOTLIB_CACHE))
    from bot.demo import run_demo  # noqa: PLC0415 - loads matplotlib (see above)

    started = time.perf_counter()
    bars: list[RichProgress] = []

    def shown(sandbox: Sandbox) -> None:
        for bar in bars:
            bar.stop()  # the progress display must be gone before serving starts
        if sandbox.result is not None:
            show_result(sandbox.result, time.perf_counter() - started)

    keep = serve_keeper(port, shown) if serve else None
    if is_terminal():
        with sync_progress_bar(transient=True) as bar:
            bars.append(bar)
            result = run_demo(
                folder, seed=seed, size=size, progress=BarProgress(bar), step=info, keep=keep
            )
    else:
        progress: Progress = LineProgress()
        result = run_demo(folder, seed=seed, size=size, progress=progress, step=info, keep=keep)
    if not serve:
        show_result(result, time.perf_counter() - started)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("demo")(demo_command)
