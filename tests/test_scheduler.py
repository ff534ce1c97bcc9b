"""The scheduler under a controlled clock: local times across DST, catch-up, failures, leaders."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from bot.scheduler import (
    GapScheduler,
    Jobs,
    SingleProcessLeader,
    build_default_jobs,
    make_leader,
    next_run_times,
)
from config.errors import SourceError
from config.settings import Environment, GapbotConfig, Settings
from store.db import Store
from store.models import JobRun

REPO_ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 10.0


def _config(**schedule: Any) -> GapbotConfig:
    return GapbotConfig.model_validate(
        {
            "timezone": "Europe/Berlin",
            "teams": [{"name": "payments", "slack_channel": "#payments", "jira_projects": ["PAY"]}],
            "schedule": {
                "sync": "0 */6 * * *",
                "digest": "0 9 * * MON-FRI",
                "weekly_report": "0 9 * * MON",
                "misfire_grace_minutes": 30,
                **schedule,
            },
        }
    )


class Recorder:
    """Jobs that note when they ran (the frozen clock's time), optionally failing."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.calls: dict[str, list[datetime]] = {}
        self.failing = failing or set()
        self.lock = threading.Lock()

    def job(self, name: str) -> Callable[[datetime], dict[str, int]]:
        def run(now: datetime) -> dict[str, int]:
            with self.lock:
                self.calls.setdefault(name, []).append(now)
            if name in self.failing:
                msg = f"{name} exploded"
                raise RuntimeError(msg)
            return {"things": 3}

        return run

    def jobs(self) -> Jobs:
        return Jobs(
            sync=self.job("sync"),
            detect=self.job("detect"),
            alert=self.job("alert"),
            digest=lambda channel, now: self.job(f"digest:{channel}")(now),
            weekly_report=self.job("weekly_report"),
            digest_channels=["#payments"],
        )

    def count(self, name: str) -> int:
        with self.lock:
            return len(self.calls.get(name, []))


def _wait_for(condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    pytest.fail("timed out waiting for the scheduler")


def _runs(store: Store, job: str) -> list[JobRun]:
    with store.session() as session:
        return list(
            session.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id))  # type: ignore[arg-type]
        )


def _finished(store: Store, job: str, count: int) -> Callable[[], bool]:
    return lambda: sum(1 for r in _runs(store, job) if r.ok is not None) >= count


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    opened = Store(sqlite_url)
    yield opened
    opened.dispose()


def test_jobs_fire_at_local_times_across_the_dst_change(sqlite_store: Store) -> None:
    recorder = Recorder()
    # Berlin moves from CET (UTC+1) to CEST (UTC+2) on Sunday 29 March 2026.
    with time_machine.travel(datetime(2026, 3, 26, 12, 0, tzinfo=UTC), tick=False) as clock:
        scheduler = GapScheduler(_config(), sqlite_store, recorder.jobs())
        scheduler.start()
        try:
            expected = [
                datetime(2026, 3, 27, 8, 0, tzinfo=UTC),  # Friday 09:00 CET
                datetime(2026, 3, 30, 7, 0, tzinfo=UTC),  # Monday 09:00 CEST
                datetime(2026, 3, 31, 7, 0, tzinfo=UTC),  # Tuesday 09:00 CEST
            ]
            for index, when in enumerate(expected, start=1):
                job = scheduler.scheduler.get_job("digest:#payments")
                assert job.next_run_time == when
                clock.move_to(when)
                scheduler.wakeup()
                _wait_for(_finished(sqlite_store, "digest:#payments", index))
            weekly = scheduler.scheduler.get_job("weekly_report")
            assert weekly.next_run_time == datetime(2026, 4, 6, 7, 0, tzinfo=UTC)
        finally:
            scheduler.shutdown()
    assert recorder.calls["digest:#payments"] == expected
    # The weekly report fired once, on Monday at 09:00 local (07:00 UTC after the change).
    assert recorder.calls["weekly_report"] == [datetime(2026, 3, 30, 7, 0, tzinfo=UTC)]
    runs = _runs(sqlite_store, "digest:#payments")
    assert [r.started_at for r in runs] == expected
    assert all(r.ok and r.counts == {"things": 3} and r.trigger == "schedule" for r in runs)


def test_next_run_times_follow_the_config(sqlite_store: Store) -> None:
    due = next_run_times(_config(), datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert due["digest:#payments"] == datetime(2026, 3, 30, 9, 0, tzinfo=_config().zone)
    assert due["sync"] == datetime(2026, 3, 28, 18, 0, tzinfo=_config().zone)


def _seed_run(store: Store, job: str, started: datetime) -> None:
    with store.session() as session:
        session.add(
            JobRun(job=job, started_at=started, finished_at=started, ok=True, duration_seconds=1)
        )


def test_a_run_missed_while_down_runs_once_on_return(sqlite_store: Store) -> None:
    recorder = Recorder()
    config = _config(sync="*/15 * * * *")
    # Last runs before going down: Monday's digest, and a sync two hours before coming back.
    _seed_run(sqlite_store, "digest:#payments", datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC))
    _seed_run(sqlite_store, "sync", datetime(2026, 11, 24, 6, 0, 2, tzinfo=UTC))
    _seed_run(sqlite_store, "weekly_report", datetime(2026, 11, 23, 8, 0, 9, tzinfo=UTC))
    back = datetime(2026, 11, 24, 8, 10, tzinfo=UTC)  # Tuesday 09:10 Berlin: 10 min late
    with time_machine.travel(back, tick=False):
        scheduler = GapScheduler(config, sqlite_store, recorder.jobs())
        assert set(scheduler.missed_runs()) == {"digest:#payments", "sync"}
        scheduler.start()
        try:
            _wait_for(_finished(sqlite_store, "digest:#payments", 2))
            _wait_for(_finished(sqlite_store, "alert", 1))
            time.sleep(0.3)  # room for a second, wrong, run to show up
            # Each once, not once per missed quarter hour; the next run is at its own time.
            assert recorder.count("digest:#payments") == 1
            assert recorder.count("sync") == 1
            assert recorder.count("detect") == 1
            assert recorder.count("weekly_report") == 0
            assert scheduler.scheduler.get_job("sync").next_run_time == datetime(
                2026, 11, 24, 8, 15, tzinfo=UTC
            )
            assert scheduler.missed_runs() == {}
        finally:
            scheduler.shutdown()
    latest = _runs(sqlite_store, "digest:#payments")[-1]
    assert latest.trigger == "catch_up"
    assert latest.started_at == back


def test_a_run_missed_beyond_the_grace_period_waits_for_its_next_time(
    sqlite_store: Store,
) -> None:
    recorder = Recorder()
    _seed_run(sqlite_store, "digest:#payments", datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), tick=False):  # 1 h late
        scheduler = GapScheduler(_config(), sqlite_store, recorder.jobs())
        assert scheduler.missed_runs() == {}
        scheduler.start()
        try:
            time.sleep(0.3)
            assert recorder.count("digest:#payments") == 0
        finally:
            scheduler.shutdown()


def test_a_failing_job_does_not_stop_the_others(sqlite_store: Store) -> None:
    recorder = Recorder(failing={"weekly_report", "sync"})
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 09:00 Berlin
    with time_machine.travel(monday - timedelta(minutes=5), tick=False) as clock:
        scheduler = GapScheduler(_config(sync="0 9 * * *"), sqlite_store, recorder.jobs())
        scheduler.start()
        try:
            clock.move_to(monday)
            scheduler.wakeup()
            for job in ("weekly_report", "digest:#payments", "alert"):
                _wait_for(_finished(sqlite_store, job, 1))
            # Retried at its next time, and the others keep their schedule.
            clock.move_to(monday + timedelta(days=7))
            scheduler.wakeup()
            _wait_for(_finished(sqlite_store, "weekly_report", 2))
            _wait_for(_finished(sqlite_store, "digest:#payments", 2))
        finally:
            scheduler.shutdown()
    failed = _runs(sqlite_store, "weekly_report")
    assert [r.ok for r in failed] == [False, False]
    assert failed[0].error == "RuntimeError: weekly_report exploded"
    assert [r.ok for r in _runs(sqlite_store, "sync")] == [False, False]
    # Detection and alerts still ran after the failed sync.
    assert _runs(sqlite_store, "detect")[0].ok is True
    assert _runs(sqlite_store, "alert")[0].ok is True
    assert all(r.ok for r in _runs(sqlite_store, "digest:#payments"))


def test_a_standby_runs_nothing(sqlite_store: Store) -> None:
    class NeverLeader(SingleProcessLeader):
        def acquire(self) -> bool:
            return False

    recorder = Recorder()
    with time_machine.travel(datetime(2026, 11, 30, 7, 59, tzinfo=UTC), tick=False) as clock:
        scheduler = GapScheduler(_config(), sqlite_store, recorder.jobs(), leader=NeverLeader())
        scheduler.start()
        try:
            clock.move_to(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
            scheduler.wakeup()
            time.sleep(0.4)
        finally:
            scheduler.shutdown()
    assert recorder.calls == {}
    assert _runs(sqlite_store, "digest:#payments") == []


def test_sqlite_lock_file_lets_one_scheduler_lead(sqlite_store: Store) -> None:
    first, second = make_leader(sqlite_store), make_leader(sqlite_store)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_default_jobs_are_the_real_functions(sqlite_store: Store) -> None:
    settings = Settings(_config(), Environment())
    jobs = build_default_jobs(settings, sqlite_store, client=None)  # type: ignore[arg-type]
    assert jobs.digest_channels == ["#payments"]
    assert jobs.digest_channels_source is not None
    # Teams name Jira projects but no JIRA_URL is set: the real sync_all fails the job, naming
    # what to set (the scheduler logs it and tries again next time).
    with pytest.raises(SourceError, match=r"jira\.url \(or JIRA_URL\) is not set"):
        jobs.sync(datetime.now(UTC))


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_on_postgresql_never_both_run_a_job(pg_url: str, tmp_path: Path) -> None:
    store = Store(pg_url)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DATABASE_URL": pg_url}
    worker = [sys.executable, str(REPO_ROOT / "tests" / "scheduler_worker.py")]

    def runs() -> list[JobRun]:
        with store.session() as session:
            return list(session.scalars(select(JobRun).order_by(JobRun.id)))  # type: ignore[arg-type]

    first = subprocess.Popen(worker, env=env, stderr=subprocess.DEVNULL)
    second: subprocess.Popen[bytes] | None = None
    try:
        _wait_for(lambda: any(r.ok for r in runs()), timeout=30)
        second = subprocess.Popen(worker, env=env, stderr=subprocess.DEVNULL)
        time.sleep(3)  # the standby is up and checking the lease all along
        runners_before = {r.runner.split(":")[-1] for r in runs()}
        assert runners_before == {str(first.pid)}
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = datetime.now(UTC)
        _wait_for(
            lambda: any(r.runner.endswith(f":{second.pid}") and r.ok for r in runs()), timeout=30
        )
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    rows = runs()
    store.dispose()
    by_first = [r for r in rows if r.runner.endswith(f":{first.pid}")]
    by_second = [r for r in rows if r.runner.endswith(f":{second.pid}")]
    assert by_first
    assert by_second
    assert len(by_first) + len(by_second) == len(rows)
    # The standby started nothing while the leader lived, and no two runs overlap.
    assert min(r.started_at for r in by_second) >= max(r.started_at for r in by_first)
    assert min(r.started_at for r in by_second) <= killed_at + timedelta(seconds=30)
    intervals = sorted((r.started_at, r.finished_at or killed_at) for r in rows)
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert start >= end


def test_old_runs_are_pruned_but_each_jobs_latest_stays(sqlite_store: Store) -> None:
    from bot.scheduler import prune_runs

    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    _seed_run(sqlite_store, "sync", now - timedelta(days=200))
    _seed_run(sqlite_store, "sync", now - timedelta(days=100))
    _seed_run(sqlite_store, "sync", now - timedelta(days=1))
    _seed_run(sqlite_store, "weekly_report", now - timedelta(days=120))
    assert prune_runs(sqlite_store, keep_days=90, now=now) == 2
    assert [r.started_at for r in _runs(sqlite_store, "sync")] == [now - timedelta(days=1)]
    assert len(_runs(sqlite_store, "weekly_report")) == 1


@pytest.mark.postgres
def test_postgresql_job_lock_keeps_a_job_to_one_process(pg_url: str) -> None:
    store = Store(pg_url)
    first, second = make_leader(store), make_leader(store)
    try:
        assert first.acquire()
        assert not second.acquire()
        with first.job_lock("sync") as got_first:
            assert got_first
            with second.job_lock("sync") as got_second:
                assert not got_second
            with second.job_lock("weekly_report") as other_job:
                assert other_job
        with second.job_lock("sync") as after:
            assert after
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()
        store.dispose()


def test_start_runs_a_real_sync_detect_alert_cycle_and_subscribed_digests(
    sqlite_store: Store,
) -> None:
    """`start` with build_default_jobs and no stand-ins: the real sync from the fake Jira,
    the real detectors, alerts to the fake Slack, and digests and reports to a channel that
    subscribed with `/gaps subscribe` while the scheduler ran."""
    from bot.scheduler import start
    from bot.slack_client import make_client
    from bot.subscriptions import subscribe
    from sandbox.jira_server import JiraModel, JiraServer
    from sandbox.slack_server import FakeSlack

    model = JiraModel(deployment="Cloud")
    model.add_issue(
        "PAY", "Okta SSO login fails for EU users", status="In Progress", category="indeterminate"
    )
    model.add_issue(
        "CORE",
        "Okta SSO login fails for users in the EU",
        status="In Progress",
        category="indeterminate",
    )
    fillers = [
        "Quarterly tax export as CSV",
        "Android push notification sound",
        "Kafka consumer lag dashboard",
        "Refund webhook retries",
        "Invoice PDF footer",
        "Postgres index on orders",
        "Mobile dark mode colours",
        "Audit log retention",
    ]
    for n, title in enumerate(fillers):
        model.add_issue("PAY" if n % 2 else "CORE", title)
    config = GapbotConfig.model_validate(
        {
            "teams": [
                {"name": "payments", "slack_channel": "#payments", "jira_projects": ["PAY"]},
                {"name": "platform", "slack_channel": "#platform", "jira_projects": ["CORE"]},
            ],
            "slack": {
                "working_hours": "00:00-24:00",
                "working_days": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"],
            },
            # Times that never come during the test: only run_now runs the jobs here.
            "schedule": {"sync": "0 3 1 1 *", "digest": "0 3 1 1 *", "weekly_report": "0 3 1 1 *"},
        }
    )  # fmt: skip
    with JiraServer(model) as jira, FakeSlack() as slack:
        for name in ("payments", "platform", "leads"):
            slack.add_channel(name)
        env = Environment(
            jira_url=jira.url,
            jira_email="bot@example.com",
            jira_api_token="jira-token",
            slack_bot_token=slack.bot_token,
            slack_api_url=slack.api_url,
        )
        settings = Settings(config, env)
        running = start(settings, sqlite_store, make_client(settings), leader=SingleProcessLeader())
        try:
            outcomes = running.run_now("sync")
            assert [(o.job, o.ok, o.error) for o in outcomes] == [
                ("sync", True, ""),
                ("detect", True, ""),
                ("alert", True, ""),
            ]
            assert outcomes[0].counts["items"] == 10
            assert outcomes[2].counts["gaps_posted"] >= 1
            for channel in ("payments", "platform"):
                (alert,) = slack.messages(channel)
                assert "Okta SSO login fails" in json.dumps(alert["blocks"])
            # The next cycle finds the same gap and posts nothing twice.
            again = running.run_now("sync")
            assert all(o.ok for o in again)
            assert again[2].counts["gaps_posted"] == 0
            assert len(slack.messages("payments")) == 1

            # A channel subscribed while the scheduler runs gets its digest job, and reports.
            with sqlite_store.session() as session:
                # One mode per channel and team: platform's digest, payments' weekly report.
                subscribe(session, channel="#leads", channel_id="", team="platform", mode="daily")
                subscribe(session, channel="#leads", channel_id="", team="payments", mode="weekly")
            assert running.refresh_digest_jobs() == (["digest:#leads"], [])
            digest = running.run_now("digest:#leads")
            assert digest[0].ok, digest[0].error
            assert digest[0].counts["posted"] == 1
            weekly = running.run_now("weekly_report")
            assert weekly[0].ok, weekly[0].error
            assert weekly[0].counts["posted"] == 3
        finally:
            running.shutdown()
    daily, weekly = (m for m in slack.messages("leads") if "blocks" in m)
    assert daily["text"].startswith("Daily gaps:")
    assert "CORE-1 (platform) and PAY-1 (payments) may be the same work" in json.dumps(
        daily["blocks"]
    )
    assert weekly["text"].startswith("Weekly gap report · payments")
