"""The background waitress server: it serves, and it is gone when its block ends."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

import requests

from bot.background_server import background_waitress


def _hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_serves_then_closes_its_port_and_thread() -> None:
    with background_waitress(_hello, threads=2, name="gapbot-test-http") as server:
        port = int(server.effective_port)
        # An open keep-alive connection must not hold the server up.
        session = requests.Session()
        assert session.get(f"http://127.0.0.1:{port}/", timeout=5).text == "hello"
    assert not any(t.name == "gapbot-test-http" and t.is_alive() for t in threading.enumerate())
    probe = socket.socket()
    try:
        probe.settimeout(2)
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more
    finally:
        probe.close()
        session.close()
