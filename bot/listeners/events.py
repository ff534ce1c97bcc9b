"""Events: App Home shows the open gaps that touch the viewer's items."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access import AccessRules, Audience
from bot.alerts import findings_touching, load_items, user_item_keys
from bot.views.pages import home_view

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.app import BotDeps

log = logging.getLogger(__name__)


def viewer_email(client: WebClient, user_id: str) -> str:
    """The Slack user's e-mail (scope users:read.email), or '' when Slack does not say."""
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError as exc:
        log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
        return ""
    return str((user.get("profile") or {}).get("email") or "")


def register(app: App, deps: BotDeps) -> None:
    """Register `app_home_opened`."""

    def acknowledge(ack: Ack) -> None:
        ack()

    def publish_home(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user", ""))
        email = viewer_email(client, user_id)
        config = deps.settings.config
        with deps.store.session() as session:
            keys = user_item_keys(session, config, user_id, email)
            findings = findings_touching(session, keys)
            items = load_items(session, (k for f in findings for k in f.item_keys or []))
        visible = AccessRules(config).visible_findings(findings, items, Audience.private())
        view = home_view(
            visible,
            items,
            total=len(visible),
            command=config.slack.command,
            who=email or "you",
        )
        client.views_publish(user_id=user_id, view=view)

    app.event("app_home_opened")(ack=acknowledge, lazy=[publish_home])
