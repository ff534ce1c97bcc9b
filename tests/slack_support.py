"""Shared pieces of the Slack tests: a config, seeded findings, signed requests, a live app."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests

from bot.background_server import background_waitress
from config.settings import Environment, GapbotConfig, Settings
from sandbox.slack_server import FakeSlack
from store.db import Store
from store.models import Finding, FindingItem, WorkItem

SIGNING_SECRET = "test-signing-secret-123456"
HOSTILE_TITLE = "<!channel> hotfix <@U123> & <https://evil.example|https://good.example>"

CONFIG: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "slack": {"working_hours": "09:00-18:00", "daily_alert_cap": 5, "min_severity": "medium"},
    "teams": [
        {"name": "payments", "slack_channel": "#payments", "jira_projects": ["PAY"]},
        {"name": "platform", "slack_channel": "#platform", "jira_projects": ["CORE"]},
        {
            "name": "security",
            "slack_channel": "#security",
            "jira_projects": ["SEC"],
            "restricted": True,
            "allowed_channels": ["#sec-leads"],
        },
    ],
}
# A Tuesday, 10:00 in Berlin: inside working hours.
WORK_TIME = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NIGHT_TIME = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def make_settings(slack: FakeSlack, **slack_overrides: Any) -> Settings:
    """Settings pointing at the fake Slack."""
    data = json.loads(json.dumps(CONFIG))
    data["slack"].update(slack_overrides)
    env = Environment(
        slack_bot_token=slack.bot_token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        database_url="sqlite://",
    )
    return Settings(GapbotConfig.model_validate(data), env)


def add_item(store: Store, key: str, title: str, team: str, **fields: Any) -> None:
    """Insert one work item."""
    with store.session() as session:
        session.add(
            WorkItem(
                key=key,
                title=title,
                team=team,
                source="jira",
                url=f"https://jira.example/browse/{key}",
                status="In Progress",
                status_category="in_progress",
                **fields,
            )
        )


def add_finding(
    store: Store,
    finding_id: str,
    keys: list[str],
    teams: list[str],
    *,
    kind: str = "duplicate",
    severity: str = "high",
    summary: str | None = None,
    status: str = "open",
) -> None:
    """Insert one finding with its FindingItem rows."""
    with store.session() as session:
        session.add(
            Finding(
                id=finding_id,
                kind=kind,
                severity=severity,
                score=0.9,
                summary=summary or f"{' and '.join(keys)} look like the same work",
                explanation=f"Both mention the same words ({', '.join(keys)}).",
                teams=teams,
                item_keys=keys,
                status=status,
            )
        )
        session.flush()
        for key in keys:
            session.add(FindingItem(finding_id=finding_id, item_key=key))


def seed_org(store: Store) -> None:
    """Items of three teams and a few gaps, one with a hostile title, one restricted."""
    add_item(store, "PAY-1", "Okta SSO login fails for EU users", "payments")
    add_item(store, "CORE-1", "Okta SSO login broken in EU region", "platform")
    add_item(store, "PAY-2", HOSTILE_TITLE, "payments", assignee_email="ada@example.com")
    add_item(store, "CORE-2", "Rate limiter for checkout", "platform", priority_rank=5)
    add_item(store, "SEC-1", "Secret pentest finding: okta token leak", "security")
    add_item(store, "PAY-3", "Okta token refresh", "payments")
    add_finding(store, "dup-okta", ["PAY-1", "CORE-1"], ["payments", "platform"])
    add_finding(
        store,
        "pri-hostile",
        ["PAY-2", "CORE-2"],
        ["payments", "platform"],
        kind="priority_inversion",
        summary=f"{HOSTILE_TITLE} waits on CORE-2",
    )
    add_finding(store, "dup-sec", ["SEC-1", "PAY-3"], ["security", "payments"])


def sign(body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict:
    """Slack's signature headers for `body` (v0 HMAC-SHA256 of 'v0:ts:body')."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def command_body(
    slack: FakeSlack, text: str, *, channel: str = "payments", tag: str = "cmd", user: str = "U1"
) -> str:
    """A slash command's form body, as Slack sends it."""
    found = slack.channel(channel)
    return urlencode(
        {
            "token": "verification_token",
            "team_id": "T0GAPBOT",
            "team_domain": "sandbox",
            "channel_id": found.id if found else "D0000001",
            "channel_name": found.name if found else "directmessage",
            "user_id": user,
            "user_name": "ada",
            "command": "/gaps",
            "text": text,
            "api_app_id": "A111",
            "response_url": slack.response_url(tag),
            "trigger_id": "111.222.abc",
        }
    )


def action_body(
    slack: FakeSlack,
    action_id: str,
    value: str,
    *,
    channel_id: str,
    message_ts: str,
    user: str = "U1",
    tag: str = "act",
    message: dict | None = None,
    ephemeral: bool = False,
) -> str:
    """A block_actions payload form body (fixture shape)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "ada", "name": "ada", "team_id": "T0GAPBOT"},
        "api_app_id": "A111",
        "token": "verification_token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": "111.222.valid",
        "team": {"id": "T0GAPBOT", "domain": "sandbox"},
        "channel": {"id": channel_id, "name": "payments"},
        "response_url": slack.response_url(tag),
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"gap:{value}:actions",
                "value": value,
                "type": "button",
                "action_ts": "1596530385.194939",
            }
        ],
    }
    if message is not None:
        payload["message"] = message
    return urlencode({"payload": json.dumps(payload)})


def event_body(event: dict[str, Any]) -> str:
    """An event_callback JSON body."""
    return json.dumps(
        {
            "token": "verification-token",
            "team_id": "T0GAPBOT",
            "api_app_id": "A111",
            "event": event,
            "type": "event_callback",
            "event_id": "Ev111",
            "event_time": 1606810927,
        }
    )


@contextmanager
def running_app(settings: Settings, store: Store) -> Iterator[str]:
    """The real HTTP app (Bolt's WSGI adapter on waitress) on a free port; yields its URL."""
    from bot.app import build_app, make_wsgi_app

    app = build_app(settings, store)
    with background_waitress(make_wsgi_app(app), threads=8) as server:
        yield f"http://127.0.0.1:{server.effective_port}"


def post(url: str, body: str, headers: dict | None = None) -> requests.Response:
    """POST a signed body to the app's /slack/events."""
    signed = sign(body)
    if body.startswith("{"):
        signed["Content-Type"] = "application/json"
    signed.update(headers or {})
    return requests.post(f"{url}/slack/events", data=body.encode(), headers=signed, timeout=10)


def all_text(blocks: list[dict]) -> str:
    """Every text in a list of block dicts, joined (for 'does it say...' checks)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(out)
