"""A scheduler process for the leader-election test: one short job every half second.

Run with DATABASE_URL set; it leads or stands by through `make_leader(store)` (the real
PostgreSQL advisory lock) until it is killed. Each run of `tick` is a `job_run` row naming
this process, which is what the test reads.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime

from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduler import GapScheduler, JobSpec, make_leader
from config.settings import GapbotConfig
from store.db import Store

JOB_SECONDS = 0.2
INTERVAL_SECONDS = 0.5
LEADER_CHECK_SECONDS = 0.5


def tick(now: datetime) -> dict[str, int]:
    """Hold the job for a while, so an overlap with another process would show."""
    time.sleep(JOB_SECONDS)
    return {"ticks": 1}


def main() -> None:
    """Run the scheduler until SIGTERM or SIGKILL."""
    store = Store(os.environ["DATABASE_URL"])
    config = GapbotConfig.model_validate({"teams": [{"name": "a", "jira_projects": ["A"]}]})
    spec = JobSpec("tick", IntervalTrigger(seconds=INTERVAL_SECONDS), (("tick", tick),))
    scheduler = GapScheduler(
        config,
        store,
        specs=[spec],
        leader=make_leader(store),
        leader_check_seconds=LEADER_CHECK_SECONDS,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler.start()
    stop.wait()
    scheduler.shutdown()


if __name__ == "__main__":
    main()
