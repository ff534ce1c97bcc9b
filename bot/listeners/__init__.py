"""The app's listeners, one module per kind; `register_listeners` wires them all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.listeners import actions, commands, events

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.app import BotDeps


def register_listeners(app: App, deps: BotDeps) -> None:
    """Register the slash command, the buttons and modals, and the events."""
    commands.register(app, deps)
    actions.register(app, deps)
    events.register(app, deps)
