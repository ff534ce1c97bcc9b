"""Events: App Home shows the open gaps that touch the viewer's items.

The viewer is matched to the people items are assigned to through `users.lookupByEmail`
(cached per process, `bot.people.PeopleDirectory`) or the config's `slack.user_map`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.access import AccessRules, Audience
from bot.alerts import findings_touching, load_items
from bot.people import PeopleDirectory, gap_assignee_emails, viewer_item_keys
from bot.views.pages import home_view

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.app import BotDeps

log = logging.getLogger(__name__)


def register(app: App, deps: BotDeps) -> None:
    """Register `app_home_opened`."""
    directory = PeopleDirectory()

    def acknowledge(ack: Ack) -> None:
        ack()

    def publish_home(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user", ""))
        config = deps.settings.config
        with deps.store.session() as session:
            candidates = gap_assignee_emails(session)
        emails = directory.emails_of(client, user_id, candidates)
        with deps.store.session() as session:
            keys = viewer_item_keys(session, config, user_id, emails)
            findings = findings_touching(session, keys)
            items = load_items(session, (k for f in findings for k in f.item_keys or []))
        visible = AccessRules(config).visible_findings(findings, items, Audience.private())
        view = home_view(
            visible,
            items,
            total=len(visible),
            command=config.slack.command,
            who=", ".join(sorted(emails)) or "you",
        )
        client.views_publish(user_id=user_id, view=view)

    app.event("app_home_opened")(ack=acknowledge, lazy=[publish_home])
