"""The container health check's liveness file."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bot.heartbeat import is_alive, start_heartbeat


def test_fresh_heartbeat_is_alive_and_a_stale_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "alive"
    assert not is_alive(path)
    stop = start_heartbeat(path, interval=0.05)
    try:
        deadline = time.time() + 5
        while not path.exists() and time.time() < deadline:
            time.sleep(0.01)
        assert is_alive(path)
    finally:
        stop.set()
    old = time.time() - 600
    os.utime(path, (old, old))
    assert not is_alive(path, stale_after=90)
