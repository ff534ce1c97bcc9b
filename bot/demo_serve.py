"""`gapbot demo --serve`: the real Slack app and a web page over the sandbox's fake Slack.

After the demo's pipeline, the sandbox keeps running and two more servers start, both on
127.0.0.1: the real Slack app in HTTP mode (`bot.app.build_app` behind waitress, exactly as
`gapbot serve --http` runs it, checking signatures with the demo's signing secret and
calling the fake Slack's Web API), and `sandbox.slack_web.SlackWebPage`, which shows the fake
Slack's channels and turns clicks and slash commands into the signed requests Slack would
send to the app.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bot.background_server import background_waitress
from bot.demo import DEMO_SIGNING_SECRET, Sandbox
from config.errors import InputError
from sandbox.slack_web import DEFAULT_USER_ID, SlackWebPage

APP_THREADS = 4
"""waitress threads for the app: one person clicking needs few."""
DEMO_USER = "Sam Rivera"
"""The generated person the page acts as (the one with too much work, so `mine` shows gaps)."""


@dataclass
class Served:
    """The servers `--serve` runs beside the sandbox."""

    page: SlackWebPage
    app_url: str
    """The Slack app's base URL (`POST /slack/events`, `GET /healthz`)."""


@contextmanager
def serving(sandbox: Sandbox, *, port: int = 0) -> Iterator[Served]:
    """Run the Slack app and the web page until the block ends.

    Args:
        sandbox: The running sandbox (from `run_demo`'s `keep`).
        port: The web page's port on 127.0.0.1 (0: a free one).

    Raises:
        InputError: `port` is taken.
    """
    from bot.app import EVENTS_PATH, build_app, make_wsgi_app  # noqa: PLC0415 - Bolt is slow

    settings = sandbox.settings
    email = sandbox.org.people.get(DEMO_USER, "")
    user_name = DEMO_USER.lower().replace(" ", ".") if email else "you"
    sandbox.slack.add_user(DEFAULT_USER_ID, user_name, email or "you@acme.example", DEMO_USER)
    app = build_app(settings, sandbox.store, verify_requests=True)
    with background_waitress(
        make_wsgi_app(app), threads=APP_THREADS, name="gapbot-demo-app"
    ) as server:
        app_url = f"http://127.0.0.1:{server.effective_port}"
        page = SlackWebPage(
            sandbox.slack,
            app_url + EVENTS_PATH,
            DEMO_SIGNING_SECRET,
            command=settings.config.slack.command,
            port=port,
            user_name=user_name,
        )
        try:
            page.start()
        except OSError as exc:
            msg = f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc})"
            raise InputError(msg) from None
        try:
            yield Served(page=page, app_url=app_url)
        finally:
            page.stop()
