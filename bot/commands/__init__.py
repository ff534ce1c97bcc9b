"""The commands, one module per area; each module has `register(app)`.

Adding a command: write `bot/commands/<area>.py` with a `register(app)` and list it in
`COMMAND_MODULES`.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = (
    "bot.commands.setup",
    "bot.commands.items",
    "bot.commands.demo",
    "bot.commands.gaps",
    "bot.commands.report",
    "bot.commands.search",
    "bot.commands.serve",
    "bot.commands.sync",
)


def register_all(app: typer.Typer) -> None:
    """Register every command module's commands on `app`."""
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
