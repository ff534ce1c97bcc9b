"""A WSGI app served by waitress on a thread of this process, stopped cleanly.

`gapbot demo --serve` runs the Slack app beside the sandbox this way, and so do the tests.
waitress's own `close()` is not safe from another thread: its loop may be inside `select()` on
the sockets being closed, and dies with "Bad file descriptor". The sockets are closed on the
loop's own thread instead, through waitress's trigger (the pipe it wakes its loop with).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

JOIN_SECONDS = 5.0
"""How long stopping waits for the loop and the worker threads."""


@contextmanager
def background_waitress(
    app: Callable[..., Any], *, threads: int, ident: str = "gapbot", name: str = "gapbot-http"
) -> Iterator[Any]:
    """Serve `app` on a free port of 127.0.0.1 until the block ends; yields the server.

    The port is `server.effective_port`.
    """
    server: Any = create_server(app, host="127.0.0.1", port=0, threads=threads, ident=ident)
    loop = threading.Thread(target=server.run, name=name, daemon=True)
    loop.start()
    try:
        yield server
    finally:
        # Every socket of the server (listener, open connections, the trigger itself) closes
        # on the loop's thread; with its map empty, the loop returns. `_map` is the one
        # waitress loops over (a single-socket server has no public name for it).
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        loop.join(timeout=JOIN_SECONDS)
        server.task_dispatcher.shutdown(timeout=JOIN_SECONDS)
