"""Alert delivery against the fake Slack Web API: batching, caps, hours, errors, restarts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.alerts import deliver_alerts
from bot.slack_client import make_client
from bot.subscriptions import subscribe, subscribe_user
from sandbox.slack_server import FakeSlack
from store.db import Store
from store.models import Delivery, Finding
from tests.slack_support import (
    HOSTILE_TITLE,
    NIGHT_TIME,
    WORK_TIME,
    add_finding,
    add_item,
    all_text,
    make_settings,
    seed_org,
)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A fake workspace with the teams' channels."""
    with FakeSlack() as fake:
        for name in ("payments", "platform", "security", "sec-leads", "eng"):
            fake.add_channel(name)
        fake.add_user("U1", "ada", "ada@example.com")
        yield fake


def _gap_ids(message: dict) -> list[str]:
    return [
        b["block_id"].split(":")[1]
        for b in message["blocks"]
        if str(b.get("block_id", "")).endswith(":text")
    ]


def test_batches_each_channel_once_and_a_restart_posts_nothing_twice(
    store: Store, slack: FakeSlack, database_url: str
) -> None:
    seed_org(store)
    for n in range(12):
        add_item(store, f"PAY-{100 + n}", f"Payments thing {n}", "payments")
        add_item(store, f"CORE-{100 + n}", f"Platform thing {n}", "platform")
        add_finding(
            store, f"dup-{n:02d}", [f"PAY-{100 + n}", f"CORE-{100 + n}"], ["payments", "platform"]
        )
    settings = make_settings(slack)
    report = deliver_alerts(store, settings, make_client(settings), WORK_TIME)

    payments = slack.messages("payments")
    assert len(payments) == 1, "one message per channel per run"
    message = payments[0]
    assert len(_gap_ids(message)) == 10
    assert "and 4 more" in all_text(message["blocks"])
    assert "/gaps summary payments" in all_text(message["blocks"])
    assert len(message["blocks"]) <= 50
    assert report.messages_posted == 3  # payments, platform, security (dup-sec)
    assert report.gaps_listed == 8  # 4 more in #payments and in #platform

    # A second run, and a "restart" (a new Store on the same database), post nothing new.
    deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    restarted = Store(database_url)
    try:
        again = deliver_alerts(restarted, settings, make_client(settings), WORK_TIME)
    finally:
        restarted.dispose()
    assert again.messages_posted == 0
    assert len(slack.calls_to("chat.postMessage")) == 3


def test_channel_subscribed_to_two_teams_gets_each_gap_once(
    slack: FakeSlack, sqlite_url: str
) -> None:
    store = Store(sqlite_url)
    seed_org(store)
    with store.session() as session:
        for team in ("payments", "platform"):
            subscribe(session, channel="#eng", channel_id="", team=team, mode="alerts")
    settings = make_settings(slack)
    deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    eng = slack.messages("eng")
    assert len(eng) == 1
    ids = _gap_ids(eng[0])
    assert sorted(ids) == ["dup-okta", "pri-hostile"], "each gap once; restricted dup-sec never"
    store.dispose()


def test_restricted_team_gaps_only_reach_allowed_channels(
    slack: FakeSlack, sqlite_url: str
) -> None:
    store = Store(sqlite_url)
    seed_org(store)
    with store.session() as session:
        subscribe(session, channel="#sec-leads", channel_id="", team="security", mode="alerts")
    settings = make_settings(slack)
    deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    assert "dup-sec" in _gap_ids(slack.messages("security")[0])
    assert "dup-sec" in _gap_ids(slack.messages("sec-leads")[0])
    assert "dup-sec" not in _gap_ids(slack.messages("payments")[0])
    for channel in ("payments", "platform"):
        assert "SEC-1" not in all_text(slack.messages(channel)[0]["blocks"])
    store.dispose()


def test_hostile_titles_are_escaped_in_alerts(slack: FakeSlack, sqlite_url: str) -> None:
    store = Store(sqlite_url)
    seed_org(store)
    settings = make_settings(slack)
    deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    call = next(c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "#payments")
    text = all_text(call.params["blocks"]) + call.params["text"]
    assert "<!channel>" not in text
    assert "<@U123>" not in text
    assert "&lt;!channel&gt; hotfix &lt;@U123&gt; &amp;" in text
    assert "<https://evil.example|" not in text
    assert HOSTILE_TITLE not in text
    store.dispose()


def test_alerts_wait_for_working_hours(slack: FakeSlack, sqlite_url: str) -> None:
    store = Store(sqlite_url)
    seed_org(store)
    settings = make_settings(slack)
    night = deliver_alerts(store, settings, make_client(settings), NIGHT_TIME)
    assert night.messages_posted == 0
    assert "#payments" in night.waiting_for_hours
    assert slack.calls_to("chat.postMessage") == []
    saturday = WORK_TIME + timedelta(days=4)
    assert deliver_alerts(store, settings, make_client(settings), saturday).messages_posted == 0
    morning = deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    assert morning.messages_posted == 3
    store.dispose()


def test_daily_cap_holds_the_rest_until_tomorrow(slack: FakeSlack, sqlite_url: str) -> None:
    store = Store(sqlite_url)
    settings = make_settings(slack, daily_alert_cap=1)
    add_item(store, "PAY-9", "First", "payments")
    add_finding(store, "ovd-1", ["PAY-9"], ["payments"], kind="overdue")
    client = make_client(settings)
    deliver_alerts(store, settings, client, WORK_TIME)
    add_item(store, "PAY-10", "Second", "payments")
    add_finding(store, "ovd-2", ["PAY-10"], ["payments"], kind="overdue")
    capped = deliver_alerts(store, settings, client, WORK_TIME + timedelta(hours=1))
    assert capped.capped == ["#payments"]
    assert capped.pending == 1
    assert len(slack.messages("payments")) == 1
    tomorrow = deliver_alerts(store, settings, client, WORK_TIME + timedelta(days=1))
    assert tomorrow.messages_posted == 1
    assert _gap_ids(slack.messages("payments")[1]) == ["ovd-2"]
    store.dispose()


def test_resolved_gap_updates_its_message_and_says_so_in_the_thread(
    slack: FakeSlack, sqlite_url: str
) -> None:
    store = Store(sqlite_url)
    seed_org(store)
    settings = make_settings(slack)
    client = make_client(settings)
    deliver_alerts(store, settings, client, WORK_TIME)
    original = slack.messages("payments")[0]
    with store.session() as session:
        finding = session.get(Finding, "dup-okta")
        assert finding is not None
        finding.status = "resolved"
        finding.resolved_at = WORK_TIME
    report = deliver_alerts(store, settings, client, WORK_TIME)
    assert report.messages_posted == 0
    assert report.messages_updated == 2
    updates = [c for c in slack.calls_to("chat.update") if c.params["ts"] == original["ts"]]
    assert len(updates) == 1
    assert "Resolved" in all_text(slack.messages("payments")[0]["blocks"])
    replies = [m for m in slack.messages("payments") if m.get("thread_ts") == original["ts"]]
    assert len(replies) == 1
    assert "Resolved" in replies[0]["text"]
    deliver_alerts(store, settings, client, WORK_TIME)
    assert len(slack.calls_to("chat.update")) == 2, "a resolution is told once"
    store.dispose()


def test_ratelimited_post_waits_and_retries(slack: FakeSlack, sqlite_url: str) -> None:
    store = Store(sqlite_url)
    add_item(store, "PAY-9", "First", "payments")
    add_finding(store, "ovd-1", ["PAY-9"], ["payments"], kind="overdue")
    settings = make_settings(slack)
    slack.fail("chat.postMessage", "ratelimited", retry_after=1)
    report = deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    posts = slack.calls_to("chat.postMessage")
    assert [c.status for c in posts] == [429, 200]
    assert posts[1].at - posts[0].at >= 1.0, "waited Retry-After"
    assert report.messages_posted == 1
    assert len(slack.messages("payments")) == 1
    store.dispose()


def test_not_in_public_channel_joins_then_posts(slack: FakeSlack, sqlite_url: str) -> None:
    store = Store(sqlite_url)
    slack.add_channel("growth", member=False)
    add_item(store, "PAY-9", "First", "payments")
    add_finding(store, "ovd-1", ["PAY-9"], ["payments"], kind="overdue")
    with store.session() as session:
        subscribe(session, channel="#growth", channel_id="", team="payments", mode="alerts")
    settings = make_settings(slack)
    report = deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    assert report.errors == []
    assert len(slack.calls_to("conversations.join")) == 1
    assert len(slack.messages("growth")) == 1
    store.dispose()


def test_private_channel_without_bot_logs_how_to_invite_and_keeps_pending(
    slack: FakeSlack, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(sqlite_url)
    hidden = slack.add_channel("leads", private=True, member=False)
    add_item(store, "PAY-9", "First", "payments")
    add_finding(store, "ovd-1", ["PAY-9"], ["payments"], kind="overdue")
    with store.session() as session:
        subscribe(session, channel="#leads", channel_id=hidden, team="payments", mode="alerts")
    settings = make_settings(slack)
    report = deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    assert any("#leads" in e and "/invite @gapbot" in e for e in report.errors)
    assert "/invite @gapbot" in caplog.text
    assert slack.calls_to("conversations.join") == []
    slack.channels[hidden].is_member = True  # someone invited the bot
    later = deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    assert later.messages_posted == 1
    assert len(slack.messages("leads")) == 1
    store.dispose()


@pytest.mark.parametrize("error", ["channel_not_found", "invalid_auth", "account_inactive"])
def test_refusals_keep_deliveries_pending_and_nothing_is_sent_twice(
    slack: FakeSlack, sqlite_url: str, error: str
) -> None:
    store = Store(sqlite_url)
    seed_org(store)
    settings = make_settings(slack)
    slack.fail("chat.postMessage", error, channel="#payments")
    report = deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    assert any(error in e for e in report.errors)
    with store.session() as session:
        pending = session.scalars(
            select(Delivery).where(Delivery.channel == "#payments", Delivery.status == "pending")
        ).all()
        assert {d.finding_id for d in pending} == {"dup-okta", "pri-hostile"}
        assert all(d.attempts == 1 and d.error for d in pending)
    deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    for channel in ("payments", "platform", "security"):
        gaps = [g for m in slack.messages(channel) for g in _gap_ids(m)]
        assert len(gaps) == len(set(gaps)), f"a gap was posted twice in #{channel}"
    assert sorted(_gap_ids(slack.messages("payments")[0])) == ["dup-okta", "pri-hostile"]
    store.dispose()


def test_person_subscribed_by_dm_gets_their_own_gaps(slack: FakeSlack, sqlite_url: str) -> None:
    store = Store(sqlite_url)
    seed_org(store)
    with store.session() as session:
        subscribe_user(session, "U1", "ada@example.com")
    settings = make_settings(slack)
    deliver_alerts(store, settings, make_client(settings), WORK_TIME)
    dm = slack.messages("U1")
    assert len(dm) == 1
    assert _gap_ids(dm[0]) == ["pri-hostile"]
    store.dispose()


def test_fake_slack_accepts_files_upload_v2(slack: FakeSlack) -> None:
    settings = make_settings(slack)
    client = make_client(settings)
    client.files_upload_v2(
        channel=slack.channel("payments").id,  # type: ignore[union-attr]
        content=b"PNG-bytes",
        filename="chart.png",
        title="Open gaps",
        initial_comment="Weekly chart",
    )
    assert [c.method for c in slack.calls][-3:] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    assert slack.messages("payments")[-1]["files"][0]["title"] == "Open gaps"
    assert list(slack.uploads.values()) == [b"PNG-bytes"]
