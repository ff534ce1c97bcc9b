"""Blocks for the slash command's other answers, App Home and the reason modal."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.views import ids
from bot.views.findings import (
    Message,
    context,
    fit_blocks,
    gap_blocks,
    header,
    kind_label,
    section,
)
from bot.views.text import MAX_FALLBACK_TEXT, MAX_VIEW_BLOCKS, cut, escape, link, plain
from store.models import Finding, WorkItem

MAX_HOME_GAPS = 25
"""Gaps on App Home: three blocks each stay under the view's 100 blocks."""


def help_message(command: str) -> Message:
    """What the slash command can do."""
    c = escape(command)
    lines = [
        f"`{c} summary [team]` open gaps by kind, the most severe first",
        f"`{c} search TEXT` is anyone already working on this?",
        f"`{c} similar KEY` the items most like KEY",
        f"`{c} dupes [team]` · `{c} priorities [team]` · `{c} delivery [team]` one family of gaps",
        f"`{c} item KEY` every open gap touching KEY",
        f"`{c} report` this week's gap report, now",
        f"`{c} subscribe TEAM [alerts|daily|weekly] [low|medium|high] [HH:MM-HH:MM]` "
        "this channel gets TEAM's gaps",
        f"`{c} subscribe me` your own gaps by direct message",
        f"`{c} unsubscribe [TEAM|me]` stop them",
        f"`{c} mute KEY|GAP-ID [days]` snooze a gap, or every gap of an item (30 days)",
    ]
    blocks: list[Block] = [header("gapbot: coordination gaps between teams")]
    blocks.append(section("\n".join(lines)))
    blocks.append(context("Buttons under each gap: *Not a gap* and *Snooze 7 days*."))
    return Message(text=f"gapbot: try `{c} summary`", blocks=blocks)


def notice(text: str) -> Message:
    """A one-paragraph answer (the caller escapes outside text)."""
    return Message(text=cut(text, MAX_FALLBACK_TEXT), blocks=[section(text)])


def counts_section(counts: Mapping[str, int]) -> str:
    """'Duplicated effort: 3 · Overdue: 1' from counts per kind."""
    return " · ".join(
        f"{escape(kind_label(kind))}: *{n}*"
        for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )


def item_results(
    title: str,
    results: Sequence[tuple[WorkItem, float]],
    *,
    empty_text: str,
    note: str = "",
) -> Message:
    """Ranked items (search, similar): linked key, title, team, status and score."""
    blocks: list[Block] = [header(title)]
    if not results:
        blocks.append(section(empty_text))
        return Message(text=f"{title}: nothing found", blocks=blocks)
    lines = []
    for item, score in results:
        label = link(item.url, item.key) if item.url else escape(item.key)
        facts = ", ".join(
            escape(p) for p in (item.team, item.status or item.status_category, item.assignee) if p
        )
        lines.append(f"• {label} {escape(cut(item.title, 160))} ({facts}) · {score:.2f}")
    # One section per ten lines keeps each under 3,000 characters.
    for start in range(0, len(lines), 10):
        blocks.append(section("\n".join(lines[start : start + 10])))
    if note:
        blocks.append(context(note))
    return Message(
        text=cut(f"{title}: " + ", ".join(i.key for i, _ in results[:5]), MAX_FALLBACK_TEXT),
        blocks=fit_blocks(blocks),
    )


def home_view(
    findings: Sequence[Finding],
    items: Mapping[str, WorkItem],
    *,
    total: int,
    command: str,
    who: str,
) -> View:
    """App Home: the open gaps that touch the viewer's items."""
    blocks: list[Block] = [header("Gaps touching your work")]
    if not findings:
        blocks.append(
            section(
                f"No open gaps touch the items assigned to {escape(who)}. :tada:\n"
                f"Try `{escape(command)} summary` for your teams' gaps."
            )
        )
    else:
        blocks.append(
            context(f"{total} open gap{'s' if total != 1 else ''} touch items assigned to you.")
        )
        for finding in findings[:MAX_HOME_GAPS]:
            blocks.extend(gap_blocks(finding, items))
        if total > MAX_HOME_GAPS:
            blocks.append(
                context(f"…and {total - MAX_HOME_GAPS} more: `{escape(command)} summary`")
            )
    return View(type="home", blocks=fit_blocks(blocks, MAX_VIEW_BLOCKS))


def dismiss_modal(finding_id: str, metadata: Mapping[str, str]) -> View:
    """The modal that asks why a gap is not one (the reason is optional).

    It is opened straight from the click, before any store read, because the click's
    trigger_id expires in three seconds.
    """
    return View(
        type="modal",
        callback_id=ids.DISMISS_MODAL,
        title=PlainTextObject(text="Not a gap"),
        submit=PlainTextObject(text="Dismiss gap"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=json.dumps(dict(metadata)),
        blocks=[
            section(
                f"Dismiss gap `{escape(finding_id)}`? It will not be reported again "
                "while its facts stay the same."
            ),
            InputBlock(
                block_id=ids.REASON_BLOCK,
                optional=True,
                label=PlainTextObject(text=plain("Why is this not a gap? (optional)", 2000)),
                element=PlainTextInputElement(
                    action_id=ids.REASON_INPUT, multiline=True, max_length=500
                ),
            ),
        ],
    )
