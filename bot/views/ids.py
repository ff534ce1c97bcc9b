"""Every action_id, callback_id and block_id prefix the app uses, in one place."""

from __future__ import annotations

DISMISS = "gapbot_dismiss"
"""The 'Not a gap' button: opens the reason modal."""
SNOOZE = "gapbot_snooze"
"""The 'Snooze 7 days' button."""
LINK_DUPLICATE = "gapbot_link_duplicate"
"""The 'Link as duplicate' button (duplicates of two Jira issues, when jira.writes is on)."""
OPEN_ITEM = "gapbot_open_item"
"""Link buttons that open an item in Jira or GitHub (Slack still sends an action)."""

DISMISS_MODAL = "gapbot_dismiss_modal"
"""callback_id of the modal that asks why a gap is not one."""
REASON_BLOCK = "gapbot_reason"
REASON_INPUT = "gapbot_reason_input"

GAP_BLOCK_PREFIX = "gap:"
"""block_id prefix of the blocks that show one finding: `gap:<finding id>:<part>`."""

SNOOZE_DAYS = 7
"""What the snooze button snoozes for."""


def gap_block_id(finding_id: str, part: str) -> str:
    """The block_id of one part (`text`, `meta`, `actions`) of a finding's blocks."""
    return f"{GAP_BLOCK_PREFIX}{finding_id}:{part}"


def finding_of_block(block_id: str) -> str | None:
    """The finding id a block belongs to, if it is one of a finding's blocks."""
    if not block_id.startswith(GAP_BLOCK_PREFIX):
        return None
    rest = block_id[len(GAP_BLOCK_PREFIX) :]
    return rest.rsplit(":", 1)[0] if ":" in rest else rest
