"""Blocks for findings: one gap, an alert batch, lists for the slash commands.

A gap shows its severity and kind, the summary, the explanation (why it fired), a link to
each item, and its state or buttons. Its blocks carry `gap:<id>:<part>` block ids, so a
message can be re-rendered one gap at a time when somebody clicks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.views import ids
from bot.views.text import (
    MAX_BUTTON_TEXT,
    MAX_CONTEXT_TEXT,
    MAX_FALLBACK_TEXT,
    MAX_HEADER_TEXT,
    MAX_MESSAGE_BLOCKS,
    MAX_SECTION_TEXT,
    cut,
    escape,
    link,
    person,
    plain,
)
from store.models import Finding, WorkItem

SEVERITY_ICON = {"high": ":red_circle:", "medium": ":large_orange_circle:", "low": ":white_circle:"}
KIND_LABEL = {
    "duplicate": "Duplicated effort",
    "priority_inversion": "Priority inversion",
    "parent_child_priority": "Parent and child disagree",
    "focus_drift": "Focus drift",
    "unaligned_work": "Unaligned work",
    "stale_pr": "Stale pull request",
    "blocked": "Blocked across teams",
    "overdue": "Overdue",
    "status_drift": "Status drift",
    "overload": "Overloaded person",
}
MAX_EXPLANATION = 900
"""Characters of explanation shown per gap: ten gaps must still fit one message."""
MAX_ITEMS_SHOWN = 6
MAX_GAPS_PER_MESSAGE = 10


def kind_label(kind: str) -> str:
    """A kind's name for people."""
    return KIND_LABEL.get(kind, kind.replace("_", " ").capitalize())


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def status_line(finding: Finding) -> str:
    """The finding's state in words (mrkdwn), empty while it is open."""
    if finding.status == "resolved" and finding.status_by:
        # Resolved by a person's click ("Link as duplicate"): who, when and what was done.
        what = escape(cut(finding.status_reason, 300)) if finding.status_reason else "Resolved"
        return (
            f":link: *{what}*, by {person(finding.status_by)} "
            f"{_when(finding.status_at or finding.resolved_at)}"
        )
    if finding.status == "resolved":
        return f":white_check_mark: *Resolved* {_when(finding.resolved_at or finding.status_at)}"
    if finding.status == "dismissed":
        reason = f": “{escape(cut(finding.status_reason, 300))}”" if finding.status_reason else ""
        return (
            f":no_entry_sign: *Not a gap*, said {person(finding.status_by)} "
            f"{_when(finding.status_at)}{reason}"
        )
    if finding.status == "snoozed":
        return (
            f":zzz: *Snoozed* by {person(finding.status_by)} {_when(finding.status_at)} "
            f"until {_when(finding.snoozed_until)}"
        )
    return ""


def item_line(key: str, item: WorkItem | None) -> str:
    """One item as a mrkdwn bullet: linked key, title, team and status."""
    if item is None:
        return f"• {escape(key)}"
    label = link(item.url, item.key) if item.url else escape(item.key)
    facts = ", ".join(
        escape(part) for part in (item.team, item.status or item.status_category) if part
    )
    return f"• {label} {escape(cut(item.title, 200))}" + (f" ({facts})" if facts else "")


def gap_text(finding: Finding, items: Mapping[str, WorkItem]) -> str:
    """The mrkdwn of one gap's main section: headline, explanation, items."""
    icon = SEVERITY_ICON.get(finding.severity, "")
    headline = (
        f"{icon} *{escape(finding.severity.capitalize())} · {escape(kind_label(finding.kind))}*"
        f" — {escape(cut(finding.summary, 300))}"
    )
    parts = [headline]
    if finding.explanation:
        parts.append(escape(cut(finding.explanation, MAX_EXPLANATION)))
    keys = list(finding.item_keys or [])
    lines = [item_line(key, items.get(key)) for key in keys[:MAX_ITEMS_SHOWN]]
    if len(keys) > MAX_ITEMS_SHOWN:
        lines.append(f"• …and {len(keys) - MAX_ITEMS_SHOWN} more items")
    parts.append("\n".join(lines))
    return cut("\n".join(p for p in parts if p), MAX_SECTION_TEXT)


def gap_buttons(finding: Finding, *, link_duplicates: bool = False) -> ActionsBlock:
    """The buttons under an open gap."""
    elements = [
        ButtonElement(
            text=plain("Not a gap", MAX_BUTTON_TEXT),
            action_id=ids.DISMISS,
            value=finding.id,
        ),
        ButtonElement(
            text=plain(f"Snooze {ids.SNOOZE_DAYS} days", MAX_BUTTON_TEXT),
            action_id=ids.SNOOZE,
            value=finding.id,
        ),
    ]
    if link_duplicates and finding.kind == "duplicate":
        elements.append(
            ButtonElement(
                text=plain("Link as duplicate", MAX_BUTTON_TEXT),
                action_id=ids.LINK_DUPLICATE,
                value=finding.id,
            )
        )
    return ActionsBlock(block_id=ids.gap_block_id(finding.id, "actions"), elements=elements)


def gap_blocks(
    finding: Finding,
    items: Mapping[str, WorkItem],
    *,
    buttons: bool = True,
    link_duplicates: bool = False,
) -> list[Block]:
    """The blocks of one gap: text, a context line (state, teams, id), and its buttons."""
    blocks: list[Block] = [
        SectionBlock(
            block_id=ids.gap_block_id(finding.id, "text"),
            text=MarkdownTextObject(text=gap_text(finding, items)),
        )
    ]
    state = status_line(finding)
    meta = " · ".join(
        part
        for part in (
            state,
            "Teams: " + escape(", ".join(finding.teams)) if finding.teams else "",
            f"id `{escape(finding.id)}`",
        )
        if part
    )
    blocks.append(
        ContextBlock(
            block_id=ids.gap_block_id(finding.id, "meta"),
            elements=[MarkdownTextObject(text=cut(meta, MAX_CONTEXT_TEXT))],
        )
    )
    if buttons and finding.status == "open":
        # Only two Jira issues can be linked in Jira.
        jira_pair = len(finding.item_keys or []) == 2 and all(
            (item := items.get(key)) is not None and item.source == "jira"
            for key in finding.item_keys or []
        )
        blocks.append(gap_buttons(finding, link_duplicates=link_duplicates and jira_pair))
    return blocks


def header(text: str) -> HeaderBlock:
    """A header block, cut to Slack's 150 characters."""
    return HeaderBlock(text=PlainTextObject(text=plain(text, MAX_HEADER_TEXT), emoji=True))


def context(text: str) -> ContextBlock:
    """A small grey line of mrkdwn (the caller escapes outside text)."""
    return ContextBlock(elements=[MarkdownTextObject(text=cut(text, MAX_CONTEXT_TEXT))])


def section(text: str) -> SectionBlock:
    """A section of mrkdwn (the caller escapes outside text), cut to 3,000 characters."""
    return SectionBlock(text=MarkdownTextObject(text=cut(text, MAX_SECTION_TEXT)))


def fit_blocks(blocks: Sequence[Block], limit: int = MAX_MESSAGE_BLOCKS) -> list[Block]:
    """At most `limit` blocks; when cut, the last one says so with a visible "…"."""
    if len(blocks) <= limit:
        return list(blocks)
    kept = list(blocks[: limit - 1])
    kept.append(context(f"… {len(blocks) - limit + 1} more blocks were cut to fit Slack."))
    return kept


@dataclass(frozen=True)
class Message:
    """A message: its notification text and its blocks."""

    text: str
    blocks: list[Block]

    def block_dicts(self) -> list[dict]:
        """The blocks as JSON-ready dicts (validated by slack_sdk on the way)."""
        return [block.to_dict() for block in self.blocks]


def gap_list_message(
    title: str,
    findings: Sequence[Finding],
    items: Mapping[str, WorkItem],
    *,
    total: int | None = None,
    more_hint: str = "",
    empty_text: str = "No open gaps here. :tada:",
    buttons: bool = True,
    link_duplicates: bool = False,
    intro: str = "",
) -> Message:
    """A header, up to ten gaps with their buttons, and "and N more" with how to see them."""
    count = len(findings) if total is None else total
    blocks: list[Block] = [header(title)]
    if intro:
        blocks.append(section(intro))
    if not findings:
        blocks.append(section(empty_text))
        return Message(text=cut(f"{title}: none", MAX_FALLBACK_TEXT), blocks=blocks)
    shown = list(findings[:MAX_GAPS_PER_MESSAGE])
    for finding in shown:
        blocks.extend(gap_blocks(finding, items, buttons=buttons, link_duplicates=link_duplicates))
    more = count - len(shown)
    if more > 0:
        hint = f": {more_hint}" if more_hint else ""
        blocks.append(context(f"…and {more} more{hint}"))
    text = f"{title}: " + "; ".join(escape(cut(f.summary, 120)) for f in shown[:3])
    return Message(text=cut(text, MAX_FALLBACK_TEXT), blocks=fit_blocks(blocks))


def alert_message(
    channel_label: str,
    shown: Sequence[Finding],
    items: Mapping[str, WorkItem],
    *,
    more: int,
    command: str,
    link_duplicates: bool = False,
) -> Message:
    """The batched alert of one detection run for one channel."""
    count = len(shown) + more
    noun = "gap" if count == 1 else "gaps"
    title = f"{count} new coordination {noun} for {channel_label}"
    return gap_list_message(
        title,
        shown,
        items,
        total=count,
        more_hint=f"`{escape(command)}` lists them all",
        link_duplicates=link_duplicates,
    )


def replace_gap_blocks(
    blocks: Sequence[dict], finding: Finding, items: Mapping[str, WorkItem]
) -> list[dict]:
    """A message's block dicts with one finding's blocks re-rendered (after a click)."""
    fresh = [block.to_dict() for block in gap_blocks(finding, items)]
    out: list[dict] = []
    inserted = False
    for block in blocks:
        if ids.finding_of_block(str(block.get("block_id", ""))) == finding.id:
            if not inserted:
                out.extend(fresh)
                inserted = True
            continue
        out.append(block)
    if not inserted:
        out.extend(fresh)
    return out


def divider() -> DividerBlock:
    """A divider."""
    return DividerBlock()
