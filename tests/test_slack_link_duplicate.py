""" "Link as duplicate": real HTTP app, fake Jira (through the jira library) and fake Slack."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from bot.alerts import deliver_alerts
from bot.slack_client import make_client
from bot.views import ids
from config.settings import Environment, GapbotConfig, Settings
from connectors.sync import sync_all
from detectors.runner import run_detection
from sandbox.jira_server import JiraModel, JiraServer
from sandbox.slack_server import FakeSlack
from store.db import Store
from store.models import Finding, Link, utcnow
from tests.slack_support import SIGNING_SECRET, action_body, all_text, post, running_app

FILLERS = [
    "Quarterly tax export as CSV",
    "Android push notification sound",
    "Kafka consumer lag dashboard",
    "Refund webhook retries",
    "Invoice PDF footer",
    "Postgres index on orders",
]


def _settings(jira: JiraServer, slack: FakeSlack, *, writes: bool) -> Settings:
    config = GapbotConfig.model_validate(
        {
            "jira": {"writes": writes},
            "teams": [
                {"name": "payments", "slack_channel": "#payments", "jira_projects": ["PAY"]},
                {"name": "platform", "slack_channel": "#platform", "jira_projects": ["CORE"]},
            ],
            "slack": {
                "working_hours": "00:00-24:00",
                "working_days": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"],
            },
        }
    )
    env = Environment(
        jira_url=jira.url,
        jira_email="bot@example.com",
        jira_api_token="jira-token",
        slack_bot_token=slack.bot_token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
    )
    return Settings(config, env)


def _buttons(message: dict) -> list[str]:
    return [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]


def test_link_as_duplicate_links_in_jira_and_the_pair_stays_quiet(sqlite_url: str) -> None:
    model = JiraModel(deployment="Cloud")
    old = model.add_issue(
        "PAY", "Okta SSO login fails for EU users", created=model.now() - timedelta(days=2)
    )
    new = model.add_issue("CORE", "Okta SSO login fails for users in the EU")
    for n, title in enumerate(FILLERS):
        model.add_issue("PAY" if n % 2 else "CORE", title)
    store = Store(sqlite_url)
    with JiraServer(model) as jira, FakeSlack() as slack:
        for name in ("payments", "platform"):
            slack.add_channel(name)
        slack.add_user("U1", "ada", "ada@example.com")
        settings = _settings(jira, slack, writes=True)
        sync_all(store, settings)
        run_detection(store, settings.config, utcnow())
        with store.session() as session:
            (finding,) = session.scalars(select(Finding).where(col(Finding.kind) == "duplicate"))
        deliver_alerts(store, settings, make_client(settings))
        (alert,) = slack.messages("payments")
        assert ids.LINK_DUPLICATE in _buttons(alert)

        with running_app(settings, store) as url:
            channel_id = slack.channel("payments").id  # type: ignore[union-attr]
            click = action_body(
                slack, ids.LINK_DUPLICATE, finding.id, channel_id=channel_id, message_ts=alert["ts"]
            )
            assert post(url, click).status_code == 200
            assert slack.wait_for(lambda: len(slack.calls_to("chat.update")) >= 2, timeout=15)

        # Jira got a "Duplicate" link through the jira library: the newer issue duplicates the older.
        assert [r.json() for r in jira.requests_to("/rest/api/./issueLink$")] == [
            {
                "type": {"name": "Duplicate"},
                "inwardIssue": {"key": new["key"]},
                "outwardIssue": {"key": old["key"]},
                "comment": None,
            }
        ]
        assert model.links == [("Duplicate", new["id"], old["id"])]
        with store.session() as session:
            clicked = session.get(Finding, finding.id)
            assert clicked is not None
            assert (clicked.status, clicked.status_by) == ("resolved", "U1")
            assert clicked.status_at is not None
        shown = all_text(slack.messages("payments")[0]["blocks"])
        assert f"Linked in Jira: {new['key']} duplicates {old['key']}*, by <@U1>" in shown
        assert ids.LINK_DUPLICATE not in _buttons(slack.messages("payments")[0])

        # The next sync brings the link from Jira; the next detection does not flag the pair.
        sync_all(store, settings)
        result = run_detection(store, settings.config, utcnow())
        assert result.new_open == []
        with store.session() as session:
            links = {(k.source_key, k.target_key, k.type) for k in session.scalars(select(Link))}
            assert (new["key"], old["key"], "duplicates") in links
            assert session.get(Finding, finding.id).status == "resolved"  # type: ignore[union-attr]
            assert not list(
                session.scalars(
                    select(Finding).where(
                        col(Finding.kind) == "duplicate", col(Finding.status) == "open"
                    )
                )
            )
    store.dispose()


def test_without_jira_writes_there_is_no_link_button(sqlite_url: str) -> None:
    model = JiraModel(deployment="Cloud")
    model.add_issue("PAY", "Okta SSO login fails for EU users")
    model.add_issue("CORE", "Okta SSO login fails for users in the EU")
    for n, title in enumerate(FILLERS):
        model.add_issue("PAY" if n % 2 else "CORE", title)
    store = Store(sqlite_url)
    with JiraServer(model) as jira, FakeSlack() as slack:
        for name in ("payments", "platform"):
            slack.add_channel(name)
        settings = _settings(jira, slack, writes=False)
        sync_all(store, settings)
        run_detection(store, settings.config, utcnow())
        deliver_alerts(store, settings, make_client(settings))
        (alert,) = slack.messages("payments")
        assert ids.SNOOZE in _buttons(alert)
        assert ids.LINK_DUPLICATE not in _buttons(alert)
    store.dispose()
