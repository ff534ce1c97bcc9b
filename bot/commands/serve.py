"""`gapbot serve`: the Slack app (Socket Mode, or HTTP behind waitress) and the scheduler.

Socket Mode (SLACK_APP_TOKEN set, no `--http`) needs no public URL. `--http` serves Bolt's
`POST /slack/events` (signatures checked with SLACK_SIGNING_SECRET), `GET /healthz` and
`GET /metrics` (Prometheus, `bot.metrics.mount_metrics`) with waitress, a production WSGI server: Bolt's own `App.start()` is a development server with
one thread and a listen backlog of 5, so a burst of commands would get connection resets.

Scheduler hook: when `bot.scheduler` exists, `serve` calls
`bot.scheduler.start(settings=..., store=..., client=...)` once before serving, and calls
`.shutdown()` on what it returns (if anything) when serving ends. Nothing else is assumed.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Annotated, Any

import typer

from bot.context import AppContext
from bot.heartbeat import start_heartbeat
from bot.output import info
from config.errors import ConfigError

log = logging.getLogger(__name__)

HTTP_THREADS = 8
"""waitress worker threads; the listeners' own pool does the slow work after each ack."""


def start_scheduler(settings: Any, store: Any, client: Any) -> Any:
    """Start `bot.scheduler` if this build has it; returns what its `start` returned."""
    try:
        module = importlib.import_module("bot.scheduler")
    except ModuleNotFoundError as exc:
        if exc.name != "bot.scheduler":
            raise
        log.info("no scheduler in this build: serving Slack only")
        return None
    start = getattr(module, "start", None)
    if start is None:
        return None
    return start(settings=settings, store=store, client=client)


def serve_logging() -> None:
    """A server logs at INFO unless told otherwise (-v, GAPBOT_LOG_LEVEL): job start/end lines.

    APScheduler's own per-run INFO lines repeat ours, so it stays at WARNING.
    """
    root = logging.getLogger()
    if not os.environ.get("GAPBOT_LOG_LEVEL") and root.level > logging.INFO:
        root.setLevel(logging.INFO)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)


def serve_command(
    ctx: typer.Context,
    http: Annotated[
        bool, typer.Option("--http", help="Serve HTTP (POST /slack/events) instead of Socket Mode.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="HTTP port (0 picks a free one).")] = 3000,
    host: Annotated[str, typer.Option("--host", help="HTTP address to listen on.")] = "0.0.0.0",  # noqa: S104 - Slack must reach it
) -> None:
    """The Slack app (Socket Mode by default) and the scheduler."""
    from bot.app import build_app, make_wsgi_app  # noqa: PLC0415 - Bolt is slow to import
    from bot.metrics import mount_metrics  # noqa: PLC0415
    from bot.slack_client import make_client  # noqa: PLC0415
    from detectors.index_cache import warm as warm_index  # noqa: PLC0415 - numpy, scipy

    context: AppContext = ctx.obj
    serve_logging()
    settings = context.settings
    app_token = settings.env.slack_app_token.get_secret_value()
    if not http and not app_token:
        msg = (
            "set SLACK_APP_TOKEN (xapp-...) for Socket Mode, or run 'gapbot serve --http' "
            "with SLACK_SIGNING_SECRET"
        )
        raise ConfigError(msg)
    store = context.store
    client = make_client(settings)
    app = build_app(settings, store, client=client, verify_requests=http)
    # Build the similarity index now, so the first `/gaps search` does not wait for it.
    warm_index(store, settings.config)
    scheduler = start_scheduler(settings, store, client)
    heartbeat = start_heartbeat()
    try:
        if http:
            from waitress.server import create_server  # noqa: PLC0415

            server: Any = create_server(
                mount_metrics(make_wsgi_app(app), store=store),
                host=host,
                port=port,
                threads=HTTP_THREADS,
                ident="gapbot",
            )
            info(
                f"gapbot: serving Slack on http://{host}:{server.effective_port}/slack/events "
                f"(health: /healthz, metrics: /metrics)"
            )
            server.run()
        else:
            from slack_bolt.adapter.socket_mode import SocketModeHandler  # noqa: PLC0415

            info("gapbot: connecting to Slack in Socket Mode")
            SocketModeHandler(app, app_token).start()
    finally:
        heartbeat.set()
        if scheduler is not None and hasattr(scheduler, "shutdown"):
            scheduler.shutdown()


def register(app: typer.Typer) -> None:
    """Add `serve`."""
    app.command("serve")(serve_command)
