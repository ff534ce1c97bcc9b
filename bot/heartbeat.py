"""A liveness file for container health checks, in Socket Mode and HTTP mode alike.

`gapbot serve` touches the file every `INTERVAL_SECONDS` from a daemon thread; `python -m
bot.heartbeat` (the Dockerfile's HEALTHCHECK) exits 0 while the file is fresh. A hung or dead
process stops touching it, so the check fails without needing an HTTP port, which Socket
Mode does not have.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

INTERVAL_SECONDS = 20.0
STALE_SECONDS = 90.0
ENV_VAR = "GAPBOT_HEARTBEAT_FILE"


def heartbeat_path() -> Path:
    """The liveness file: $GAPBOT_HEARTBEAT_FILE, else gapbot.alive in the temp folder."""
    return Path(os.environ.get(ENV_VAR) or Path(tempfile.gettempdir()) / "gapbot.alive")


def start_heartbeat(
    path: Path | None = None, interval: float = INTERVAL_SECONDS
) -> threading.Event:
    """Touch `path` now and every `interval` seconds until the returned event is set."""
    target = path or heartbeat_path()
    stop = threading.Event()

    def beat() -> None:
        while True:
            # A read-only temp folder must not take the app down.
            with contextlib.suppress(OSError):
                target.touch()
            if stop.wait(interval):
                return

    threading.Thread(target=beat, name="gapbot-heartbeat", daemon=True).start()
    return stop


def is_alive(path: Path | None = None, stale_after: float = STALE_SECONDS) -> bool:
    """Whether the liveness file was touched within `stale_after` seconds."""
    try:
        age = time.time() - (path or heartbeat_path()).stat().st_mtime
    except OSError:
        return False
    return age <= stale_after


if __name__ == "__main__":
    sys.exit(0 if is_alive() else 1)
