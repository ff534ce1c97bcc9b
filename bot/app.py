"""The Bolt app: one `App`, its listeners, and the WSGI application HTTP mode serves.

`build_app` only builds; `bot/commands/serve.py` starts it in Socket Mode or behind a real
WSGI server (waitress). The Web API client is `bot.slack_client.make_client`'s: SLACK_API_URL
as base URL and a rate-limit retry handler, shared by every listener.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_sdk import WebClient

from bot.slack_client import make_client
from bot.slash import SlashCommands
from config.errors import ConfigError, SourceError
from config.settings import Settings
from store.db import Store
from store.models import utcnow

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

LISTENER_THREADS = 16
"""Threads that run listeners and their lazy parts (slow answers never block the acks)."""
LAZY_THREADS = 8
"""Threads that compute the slow answers after the acknowledgement."""
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


@dataclass
class BotDeps:
    """What every listener needs: the store, the settings, the command answers, the clock."""

    store: Store
    settings: Settings
    commands: SlashCommands
    now: Callable[[], datetime] = field(default=utcnow)


def build_app(
    settings: Settings,
    store: Store,
    *,
    client: WebClient | None = None,
    verify_requests: bool = True,
) -> App:
    """The Bolt app with every listener registered.

    Args:
        settings: Config and environment (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL).
        store: The store the answers come from.
        client: The Web API client; by default `make_client(settings)`.
        verify_requests: Check Slack's request signatures (HTTP mode must; Socket Mode
            connections are authenticated by the app token instead).

    Raises:
        ConfigError: No bot token, or no signing secret while requests are verified.
        SourceError: Slack rejected the bot token.
    """
    token = settings.env.slack_bot_token.get_secret_value()
    if not token:
        msg = "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-...) into it"
        raise ConfigError(msg)
    secret = settings.env.slack_signing_secret.get_secret_value()
    if verify_requests and not secret:
        msg = "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify Slack's requests"
        raise ConfigError(msg)
    web = client or make_client(settings)
    try:
        app = App(
            client=web,
            signing_secret=secret or None,
            request_verification_enabled=verify_requests,
            listener_executor=ThreadPoolExecutor(
                max_workers=LISTENER_THREADS, thread_name_prefix="gapbot-listener"
            ),
            logger=logging.getLogger("gapbot.slack"),
        )
    except BoltError as exc:
        msg = f"Slack rejected the bot token: {exc} (check SLACK_BOT_TOKEN and SLACK_API_URL)"
        raise SourceError(msg) from None
    # Slow answers (lazy listeners) get a pool of their own, so a burst of them never
    # queues the next request's acknowledgement behind them. Bolt shares one executor by
    # default and has no public option for this; the runner's `executor` is its only seam.
    lazy_runner = getattr(getattr(app, "_listener_runner", None), "lazy_listener_runner", None)
    if lazy_runner is not None and hasattr(lazy_runner, "executor"):
        lazy_runner.executor = ThreadPoolExecutor(
            max_workers=LAZY_THREADS, thread_name_prefix="gapbot-answer"
        )
    deps = BotDeps(store=store, settings=settings, commands=SlashCommands(store, settings))

    from bot.listeners import register_listeners  # noqa: PLC0415 - listeners import this module

    register_listeners(app, deps)

    @app.error
    def handle_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        """Every listener error, in one place: one logged line, and Slack gets a 500."""
        kind = body.get("type") or body.get("command") or "request"
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        log.error("Slack %s failed: %s: %s", kind, type(error).__name__, first)
        log.debug("listener failure", exc_info=error)
        return BoltResponse(status=500, body="")

    return app


def make_wsgi_app(app: App) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """The WSGI application: Bolt's `POST /slack/events` and `GET /healthz`."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            body = json.dumps({"ok": True}).encode()
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return slack(environ, start_response)

    return wsgi
