"""A small organisation's work items for the similarity and duplicates tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from store.models import WorkItem

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

ROWS: list[dict[str, Any]] = [
    {
        "key": "PAY-1",
        "team": "payments",
        "title": "Okta SSO login fails for SAML users",
        "body": "After the IdP change, *SAML* assertions from Okta are rejected at login.",
    },
    {
        "key": "ID-7",
        "team": "identity",
        "title": "SAML: Okta SSO login broken after redirect",
        "body": "Users coming back from the Okta redirect see an SSO error page.",
    },
    {
        "key": "PAY-2",
        "team": "payments",
        "title": "Fix bug in the invoice PDF footer",
        "body": "The footer of generated invoices overlaps the totals.",
    },
    {
        "key": "WEB-3",
        "team": "web",
        "title": "Fix bug in the checkout button colour",
        "body": "The checkout button uses the old brand colour on mobile.",
    },
    {
        "key": "WEB-4",
        "team": "web",
        "title": "Dark mode for the settings page",
        "body": "Users asked for a dark theme in account settings.",
    },
    {
        "key": "DATA-5",
        "team": "data",
        "title": "Nightly warehouse export times out",
        "body": "The export job to the warehouse exceeds its two hour window.",
    },
    {
        "key": "PAY-6",
        "team": "payments",
        "title": "Refund webhook retries duplicate refunds",
        "body": "Stripe webhook retries create a second refund record.",
    },
    {
        "key": "DATA-8",
        "team": "data",
        "title": "Warehouse nightly export job timeout",
        "body": "Since Monday the nightly export to the warehouse times out.",
    },
    {
        "key": "ID-9",
        "team": "identity",
        "title": "Password reset emails land in spam",
        "body": "Reset mails from noreply are flagged by Gmail.",
    },
    {
        "key": "WEB-10",
        "team": "web",
        "title": "Translate onboarding wizard to German",
        "body": "Localise all onboarding steps.",
    },
]


def work_items(**overrides: dict[str, Any]) -> dict[str, WorkItem]:
    """The corpus as WorkItems (all open), with per-key field overrides."""
    items = {}
    for row in ROWS:
        data = {"source": "jira", "kind": "issue", "status_category": "todo", **row}
        data.update(overrides.get(row["key"], {}))
        items[row["key"]] = WorkItem(**data)
    return items
