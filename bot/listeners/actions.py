"""The buttons under each gap, and the modal that asks why a gap is not one.

Clicks are acknowledged at once; the store is written afterwards (lazy listeners). Who
clicked and when is stored on the finding (`store.findings.dismiss` / `snooze` with `by`,
`bot.jira_links.link_duplicate` for "Link as duplicate"), and every alert message showing
the gap is re-rendered to say so.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.alerts import load_items, refresh_finding_messages
from bot.jira_links import link_duplicate
from bot.views import ids
from bot.views.findings import replace_gap_blocks, status_line
from bot.views.pages import dismiss_modal
from config.errors import GapbotError, InputError
from store.findings import dismiss, get_finding, snooze

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.app import BotDeps

log = logging.getLogger(__name__)


def _clicked(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value", ""))


def _answer_ephemeral(
    deps: BotDeps, body: dict[str, Any], respond: Respond | None, finding_id: str
) -> None:
    """Show the new state where the click happened when it was not a stored alert.

    Alerts are updated with chat.update from the store; an ephemeral answer to a command can
    only be replaced through its response_url, from the blocks Slack sent back.
    """
    with deps.store.session() as session:
        finding = get_finding(session, finding_id)
        if finding is None:
            return
        items = load_items(session, finding.item_keys or [])
    message = body.get("message") or {}
    blocks = message.get("blocks")
    if respond is None:
        return
    if blocks:
        respond(
            replace_original=True,
            text=message.get("text") or "gapbot",
            blocks=replace_gap_blocks(blocks, finding, items),
        )
    else:
        respond(replace_original=False, text=status_line(finding) or "Done.")


def register(app: App, deps: BotDeps) -> None:
    """Register the buttons and the reason modal."""

    def ack_only(ack: Ack) -> None:
        ack()

    def open_reason_modal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        container = body.get("container") or {}
        metadata = {
            "finding": _clicked(body),
            "channel": str(container.get("channel_id", "")),
            "ts": str(container.get("message_ts", "")),
            "ephemeral": "1" if container.get("is_ephemeral") else "",
            "response_url": str(body.get("response_url", "")),
        }
        # No store read before views.open: the trigger_id is only good for three seconds.
        client.views_open(
            trigger_id=body["trigger_id"], view=dismiss_modal(_clicked(body), metadata)
        )

    def snooze_clicked(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        finding_id = _clicked(body)
        user = str((body.get("user") or {}).get("id", ""))
        try:
            with deps.store.session() as session:
                snooze(session, finding_id, days=ids.SNOOZE_DAYS, by=user, now=deps.now())
        except InputError as exc:
            respond(replace_original=False, text=str(exc))
            return
        updated = refresh_finding_messages(deps.store, deps.settings, client, finding_id)
        container = body.get("container") or {}
        if container.get("is_ephemeral") or not updated:
            _answer_ephemeral(deps, body, respond, finding_id)

    def link_clicked(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        finding_id = _clicked(body)
        user = str((body.get("user") or {}).get("id", ""))
        try:
            link_duplicate(deps.store, deps.settings, finding_id, by=user, now=deps.now())
        except GapbotError as exc:
            log.warning("link as duplicate from Slack failed: %s", exc)
            respond(replace_original=False, response_type="ephemeral", text=f":warning: {exc}")
            return
        updated = refresh_finding_messages(deps.store, deps.settings, client, finding_id)
        container = body.get("container") or {}
        if container.get("is_ephemeral") or not updated:
            _answer_ephemeral(deps, body, respond, finding_id)

    def ack_reason(ack: Ack) -> None:
        ack()

    def dismiss_submitted(body: dict[str, Any], client: WebClient) -> None:
        view = body.get("view") or {}
        metadata = json.loads(view.get("private_metadata") or "{}")
        finding_id = str(metadata.get("finding", ""))
        values = (view.get("state") or {}).get("values") or {}
        reason = str(
            ((values.get(ids.REASON_BLOCK) or {}).get(ids.REASON_INPUT) or {}).get("value") or ""
        ).strip()
        user = str((body.get("user") or {}).get("id", ""))
        try:
            with deps.store.session() as session:
                dismiss(session, finding_id, by=user, reason=reason, now=deps.now())
        except InputError as exc:
            log.warning("dismiss from Slack failed: %s", exc)
            return
        updated = refresh_finding_messages(deps.store, deps.settings, client, finding_id)
        url = str(metadata.get("response_url", ""))
        if url and (metadata.get("ephemeral") or not updated):
            with deps.store.session() as session:
                finding = get_finding(session, finding_id)
                line = status_line(finding) if finding else "Dismissed."
            try:
                WebhookClient(url).send(text=line, replace_original=False)
            except (SlackApiError, SlackClientError, OSError) as exc:
                log.warning("cannot answer through response_url: %s", exc)

    app.action(ids.DISMISS)(open_reason_modal)
    app.action(ids.SNOOZE)(ack=ack_only, lazy=[snooze_clicked])
    app.action(ids.LINK_DUPLICATE)(ack=ack_only, lazy=[link_clicked])
    app.view(ids.DISMISS_MODAL)(ack=ack_reason, lazy=[dismiss_submitted])
