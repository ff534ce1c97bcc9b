"""The fake Slack's channels as a small local web page, with working buttons and commands.

`gapbot demo --serve` runs this beside the sandbox and the real Slack app, so a person can
try gapbot as a Slack user would, without a Slack workspace::

    with SlackWebPage(fake_slack, "http://127.0.0.1:3000/slack/events", secret) as page:
        print(page.url)      # open it in a browser

The page only ever talks to its own server; the server does what Slack's own servers do
for the app:

- a click on a button becomes a signed `block_actions` payload (form field `payload`, with
  the message, the container, the user, a trigger_id and a `response_url` on the fake Slack)
  POSTed to the app's `/slack/events`;
- a view the app opened with `views.open` is shown as a modal; submitting it posts a
  signed `view_submission` with the typed values in `view.state.values`;
- the text box sends a signed slash command (form-encoded, as Slack does), and whatever the
  app answers (its acknowledgement body, or later posts to the `response_url`) shows up as
  an "only visible to you" message in that channel;
- the page polls for changes, so a `chat.update` from the app shows within a second.

Everything is rendered server-side with every piece of outside text HTML-escaped; mrkdwn
links become links only when they point at this machine (127.0.0.1/localhost), so nothing
on the page reaches beyond it. The server listens on 127.0.0.1 only, answers POSTs only
with a JSON content type and its own Host header (a page from another site cannot drive
it), and sends a Content-Security-Policy that allows no outside resources.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import MappingProxyType
from typing import Any, Self
from urllib.parse import urlencode, urlsplit

from rich.emoji import Emoji

from sandbox.http import BackgroundHTTPServer
from sandbox.slack_server import TEAM_ID, FakeSlack

DEFAULT_USER_ID = "U0DEMOUSR"
"""The Slack user the page acts as."""
APP_ID = "A0GAPBOT"
REQUEST_TIMEOUT = 10.0
"""Seconds to wait for the app's acknowledgement (Slack gives it three)."""
POLL_MILLISECONDS = 800
MAX_POST_BYTES = 1 << 20

# Slack's names for a few emoji that rich's table lacks (gapbot uses the coloured circles).
_MORE_EMOJI = {
    "large_orange_circle": "🟠",
    "large_yellow_circle": "🟡",
    "large_green_circle": "🟢",
    "large_blue_circle": "🔵",
    "large_purple_circle": "🟣",
}
_EMOJI_CODE = re.compile(r":([a-z0-9_+-]+):")
_USER_NAMES: ContextVar[Mapping[str, str]] = ContextVar("user_names", default=MappingProxyType({}))
"""Slack user id to name while a page renders, so `<@U123>` reads as `@name`."""
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_SPECIAL = re.compile(r"<([^<>]*)>")
_FORMAT = re.compile(
    r"(?P<code>`[^`\n]+`)"
    r"|(?<![\w*])\*(?P<bold>[^*\n]+)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\n]+)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\n]+)~(?![\w~])"
)


# ---- Block Kit to HTML ----------------------------------------------------------------------


def _slack_unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def emoji(text: str) -> str:
    """`:name:` codes as the emoji Slack would show."""
    text = Emoji.replace(text)
    return _EMOJI_CODE.sub(lambda m: _MORE_EMOJI.get(m[1], m[0]), text)


def _format_plain(text: str) -> str:
    """Slack-escaped text without links: bold, italic, strike, code; HTML-escaped."""
    out: list[str] = []
    position = 0
    for match in _FORMAT.finditer(text):
        out.append(html.escape(emoji(_slack_unescape(text[position : match.start()]))))
        if match["code"]:
            out.append(f"<code>{html.escape(_slack_unescape(match['code'][1:-1]))}</code>")
        elif match["bold"]:
            out.append(f"<b>{_format_plain(match['bold'])}</b>")
        elif match["italic"]:
            out.append(f"<i>{_format_plain(match['italic'])}</i>")
        else:
            out.append(f"<s>{_format_plain(match['strike'])}</s>")
        position = match.end()
    out.append(html.escape(emoji(_slack_unescape(text[position:]))))
    return "".join(out)


def is_local_url(url: str) -> bool:
    """Whether `url` is http(s) on this machine: the only links the page makes clickable."""
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and (parts.hostname or "") in _LOCAL_HOSTS


def _special(inner: str) -> str:
    """One `<...>` of mrkdwn: a link, a mention or a broadcast, as HTML."""
    target, _, label = inner.partition("|")
    if target.startswith("!"):
        name = label or "@" + target[1:].split("^")[0]
        return f'<span class="mention">{html.escape(_slack_unescape(name))}</span>'
    if target.startswith(("@", "#")):
        name = label or target
        if target.startswith("#") and label:
            name = "#" + label
        elif target.startswith("@") and not label:
            name = "@" + _USER_NAMES.get().get(target[1:], target[1:])
        return f'<span class="mention">{html.escape(_slack_unescape(name))}</span>'
    url = _slack_unescape(target)
    shown = _format_plain(label) if label else html.escape(url)
    if is_local_url(url):
        return f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">{shown}</a>'
    # Outside links are shown, not followed: the demo stays on this machine.
    return f'<span class="extlink" title="{html.escape(url)}">{shown}</span>'


def mrkdwn_html(text: str) -> str:
    """Slack mrkdwn as safe HTML: links, mentions, *bold*, _italic_, ~strike~, `code`."""
    out: list[str] = []
    position = 0
    for match in _SPECIAL.finditer(text):
        out.append(_format_plain(text[position : match.start()]))
        out.append(_special(match[1]))
        position = match.end()
    out.append(_format_plain(text[position:]))
    return "".join(out)


def text_html(obj: Any) -> str:
    """A text object (`plain_text` or `mrkdwn`), or a bare string, as safe HTML."""
    if isinstance(obj, dict):
        value = str(obj.get("text", ""))
        if obj.get("type") == "mrkdwn":
            return mrkdwn_html(value)
        return html.escape(emoji(value) if obj.get("emoji", True) else value)
    return html.escape(str(obj or ""))


def _attrs(values: dict[str, str]) -> str:
    return "".join(f' {name}="{html.escape(value, quote=True)}"' for name, value in values.items())


@dataclass
class Place:
    """Where a block is shown: what a click on one of its buttons must tell the app."""

    channel: str = ""
    """Channel id of the message."""
    ts: str = ""
    """The message's ts (empty for ephemeral messages)."""
    ephemeral: str = ""
    """The page's id of an ephemeral message."""
    view: str = ""
    """The view id, for buttons inside a modal."""


def element_html(element: dict[str, Any], block_id: str, place: Place) -> str:
    """An interactive element; buttons are real buttons that carry what a click sends."""
    kind = element.get("type")
    if kind == "button":
        data = {
            "class": "btn " + str(element.get("style", "")),
            "type": "button",
            "data-action-id": str(element.get("action_id", "")),
            "data-block-id": block_id,
            "data-value": str(element.get("value", "")),
            "data-channel": place.channel,
            "data-ts": place.ts,
            "data-ephemeral": place.ephemeral,
            "data-view": place.view,
        }
        url = str(element.get("url", ""))
        if url:
            data["data-url"] = url if is_local_url(url) else ""
            data["title"] = url
        return f"<button{_attrs(data)}>{text_html(element.get('text'))}</button>"
    if kind in {"mrkdwn", "plain_text"}:
        return f"<span>{text_html(element)}</span>"
    if kind == "image":
        return f'<span class="alt">[{html.escape(str(element.get("alt_text", "image")))}]</span>'
    return f'<span class="alt">[{html.escape(str(kind))}]</span>'


def input_html(block: dict[str, Any]) -> str:
    """An input block of a modal as a form field."""
    element = block.get("element") or {}
    label = text_html(block.get("label"))
    names = {
        "data-block": str(block.get("block_id", "")),
        "data-action": str(element.get("action_id", "")),
        "class": "field",
    }
    initial = html.escape(str(element.get("initial_value", "")))
    if element.get("type") != "plain_text_input":
        return f'<p class="alt">[{html.escape(str(element.get("type")))} input]</p>'
    if element.get("max_length"):
        names["maxlength"] = str(element["max_length"])
    optional = " <small>(optional)</small>" if block.get("optional") else ""
    if element.get("multiline"):
        field_html = f"<textarea{_attrs(names)}>{initial}</textarea>"
    else:
        field_html = f'<input type="text"{_attrs(names)} value="{initial}">'
    return f"<label>{label}{optional}{field_html}</label>"


def blocks_html(blocks: list[dict[str, Any]], place: Place) -> str:
    """Block Kit blocks as HTML (unknown blocks are named, never dropped silently)."""
    out: list[str] = []
    for block in blocks:
        kind = block.get("type")
        block_id = str(block.get("block_id", ""))
        if kind == "header":
            out.append(f'<div class="header">{text_html(block.get("text"))}</div>')
        elif kind == "section":
            parts = []
            if block.get("text"):
                parts.append(f'<div class="text">{text_html(block["text"])}</div>')
            if block.get("fields"):
                cells = "".join(f'<div class="text">{text_html(f)}</div>' for f in block["fields"])
                parts.append(f'<div class="fields">{cells}</div>')
            if block.get("accessory"):
                accessory = element_html(block["accessory"], block_id, place)
                parts.append(f'<div class="accessory">{accessory}</div>')
            out.append(
                f'<div class="section"{_attrs({"data-block-id": block_id})}>{"".join(parts)}</div>'
            )
        elif kind == "context":
            items = " ".join(element_html(e, block_id, place) for e in block.get("elements", []))
            out.append(f'<div class="context">{items}</div>')
        elif kind == "actions":
            items = " ".join(element_html(e, block_id, place) for e in block.get("elements", []))
            out.append(f'<div class="actions"{_attrs({"data-block-id": block_id})}>{items}</div>')
        elif kind == "divider":
            out.append("<hr>")
        elif kind == "image":
            alt = html.escape(str(block.get("alt_text", "image")))
            out.append(f'<div class="alt">[image: {alt}]</div>')
        elif kind == "input":
            out.append(input_html(block))
        else:
            out.append(f'<div class="alt">[{html.escape(str(kind))} block]</div>')
    return "".join(out)


def message_html(message: dict[str, Any], place: Place, *, who: str = "gapbot") -> str:
    """One message: its blocks (or text), files, and an 'edited' mark."""
    blocks = message.get("blocks") or []
    body = (
        blocks_html(blocks, place)
        if blocks
        else (f'<div class="text">{mrkdwn_html(str(message.get("text", "")))}</div>')
    )
    for file in message.get("files") or []:
        file_id = str(file.get("id", ""))
        title = html.escape(str(file.get("title") or file.get("name") or "file"))
        if str(file.get("name", "")).lower().endswith(".png"):
            src = html.escape(f"/files/{file_id}")
            body += (
                f'<figure><img src="{src}" alt="{title}"><figcaption>{title}</figcaption></figure>'
            )
        else:
            body += f'<div class="file">📎 {title}</div>'
    edited = ' <span class="edited">(edited)</span>' if message.get("edited") else ""
    attrs = {"class": "message", "data-ts": place.ts, "data-ephemeral": place.ephemeral}
    return f'<div{_attrs(attrs)}><div class="who">{html.escape(who)}{edited}</div>{body}</div>'


# ---- the page's own state -----------------------------------------------------------------


@dataclass
class Ephemeral:
    """An 'only visible to you' message: a command's answer or a response_url post."""

    id: str
    channel: str
    message: dict[str, Any]


@dataclass
class Origin:
    """What a response_url answers: a command in a channel, a channel message or an ephemeral."""

    channel: str
    ts: str = ""
    ephemeral: str = ""


@dataclass
class Modal:
    """A view the app opened, as shown on the page."""

    view: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)


class SlackWebPage(BackgroundHTTPServer):
    """The web page over a `FakeSlack`, and the Slack-side half of clicks and commands."""

    def __init__(
        self,
        slack: FakeSlack,
        events_url: str,
        signing_secret: str,
        *,
        command: str = "/gaps",
        port: int = 0,
        user_id: str = DEFAULT_USER_ID,
        user_name: str = "you",
    ) -> None:
        """Set up the page (not yet serving; use `start()` or `with`).

        Args:
            slack: The fake Slack whose channels are shown and whose response_urls are used.
            events_url: The app's `POST /slack/events` URL.
            signing_secret: The app's signing secret, to sign requests as Slack does.
            command: The slash command the app registered.
            port: Port on 127.0.0.1 (0: a free one).
            user_id: The Slack user the page acts as.
            user_name: That user's name.
        """
        self.slack = slack
        self.events_url = events_url
        self._secret = signing_secret.encode()
        self.command = command
        self.port_wanted = port
        """The port asked for (0: a free one); `port` is the one served."""
        self.user_id = user_id
        self.user_name = user_name
        self.ephemerals: list[Ephemeral] = []
        self.origins: dict[str, Origin] = {}
        self.modal: Modal | None = None
        self.notes: list[str] = []
        """Problems to show at the top of the page (the app refused a request...)."""
        self._handled: dict[str, int] = {}
        self._views_seen = 0
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # ---- life cycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve on 127.0.0.1 in a daemon thread."""
        page: SlackWebPage = self

        class Handler(_PageHandler):
            owner = page

        self._serve(Handler, port=self.port_wanted, poll_interval=0.1)
        return self

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://127.0.0.1:{self.port}/"

    # ---- talking to the app as Slack does --------------------------------------------------

    def _post_to_app(self, body: str, content_type: str) -> tuple[int, bytes]:
        """POST a signed request to the app; (HTTP status, body), status 0 if unreachable."""
        timestamp = str(int(time.time()))
        digest = hmac.new(
            self._secret, f"v0:{timestamp}:{body}".encode(), hashlib.sha256
        ).hexdigest()
        request = urllib.request.Request(  # noqa: S310 - the app's URL on 127.0.0.1
            self.events_url,
            data=body.encode(),
            method="POST",
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": f"v0={digest}",
                "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as answer:  # noqa: S310
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            self._note(f"the app did not answer: {exc}")
            return 0, b""

    def _note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)
            del self.notes[:-5]

    def _new_response_url(self, origin: Origin) -> str:
        tag = "web-" + secrets.token_hex(6)
        with self._lock:
            self.origins[tag] = origin
        return self.slack.response_url(tag)

    def _user(self) -> dict[str, str]:
        return {
            "id": self.user_id,
            "username": self.user_name,
            "name": self.user_name,
            "team_id": TEAM_ID,
        }

    @staticmethod
    def _trigger_id() -> str:
        return f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(8)}"

    def _channel_info(self, channel_id: str) -> dict[str, str]:
        channel = self.slack.channel(channel_id)
        return {"id": channel_id, "name": channel.name if channel else channel_id}

    def _find_message(self, place: Place) -> dict[str, Any] | None:
        with self._lock:
            if place.ephemeral:
                entry = next((e for e in self.ephemerals if e.id == place.ephemeral), None)
                return dict(entry.message) if entry else None
        channel = self.slack.channel(place.channel)
        if channel is None:
            return None
        with self.slack._lock:
            return next((dict(m) for m in channel.messages if m.get("ts") == place.ts), None)

    def click(self, place: Place, action_id: str, block_id: str, value: str) -> int:
        """A button click: a signed `block_actions` payload to the app; its HTTP status."""
        if place.view:
            return self._click_in_view(place, action_id, block_id, value)
        message = self._find_message(place)
        if message is None:
            self._note("that message is gone")
            return 404
        button = _find_button(message.get("blocks") or [], action_id, block_id, value)
        origin = Origin(place.channel, ts=place.ts, ephemeral=place.ephemeral)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(),
            "api_app_id": APP_ID,
            "token": "gapbot-demo-verification-token",
            "container": {
                "type": "message",
                "message_ts": place.ts or message.get("ts", ""),
                "channel_id": place.channel,
                "is_ephemeral": bool(place.ephemeral),
            },
            "trigger_id": self._trigger_id(),
            "team": {"id": TEAM_ID, "domain": "gapbot-sandbox"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": self._channel_info(place.channel),
            "message": message,
            "state": {"values": {}},
            "response_url": self._new_response_url(origin),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": (button or {}).get("text", {"type": "plain_text", "text": ""}),
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        status, _ = self._post_to_app(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )
        if status != 200:
            self._note(f"the app answered the click with HTTP {status}")
        return status

    def _click_in_view(self, place: Place, action_id: str, block_id: str, value: str) -> int:
        with self._lock:
            view = dict(self.modal.view) if self.modal else None
        if view is None or view.get("id") != place.view:
            return 404
        payload = {
            "type": "block_actions",
            "user": self._user(),
            "api_app_id": APP_ID,
            "token": "gapbot-demo-verification-token",
            "container": {"type": "view", "view_id": place.view},
            "trigger_id": self._trigger_id(),
            "team": {"id": TEAM_ID, "domain": "gapbot-sandbox"},
            "view": view,
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        status, _ = self._post_to_app(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )
        return status

    def run_command(self, channel_id: str, line: str) -> int:
        """The text box: `/gaps TEXT` (or just TEXT) as a signed slash command."""
        line = line.strip()
        command, text = self.command, line
        if line.startswith("/"):
            command, _, text = line.partition(" ")
        if command != self.command:
            self._add_ephemeral(
                channel_id, {"text": f"{command} is not a valid command. (Try {self.command})"}
            )
            return 400
        channel = self._channel_info(channel_id)
        body = urlencode(
            {
                "token": "gapbot-demo-verification-token",
                "team_id": TEAM_ID,
                "team_domain": "gapbot-sandbox",
                "channel_id": channel["id"],
                "channel_name": channel["name"],
                "user_id": self.user_id,
                "user_name": self.user_name,
                "command": command,
                "text": text.strip(),
                "api_app_id": APP_ID,
                "is_enterprise_install": "false",
                "response_url": self._new_response_url(Origin(channel_id)),
                "trigger_id": self._trigger_id(),
            }
        )
        status, answer = self._post_to_app(body, "application/x-www-form-urlencoded")
        if status != 200:
            self._note(f"the app answered {command} with HTTP {status}")
        elif answer.strip():
            # Slack shows a non-empty acknowledgement as the command's first answer.
            try:
                message = json.loads(answer)
            except ValueError:
                message = {"text": answer.decode(errors="replace")}
            if isinstance(message, dict):
                self._add_ephemeral(channel_id, message)
        return status

    def submit_view(self, view_id: str, values: dict[str, dict[str, str]]) -> int:
        """Submitting the open modal: a signed `view_submission` with the typed values."""
        with self._lock:
            if self.modal is None or self.modal.view.get("id") != view_id:
                return 404
            view = dict(self.modal.view)
        state = {
            block: {
                action: {"type": "plain_text_input", "value": value or None}
                for action, value in actions.items()
            }
            for block, actions in values.items()
        }
        view.update(
            {
                "state": {"values": state},
                "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
                "root_view_id": view.get("root_view_id") or view_id,
                "app_id": APP_ID,
                "bot_id": "B0GAPBOT",
            }
        )
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "gapbot-sandbox"},
            "user": self._user(),
            "api_app_id": APP_ID,
            "token": "gapbot-demo-verification-token",
            "trigger_id": self._trigger_id(),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
        }
        status, answer = self._post_to_app(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )
        if status != 200:
            self._note(f"the app answered the form with HTTP {status}")
            return status
        reply: Any = {}
        if answer.strip():
            try:
                reply = json.loads(answer)
            except ValueError:
                reply = {}
        with self._lock:
            action = reply.get("response_action") if isinstance(reply, dict) else None
            if action == "errors" and self.modal is not None:
                self.modal.errors = {str(k): str(v) for k, v in reply.get("errors", {}).items()}
            elif action in {"update", "push"} and isinstance(reply.get("view"), dict):
                self.modal = Modal({**reply["view"], "id": view_id})
            else:
                self.modal = None
        return status

    def close_view(self, view_id: str) -> None:
        """Cancel: the modal goes away (the app's views set no notify_on_close)."""
        with self._lock:
            if self.modal is not None and self.modal.view.get("id") == view_id:
                self.modal = None

    # ---- what the app sent back ------------------------------------------------------------

    def _add_ephemeral(self, channel_id: str, message: dict[str, Any]) -> Ephemeral:
        with self._lock:
            entry = Ephemeral(f"e{next(self._ids)}", channel_id, _message_of(message))
            self.ephemerals.append(entry)
            return entry

    def collect(self) -> None:
        """Take in new response_url posts and opened views (called before each render)."""
        with self.slack._lock:
            responses = {tag: list(posts) for tag, posts in self.slack.responses.items()}
            opened = list(self.slack.opened_views)
        with self._lock:
            for tag, posts in responses.items():
                origin = self.origins.get(tag)
                if origin is None:
                    continue
                for post in posts[self._handled.get(tag, 0) :]:
                    self._apply_response(origin, post if isinstance(post, dict) else {})
                self._handled[tag] = len(posts)
            for view in opened[self._views_seen :]:
                self.modal = Modal(dict(view))
            self._views_seen = len(opened)

    def _apply_response(self, origin: Origin, post: dict[str, Any]) -> None:
        """One response_url post, as Slack applies it."""
        replace = _truthy(post.get("replace_original"))
        delete = _truthy(post.get("delete_original"))
        if origin.ephemeral and (replace or delete):
            for index, entry in enumerate(self.ephemerals):
                if entry.id == origin.ephemeral:
                    if delete:
                        del self.ephemerals[index]
                    else:
                        entry.message = _message_of(post)
                    return
        if origin.ts and (replace or delete):
            channel = self.slack.channel(origin.channel)
            if channel is not None:
                with self.slack._lock:
                    for index, message in enumerate(channel.messages):
                        if message.get("ts") == origin.ts:
                            if delete:
                                del channel.messages[index]
                            else:
                                message.update(_message_of(post))
                                message["edited"] = {"user": "U0GAPBOT"}
                            return
        if post.get("response_type") == "in_channel":
            channel = self.slack.channel(origin.channel)
            if channel is not None:
                with self.slack._lock:
                    message = {**_message_of(post), "ts": self.slack._next_ts(), "user": "U0GAPBOT"}
                    channel.messages.append(message)
                return
        entry = Ephemeral(f"e{next(self._ids)}", origin.channel, _message_of(post))
        self.ephemerals.append(entry)
        origin.ephemeral = origin.ephemeral or entry.id

    # ---- rendering -------------------------------------------------------------------------

    def channels_html(self) -> str:
        """Every channel with its messages, thread replies and ephemeral answers."""
        self.collect()
        with self.slack._lock:
            names = {u.id: u.name for u in self.slack.users.values()}
        token = _USER_NAMES.set(names)
        try:
            return self._channels_html()
        finally:
            _USER_NAMES.reset(token)

    def _channels_html(self) -> str:
        with self.slack._lock:
            channels = [
                (c.id, c.name, c.is_im, c.user, [dict(m) for m in c.messages])
                for c in self.slack.channels.values()
            ]
        with self._lock:
            ephemerals = list(self.ephemerals)
        out = []
        for channel_id, name, is_im, user, messages in channels:
            mine = [e for e in ephemerals if e.channel == channel_id]
            if is_im and not messages and not mine:
                continue
            who = _USER_NAMES.get().get(user, user)
            title = f"@{who} (direct messages)" if is_im else f"#{name}"
            body = []
            top = [m for m in messages if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]
            for message in top:
                place = Place(channel=channel_id, ts=str(message.get("ts", "")))
                body.append(message_html(message, place))
                replies = [
                    m
                    for m in messages
                    if m.get("thread_ts") == message.get("ts") and m.get("ts") != m["thread_ts"]
                ]
                if replies:
                    inner = "".join(
                        message_html(r, Place(channel=channel_id, ts=str(r.get("ts", ""))))
                        for r in replies
                    )
                    count = f"{len(replies)} repl{'y' if len(replies) == 1 else 'ies'}"
                    body.append(f'<div class="thread"><div class="who">{count}</div>{inner}</div>')
            for entry in mine:
                place = Place(channel=channel_id, ephemeral=entry.id)
                body.append(
                    '<div class="ephemeral"><div class="note">Only visible to you</div>'
                    + message_html(entry.message, place)
                    + "</div>"
                )
            if not body:
                body.append('<p class="empty">No messages yet.</p>')
            attrs = {"class": "channel", "id": f"channel-{channel_id}", "data-name": title}
            out.append(
                f"<section{_attrs(attrs)}><h2>{html.escape(title)}</h2>{''.join(body)}</section>"
            )
        with self._lock:
            notes = "".join(f'<p class="problem">{html.escape(n)}</p>' for n in self.notes)
        return notes + "".join(out)

    def modal_html(self) -> tuple[str, str]:
        """The open modal (view id and HTML), or two empty strings."""
        with self._lock:
            modal = self.modal
            if modal is None:
                return "", ""
            view = dict(modal.view)
            errors = dict(modal.errors)
        view_id = str(view.get("id", ""))
        place = Place(view=view_id)
        problems = "".join(
            f'<p class="problem">{html.escape(block)}: {html.escape(text)}</p>'
            for block, text in errors.items()
        )
        submit = text_html(view.get("submit")) if view.get("submit") else ""
        close = text_html(view.get("close")) if view.get("close") else "Close"
        buttons = f'<button type="button" class="btn" data-close="1">{close}</button>'
        if submit:
            buttons += f' <button type="submit" class="btn primary">{submit}</button>'
        form = (
            f'<form class="modal"{_attrs({"data-view": view_id})}>'
            f"<h3>{text_html(view.get('title'))}</h3>{problems}"
            f"{blocks_html(view.get('blocks') or [], place)}"
            f'<div class="modal-buttons">{buttons}</div></form>'
        )
        return view_id, form

    def state(self) -> dict[str, str]:
        """What the page polls: the channels' HTML and the modal's."""
        channels = self.channels_html()
        view_id, modal = self.modal_html()
        return {"channels": channels, "modal_id": view_id, "modal": modal}

    def page_html(self, nonce: str) -> str:
        """The whole page (the script is inline, allowed by its nonce)."""
        options = "".join(
            f'<option value="{html.escape(c.id)}">#{html.escape(c.name)}</option>'
            for c in self.slack.channels.values()
            if not c.is_im
        )
        return _PAGE.format(
            nonce=nonce,
            options=options,
            command=html.escape(self.command),
            user=html.escape(self.user_name),
            channels=self.channels_html(),
            poll=POLL_MILLISECONDS,
        )

    def file_bytes(self, file_id: str) -> tuple[bytes, str] | None:
        """An uploaded file's bytes and content type."""
        with self.slack._lock:
            data = self.slack.uploads.get(file_id)
            record = self.slack.files.get(file_id) or {}
        if data is None:
            return None
        name = str(record.get("name", "")).lower()
        kind = "image/png" if name.endswith(".png") else "application/octet-stream"
        return data, kind


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _message_of(post: dict[str, Any]) -> dict[str, Any]:
    """The message part of an acknowledgement or response_url post."""
    blocks = post.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return {"text": str(post.get("text", "")), "blocks": list(blocks)}


def _find_button(
    blocks: list[dict[str, Any]], action_id: str, block_id: str, value: str
) -> dict[str, Any] | None:
    for block in blocks:
        if str(block.get("block_id", "")) != block_id:
            continue
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("action_id") == action_id and str(element.get("value", "")) == value:
                return element
    return None


# ---- the HTTP side ------------------------------------------------------------------------


class _PageHandler(BaseHTTPRequestHandler):
    owner: SlackWebPage
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the demo, not a request log."""

    def _send(self, status: int, body: bytes, content_type: str, nonce: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        script = f"'nonce-{nonce}'" if nonce else "'none'"
        self.send_header(
            "Content-Security-Policy",
            f"default-src 'none'; script-src {script}; style-src 'unsafe-inline'; "
            "img-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'",
        )
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def do_GET(self) -> None:
        """The page, its polled state, and uploaded images."""
        page = self.owner
        path = urlsplit(self.path).path
        if path == "/":
            nonce = secrets.token_urlsafe(16)
            self._send(200, page.page_html(nonce).encode(), "text/html; charset=utf-8", nonce)
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        elif path == "/state":
            self._json(200, page.state())
        elif path.startswith("/files/"):
            found = page.file_bytes(path[len("/files/") :])
            if found is None:
                self._json(404, {"error": "no such file"})
            else:
                self._send(200, found[0], found[1])
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        """Clicks, commands and modal submissions from the page's script."""
        page = self.owner
        port = urlsplit(page.url).port
        # Only our own page's script can send these: another site's page cannot send a
        # JSON body without a CORS preflight (which is never answered), and a rebound DNS
        # name shows in the Host header.
        host_ok = self.headers.get("Host") in {f"127.0.0.1:{port}", f"localhost:{port}"}
        if not host_ok or "application/json" not in self.headers.get("Content-Type", ""):
            self.close_connection = True
            self._json(403, {"error": "forbidden"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_POST_BYTES:
            self.close_connection = True
            self._json(413, {"error": "too large"})
            return
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, {"error": "bad json"})
            return
        if not isinstance(data, dict):
            self._json(400, {"error": "bad json"})
            return
        path = urlsplit(self.path).path

        def text(name: str) -> str:
            return str(data.get(name) or "")

        if path == "/click":
            place = Place(text("channel"), text("ts"), text("ephemeral"), text("view"))
            status = page.click(place, text("action_id"), text("block_id"), text("value"))
        elif path == "/command":
            status = page.run_command(text("channel"), text("text"))
        elif path == "/submit":
            raw = data.get("values") or {}
            values = {
                str(block): {str(a): str(v) for a, v in actions.items()}
                for block, actions in raw.items()
                if isinstance(actions, dict)
            }
            status = page.submit_view(text("view"), values)
        elif path == "/close":
            page.close_view(text("view"))
            status = 200
        else:
            self._json(404, {"error": "not found"})
            return
        self._json(200, {"status": status})


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gapbot demo: the sandbox Slack</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f4f4f6; color: #1d1c1d; }}
header.top {{ background: #3f0e40; color: #fff; padding: 10px 18px; position: sticky; top: 0; z-index: 2; }}
header.top form {{ display: flex; gap: 8px; margin-top: 6px; }}
header.top input {{ flex: 1; padding: 6px; font: inherit; }}
main {{ max-width: 980px; margin: 0 auto; padding: 12px; }}
section.channel {{ background: #fff; border-radius: 8px; margin: 14px 0; padding: 6px 16px 12px; box-shadow: 0 1px 2px #0002; }}
.message {{ border-top: 1px solid #eee; padding: 8px 0; }}
.who {{ font-weight: 700; font-size: 13px; color: #555; }}
.edited {{ font-weight: 400; color: #888; }}
.header {{ font-size: 18px; font-weight: 700; margin: 4px 0; }}
.text {{ white-space: pre-wrap; margin: 4px 0; }}
.fields {{ display: grid; grid-template-columns: 1fr 1fr; gap: 4px 12px; }}
.context {{ color: #616061; font-size: 13px; margin: 2px 0; }}
.actions {{ margin: 6px 0 10px; }}
.btn {{ font: inherit; font-size: 13px; padding: 3px 10px; border: 1px solid #bbb; border-radius: 4px; background: #fff; cursor: pointer; }}
.btn:hover {{ background: #f0f0f0; }} .btn.primary {{ background: #007a5a; color: #fff; border-color: #007a5a; }}
.btn.danger {{ color: #e01e5a; }} .btn:disabled {{ opacity: .5; }}
code {{ background: #f3f3f3; border: 1px solid #ddd; border-radius: 3px; padding: 0 3px; font-size: 12px; }}
a {{ color: #1264a3; }} .extlink {{ color: #1264a3; text-decoration: underline dotted; }}
.mention {{ background: #e8f5fa; color: #1264a3; }}
.thread {{ margin-left: 28px; border-left: 3px solid #ddd; padding-left: 10px; }}
.ephemeral {{ background: #f8f8e8; border-radius: 6px; padding: 4px 10px; margin: 8px 0; }}
.note {{ font-size: 12px; color: #777; }}
.alt, .empty {{ color: #888; }} .problem {{ color: #b00; }}
figure img {{ max-width: min(100%, 560px); border: 1px solid #ddd; }}
#modal-wrap {{ position: fixed; inset: 0; background: #0006; display: none; align-items: center; justify-content: center; z-index: 3; }}
#modal-wrap.open {{ display: flex; }}
form.modal {{ background: #fff; border-radius: 8px; padding: 16px 20px; width: min(520px, 92vw); }}
form.modal textarea, form.modal input {{ width: 100%; box-sizing: border-box; font: inherit; margin-top: 4px; }}
form.modal textarea {{ min-height: 90px; }} .modal-buttons {{ text-align: right; margin-top: 12px; }}
</style></head>
<body>
<header class="top"><strong>gapbot demo</strong> · the sandbox Slack, as <b>{user}</b> sees it
<form id="command"><select id="command-channel" aria-label="channel">{options}</select>
<input id="command-text" placeholder="{command} summary" aria-label="slash command">
<button class="btn" type="submit">Send</button></form></header>
<main id="channels">{channels}</main>
<div id="modal-wrap"></div>
<script nonce="{nonce}">
"use strict";
const main = document.getElementById("channels"), wrap = document.getElementById("modal-wrap");
let modalId = "";
async function send(path, data) {{
  const r = await fetch(path, {{method: "POST", headers: {{"Content-Type": "application/json"}}, body: JSON.stringify(data)}});
  return r.json();
}}
async function refresh() {{
  try {{
    const s = await (await fetch("/state", {{cache: "no-store"}})).json();
    if (main.innerHTML !== s.channels) main.innerHTML = s.channels;
    if (s.modal_id !== modalId) {{
      modalId = s.modal_id; wrap.innerHTML = s.modal; wrap.classList.toggle("open", !!modalId);
      const first = wrap.querySelector("textarea, input"); if (first) first.focus();
    }} else if (modalId && wrap.innerHTML !== s.modal && !wrap.contains(document.activeElement)) {{
      wrap.innerHTML = s.modal;
    }}
  }} catch (e) {{ /* the demo stopped: keep what is shown */ }}
}}
document.addEventListener("click", async (ev) => {{
  const b = ev.target.closest("button[data-action-id]");
  if (b) {{
    b.disabled = true;
    if (b.dataset.url) window.open(b.dataset.url, "_blank", "noopener");
    await send("/click", {{action_id: b.dataset.actionId, block_id: b.dataset.blockId, value: b.dataset.value,
      channel: b.dataset.channel, ts: b.dataset.ts, ephemeral: b.dataset.ephemeral, view: b.dataset.view}});
    await refresh(); return;
  }}
  const c = ev.target.closest("button[data-close]");
  if (c) {{ await send("/close", {{view: modalId}}); await refresh(); }}
}});
document.getElementById("command").addEventListener("submit", async (ev) => {{
  ev.preventDefault();
  const box = document.getElementById("command-text");
  await send("/command", {{channel: document.getElementById("command-channel").value, text: box.value}});
  box.value = ""; await refresh();
}});
wrap.addEventListener("submit", async (ev) => {{
  ev.preventDefault();
  const form = ev.target, values = {{}};
  for (const f of form.querySelectorAll(".field")) {{
    (values[f.dataset.block] = values[f.dataset.block] || {{}})[f.dataset.action] = f.value;
  }}
  await send("/submit", {{view: form.dataset.view, values}});
  modalId = "?";  /* show what came back: the modal gone, replaced, or with its errors */
  await refresh();
}});
setInterval(refresh, {poll});
</script></body></html>
"""
