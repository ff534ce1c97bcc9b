"""A fake Slack Web API on localhost that records every call and can answer each error.

It speaks the documented payloads (see `shared/fixtures/slack`): `{"ok": true, ...}` on
success, HTTP 200 with `{"ok": false, "error": "..."}` on failure, and HTTP 429 with
`Retry-After` when rate limited. It keeps a small model of a workspace, so a test or the demo
can see what each channel received::

    with FakeSlack() as slack:
        payments = slack.add_channel("payments")               # public, bot is a member
        client = WebClient(base_url=slack.api_url, token=slack.bot_token)
        client.chat_postMessage(channel="#payments", text="hi")
        assert slack.messages("payments")[0]["text"] == "hi"
        slack.fail("chat.postMessage", "ratelimited")          # the next call gets HTTP 429

Besides the Web API under `/api/`, it serves the `response_url`s slash commands and buttons
carry (`/response/<tag>`, see `response_url()`), and the upload URLs `files_upload_v2` posts
file bytes to (`/upload/<file_id>`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from sandbox.http import BackgroundHTTPServer

DEFAULT_BOT_TOKEN = "xoxb-fake-gapbot-token"
BOT_USER_ID = "U0GAPBOT"
TEAM_ID = "T0GAPBOT"

# Methods that take a channel and answer `not_in_channel` when the bot is not a member.
_MEMBER_METHODS = frozenset({"chat.postMessage", "chat.update"})


@dataclass
class Call:
    """One request the fake received."""

    method: str
    """The Web API method (`chat.postMessage`), or `response_url` / `upload`."""
    params: dict[str, Any]
    """Query, form and JSON body arguments merged (JSON-encoded form values stay strings)."""
    json: Any
    """The JSON body when the client sent one."""
    path: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    """The HTTP status the fake answered with."""
    response: Any = None
    """The JSON the fake answered with."""


@dataclass
class Channel:
    """A conversation in the fake workspace."""

    id: str
    name: str
    is_private: bool = False
    is_member: bool = True
    is_im: bool = False
    user: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """The channel object of `conversations.info` / `conversations.list`."""
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_group": self.is_private,
            "is_im": self.is_im,
            "is_mpim": False,
            "is_private": self.is_private or self.is_im,
            "is_archived": False,
            "is_general": False,
            "is_member": self.is_member,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "created": 1449252889,
            "creator": "U012A3CDE",
            "num_members": 4,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


@dataclass
class User:
    """A person in the fake workspace."""

    id: str
    name: str
    email: str
    real_name: str = ""

    def info(self) -> dict[str, Any]:
        """The user object of `users.info` / `users.lookupByEmail` (fixture shape)."""
        real = self.real_name or self.name
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": False,
            "real_name": real,
            "tz": "Europe/Berlin",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            "is_app_user": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "updated": 1502138686,
            "profile": {
                "email": self.email,
                "real_name": real,
                "real_name_normalized": real,
                "display_name": self.name,
                "display_name_normalized": self.name,
                "team": TEAM_ID,
            },
        }


@dataclass
class _Failure:
    error: str
    channel: str | None
    retry_after: int


class FakeSlack(BackgroundHTTPServer):
    """The fake Slack workspace and its Web API server."""

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        public_write: bool = False,
        latency: float = 0.0,
    ) -> None:
        """Set up an empty workspace.

        Args:
            bot_token: The only token the fake accepts; others get `invalid_auth`.
            public_write: Behave as if the app had `chat:write.public` (post to public
                channels without joining). Off by default so `not_in_channel` can happen.
            latency: Seconds every Web API call takes, to imitate a far-away Slack.
        """
        self.bot_token = bot_token
        self.public_write = public_write
        self.latency = latency
        self.calls: list[Call] = []
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, User] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.opened_views: list[dict[str, Any]] = []
        self.uploads: dict[str, bytes] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._ts_base = int(time.time())
        self._ts_seq = itertools.count(1)
        self.revoked = False
        self.inactive = False

    # ---- the server ----------------------------------------------------------------------

    def start(self) -> Self:
        """Serve on 127.0.0.1 on a free port, in a daemon thread."""
        fake: FakeSlack = self

        class Handler(_Handler):
            server_fake = fake

        self._serve(Handler)
        return self

    @property
    def url(self) -> str:
        """The server's base URL (`http://127.0.0.1:PORT`)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL / `WebClient(base_url=...)` should be."""
        return f"{self.url}/api/"

    def response_url(self, tag: str) -> str:
        """A response_url whose posts are recorded under `tag` (see `responses`)."""
        return f"{self.url}/response/{tag}"

    # ---- the workspace -------------------------------------------------------------------

    def add_channel(self, name: str, *, private: bool = False, member: bool = True) -> str:
        """Create a channel (name without '#'); returns its id."""
        with self._lock:
            prefix = "G" if private else "C"
            channel_id = f"{prefix}{next(self._ids):08d}"
            self.channels[channel_id] = Channel(
                id=channel_id, name=name.lstrip("#"), is_private=private, is_member=member
            )
            return channel_id

    def add_user(self, user_id: str, name: str, email: str, real_name: str = "") -> None:
        """Add a person."""
        with self._lock:
            self.users[user_id] = User(user_id, name, email, real_name)

    def channel(self, ref: str) -> Channel | None:
        """A channel by id, name or '#name' (or a DM by the user's id)."""
        with self._lock:
            if ref in self.channels:
                return self.channels[ref]
            name = ref.lstrip("#")
            for channel in self.channels.values():
                if not channel.is_im and channel.name == name:
                    return channel
                if channel.is_im and channel.user == ref:
                    return channel
            return None

    def messages(self, ref: str) -> list[dict[str, Any]]:
        """What a channel (or a user's DM with the bot) received, oldest first."""
        channel = self.channel(ref)
        return list(channel.messages) if channel else []

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every channel's messages by name (DMs as `@USERID`), for rendering in the demo."""
        with self._lock:
            return {
                (f"@{c.user}" if c.is_im else f"#{c.name}"): list(c.messages)
                for c in self.channels.values()
                if c.messages
            }

    # ---- recorded calls and fault injection ---------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """The recorded calls of one method."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def reset_calls(self) -> None:
        """Forget the recorded calls (the workspace stays)."""
        with self._lock:
            self.calls.clear()

    def fail(
        self,
        method: str,
        error: str,
        *,
        times: int = 1,
        channel: str | None = None,
        retry_after: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail with `error`.

        `ratelimited` answers HTTP 429 with `Retry-After: retry_after`; every other error is
        HTTP 200 with `{"ok": false, "error": error}`. With `channel`, only calls for that
        channel (id or name) fail.
        """
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            for _ in range(times):
                queue.append(_Failure(error, channel, retry_after))

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> bool:
        """Poll until `predicate()` is true or `timeout` passes; returns the last value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return bool(predicate())

    def _take_failure(self, method: str, params: dict[str, Any]) -> _Failure | None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return None
            for failure in list(queue):
                # Uploads name their channel `channel_id` (files.completeUploadExternal).
                given = str(params.get("channel") or params.get("channel_id") or "")
                if failure.channel is None or self._same_channel(failure.channel, given):
                    queue.remove(failure)
                    return failure
            return None

    def _same_channel(self, wanted: str, given: str) -> bool:
        a, b = self.channel(wanted), self.channel(given)
        return a is not None and a is b

    def _next_ts(self) -> str:
        return f"{self._ts_base}.{next(self._ts_seq):06d}"

    # ---- the Web API methods -------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any], token: str) -> tuple[int, Any, dict]:
        """Answer one Web API call: (HTTP status, JSON body, extra headers)."""
        if self.latency:
            time.sleep(self.latency)
        failure = self._take_failure(method, params)
        if failure is not None:
            if failure.error == "ratelimited":
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(failure.retry_after)},
                )
            return 200, {"ok": False, "error": failure.error}, {}
        if self.inactive:
            return 200, {"ok": False, "error": "account_inactive"}, {}
        if self.revoked or token != self.bot_token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        with self._lock:
            return 200, handler(params), {}

    @staticmethod
    def _blocks(params: dict[str, Any]) -> list[Any]:
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        return list(blocks)

    def _writable(self, channel: Channel | None) -> dict[str, Any] | None:
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel.is_im or channel.is_member:
            return None
        if self.public_write and not channel.is_private:
            return None
        return {"ok": False, "error": "not_in_channel"}

    def _open_im(self, user_id: str) -> Channel | None:
        if user_id not in self.users:
            return None
        for channel in self.channels.values():
            if channel.is_im and channel.user == user_id:
                return channel
        channel_id = f"D{next(self._ids):08d}"
        channel = Channel(id=channel_id, name=channel_id, is_im=True, user=user_id)
        self.channels[channel_id] = channel
        return channel

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://gapbot-sandbox.slack.com/",
            "team": "gapbot sandbox",
            "user": "gapbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": "B0GAPBOT",
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = str(params.get("channel", ""))
        channel = self.channel(ref)
        if channel is None and ref.startswith(("U", "W")):
            channel = self._open_im(ref)
        problem = self._writable(channel)
        if problem:
            return problem
        assert channel is not None
        blocks = self._blocks(params)
        if not params.get("text") and not blocks:
            return {"ok": False, "error": "no_text"}
        if len(blocks) > 50:
            return {"ok": False, "error": "invalid_blocks"}
        message = {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B0GAPBOT",
            "user": BOT_USER_ID,
            "ts": self._next_ts(),
            "text": params.get("text", ""),
            "blocks": blocks,
        }
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        channel.messages.append(message)
        return {"ok": True, "channel": channel.id, "ts": message["ts"], "message": message}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        for message in channel.messages:
            if message["ts"] == params.get("ts"):
                if "text" in params:
                    message["text"] = params["text"]
                if "blocks" in params:
                    message["blocks"] = self._blocks(params)
                message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
                return {
                    "ok": True,
                    "channel": channel.id,
                    "ts": message["ts"],
                    "text": message["text"],
                    "message": {"text": message["text"], "user": BOT_USER_ID},
                }
        return {"ok": False, "error": "message_not_found"}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel.is_private or channel.is_im:
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        channel.is_member = True
        return {"ok": True, "channel": channel.info()}

    def _m_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(params.get("channel", "")))
        if channel is None or (channel.is_private and not channel.is_member):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": channel.info()}

    def _m_conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        types = str(params.get("types") or "public_channel").split(",")
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        visible = [
            c
            for c in self.channels.values()
            if not c.is_im
            and (
                ("public_channel" in types and not c.is_private)
                or ("private_channel" in types and c.is_private and c.is_member)
            )
        ]
        page = visible[start : start + limit]
        next_cursor = str(start + limit) if start + limit < len(visible) else ""
        return {
            "ok": True,
            "channels": [c.info() for c in page],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user.info()}

    def _m_users_lookupByEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params.get("email", "")).lower()
        for user in self.users.values():
            if user.email.lower() == email:
                return {"ok": True, "user": user.info()}
        return {"ok": False, "error": "users_not_found"}

    def _view(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view") or {}
        if isinstance(view, str):
            view = json.loads(view)
        limit = 100
        if len(view.get("blocks", [])) > limit:
            return {}
        return {**view, "id": f"V{next(self._ids):08d}", "team_id": TEAM_ID}

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user_id", ""))
        if user_id not in self.users:
            return {"ok": False, "error": "user_not_found"}
        view = self._view(params)
        if not view:
            return {"ok": False, "error": "invalid_arguments"}
        self.home_views[user_id] = view
        return {"ok": True, "view": view}

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = self._view(params)
        if not view:
            return {"ok": False, "error": "invalid_arguments"}
        self.opened_views.append(view)
        return {"ok": True, "view": view}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("filename") or not params.get("length"):
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {
            "id": file_id,
            "name": params["filename"],
            "title": params["filename"],
            "size": int(params["length"]),
        }
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files") or []
        if isinstance(files, str):
            files = json.loads(files)
        done = []
        for entry in files:
            record = self.files.get(entry.get("id", ""))
            if record is None or record["id"] not in self.uploads:
                return {"ok": False, "error": "file_not_found"}
            record["title"] = entry.get("title") or record["title"]
            done.append(record)
        channel_ref = params.get("channel_id") or params.get("channels") or ""
        if channel_ref:
            channel = self.channel(str(channel_ref).split(",")[0])
            problem = self._writable(channel)
            if problem:
                return problem
            assert channel is not None
            message: dict[str, Any] = {
                "type": "message",
                "ts": self._next_ts(),
                "text": params.get("initial_comment", ""),
                "files": [dict(r) for r in done],
                "user": BOT_USER_ID,
            }
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            channel.messages.append(message)
        return {"ok": True, "files": [{"id": r["id"], "title": r["title"]} for r in done]}


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeSlack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read the recorded calls instead."""

    def _read(self) -> tuple[dict[str, Any], Any, bytes]:
        parts = urlsplit(self.path)
        params: dict[str, Any] = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        body_json: Any = None
        content_type = self.headers.get("Content-Type", "")
        if body and "json" in content_type:
            body_json = json.loads(body)
            if isinstance(body_json, dict):
                params.update(body_json)
        elif (
            body
            and "x-www-form-urlencoded" in content_type
            and not parts.path.startswith("/upload/")
        ):
            # Uploads carry the file's raw bytes, whatever content type the client names.
            params.update({k: v[0] for k, v in parse_qs(body.decode()).items()})
        return params, body_json, body

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        content_type = "text/plain" if isinstance(payload, bytes) else "application/json"
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _serve(self) -> None:
        fake = self.server_fake
        path = urlsplit(self.path).path
        params, body_json, body = self._read()
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        if path.startswith("/api/"):
            method = path[len("/api/") :]
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip() or str(params.pop("token", ""))
            params.pop("token", None)
            call = Call(method, params, body_json, path, headers)
            with fake._lock:
                fake.calls.append(call)
            status, answer, extra = fake.handle(method, params, token)
            call.status, call.response = status, answer
            self._send(status, answer, extra)
        elif path.startswith("/response/"):
            tag = path[len("/response/") :]
            with fake._lock:
                fake.calls.append(Call("response_url", params, body_json, path, headers))
                fake.responses.setdefault(tag, []).append(body_json or params)
            self._send(200, b"ok")
        elif path.startswith("/upload/"):
            file_id = path[len("/upload/") :]
            with fake._lock:
                fake.calls.append(Call("upload", {"file_id": file_id}, None, path, headers))
                fake.uploads[file_id] = body
            self._send(200, b"OK - " + str(len(body)).encode())
        else:
            self._send(404, {"ok": False, "error": "not_found"})

    def do_GET(self) -> None:
        """Web API methods may be called with GET and query parameters."""
        self._serve()

    def do_POST(self) -> None:
        """Form-encoded and JSON Web API calls, response_url posts and uploads."""
        self._serve()
