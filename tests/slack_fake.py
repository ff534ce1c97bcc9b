"""A minimal fake of the Slack Web API on localhost, for the report-posting tests.

It speaks what `WebClient.chat_postMessage` and `WebClient.files_upload_v2` use:
`chat.postMessage`, `files.getUploadURLExternal`, the returned upload URL, and
`files.completeUploadExternal`, with Slack's `{"ok": false, "error": ...}` answers for a
channel it is told to refuse. Everything received is kept for the test to assert on.
(The full fake Slack lives in sandbox/slack_server.py, written with the Slack app.)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Received:
    """One request the fake answered."""

    path: str
    body: dict[str, Any]
    raw: bytes = b""


@dataclass
class FakeSlack:
    """State shared with the handler: requests, uploads, channels to refuse."""

    requests: list[Received] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    refuse_channels: set[str] = field(default_factory=set)
    refuse_uploads_to: set[str] = field(default_factory=set)
    """Channel ids whose files.completeUploadExternal answers not_in_channel."""
    base_url: str = ""
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str) -> list[dict[str, Any]]:
        """Bodies received for one Web API method."""
        return [r.body for r in self.requests if r.path == f"/api/{method}"]

    @staticmethod
    def channel_id(name: str) -> str:
        """The id the fake gives a channel name (as Slack answers with ids)."""
        if name.startswith("C") and not name.startswith("#"):
            return name
        return "C" + hashlib.sha256(name.encode()).hexdigest()[:8].upper()


def _handler(state: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, payload: dict[str, Any], status: int = 200) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self, raw: bytes) -> dict[str, Any]:
            kind = self.headers.get("Content-Type", "")
            if "json" in kind:
                return dict(json.loads(raw or b"{}"))
            if "x-www-form-urlencoded" in kind:
                return {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            query = parse_qs(urlparse(self.path).query)
            return {k: v[0] for k, v in query.items()}

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlparse(self.path).path
            if path.startswith("/upload/"):
                file_id = path.rsplit("/", 1)[-1]
                with state._lock:
                    state.uploads[file_id] = raw
                    state.requests.append(Received(path, {}, raw))
                body = f"OK - {len(raw)}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            body = self._body(raw)
            with state._lock:
                state.requests.append(Received(path, body, raw))
            if not self.headers.get("Authorization", "").startswith("Bearer xoxb-"):
                self._reply({"ok": False, "error": "not_authed"})
                return
            if path == "/api/chat.postMessage":
                channel = str(body.get("channel", ""))
                if channel in state.refuse_channels:
                    self._reply({"ok": False, "error": "channel_not_found"})
                    return
                ts = f"1764400000.{next(state._ts):06d}"
                self._reply(
                    {
                        "ok": True,
                        "channel": state.channel_id(channel),
                        "ts": ts,
                        "message": {"type": "message", "text": body.get("text", ""), "ts": ts},
                    }
                )
            elif path == "/api/files.getUploadURLExternal":
                file_id = f"F{next(state._ts):08d}"
                self._reply(
                    {
                        "ok": True,
                        "upload_url": f"{state.base_url}/upload/{file_id}",
                        "file_id": file_id,
                    }
                )
            elif path == "/api/files.completeUploadExternal":
                files = json.loads(body.get("files", "[]"))
                if not body.get("channel_id", "").startswith("C"):
                    self._reply({"ok": False, "error": "invalid_channel"})
                    return
                if body.get("channel_id") in state.refuse_uploads_to:
                    self._reply({"ok": False, "error": "not_in_channel"})
                    return
                missing = [f["id"] for f in files if f["id"] not in state.uploads]
                if missing:
                    self._reply({"ok": False, "error": "file_not_found"})
                    return
                self._reply(
                    {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
                )
            else:
                self._reply({"ok": False, "error": "unknown_method"}, status=404)

    return Handler


class FakeSlackServer:
    """The fake on 127.0.0.1 at a free port, served from a thread."""

    def __init__(self) -> None:
        """Bind (port 0) and start serving."""
        self.state = FakeSlack()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.state.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def api_url(self) -> str:
        """The base URL a WebClient takes."""
        return f"{self.state.base_url}/api/"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
