"""Slack messages (Block Kit) shown in a terminal with rich, as a person would read them.

Used by `gapbot demo` to show what each sandbox channel received. mrkdwn is turned back into
text: `<url|label>` shows the label, `*bold*` is bold, and the escapes `&lt;` `&gt;` `&amp;`
are undone only for display (rich markup in the text is never interpreted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rich.console import Group, RenderableType
from rich.emoji import Emoji
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text

_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>|<([^<>|]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


def _unescape(text: str) -> str:
    # Slack shows :emoji: codes as pictures; so does the terminal.
    return Emoji.replace(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def mrkdwn_to_text(mrkdwn: str, *, style: str = "") -> Text:
    """A rich Text from Slack mrkdwn: links become their labels, *bold* is bold."""

    def link(match: re.Match[str]) -> str:
        return match[2] or match[3] or ""

    plain = _LINK.sub(link, mrkdwn)
    text = Text(style=style)
    position = 0
    for match in _BOLD.finditer(plain):
        text.append(_unescape(plain[position : match.start()]))
        text.append(_unescape(match[1]), style="bold")
        position = match.end()
    text.append(_unescape(plain[position:]))
    return text


def _text_of(element: Any) -> str:
    if isinstance(element, dict):
        value = element.get("text", "")
        return value.get("text", "") if isinstance(value, dict) else str(value)
    return str(element or "")


def render_blocks(blocks: Iterable[dict[str, Any]]) -> list[RenderableType]:
    """Each block as a rich renderable."""
    parts: list[RenderableType] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            parts.append(mrkdwn_to_text(_text_of(block), style="bold underline"))
        elif kind == "section":
            if block.get("text"):
                parts.append(mrkdwn_to_text(_text_of(block)))
            for field in block.get("fields") or []:
                parts.append(mrkdwn_to_text(_text_of(field)))
        elif kind == "context":
            line = "  ".join(_text_of(e) for e in block.get("elements", []))
            parts.append(mrkdwn_to_text(line, style="dim"))
        elif kind == "actions":
            buttons = Text()
            for element in block.get("elements", []):
                label = _text_of(element)
                buttons.append(f"[ {label} ]", style="reverse")
                buttons.append(" ")
            parts.append(buttons)
        elif kind == "divider":
            parts.append(Rule(style="dim"))
        elif kind == "image":
            parts.append(Text(f"[image: {block.get('alt_text', '')}]", style="dim"))
    return parts


def render_message(message: dict[str, Any]) -> RenderableType:
    """One message: its blocks, else its text, with files and thread replies noted."""
    parts = render_blocks(message.get("blocks") or [])
    if not parts:
        parts = [mrkdwn_to_text(str(message.get("text", "")))]
    for file in message.get("files") or []:
        parts.append(Text(f"📎 {file.get('title') or file.get('name') or 'file'}", style="cyan"))
    if message.get("thread_ts") and message.get("thread_ts") != message.get("ts"):
        return Panel(Group(*parts), title="reply in thread", title_align="left", border_style="dim")
    return Group(*parts)


def render_channel(name: str, messages: list[dict[str, Any]]) -> Panel:
    """A channel's messages in one panel."""
    body: list[RenderableType] = []
    for number, message in enumerate(messages):
        if number:
            body.append(Rule(style="grey30"))
        body.append(render_message(message))
    return Panel(Group(*body), title=f"[bold]{name}[/bold]", title_align="left")
