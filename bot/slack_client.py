"""The Slack Web API client and what to do about each of Slack's errors.

`make_client` builds the one `WebClient` the app and the alerts share: `SLACK_API_URL` as its
base URL (GovSlack, tests) and slack_sdk's `RateLimitErrorRetryHandler`, which waits for
`Retry-After` and retries on HTTP 429. `post_message` adds what Slack leaves to apps: join a
public channel on `not_in_channel`, and turn every other refusal into one clear line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy.orm import Session

from bot.subscriptions import learn_channel, lookup_channel
from config.settings import Settings

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3
"""Retries after HTTP 429, each after the Retry-After Slack asks for."""
CLIENT_TIMEOUT_SECONDS = 15
FATAL_ERRORS = frozenset({"invalid_auth", "account_inactive", "not_authed", "token_revoked"})
"""Errors after which no further call can succeed this run."""


def make_client(settings: Settings, *, token: str | None = None) -> WebClient:
    """The Web API client for SLACK_API_URL and SLACK_BOT_TOKEN, retrying rate limits."""
    base_url = settings.env.slack_api_url
    if not base_url.endswith("/"):
        base_url += "/"
    client = WebClient(
        base_url=base_url,
        token=token if token is not None else settings.env.slack_bot_token.get_secret_value(),
        timeout=CLIENT_TIMEOUT_SECONDS,
    )
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return client


class SlackDeliveryError(Exception):
    """Slack refused a post; `message` is the one line a person reads, `code` Slack's error."""

    def __init__(self, code: str, message: str) -> None:
        """Keep Slack's error code and the explanation."""
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def fatal(self) -> bool:
        """Whether no other post can succeed either (the token is bad)."""
        return self.code in FATAL_ERRORS


def error_code(exc: SlackApiError) -> str:
    """Slack's error string of a failed call."""
    data: Any = exc.response.data if exc.response is not None else {}
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    return "unknown_error"


def explain(code: str, channel: str) -> str:
    """One line saying what went wrong with `channel` and what to do."""
    if code == "not_in_channel":
        return (
            f"gapbot is not a member of the private channel {channel} (not_in_channel): "
            f"invite it there with `/invite @gapbot`; its alerts wait until then"
        )
    if code == "channel_not_found":
        return (
            f"Slack has no channel {channel} that gapbot can see (channel_not_found): "
            f"check slack_channel in "
            f"gapbot.yaml, or invite gapbot if it is private; its alerts wait until then"
        )
    if code in {"invalid_auth", "not_authed", "token_revoked"}:
        return (
            f"Slack rejected the bot token ({code}): check SLACK_BOT_TOKEN; "
            f"alerts stay pending and go out on the next run"
        )
    if code == "account_inactive":
        return (
            "Slack says the bot's account is inactive (account_inactive): the app was "
            "uninstalled or its owner deactivated; reinstall it; alerts stay pending"
        )
    if code == "ratelimited":
        return f"Slack kept rate-limiting posts to {channel}: the rest go out on the next run"
    return f"Slack refused to post to {channel} ({code}); it is retried on the next run"


def find_channel(client: WebClient, session: Session, key: str) -> tuple[str, bool] | None:
    """The id and privacy of channel `#name`: from what gapbot learned, else from Slack."""
    known = lookup_channel(session, key)
    if known is not None and known.channel_id and known.is_private is not None:
        return known.channel_id, bool(known.is_private)
    name = key.lstrip("#")
    cursor = None
    while True:
        page = client.conversations_list(
            types="public_channel,private_channel",
            exclude_archived=True,
            limit=200,
            cursor=cursor,
        )
        for channel in page.get("channels") or []:
            if channel.get("name") == name:
                learn_channel(
                    session, key, channel["id"], is_private=bool(channel.get("is_private"))
                )
                return channel["id"], bool(channel.get("is_private"))
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None


@dataclass(frozen=True)
class Posted:
    """Where a message went: the channel's id and the message's ts."""

    channel_id: str
    ts: str


def post_message(
    client: WebClient,
    session: Session,
    key: str,
    *,
    text: str,
    blocks: list[dict],
    thread_ts: str | None = None,
) -> Posted:
    """Post to channel `key` ('#name' or a user id for a DM), recovering what can be.

    On `not_in_channel` a public channel is joined and the post retried once; a private one
    gives a SlackDeliveryError that says how to invite the bot. Rate limits are retried by
    the client; every other refusal is a SlackDeliveryError with one clear line.
    """
    known = lookup_channel(session, key)
    target = known.channel_id if known is not None and known.channel_id else key
    try:
        try:
            response = client.chat_postMessage(
                channel=target, text=text, blocks=blocks, thread_ts=thread_ts, unfurl_links=False
            )
        except SlackApiError as exc:
            if error_code(exc) != "not_in_channel" or not key.startswith("#"):
                raise
            found = find_channel(client, session, key)
            if found is None or found[1]:
                raise
            log.info("joining public channel %s to post there", key)
            client.conversations_join(channel=found[0])
            response = client.chat_postMessage(
                channel=found[0], text=text, blocks=blocks, thread_ts=thread_ts, unfurl_links=False
            )
    except SlackApiError as exc:
        code = error_code(exc)
        raise SlackDeliveryError(code, explain(code, key)) from None
    except SlackClientError as exc:
        raise SlackDeliveryError(
            "connection", f"cannot reach Slack to post to {key}: {exc}"
        ) from None
    channel_id = str(response.get("channel") or target)
    if known is None or known.channel_id != channel_id:
        learn_channel(session, key, channel_id)
    return Posted(channel_id=channel_id, ts=str(response["ts"]))


def update_message(
    client: WebClient, channel_id: str, ts: str, *, text: str, blocks: list[dict]
) -> None:
    """Replace a posted message; raise SlackDeliveryError with one line on refusal."""
    try:
        client.chat_update(channel=channel_id, ts=ts, text=text, blocks=blocks)
    except SlackApiError as exc:
        code = error_code(exc)
        raise SlackDeliveryError(code, explain(code, channel_id)) from None
    except SlackClientError as exc:
        raise SlackDeliveryError("connection", f"cannot reach Slack: {exc}") from None
