"""GET /metrics over real HTTP: job runs, durations, store-backed last runs, pass-through."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.scheduler import GapScheduler, JobSpec
from config.settings import GapbotConfig
from store.db import Store
from store.models import SyncState


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def _bolt_stand_in(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"app saw {environ['PATH_INFO']}".encode()]


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[str, Store]]:
    store = Store(sqlite_url)
    server = make_server(
        "127.0.0.1", 0, metrics.mount_metrics(_bolt_stand_in, store=store), handler_class=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", store
    server.shutdown()
    server.server_close()
    metrics.unwatch_store(store)
    store.dispose()


def _scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:  # noqa: S310
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_report_jobs_syncs_and_posts(served: tuple[str, Store]) -> None:
    base, store = served
    config = GapbotConfig.model_validate({"teams": [{"name": "a", "jira_projects": ["A"]}]})
    from apscheduler.triggers.cron import CronTrigger

    def fails(now: datetime) -> None:
        msg = "Jira answered 503"
        raise RuntimeError(msg)

    specs = [
        JobSpec("metrics_ok", CronTrigger(hour=1), (("metrics_ok", lambda now: {"items": 5}),)),
        JobSpec("metrics_bad", CronTrigger(hour=1), (("metrics_bad", fails),)),
    ]
    scheduler = GapScheduler(config, store, specs=specs)
    before = _scrape(base)
    scheduler.run_now("metrics_ok")
    scheduler.run_now("metrics_bad")
    metrics.record_items_synced("jira", 7)
    metrics.record_api_error("github", 403)
    metrics.record_alerts_posted(2)
    with store.session() as session:
        session.add(
            SyncState(
                source="jira",
                scope="A",
                last_success=datetime(2026, 11, 29, 8, 0, tzinfo=UTC),
                last_error="",
            )
        )
    after = _scrape(base)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("gapbot_job_runs_total", job="metrics_ok", outcome="ok") == 1
    assert grew("gapbot_job_runs_total", job="metrics_bad", outcome="error") == 1
    assert grew("gapbot_job_duration_seconds_count", job="metrics_ok") == 1
    assert grew("gapbot_items_synced_total", source="jira") == 7
    assert grew("gapbot_api_errors_total", source="github", status="403") == 1
    assert grew("gapbot_messages_posted_total", kind="alert") == 2
    # Read from the store at scrape time, so any process answers with the leader's runs.
    assert after[("gapbot_job_last_run_ok", (("job", "metrics_bad"),))] == 0
    assert after[("gapbot_job_last_run_ok", (("job", "metrics_ok"),))] == 1
    assert (
        after[("gapbot_sync_last_success_timestamp_seconds", (("scope", "A"), ("source", "jira")))]
        == datetime(2026, 11, 29, 8, 0, tzinfo=UTC).timestamp()
    )


def test_other_paths_reach_the_mounted_app(served: tuple[str, Store]) -> None:
    base, _ = served
    with urllib.request.urlopen(f"{base}/slack/events", timeout=10) as response:  # noqa: S310
        assert response.read() == b"app saw /slack/events"
