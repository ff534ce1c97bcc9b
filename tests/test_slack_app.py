"""The running HTTP app: real signed requests, the fake Slack recording what it answered."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import event

from bot.alerts import deliver_alerts
from bot.slack_client import make_client
from bot.views import ids
from sandbox.slack_server import FakeSlack
from store.db import Store
from store.models import Finding
from store.slack_models import SlackSubscription, SlackUserSubscription
from tests.cli import REPO_ROOT
from tests.slack_support import (
    SIGNING_SECRET,
    WORK_TIME,
    action_body,
    add_finding,
    add_item,
    all_text,
    command_body,
    event_body,
    make_settings,
    post,
    running_app,
    seed_org,
    sign,
)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A fake workspace with the teams' channels and one person."""
    with FakeSlack() as fake:
        for name in ("payments", "platform", "security"):
            fake.add_channel(name)
        fake.add_channel("sec-leads", private=True)
        fake.add_user("U1", "ada", "ada@example.com")
        yield fake


@pytest.fixture
def seeded(sqlite_url: str) -> Iterator[Store]:
    """A SQLite store with the test organisation."""
    store = Store(sqlite_url)
    seed_org(store)
    yield store
    store.dispose()


@pytest.fixture
def app_url(slack: FakeSlack, seeded: Store) -> Iterator[str]:
    """The app serving HTTP, wired to the fake Slack."""
    with running_app(make_settings(slack), seeded) as url:
        yield url


def ask(
    slack: FakeSlack, url: str, text: str, *, channel: str = "payments", tag: str = "t"
) -> dict:
    """Run `/gaps TEXT` in a channel; return the answer posted to response_url."""
    response = post(url, command_body(slack, text, channel=channel, tag=tag))
    assert response.status_code == 200
    assert slack.wait_for(lambda: slack.responses.get(tag), timeout=10), f"no answer to {text}"
    return slack.responses[tag][-1]


def test_healthz_and_signature_checks(app_url: str, slack: FakeSlack) -> None:
    assert requests.get(f"{app_url}/healthz", timeout=5).json() == {"ok": True}
    body = command_body(slack, "summary")
    forged = sign(body, secret="not-the-secret")
    assert (
        requests.post(f"{app_url}/slack/events", data=body, headers=forged, timeout=5).status_code
        == 401
    )
    stale = sign(body, timestamp=int(time.time()) - 600)
    assert (
        requests.post(f"{app_url}/slack/events", data=body, headers=stale, timeout=5).status_code
        == 401
    )
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    assert (
        requests.post(f"{app_url}/slack/events", data=body, headers=unsigned, timeout=5).status_code
        == 401
    )
    time.sleep(0.3)
    assert slack.responses == {}, "a rejected request did nothing"


def test_url_verification_echoes_the_challenge(app_url: str) -> None:
    body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2r", "type": "url_verification"})
    assert post(app_url, body).json() == {"challenge": "3eZbrw1aBm2r"}


@pytest.mark.parametrize("text", ["", "help", "frobnicate the widgets"])
def test_help_and_unknown_input_get_the_help_in_the_ack(
    app_url: str, slack: FakeSlack, text: str
) -> None:
    response = post(app_url, command_body(slack, text))
    assert response.status_code == 200
    answer = response.json()
    assert "summary [team]" in all_text(answer["blocks"])
    assert answer["response_type"] == "ephemeral"


def test_summary_lists_gaps_with_buttons_and_escapes_hostile_titles(
    app_url: str, slack: FakeSlack
) -> None:
    answer = ask(slack, app_url, "summary")
    text = all_text(answer["blocks"])
    assert "2 open gaps" in text
    assert "Duplicated effort: *1*" in text
    assert "Priority inversion: *1*" in text
    assert "<!channel>" not in text
    assert "<@U123>" not in text
    assert "&lt;!channel&gt; hotfix" in text
    assert "<https://jira.example/browse/PAY-1|PAY-1>" in text
    buttons = [
        e["action_id"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons.count(ids.DISMISS) == 2
    assert buttons.count(ids.SNOOZE) == 2
    assert ids.LINK_DUPLICATE not in buttons


def test_commands_never_show_a_restricted_team_elsewhere(app_url: str, slack: FakeSlack) -> None:
    checks = {
        "summary": "dup-sec",
        "dupes": "dup-sec",
        "item PAY-3": "dup-sec",
        "search okta token": "SEC-1",
        "item SEC-1": "Secret pentest",
        "summary security": "dup-sec",
    }
    for n, (command, secret) in enumerate(checks.items()):
        shown = all_text(ask(slack, app_url, command, tag=f"pay{n}")["blocks"])
        assert secret not in shown, f"{command} leaked in #payments"
        assert "pentest" not in shown, f"{command} leaked in #payments"
    # The restricted team's own channel and its allowed private channel do see them.
    assert "dup-sec" in all_text(
        ask(slack, app_url, "dupes", channel="security", tag="s1")["blocks"]
    )
    leads = all_text(
        ask(slack, app_url, "search okta token", channel="sec-leads", tag="s2")["blocks"]
    )
    assert "SEC-1" in leads
    # A direct message is private: nothing of the restricted team.
    dm = all_text(ask(slack, app_url, "search okta token", channel="nowhere", tag="dm")["blocks"])
    assert "SEC-1" not in dm
    assert "PAY-3" in dm


def test_mute_item_and_subscribe_commands_change_the_store(
    app_url: str, slack: FakeSlack, seeded: Store
) -> None:
    assert "dup-okta" in all_text(ask(slack, app_url, "item PAY-1", tag="i")["blocks"])
    muted = all_text(ask(slack, app_url, "mute PAY-1 14", tag="m")["blocks"])
    assert "Muted for 14 days" in muted
    assert "dup-okta" in muted
    assert "mute SEC-1" not in muted
    refused = all_text(ask(slack, app_url, "mute dup-sec", tag="m2")["blocks"])
    assert "No gap or item dup-sec here" in refused
    with seeded.session() as session:
        okta = session.get(Finding, "dup-okta")
        assert okta is not None
        assert okta.status == "snoozed"
        assert okta.status_by == "U1"
        assert session.get(Finding, "dup-sec").status == "open"  # type: ignore[union-attr]

    ok = all_text(ask(slack, app_url, "subscribe platform daily high", tag="s")["blocks"])
    assert "#payments now gets platform's a daily digest, high and above" in ok
    no = all_text(ask(slack, app_url, "subscribe security", tag="s2")["blocks"])
    assert "restricted" in no
    me = all_text(ask(slack, app_url, "subscribe me", tag="s3")["blocks"])
    assert "direct message" in me
    off = all_text(ask(slack, app_url, "unsubscribe", tag="s4")["blocks"])
    assert "no longer gets gaps of payments, platform" in off
    with seeded.session() as session:
        rows = {(r.channel, r.team): r.mode for r in session.query(SlackSubscription)}
        assert rows == {("#payments", "platform"): "off", ("#payments", "payments"): "off"}
        assert session.get(SlackUserSubscription, "U1").email == "ada@example.com"  # type: ignore[union-attr]


def test_similar_ranks_by_the_index_and_hides_restricted_items(
    app_url: str, slack: FakeSlack, seeded: Store
) -> None:
    answer = all_text(ask(slack, app_url, "similar PAY-1", tag="a")["blocks"])
    assert "Items like PAY-1" in answer
    lines = [line for line in answer.splitlines() if line.startswith("• ")]
    assert "CORE-1" in lines[0]  # "Okta SSO login broken in EU region"
    assert "SEC-1" not in answer
    assert "SEC-1" in all_text(
        ask(slack, app_url, "similar PAY-3", channel="security", tag="b")["blocks"]
    )
    # An item added after the index was built is found by the next query (incremental).
    add_item(seeded, "PAY-9", "Okta SSO login fails for EU users on mobile", "payments")
    again = all_text(ask(slack, app_url, "similar PAY-1", tag="c")["blocks"])
    assert "PAY-9" in again.splitlines()[1]


def test_report_is_this_weeks_report_for_the_channel(app_url: str, slack: FakeSlack) -> None:
    report = ask(slack, app_url, "report", tag="r")
    text = all_text(report["blocks"])
    assert report["text"].startswith("Weekly gap report · payments")
    # The seeded gaps were first seen now: this week's report counts them already.
    assert "*Open gaps:* 2" in text
    assert "*New this week:* 2" in text
    assert "SEC-1" not in text
    assert "<!channel>" not in text
    security = all_text(ask(slack, app_url, "report", channel="security", tag="s")["blocks"])
    assert "SEC-1" in security


def test_ack_within_three_seconds_with_a_slow_store(slack: FakeSlack, seeded: Store) -> None:
    @event.listens_for(seeded.engine, "before_cursor_execute")
    def slow(*_args: Any) -> None:
        time.sleep(1.2)  # every query takes over a second: an answer needs three

    with running_app(make_settings(slack), seeded) as url:
        started = time.monotonic()
        response = post(url, command_body(slack, "summary", tag="slow"))
        acked = time.monotonic() - started
        assert response.status_code == 200
        assert acked < 1.0, f"ack took {acked:.2f}s"
        assert slack.wait_for(lambda: slack.responses.get("slow"), timeout=30)
        answered = time.monotonic() - started
        assert answered > 3.0, "the answer really was slow, yet the ack came at once"
        assert "2 open gaps" in all_text(slack.responses["slow"][0]["blocks"])
    event.remove(seeded.engine, "before_cursor_execute", slow)


def test_snooze_button_snoozes_and_updates_the_alert(
    app_url: str, slack: FakeSlack, seeded: Store
) -> None:
    settings = make_settings(slack)
    deliver_alerts(seeded, settings, make_client(settings), WORK_TIME)
    alert = slack.messages("payments")[0]
    channel_id = slack.channel("payments").id  # type: ignore[union-attr]
    body = action_body(slack, ids.SNOOZE, "dup-okta", channel_id=channel_id, message_ts=alert["ts"])
    assert post(app_url, body).status_code == 200
    assert slack.wait_for(lambda: len(slack.calls_to("chat.update")) >= 2, timeout=10)
    with seeded.session() as session:
        finding = session.get(Finding, "dup-okta")
        assert finding is not None
        assert finding.status == "snoozed"
        assert finding.status_by == "U1"
        assert finding.status_at is not None
        assert finding.snoozed_until is not None
    shown = all_text(slack.messages("payments")[0]["blocks"])
    assert re.search(r"Snoozed\* by <@U1> \d{4}-\d\d-\d\d", shown)
    updated_channels = {c.params["channel"] for c in slack.calls_to("chat.update")}
    assert updated_channels == {channel_id, slack.channel("platform").id}  # type: ignore[union-attr]


def test_not_a_gap_opens_a_modal_and_dismisses_with_the_reason(
    app_url: str, slack: FakeSlack, seeded: Store
) -> None:
    settings = make_settings(slack)
    deliver_alerts(seeded, settings, make_client(settings), WORK_TIME)
    alert = slack.messages("payments")[0]
    channel_id = slack.channel("payments").id  # type: ignore[union-attr]
    click = action_body(
        slack, ids.DISMISS, "dup-okta", channel_id=channel_id, message_ts=alert["ts"]
    )
    assert post(app_url, click).status_code == 200
    assert slack.wait_for(lambda: slack.opened_views, timeout=10)
    modal = slack.opened_views[0]
    assert modal["callback_id"] == ids.DISMISS_MODAL
    submission = {
        "type": "view_submission",
        "team": {"id": "T0GAPBOT", "domain": "sandbox"},
        "user": {"id": "U1", "username": "ada", "name": "ada", "team_id": "T0GAPBOT"},
        "api_app_id": "A111",
        "token": "verification_token",
        "trigger_id": "111.222.valid",
        "view": {
            **modal,
            "state": {
                "values": {
                    ids.REASON_BLOCK: {
                        ids.REASON_INPUT: {"type": "plain_text_input", "value": "<!here> same epic"}
                    }
                }
            },
        },
        "response_urls": [],
    }
    from urllib.parse import urlencode

    response = post(app_url, urlencode({"payload": json.dumps(submission)}))
    assert response.status_code == 200
    assert slack.wait_for(lambda: slack.calls_to("chat.update"), timeout=10)
    with seeded.session() as session:
        finding = session.get(Finding, "dup-okta")
        assert finding is not None
        assert (finding.status, finding.status_by) == ("dismissed", "U1")
        assert finding.status_reason == "<!here> same epic"
    shown = all_text(slack.messages("payments")[0]["blocks"])
    assert "Not a gap*, said <@U1>" in shown
    assert "&lt;!here&gt; same epic" in shown


def test_app_home_shows_the_viewers_gaps(app_url: str, slack: FakeSlack) -> None:
    body = event_body({"type": "app_home_opened", "user": "U1", "channel": "D111", "tab": "home"})
    assert post(app_url, body).status_code == 200
    assert slack.wait_for(lambda: "U1" in slack.home_views, timeout=10)
    view = slack.home_views["U1"]
    assert view["type"] == "home"
    shown = all_text(view["blocks"])
    assert "pri-hostile" in shown
    assert "dup-okta" not in shown
    # The viewer was matched by users.lookupByEmail on the assignees' e-mails, once per
    # process: opening the Home again asks Slack nothing more.
    assert [c.params["email"] for c in slack.calls_to("users.lookupByEmail")] == ["ada@example.com"]
    del slack.home_views["U1"]
    assert post(app_url, body).status_code == 200
    assert slack.wait_for(lambda: "U1" in slack.home_views, timeout=10)
    assert len(slack.calls_to("users.lookupByEmail")) == 1
    assert "pri-hostile" in all_text(slack.home_views["U1"]["blocks"])


def test_app_home_uses_the_configs_user_map(slack: FakeSlack, seeded: Store) -> None:
    add_item(seeded, "CORE-9", "Cache warm-up", "platform", assignee="Bob Builder")
    add_finding(seeded, "dup-cache", ["CORE-9", "PAY-1"], ["platform", "payments"])
    settings = make_settings(slack, user_map={"Bob Builder": "U2"})
    slack.add_user("U2", "bob", "bob@elsewhere.example")
    with running_app(settings, seeded) as url:
        body = event_body({"type": "app_home_opened", "user": "U2", "tab": "home"})
        assert post(url, body).status_code == 200
        assert slack.wait_for(lambda: "U2" in slack.home_views, timeout=10)
    shown = all_text(slack.home_views["U2"]["blocks"])
    assert "dup-cache" in shown
    assert "pri-hostile" not in shown


@pytest.mark.slow
def test_gapbot_serve_http_answers_signed_commands(tmp_path: Path, slack: FakeSlack) -> None:
    config = tmp_path / "gapbot.yaml"
    config.write_text(
        "teams:\n  - name: payments\n    slack_channel: '#payments'\n    jira_projects: [PAY]\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO_ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "serve",
            "--http",
            "--port",
            "0",
            "--host",
            "127.0.0.1",
        ],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = ""
        lines: list[str] = []
        for _ in range(50):
            line = process.stderr.readline()
            lines.append(line)
            if "serving Slack on" in line:
                break
        match = re.search(r"http://127\.0\.0\.1:(\d+)/slack/events", line)
        assert match, line
        # serve logs at INFO by default: the scheduler's start (and each job's) is shown.
        assert any("INFO bot.scheduler: scheduler started" in entry for entry in lines), lines
        url = f"http://127.0.0.1:{match[1]}"
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
        scraped = requests.get(f"{url}/metrics", timeout=5)
        assert scraped.status_code == 200
        assert "gapbot_scheduler_leader" in scraped.text
        answer = ask(slack, url, "summary", tag="serve")
        assert "0 open gaps" in all_text(answer["blocks"])
        assert slack.bot_token not in line
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_without_tokens_is_a_one_line_error(tmp_path: Path) -> None:
    from tests.cli import run_gapbot

    config = tmp_path / "gapbot.yaml"
    config.write_text("teams:\n  - name: payments\n    jira_projects: [PAY]\n")
    result = run_gapbot("--config", str(config), "serve", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "SLACK_APP_TOKEN" in result.stderr
