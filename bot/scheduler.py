"""The scheduler: sync, detect-and-alert, daily digests and the weekly report, on cron times.

APScheduler 3.x (`BackgroundScheduler`) runs the jobs at the config's cron expressions in the
config's time zone, so "09:00" stays 09:00 local across daylight-saving changes. Every job is
added with `max_instances=1` (a slow sync never overlaps itself), `coalesce=True` (a backlog
of missed times runs once) and `misfire_grace_time` from `schedule.misfire_grace_minutes`.

What runs is passed in (`Jobs`: plain callables), so the scheduler is tested with jobs of the
test's own and `gapbot serve` uses `build_default_jobs`, which wires the real sync, detection,
alerts, digests and report.

Jobs and their names (the `job` column of `job_run` and `gapbot status`):

- `sync` every `schedule.sync`; after each sync, `detect` then `alert` run in the same slot,
  each recorded as a run of its own (detection runs even when a sync failed: what was synced
  before the failure is committed and worth checking).
- `digest:<channel>` per channel with a team, at `schedule.digest`.
- `weekly_report` at `schedule.weekly_report`.

A failing job is logged with its error and recorded; the others keep running, and it is tried
again at its next time. Runs are recorded in the `job_run` table, because APScheduler's memory
job store forgets everything on restart: at start (and whenever a process becomes leader) the
last recorded run of each job is compared with its schedule, and a run missed while the
process was down runs once if it is still within the grace period.

Several `gapbot serve` processes may run for availability; only the leader runs jobs:

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) held on a dedicated
  connection. Every `leader_check_seconds` a standby tries to take it and the leader checks
  its connection; before each job run the leader checks again. When the leader dies, the
  server ends its session, the lock is released, and a standby takes over at its next check.
- SQLite: one process is the rule (SQLite is a single-host store). A lock file beside the
  database (`<db>.scheduler.lock`, `flock`) keeps a second process on the same host from
  running jobs too; it takes over if the first one exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import inspect
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete, func, select
from sqlmodel import col

from bot import metrics
from bot.logs import redact
from config.errors import ConfigError, GapbotError
from store.models import JobRun

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from config.settings import GapbotConfig, Settings
    from store.db import Store

log = logging.getLogger(__name__)

SYNC_JOB = "sync"
DETECT_JOB = "detect"
ALERT_JOB = "alert"
DIGEST_JOB_PREFIX = "digest:"
WEEKLY_REPORT_JOB = "weekly_report"
LEADER_JOB = "_leader"
PRUNE_JOB = "_prune"
DIGESTS_JOB = "_digests"
DIGEST_REFRESH_SECONDS = 120.0
"""How often channels subscribed to daily digests since the start get their job."""
KEEP_RUNS_DAYS = 90
"""Job runs older than this are deleted daily (sync alone records ~290 runs a day)."""
DEFAULT_LEADER_CHECK_SECONDS = 15.0
"""How often a standby tries to become leader and the leader checks its lease."""
MAX_ERROR_CHARS = 2000
WORKER_THREADS = 4
"""Sync, a digest, the report and the leader check may all be due at once."""

Counts = Mapping[str, int]
JobFunc = Callable[[datetime], Counts | None]
"""A job: called with the run's time (aware UTC), returns counts to log and record."""
DigestFunc = Callable[[str, datetime], Counts | None]
"""A digest job: called with the channel and the run's time."""


@dataclass
class Jobs:
    """What the scheduler runs: plain callables, so tests pass their own."""

    sync: JobFunc
    detect: JobFunc
    alert: JobFunc
    digest: DigestFunc
    weekly_report: JobFunc
    digest_channels: Sequence[str] = ()
    """Channels that get a daily digest (each is a job of its own)."""
    digest_channels_source: Callable[[], Sequence[str]] | None = None
    """Reads the digest channels again (`/gaps subscribe TEAM daily` adds some while the
    scheduler runs); `GapScheduler.refresh_digest_jobs` calls it every few minutes."""


@dataclass(frozen=True)
class JobSpec:
    """One scheduled APScheduler job: its name, trigger and the steps it runs in order."""

    name: str
    trigger: BaseTrigger
    steps: tuple[tuple[str, JobFunc], ...]
    """(recorded job name, callable) pairs; the first is the job itself, the rest follow it."""


def cron_trigger(expression: str, zone: Any) -> CronTrigger:
    """A CronTrigger from a five-field cron expression in `zone`, or ConfigError naming it."""
    try:
        return CronTrigger.from_crontab(expression, timezone=zone)
    except ValueError as exc:
        msg = f"schedule: '{expression}' is not a valid cron expression: {exc}"
        raise ConfigError(msg) from None


def digest_channels(config: GapbotConfig) -> list[str]:
    """Every team channel, once each, in config order: where daily digests go."""
    return list(dict.fromkeys(t.slack_channel for t in config.teams if t.slack_channel))


def build_specs(config: GapbotConfig, jobs: Jobs) -> list[JobSpec]:
    """The scheduled jobs for `config`'s schedules."""
    zone = config.zone
    schedule = config.schedule
    specs = [
        JobSpec(
            SYNC_JOB,
            cron_trigger(schedule.sync, zone),
            ((SYNC_JOB, jobs.sync), (DETECT_JOB, jobs.detect), (ALERT_JOB, jobs.alert)),
        ),
        JobSpec(
            WEEKLY_REPORT_JOB,
            cron_trigger(schedule.weekly_report, zone),
            ((WEEKLY_REPORT_JOB, jobs.weekly_report),),
        ),
    ]
    specs.extend(digest_spec(config, jobs, channel) for channel in jobs.digest_channels)
    return specs


def digest_spec(config: GapbotConfig, jobs: Jobs, channel: str) -> JobSpec:
    """The daily digest job of one channel."""
    name = f"{DIGEST_JOB_PREFIX}{channel}"
    return JobSpec(
        name,
        cron_trigger(config.schedule.digest, config.zone),
        ((name, _bind_channel(jobs.digest, channel)),),
    )


def _bind_channel(digest: DigestFunc, channel: str) -> JobFunc:
    def run(now: datetime) -> Counts | None:
        return digest(channel, now)

    return run


def next_run_times(
    config: GapbotConfig, now: datetime, channels: Sequence[str] | None = None
) -> dict[str, datetime | None]:
    """When each scheduled job is due next after `now`.

    Args:
        config: The schedules and time zone.
        now: The moment to look from.
        channels: The digest channels (default: the config's team channels; `gapbot status`
            passes those subscribed in the store too).
    """
    zone = config.zone
    when: dict[str, datetime | None] = {}
    schedule = config.schedule
    entries = [(SYNC_JOB, schedule.sync), (WEEKLY_REPORT_JOB, schedule.weekly_report)]
    digests = digest_channels(config) if channels is None else channels
    entries += [(f"{DIGEST_JOB_PREFIX}{c}", schedule.digest) for c in digests]
    for name, expression in entries:
        when[name] = cron_trigger(expression, zone).get_next_fire_time(None, now.astimezone(zone))
    return when


# --- leadership ----------------------------------------------------------------------------


class Leader(Protocol):
    """A lease that at most one scheduler process holds at a time."""

    description: str

    def acquire(self) -> bool:
        """Try to take the lease without waiting; True if this process holds it now."""

    def holds(self) -> bool:
        """Whether this process still holds the lease (checked against its source)."""

    def release(self) -> None:
        """Give the lease up (also done by the process ending)."""

    def job_lock(self, name: str) -> contextlib.AbstractContextManager[bool]:
        """Hold job `name` against every other process while it runs; yields False if taken."""


class SingleProcessLeader:
    """Always the leader: for one process (tests, `:memory:` stores)."""

    description = "single process"

    def acquire(self) -> bool:
        """Always succeeds."""
        return True

    def holds(self) -> bool:
        """Always held."""
        return True

    def release(self) -> None:
        """Nothing to release."""

    def job_lock(self, name: str) -> contextlib.AbstractContextManager[bool]:
        """One process: APScheduler's max_instances already keeps a job from overlapping."""
        return contextlib.nullcontext(True)


class FileLockLeader:
    """An exclusive `flock` on a file: one scheduler per SQLite database on this host."""

    def __init__(self, path: Path) -> None:
        """Lease the lock file at `path` (created if missing)."""
        self.path = path
        self.description = f"lock file {path}"
        self._fd: int | None = None
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        """Take the file lock if free."""
        with self._lock:
            if self._fd is not None:
                return True
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._fd = fd
            return True

    def holds(self) -> bool:
        """Held from acquire until release or exit (the kernel drops it with the process)."""
        return self._fd is not None

    def release(self) -> None:
        """Unlock and close the file."""
        with self._lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None

    def job_lock(self, name: str) -> contextlib.AbstractContextManager[bool]:
        """One process per host holds the file lock; max_instances covers the rest."""
        return contextlib.nullcontext(True)


class PostgresLeader:
    """A PostgreSQL session-level advisory lock held on a dedicated connection.

    The lock key is derived by the server from the database and schema names, so two gapbot
    deployments sharing one database in different schemas do not block each other. A session
    lock lives as long as the connection: when the leader process dies (even by SIGKILL) the
    server ends the session and another process's next `acquire` succeeds.
    """

    KEY_QUERY = (
        "SELECT hashtextextended(current_database() || '.' || current_schema() "
        "|| '.gapbot-scheduler', 0)"
    )

    def __init__(self, conninfo: str, *, connect_timeout: int = 10) -> None:
        """Lease through a connection to `conninfo` (a libpq URL, password included)."""
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        self.description = "PostgreSQL advisory lock"
        self._conn: Any = None
        self._key: int | None = None
        self._held = False
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        import psycopg  # noqa: PLC0415 - only PostgreSQL deployments need the driver here

        # Keepalives make a dead network visible within about a minute instead of hours.
        return psycopg.connect(
            self.conninfo,
            autocommit=True,
            connect_timeout=self.connect_timeout,
            keepalives=1,
            keepalives_idle=15,
            keepalives_interval=5,
            keepalives_count=3,
            application_name="gapbot-scheduler",
        )

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None
        self._held = False

    def acquire(self) -> bool:
        """Try `pg_try_advisory_lock` on the dedicated connection (reconnecting if needed)."""
        with self._lock:
            if self._held and self._alive():
                return True
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                    self._held = False
                if self._key is None:
                    self._key = int(self._conn.execute(self.KEY_QUERY).fetchone()[0])
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
                self._held = bool(row.fetchone()[0])
            except Exception as exc:
                log.warning("scheduler lease: cannot reach PostgreSQL: %s", _one_line(exc))
                self._drop_connection()
            return self._held

    def _alive(self) -> bool:
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid()"
            ).fetchone()
            return bool(row and row[0] > 0)
        except Exception as exc:
            log.warning("scheduler lease: lost the connection: %s", _one_line(exc))
            self._drop_connection()
            return False

    def holds(self) -> bool:
        """Whether the lock is still ours: the connection answers and the lock is granted."""
        with self._lock:
            if not self._held or self._conn is None:
                return False
            self._held = self._alive()
            return self._held

    @contextlib.contextmanager
    def job_lock(self, name: str) -> Iterator[bool]:
        """A second advisory lock, per job, on a connection of the run's own.

        The lease says who should run jobs; this says who is running this one. If a leader
        loses its lease connection in the middle of a long job, the new leader's run of the
        same job finds it taken and skips, so two processes never run one job at once.
        """
        try:
            conn = self._connect()
        except Exception as exc:
            log.warning("job %s: cannot reach PostgreSQL for its lock: %s", name, _one_line(exc))
            yield False
            return
        try:
            key = conn.execute(
                "SELECT hashtextextended(current_database() || '.' || current_schema() "
                "|| '.gapbot-job.' || %s, 0)",
                (name,),
            ).fetchone()[0]
            got = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])
            yield got
        finally:
            with contextlib.suppress(Exception):
                conn.close()  # ending the session releases the job's lock

    def release(self) -> None:
        """Unlock and close the connection."""
        with self._lock:
            if self._conn is not None and self._held and self._key is not None:
                with contextlib.suppress(Exception):
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
            self._drop_connection()


def make_leader(store: Store) -> Leader:
    """The lease that fits the store: an advisory lock on PostgreSQL, a lock file on SQLite."""
    url = store.engine.url
    if store.dialect == "postgresql":
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresLeader(conninfo)
    database = url.database
    if database and database != ":memory:":
        return FileLockLeader(
            Path(database).expanduser().with_name(Path(database).name + ".scheduler.lock")
        )
    return SingleProcessLeader()


# --- the scheduler -------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _as_counts(result: Any) -> dict[str, int]:
    """Counts from whatever a job returned: a mapping, a number, or an object of numbers."""
    if result is None:
        return {}
    if isinstance(result, Mapping):
        return {str(k): int(v) for k, v in result.items() if isinstance(v, int | float)}
    if isinstance(result, int):
        return {"count": result}
    values = getattr(result, "__dict__", {})
    return {k: int(v) for k, v in values.items() if isinstance(v, int) and not k.startswith("_")}


@dataclass
class RunOutcome:
    """What one recorded step did."""

    job: str
    ok: bool
    duration: float
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""


class GapScheduler:
    """APScheduler with gapbot's jobs, run records, catch-up and leadership."""

    def __init__(
        self,
        config: GapbotConfig,
        store: Store,
        jobs: Jobs | None = None,
        *,
        leader: Leader | None = None,
        leader_check_seconds: float = DEFAULT_LEADER_CHECK_SECONDS,
        specs: Sequence[JobSpec] | None = None,
    ) -> None:
        """Prepare (but do not start) the scheduler.

        Args:
            config: The validated config (schedules, time zone, grace period).
            store: Where runs are recorded.
            jobs: What to run; required unless `specs` is given.
            leader: The lease deciding whether this process runs jobs (default: always).
            leader_check_seconds: How often to try for, or check, the lease.
            specs: Explicit job specs instead of those built from `config` and `jobs`.
        """
        if specs is None:
            if jobs is None:
                msg = "GapScheduler needs jobs or specs"
                raise ValueError(msg)
            specs = build_specs(config, jobs)
        self.config = config
        self.store = store
        self.jobs = jobs
        self.zone = config.zone
        self.specs = {spec.name: spec for spec in specs}
        self.leader: Leader = leader or SingleProcessLeader()
        self.leader_check_seconds = leader_check_seconds
        self.runner = _runner_name()
        grace_seconds = config.schedule.misfire_grace_minutes * 60
        # APScheduler wants a positive grace or None ("no matter how late"); 0 means on time.
        self.grace = timedelta(seconds=grace_seconds)
        self.scheduler = BackgroundScheduler(
            timezone=self.zone,
            executors={"default": ThreadPoolExecutor(max_workers=WORKER_THREADS)},
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": max(grace_seconds, 1),
            },
        )
        self._is_leader = False
        self._catch_up_pending: set[str] = set()
        self._state_lock = threading.Lock()
        self._leadership_lock = threading.Lock()

    # -- lifecycle --

    def start(self) -> None:
        """Add the jobs, start the background thread and try for the lease at once."""
        for spec in self.specs.values():
            self.scheduler.add_job(
                self._run_spec,
                trigger=spec.trigger,
                args=(spec.name,),
                id=spec.name,
                name=spec.name,
                replace_existing=True,
            )
        self.scheduler.add_job(
            self.check_leadership,
            trigger=IntervalTrigger(seconds=self.leader_check_seconds, timezone=self.zone),
            id=LEADER_JOB,
            name=LEADER_JOB,
            replace_existing=True,
        )
        self.scheduler.add_job(
            self._prune,
            trigger=IntervalTrigger(hours=24, timezone=self.zone),
            id=PRUNE_JOB,
            name=PRUNE_JOB,
            replace_existing=True,
        )
        if self.jobs is not None and self.jobs.digest_channels_source is not None:
            self.scheduler.add_job(
                self.refresh_digest_jobs,
                trigger=IntervalTrigger(seconds=DIGEST_REFRESH_SECONDS, timezone=self.zone),
                id=DIGESTS_JOB,
                name=DIGESTS_JOB,
                replace_existing=True,
            )
        self.scheduler.start()
        log.info(
            "scheduler started (%s, time zone %s): %s",
            self.leader.description,
            self.config.timezone,
            ", ".join(self.specs),
        )
        self.check_leadership()

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the scheduler (waiting for running jobs) and release the lease."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        self.leader.release()
        with self._state_lock:
            self._is_leader = False
        metrics.set_leader(False)

    def wakeup(self) -> None:
        """Make the scheduler look at its jobs now (after the clock moved, in tests)."""
        self.scheduler.wakeup()

    @property
    def is_leader(self) -> bool:
        """Whether this process ran the last leadership check as leader."""
        with self._state_lock:
            return self._is_leader

    def next_run_times(self) -> dict[str, datetime | None]:
        """Each job's next run time as the running scheduler sees it."""
        return {
            job.id: job.next_run_time for job in self.scheduler.get_jobs() if job.id in self.specs
        }

    def refresh_digest_jobs(self) -> tuple[list[str], list[str]]:
        """Give newly subscribed channels their digest job and drop unsubscribed ones.

        Returns:
            The digest jobs added and removed.
        """
        jobs = self.jobs
        if jobs is None or jobs.digest_channels_source is None:
            return [], []
        try:
            channels = list(jobs.digest_channels_source())
        except Exception as exc:  # the store is down: keep the jobs there are
            log.error("scheduler: cannot read the digest channels: %s", _one_line(exc))
            return [], []
        wanted = {f"{DIGEST_JOB_PREFIX}{c}": c for c in channels}
        current = {name for name in self.specs if name.startswith(DIGEST_JOB_PREFIX)}
        added = [name for name in wanted if name not in current]
        removed = sorted(current - wanted.keys())
        for name in added:
            spec = digest_spec(self.config, jobs, wanted[name])
            self.specs[name] = spec
            if self.scheduler.running:
                self.scheduler.add_job(
                    self._run_spec, trigger=spec.trigger, args=(name,), id=name, name=name,
                    replace_existing=True,
                )  # fmt: skip
        for name in removed:
            del self.specs[name]
            if self.scheduler.running and self.scheduler.get_job(name) is not None:
                self.scheduler.remove_job(name)
        if added or removed:
            log.info(
                "scheduler: digest jobs added: %s; removed: %s",
                ", ".join(added) or "none",
                ", ".join(removed) or "none",
            )
        return added, removed

    def _prune(self) -> None:
        if not self.is_leader:
            return
        try:
            removed = prune_runs(self.store, keep_days=KEEP_RUNS_DAYS)
        except Exception as exc:
            log.error("scheduler: cannot prune old job runs: %s", _one_line(exc))
            return
        if removed:
            log.info("scheduler: removed %d job runs older than %d days", removed, KEEP_RUNS_DAYS)

    # -- leadership --

    def check_leadership(self) -> bool:
        """Try for the lease (standby) or confirm it (leader); catch up on becoming leader."""
        with self._leadership_lock:  # the start-up check and the periodic one never interleave
            return self._check_leadership()

    def _check_leadership(self) -> bool:
        was_leader = self.is_leader
        now_leader = self.leader.holds() if was_leader else self.leader.acquire()
        with self._state_lock:
            self._is_leader = now_leader
        metrics.set_leader(now_leader)
        if now_leader and not was_leader:
            log.info("scheduler: this process (%s) is now the leader", self.runner)
            self.catch_up()
        elif was_leader and not now_leader:
            log.warning("scheduler: lost the lease (%s); standing by", self.leader.description)
        return now_leader

    def _may_run(self) -> bool:
        if not self.is_leader:
            return False
        # Confirm right before running: a leader that lost its connection must not run.
        if not self.leader.holds():
            with self._state_lock:
                self._is_leader = False
            metrics.set_leader(False)
            log.warning("scheduler: lease lost before a job; standing by")
            return False
        return True

    # -- catch-up --

    def last_runs(self) -> dict[str, JobRun]:
        """The most recent recorded run of every job."""
        with self.store.session() as session:
            return latest_runs(session)

    def missed_runs(self, now: datetime | None = None) -> dict[str, datetime]:
        """Jobs whose latest scheduled time since their last run passed while nobody ran them.

        Only jobs that ran before count (a new deployment has missed nothing), and only the
        latest missed time matters (coalescing): it is returned if within the grace period.
        """
        moment = (now or datetime.now(UTC)).astimezone(self.zone)
        last = self.last_runs()
        missed: dict[str, datetime] = {}
        for name, spec in self.specs.items():
            run = last.get(name)
            if run is None:
                continue
            cursor = run.started_at.astimezone(self.zone) + timedelta(seconds=1)
            latest: datetime | None = None
            fire = spec.trigger.get_next_fire_time(None, cursor)
            # Walk forward to the latest time not after now: coalescing keeps only that one.
            for _ in range(100_000):
                if fire is None or fire > moment:
                    break
                latest = fire
                fire = spec.trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
            if latest is None:
                continue
            if moment - latest <= self.grace:
                missed[name] = latest
            else:
                log.info(
                    "scheduler: %s missed its run at %s, past the grace period; next at its time",
                    name,
                    latest.isoformat(),
                )
        return missed

    def catch_up(self, now: datetime | None = None) -> list[str]:
        """Run once, now, every job whose last scheduled time was missed within the grace."""
        missed = self.missed_runs(now)
        for name, when in missed.items():
            log.info("scheduler: %s missed its run at %s; running it now", name, when.isoformat())
            with self._state_lock:
                self._catch_up_pending.add(name)
            job = self.scheduler.get_job(name)
            if job is not None and self.scheduler.running:
                # Through APScheduler, so max_instances still keeps it from overlapping.
                job.modify(next_run_time=datetime.now(self.zone))
            else:
                self._run_spec(name)
        if missed and self.scheduler.running:
            self.wakeup()
        return sorted(missed)

    # -- running --

    def _run_spec(self, name: str) -> list[RunOutcome]:
        """Run one scheduled job's steps, each recorded; never raises."""
        with self._state_lock:
            trigger = "catch_up" if name in self._catch_up_pending else "schedule"
            self._catch_up_pending.discard(name)
        if not self._may_run():
            log.debug("scheduler: %s due, but this process is standing by", name)
            return []
        return self._run_locked(name, trigger)

    def _run_locked(self, name: str, trigger: str) -> list[RunOutcome]:
        spec = self.specs[name]
        with self.leader.job_lock(name) as got:
            if not got:
                log.warning("job %s: still running in another process; skipped this time", name)
                return []
            return [self.run_step(step, func, trigger=trigger) for step, func in spec.steps]

    def run_now(self, name: str) -> list[RunOutcome]:
        """Run a scheduled job at once, in this thread (recorded as `manual`)."""
        spec = self.specs.get(name)
        if spec is None:
            msg = f"no job named '{name}' (jobs: {', '.join(sorted(self.specs))})"
            raise GapbotError(msg)
        return self._run_locked(name, "manual")

    def run_step(self, name: str, func: JobFunc, *, trigger: str = "schedule") -> RunOutcome:
        """Run `func`, recording start, end, duration, counts and any error; never raises."""
        started = datetime.now(UTC)
        run_id = self._record_start(name, started, trigger)
        log.info("job %s started (%s)", name, trigger)
        clock = time.perf_counter()
        try:
            counts = _as_counts(func(started))
        except Exception as exc:
            duration = time.perf_counter() - clock
            error = redact(_one_line(exc))[:MAX_ERROR_CHARS]
            log.error("job %s failed after %.2fs: %s", name, duration, error, exc_info=True)
            outcome = RunOutcome(name, ok=False, duration=duration, error=error)
        else:
            duration = time.perf_counter() - clock
            summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no counts"
            log.info("job %s finished in %.2fs: %s", name, duration, summary)
            outcome = RunOutcome(name, ok=True, duration=duration, counts=counts)
        metrics.record_job(name, ok=outcome.ok, duration=duration)
        self._record_end(run_id, outcome)
        return outcome

    def _record_start(self, name: str, started: datetime, trigger: str) -> int | None:
        try:
            with self.store.session() as session:
                run = JobRun(job=name, started_at=started, runner=self.runner, trigger=trigger)
                session.add(run)
                session.flush()
                return run.id
        except Exception as exc:  # the job still runs when its record cannot be written
            log.error("job %s: cannot record its start: %s", name, _one_line(exc))
            return None

    def _record_end(self, run_id: int | None, outcome: RunOutcome) -> None:
        if run_id is None:
            return
        try:
            with self.store.session() as session:
                run = session.get(JobRun, run_id)
                if run is None:
                    return
                run.finished_at = datetime.now(UTC)
                run.duration_seconds = round(outcome.duration, 6)
                run.ok = outcome.ok
                run.error = outcome.error
                run.counts = dict(outcome.counts)
                session.add(run)
        except Exception as exc:
            log.error("job %s: cannot record its end: %s", outcome.job, _one_line(exc))


def latest_runs(session: Any) -> dict[str, JobRun]:
    """The most recent run of every job in `job_run`."""
    latest = (
        select(col(JobRun.job), func.max(col(JobRun.id)).label("id"))
        .group_by(col(JobRun.job))
        .subquery()
    )
    runs = session.scalars(select(JobRun).join(latest, col(JobRun.id) == latest.c.id))
    return {run.job: run for run in runs}


def prune_runs(
    store: Store, *, keep_days: int = KEEP_RUNS_DAYS, now: datetime | None = None
) -> int:
    """Delete job runs started more than `keep_days` ago, keeping each job's latest run."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    with store.session() as session:
        keep = {run.id for run in latest_runs(session).values()}
        query = delete(JobRun).where(col(JobRun.started_at) < cutoff)
        if keep:
            query = query.where(col(JobRun.id).not_in(keep))
        result = session.execute(query)
        return int(getattr(result, "rowcount", 0) or 0)


def last_failure(session: Any, job: str) -> JobRun | None:
    """The most recent failed run of `job`, if any."""
    query = (
        select(JobRun)
        .where(col(JobRun.job) == job, col(JobRun.ok).is_(False))
        .order_by(col(JobRun.id).desc())
        .limit(1)
    )
    return session.scalars(query).first()


# --- the real jobs -------------------------------------------------------------------------


def _call_with(func: Callable[..., Any], available: Mapping[str, Any]) -> Any:
    """Call `func` with the arguments it names among `available` (positional ones first).

    The sync, detection and alert functions are written alongside this module; naming what
    they take keeps the scheduler from breaking on a keyword's position.
    """
    parameters = inspect.signature(func).parameters
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, parameter in parameters.items():
        if name not in available:
            if parameter.default is inspect.Parameter.empty and parameter.kind not in (
                inspect.Parameter.VAR_POSITIONAL,
                inspect.Parameter.VAR_KEYWORD,
            ):
                msg = (
                    f"{func.__module__}.{func.__name__} needs '{name}', "
                    "which the scheduler cannot give"
                )
                raise GapbotError(msg)
            continue
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            args.append(available[name])
        else:
            kwargs[name] = available[name]
    return func(*args, **kwargs)


def _import_piece(module: str, attribute: str, what: str) -> Callable[..., Any]:
    import importlib  # noqa: PLC0415

    try:
        found: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        msg = (
            f"the scheduler needs {module}.{attribute} ({what}), which this installation "
            f"lacks: {_one_line(exc)}"
        )
        raise GapbotError(msg) from None
    return found


def build_default_jobs(settings: Settings, store: Store, client: WebClient) -> Jobs:
    """The real jobs: sync, detection, alerts, digests and the weekly report.

    The sync, detection and alert modules are imported here, not at the top, so the scheduler
    can be used (and tested) without them; a missing one is a GapbotError naming it.

    Args:
        settings: The config and environment.
        store: The store.
        client: The Slack Web API client that posts.

    Returns:
        The jobs for `GapScheduler`.

    Raises:
        GapbotError: When the sync, detection or alert function is missing.
    """
    from bot import reports  # noqa: PLC0415 - reports pull in matplotlib; load on demand

    sync_all = _import_piece("connectors.sync", "sync_all", "the Jira and GitHub sync")
    run_detection = _import_piece("detectors.runner", "run_detection", "the detectors")
    deliver_alerts = _import_piece("bot.alerts", "deliver_alerts", "alert delivery")
    config = settings.config

    def sync(now: datetime) -> Any:
        return _call_with(
            sync_all, {"store": store, "settings": settings, "config": config, "now": now}
        )

    def detect(now: datetime) -> Any:
        return _call_with(
            run_detection, {"store": store, "config": config, "settings": settings, "now": now}
        )

    def alert(now: datetime) -> Any:
        result = _call_with(
            deliver_alerts,
            {"store": store, "client": client, "config": config, "settings": settings, "now": now},
        )
        # The scheduler counts alerts posted (deliver_alerts does not count them itself).
        counts = _as_counts(result)
        metrics.record_alerts_posted(
            counts.get("gaps_posted", counts.get("posted", counts.get("count", 0)))
        )
        return counts

    def digest(channel: str, now: datetime) -> Counts:
        return reports.post_daily_digest(client, store, config, channel, now)

    def current_digest_channels() -> list[str]:
        from bot.subscriptions import digest_targets  # noqa: PLC0415 - the Slack app's tables

        with store.session() as session:
            return list(digest_targets(session, config, "daily"))

    def weekly(now: datetime) -> Counts:
        return reports.post_weekly_reports(client, store, config, now)

    return Jobs(
        sync=sync,
        detect=detect,
        alert=alert,
        digest=digest,
        weekly_report=weekly,
        digest_channels=current_digest_channels(),
        digest_channels_source=current_digest_channels,
    )


def start(
    settings: Settings,
    store: Store,
    client: WebClient,
    *,
    jobs: Jobs | None = None,
    leader: Leader | None = None,
    leader_check_seconds: float = DEFAULT_LEADER_CHECK_SECONDS,
) -> GapScheduler:
    """Start the scheduler in the background for `gapbot serve`; call `.shutdown()` on exit.

    Args:
        settings: The config and environment.
        store: The store (its dialect picks the lease: advisory lock or lock file).
        client: The Slack Web API client for alerts, digests and reports.
        jobs: What to run (default: `build_default_jobs`).
        leader: The lease (default: `make_leader(store)`).
        leader_check_seconds: How often to try for, or confirm, the lease.

    Returns:
        The running scheduler.
    """
    scheduler = GapScheduler(
        settings.config,
        store,
        jobs or build_default_jobs(settings, store, client),
        leader=leader or make_leader(store),
        leader_check_seconds=leader_check_seconds,
    )
    scheduler.start()
    return scheduler
