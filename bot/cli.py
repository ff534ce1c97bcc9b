"""The `gapbot` command line: thin commands over plain functions, errors as one line.

Exit codes: 0 success (finding gaps is success), 2 bad input or config, 1 internal failure.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from bot import commands
from bot.context import AppContext
from bot.logs import configure_logging, redact
from config.errors import GapbotError

log = logging.getLogger("gapbot")

app = typer.Typer(
    name="gapbot",
    help="Finds the coordination gaps between Jira, GitHub and Slack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # noqa: PLC0415

        typer.echo(f"gapbot {version('gapbot')}")
        raise typer.Exit


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (default: $GAPBOT_CONFIG or gapbot.yaml).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Finds the coordination gaps between Jira, GitHub and Slack."""
    configure_logging(verbose)
    context = AppContext.create(config)
    ctx.obj = context
    ctx.call_on_close(context.close)


commands.register_all(app)


def main() -> None:
    """Entry point of the `gapbot` script: run the app and turn errors into one line."""
    try:
        app()
    except GapbotError as exc:
        sys.stderr.write(f"gapbot: error: {redact(str(exc))}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("gapbot: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("GAPBOT_DEBUG"):
            raise
        log.debug("internal error", exc_info=True)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        detail = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
        sys.stderr.write(
            f"gapbot: internal error: {redact(detail)} (set GAPBOT_DEBUG=1 for the traceback)\n"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
