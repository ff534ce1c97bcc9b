"""Making outside text safe and short enough for Slack.

Slack's mrkdwn turns `<!channel>`, `<!here>`, `<@U123>` and `<https://x|label>` into pings
and links, so every title, name, summary or reason from Jira, GitHub or a person is escaped
(`&`, `<`, `>`), as Slack's docs ask. Block Kit rejects a whole message when one text is too
long, so long texts are cut with a visible "…" instead.
"""

from __future__ import annotations

import re

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_CONTEXT_TEXT = 2000
MAX_FALLBACK_TEXT = 3000
"""The notification text of a message: Slack allows far more, a notification shows little."""
ELLIPSIS = "…"

_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
_ENTITY_TAIL = re.compile(r"&[a-z]{0,4}$")


def escape(text: object) -> str:
    """`text` with mrkdwn's control characters escaped, so it renders as typed."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with a trailing "…" when it is longer.

    Never cuts inside an escape (`&amp;`) or a link (`<url|label>`): it backs off to before
    them, so what is left still renders.
    """
    if len(text) <= limit:
        return text
    head = text[: max(limit - 1, 0)]
    opening = head.rfind("<")
    if opening > head.rfind(">"):
        head = head[:opening]
    tail = _ENTITY_TAIL.search(head)
    if tail:
        head = head[: tail.start()]
    return head.rstrip() + ELLIPSIS


def plain(text: object, limit: int) -> str:
    """Outside text for a plain_text field (no mrkdwn there): one line, cut to `limit`."""
    return cut(" ".join(str(text).split()), limit)


def link(url: str, label: object) -> str:
    """A mrkdwn link to `url` showing `label`; the label alone when the URL is not http(s).

    The URL is encoded so it cannot close the link early or smuggle a second label; the label
    is escaped, so a crafted title cannot disguise where the link goes.
    """
    safe_label = escape(label)
    if not url.startswith(("https://", "http://")):
        return safe_label
    safe_url = (
        url.replace("&", "&amp;")
        .replace("<", "%3C")
        .replace(">", "%3E")
        .replace("|", "%7C")
        .replace(" ", "%20")
    )
    return f"<{safe_url}|{safe_label}>"


def person(who: str) -> str:
    """Who did something: a Slack mention for a Slack user id, else the escaped name."""
    if _USER_ID.match(who):
        return f"<@{who}>"
    return escape(who) if who else "someone"
