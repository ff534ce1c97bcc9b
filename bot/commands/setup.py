"""`gapbot init` and `gapbot db upgrade`: setting up a config file and the store."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from bot.context import AppContext
from bot.output import info
from config.errors import InputError
from store.db import current_revision, redact_url

MANIFEST_NAME = "slack-manifest.yaml"


def template_text(name: str) -> str:
    """A template shipped in the `config` package."""
    return resources.files("config").joinpath("templates", name).read_text(encoding="utf-8")


def init(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder to write the files in.")
    ] = Path(),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Write a commented gapbot.yaml and the Slack app manifest."""
    context: AppContext = ctx.obj
    config_path = context.config_path
    if not config_path.is_absolute():
        config_path = directory / config_path
    manifest_path = directory / MANIFEST_NAME
    if not force:
        for path in (config_path, manifest_path):
            if path.exists():
                msg = f"{path} already exists (use --force to overwrite)"
                raise InputError(msg)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(template_text("gapbot.yaml"), encoding="utf-8")
    manifest_path.write_text(template_text(MANIFEST_NAME), encoding="utf-8")
    info(f"wrote {config_path} and {manifest_path}")
    info("next: edit the teams, set the tokens in the environment, then run 'gapbot check'")


db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the store's migrations (also done automatically on start)."""
    context: AppContext = ctx.obj
    store = context.store
    info(f"{redact_url(store.url)} is at schema revision {current_revision(store.engine)}")


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command("init")(init)
    app.add_typer(db_app, name="db")
