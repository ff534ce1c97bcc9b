"""Prometheus metrics: job runs and durations, items synced, API errors, messages posted.

Everything lives in one registry of gapbot's own (`REGISTRY`), so a test or a second app in
the same process never collides with prometheus-client's global default. The other parts of
gapbot report through the small `record_*` functions here rather than touching metric
objects, so the metric names stay in one place.

`GET /metrics` is a plain WSGI app (`metrics_app`), and `mount_metrics(app)` wraps any WSGI
app (Bolt's HTTP adapter, for example) so that `/metrics` is answered before it:

    from bot.metrics import mount_metrics
    wsgi_app = mount_metrics(bolt_wsgi_app, store=store)

With a store, each scrape also reads the last run of each job and each sync scope from the
database (`gapbot_job_last_run_timestamp_seconds`, `gapbot_sync_last_success_timestamp_seconds`),
so a standby process answers with the leader's figures too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    make_wsgi_app,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlmodel import col

from store.models import JobRun, SyncState

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from store.db import Store

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
JOB_DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
"""Seconds; a sync of a large organisation can take minutes."""

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

JOB_RUNS = Counter(
    "gapbot_job_runs",
    "Scheduled job runs, by job and outcome (ok, error).",
    ["job", "outcome"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "gapbot_job_duration_seconds",
    "How long each job run took.",
    ["job"],
    buckets=JOB_DURATION_BUCKETS,
    registry=REGISTRY,
)
ITEMS_SYNCED = Counter(
    "gapbot_items_synced",
    "Work items written by syncs, by source.",
    ["source"],
    registry=REGISTRY,
)
API_ERRORS = Counter(
    "gapbot_api_errors",
    "Errors answered by Jira, GitHub or Slack, by source and HTTP status (or error code).",
    ["source", "status"],
    registry=REGISTRY,
)
MESSAGES_POSTED = Counter(
    "gapbot_messages_posted",
    "Slack messages posted, by kind (alert, digest, weekly_report).",
    ["kind"],
    registry=REGISTRY,
)
IS_LEADER = Gauge(
    "gapbot_scheduler_leader",
    "1 when this process holds the scheduler lease and runs the jobs, else 0.",
    registry=REGISTRY,
)


def record_job(job: str, *, ok: bool, duration: float) -> None:
    """Count one finished job run and its duration."""
    JOB_RUNS.labels(job=job, outcome="ok" if ok else "error").inc()
    JOB_DURATION.labels(job=job).observe(max(duration, 0.0))


def record_items_synced(source: str, count: int) -> None:
    """Count items a sync wrote for `source` (jira, github)."""
    if count > 0:
        ITEMS_SYNCED.labels(source=source).inc(count)


def record_api_error(source: str, status: int | str) -> None:
    """Count one error answered by `source` (jira, github, slack) with `status`."""
    API_ERRORS.labels(source=source, status=str(status)).inc()


def record_posted(kind: str, count: int = 1) -> None:
    """Count Slack messages posted of `kind` (alert, digest, weekly_report)."""
    if count > 0:
        MESSAGES_POSTED.labels(kind=kind).inc(count)


def record_alerts_posted(count: int) -> None:
    """Count alert messages posted (the alerts helper calls this)."""
    record_posted("alert", count)


def set_leader(is_leader: bool) -> None:
    """Say whether this process is the scheduler's leader."""
    IS_LEADER.set(1 if is_leader else 0)


class StoreCollector(Collector):
    """Reads the last job runs and sync scopes from the store at each scrape."""

    def __init__(self, store: Store) -> None:
        """Collect from `store`."""
        self.store = store

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the families depend on the store's rows."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Gauges of the last run, last success and last outcome of each job and sync scope."""
        last_run = GaugeMetricFamily(
            "gapbot_job_last_run_timestamp_seconds",
            "When each job last started (Unix time), from the store.",
            labels=["job"],
        )
        last_ok = GaugeMetricFamily(
            "gapbot_job_last_run_ok",
            "1 if the job's last finished run succeeded, else 0.",
            labels=["job"],
        )
        sync_success = GaugeMetricFamily(
            "gapbot_sync_last_success_timestamp_seconds",
            "When each sync scope last completed (Unix time), from the store.",
            labels=["source", "scope"],
        )
        sync_error = GaugeMetricFamily(
            "gapbot_sync_scope_failing",
            "1 if the sync scope's last run ended with an error, else 0.",
            labels=["source", "scope"],
        )
        try:
            with self.store.session() as session:
                latest = (
                    select(col(JobRun.job), func.max(col(JobRun.id)).label("id"))
                    .group_by(col(JobRun.job))
                    .subquery()
                )
                runs = session.scalars(select(JobRun).join(latest, col(JobRun.id) == latest.c.id))
                for run in runs:
                    last_run.add_metric([run.job], run.started_at.timestamp())
                    if run.ok is not None:
                        last_ok.add_metric([run.job], 1.0 if run.ok else 0.0)
                for state in session.scalars(select(SyncState)):
                    if state.last_success is not None:
                        sync_success.add_metric(
                            [state.source, state.scope], state.last_success.timestamp()
                        )
                    sync_error.add_metric(
                        [state.source, state.scope], 1.0 if state.last_error else 0.0
                    )
        except Exception:  # a scrape must answer even when the database is away
            log.warning("metrics: cannot read job runs from the store", exc_info=True)
            return
        yield from (last_run, last_ok, sync_success, sync_error)


_store_collectors: dict[int, StoreCollector] = {}


def watch_store(store: Store) -> None:
    """Add the store's job and sync figures to the registry (once per store)."""
    if id(store) in _store_collectors:
        return
    collector = StoreCollector(store)
    REGISTRY.register(collector)
    _store_collectors[id(store)] = collector


def unwatch_store(store: Store) -> None:
    """Stop reading `store` at scrapes."""
    collector = _store_collectors.pop(id(store), None)
    if collector is not None:
        REGISTRY.unregister(collector)


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

metrics_app: WSGIApp = make_wsgi_app(REGISTRY)
"""The WSGI app that answers a scrape with every gapbot metric."""


def mount_metrics(app: WSGIApp | None = None, *, store: Store | None = None) -> WSGIApp:
    """A WSGI app answering `GET /metrics` itself and passing every other request to `app`.

    Args:
        app: The WSGI app to serve everything else (e.g. Bolt's `/slack/events`); without
            one, other paths answer 404.
        store: When given, scrapes also report the store's last job runs and sync scopes.

    Returns:
        The combined WSGI app.
    """
    if store is not None:
        watch_store(store)

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") == METRICS_PATH:
            return metrics_app(environ, start_response)
        if app is not None:
            return app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found\n"]

    return dispatch
