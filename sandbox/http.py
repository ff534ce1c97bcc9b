"""A small fake-HTTP-server harness: routes, a request log and fault injection.

The fake Jira and GitHub servers (and later Slack) are subclasses of `FakeServer`. Each runs a
stdlib `ThreadingHTTPServer` in a daemon thread on 127.0.0.1, port 0 (the OS picks a free
port), so tests never collide and never touch the network. Usage::

    server = FakeServer()
    server.route("GET", r"/hi/(?P<name>\\w+)", lambda r: json_response({"hi": r.params["name"]}))
    with server:                      # starts, and stops on exit
        server.add_fault(Fault(status=429, headers={"Retry-After": "1"}, nth=2))
        requests.get(server.url + "/hi/bob")
        assert server.requests[0].path == "/hi/bob"

Faults fire on the Nth request that matches their method and path pattern, for `times`
requests in a row (0 = every matching request from then on): an HTTP error with any status,
headers and body (429 + Retry-After, 5xx, 401...), a malformed body with status 200, or a hang
(the server holds the request open, so the client's timeout is what ends it).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

MALFORMED_BODY = b'{"issues": [{"id": "1", "key": '
"""What a `malformed` fault answers: JSON cut off mid-way, as a dropped proxy connection gives."""


@dataclass
class Request:
    """One request the server received, as handlers and tests see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    """Named groups of the route pattern that matched."""

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter `name`, or `default`."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        """A request header, case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass
class Response:
    """What a handler answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with the right content type."""
    all_headers = {"Content-Type": "application/json;charset=UTF-8"}
    all_headers.update(headers or {})
    return Response(status, json.dumps(data).encode(), all_headers)


@dataclass
class Fault:
    """A failure to inject: fires on the `nth` matching request, `times` times in a row.

    Exactly one of `status`, `malformed` or `hang` should be set.
    """

    status: int | None = None
    """Answer with this HTTP status (and `body`, `headers`)."""
    body: Any = None
    """The error body: bytes are sent as-is, anything else as JSON."""
    headers: dict[str, str] = field(default_factory=dict)
    malformed: bool = False
    """Answer 200 with a truncated JSON body."""
    hang: float | None = None
    """Hold the request this many seconds (or until the server stops) before answering."""
    path: str | None = None
    """A regular expression searched in the request path (None: any path)."""
    method: str | None = None
    nth: int = 1
    """Fire on the nth matching request (1 = the next one)."""
    times: int = 1
    """How many matching requests in a row fail; 0 means all of them from the nth on."""
    seen: int = 0
    fired: int = 0

    def matches(self, request: Request) -> bool:
        """Count `request` if it matches, and say whether the fault fires for it."""
        if self.method and request.method != self.method.upper():
            return False
        if self.path and not re.search(self.path, request.path):
            return False
        self.seen += 1
        if self.seen < self.nth:
            return False
        if self.times and self.fired >= self.times:
            return False
        self.fired += 1
        return True


Handler = Callable[[Request], Response]

log = logging.getLogger(__name__)


class QuietHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server that never prints tracebacks to the terminal.

    socketserver prints every handler exception to stderr; a client that hangs up early (a
    browser tab closed, a client timeout) is normal for a fake server and is not reported at
    all, anything else is logged as one line.
    """

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a handler failure in one line instead of printing its traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        log.warning("fake server: request from %s failed: %r", client_address, error)


class BackgroundHTTPServer:
    """Serves a handler class on 127.0.0.1 from a daemon thread; a context manager.

    The fakes (Jira, GitHub, Slack) and the demo's web page share this life cycle.
    """

    _server: QuietHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _serve(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        port: int = 0,
        backlog: int = 128,
        poll_interval: float = 0.05,
    ) -> None:
        """Listen on 127.0.0.1:`port` (0: a free one) and serve `handler` in a thread."""
        server = QuietHTTPServer(("127.0.0.1", port), handler, bind_and_activate=False)
        # The listen backlog is read when the socket is activated, so it is set before.
        server.request_queue_size = backlog
        try:
            server.server_bind()
            server.server_activate()
        except OSError:
            server.server_close()
            raise
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port being served (RuntimeError when not started)."""
        if self._server is None:
            msg = f"the {type(self).__name__} is not started"
            raise RuntimeError(msg)
        return int(self._server.server_address[1])

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def start(self) -> Self:
        """Start serving; subclasses say what."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop the server."""
        self.stop()


class FakeServer(BackgroundHTTPServer):
    """A threaded HTTP server on 127.0.0.1 with routes, faults and a log of requests."""

    def __init__(self) -> None:
        """Create the server (not yet listening; use `start()` or `with`)."""
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[Request] = []
        """Every request received, in order (faulted ones too)."""
        self.latency = 0.0
        """Seconds every answer is held back, to stand in for a real API's response time."""

    # -- configuration ------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer `method` requests whose whole path matches `pattern` with `handler`."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def add_fault(self, fault: Fault) -> Fault:
        """Inject `fault`; returns it so a test can read `fired` later."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    def requests_to(self, pattern: str) -> list[Request]:
        """The received requests whose path matches the regular expression `pattern`."""
        with self._lock:
            return [r for r in self.requests if re.search(pattern, r.path)]

    def decorate(self, request: Request, response: Response) -> Response:
        """Hook for subclasses: add headers every response carries (rate limits...)."""
        return response

    # -- life cycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:38211 (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Listen on a free port and serve in a daemon thread."""
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in separate writes; with Nagle's algorithm and delayed
            # ACKs every keep-alive request would then wait ~40 ms.
            disable_nagle_algorithm = True
            wbufsize = 1 << 16

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet: tests read `requests` instead."""

            def _handle(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._stopping.clear()
        self._serve(_Handler)
        return self

    def stop(self) -> None:
        """Stop serving and release the port; hanging requests are let go."""
        self._stopping.set()
        super().stop()

    # -- request handling ---------------------------------------------------------------
    def _dispatch(self, raw: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(raw.path)
        length = int(raw.headers.get("Content-Length") or 0)
        body = raw.rfile.read(length) if length else b""
        request = Request(
            method=raw.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=dict(raw.headers.items()),
            body=body,
        )
        with self._lock:
            self.requests.append(request)
            fault = next((f for f in self._faults if f.matches(request)), None)
        if fault is not None and fault.hang is not None:
            # Hold the connection; the client's timeout ends the wait, or the server stopping.
            self._stopping.wait(fault.hang)
            raw.close_connection = True
            return
        if self.latency:
            self._stopping.wait(self.latency)
        response = self._answer(request, fault)
        response = self.decorate(request, response)
        try:
            raw.send_response(response.status)
            for name, value in response.headers.items():
                raw.send_header(name, value)
            raw.send_header("Content-Length", str(len(response.body)))
            raw.end_headers()
            if raw.command != "HEAD":
                raw.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            raw.close_connection = True

    def _answer(self, request: Request, fault: Fault | None) -> Response:
        if fault is not None:
            if fault.malformed:
                return Response(200, MALFORMED_BODY, {"Content-Type": "application/json"})
            body = fault.body
            if isinstance(body, bytes):
                return Response(fault.status or 500, body, dict(fault.headers))
            status = fault.status or 500
            return json_response(body if body is not None else {}, status, fault.headers)
        for method, pattern, handler in self._routes:
            if method != request.method:
                continue
            match = pattern.fullmatch(request.path)
            if match:
                request.params = {k: v for k, v in match.groupdict().items() if v is not None}
                try:
                    return handler(request)
                except Exception as exc:  # a fake's bug must show as a 500, not hang the test
                    return json_response({"message": f"fake server error: {exc!r}"}, 500)
        return self.not_found(request)

    def not_found(self, request: Request) -> Response:
        """The answer for a path no route serves; subclasses speak their API's dialect."""
        return json_response({"message": "Not Found"}, 404)
