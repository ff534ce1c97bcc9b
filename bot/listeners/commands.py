"""The slash command: acknowledge at once, answer through response_url afterwards.

The acknowledgement never touches the store: the help is built from the config alone and
anything else is answered by a Bolt lazy listener, so a slow store or a large one never
makes Slack show "operation_timeout".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.slash import CommandRequest
from bot.views.pages import notice

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.app import BotDeps

log = logging.getLogger(__name__)


def register(app: App, deps: BotDeps) -> None:
    """Register the configured slash command (`/gaps` by default)."""

    def acknowledge(ack: Ack, command: dict[str, Any]) -> None:
        if deps.commands.is_help(command.get("text", "")):
            message = deps.commands.help()
            ack(text=message.text, blocks=message.block_dicts(), response_type="ephemeral")
        else:
            ack()

    def answer(command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        text = command.get("text", "")
        if deps.commands.is_help(text):
            return
        request = CommandRequest(
            text=text,
            user_id=command.get("user_id", ""),
            channel_id=command.get("channel_id", ""),
            channel_name=command.get("channel_name", ""),
        )
        try:
            message = deps.commands.answer(request, client, deps.now())
        except Exception as exc:
            # Lazy listeners bypass @app.error: report here, in one line, to both sides.
            log.error("%s %s failed: %s: %s", command.get("command"), text, type(exc).__name__, exc)
            message = notice(":warning: gapbot could not answer that; the server log says why.")
        respond(text=message.text, blocks=message.block_dicts(), response_type="ephemeral")

    app.command(deps.settings.config.slack.command)(ack=acknowledge, lazy=[answer])
