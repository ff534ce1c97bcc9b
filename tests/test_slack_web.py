"""The demo's Slack web page without a browser: safe rendering, its guards, signed requests.

The app on the other side is the real one (Bolt on waitress, `tests.slack_support`), the Slack
is the fake one; the browser end to end is in `test_demo_serve.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.http import QuietHTTPServer
from sandbox.slack_server import FakeSlack
from sandbox.slack_web import Place, SlackWebPage, blocks_html, mrkdwn_html
from store.db import Store
from store.findings import get_finding
from tests.slack_support import HOSTILE_TITLE, SIGNING_SECRET, make_settings, running_app, seed_org


def test_mrkdwn_is_escaped_and_only_local_links_are_clickable() -> None:
    out = mrkdwn_html(
        "*bold* _it_ `a&lt;b&gt;` &lt;script&gt;alert(1)&lt;/script&gt; "
        '<http://127.0.0.1:9/browse/X-1|X-1> <https://evil.example/"x|click> <!channel> <@U1>'
    )
    assert "<b>bold</b>" in out
    assert "<i>it</i>" in out
    assert "<code>a&lt;b&gt;</code>" in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<script" not in out
    assert '<a href="http://127.0.0.1:9/browse/X-1"' in out
    # An outside link is shown, not followed, and its URL cannot break out of the attribute.
    assert 'href="https://evil' not in out
    assert 'title="https://evil.example/&quot;x"' in out
    assert '<span class="mention">@channel</span>' in out
    assert "@U1" in out


def test_hostile_titles_render_as_text() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": HOSTILE_TITLE}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "<b onclick=x>hi</b>"}},
        {
            "type": "actions",
            "block_id": 'gap:x"><script>:actions',
            "elements": [
                {
                    "type": "button",
                    "action_id": "gapbot_snooze",
                    "value": '"><img src=x>',
                    "text": {"type": "plain_text", "text": "<i>Snooze</i>"},
                }
            ],
        },
    ]
    out = blocks_html(blocks, Place(channel="C1", ts="1.2"))
    assert "<script" not in out
    assert "<img" not in out
    assert "<b onclick" not in out
    assert "&lt;i&gt;Snooze&lt;/i&gt;" in out
    assert 'data-value="&quot;&gt;&lt;img src=x&gt;"' in out


def test_quiet_server_swallows_hang_ups(capsys: pytest.CaptureFixture[str]) -> None:
    server = QuietHTTPServer(("127.0.0.1", 0), object)  # type: ignore[arg-type]
    try:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError:
            server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == ""


@pytest.fixture
def page_and_app(tmp_path: Path) -> Iterator[tuple[SlackWebPage, FakeSlack, Store]]:
    """The page over a fake Slack with one alert, and the real app behind it."""
    with FakeSlack(public_write=True) as slack:
        channel = slack.add_channel("payments")
        settings = make_settings(slack)
        store = Store(f"sqlite:///{tmp_path / 'gapbot.db'}")
        seed_org(store)
        try:
            with running_app(settings, store) as app_url:
                page = SlackWebPage(slack, app_url + "/slack/events", SIGNING_SECRET)
                slack.add_user(page.user_id, "ada", "ada@example.com")
                # An alert message as delivery posts it (its buttons carry the finding id).
                slack.handle(
                    "chat.postMessage",
                    {
                        "channel": channel,
                        "text": "a gap",
                        "blocks": [
                            {
                                "type": "actions",
                                "block_id": "gap:dup-okta:actions",
                                "elements": [
                                    {
                                        "type": "button",
                                        "action_id": "gapbot_snooze",
                                        "value": "dup-okta",
                                        "text": {"type": "plain_text", "text": "Snooze 7 days"},
                                    }
                                ],
                            }
                        ],
                    },
                    slack.bot_token,
                )
                with page:
                    yield page, slack, store
        finally:
            store.dispose()


def test_page_serves_with_a_strict_policy_and_refuses_foreign_posts(
    page_and_app: tuple[SlackWebPage, FakeSlack, Store],
) -> None:
    page, slack, _ = page_and_app
    answer = requests.get(page.url, timeout=5)
    assert answer.status_code == 200
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'nonce-" in policy
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in answer.text
    assert "Snooze 7 days" in answer.text
    # A form post from another site (no JSON body) or another Host is refused.
    form = requests.post(page.url + "click", data={"value": "dup-okta"}, timeout=5)
    assert form.status_code == 403
    wrong_host = requests.post(
        page.url + "click", json={}, headers={"Host": "evil.example"}, timeout=5
    )
    assert wrong_host.status_code == 403
    port = page.url.rstrip("/").rsplit(":", 1)[1]
    by_name = requests.post(
        page.url + "close", json={"view": "V1"}, headers={"Host": f"localhost:{port}"}, timeout=5
    )
    assert by_name.json() == {"status": 200}  # http://localhost:PORT/ is the same page
    assert slack.calls_to("chat.update") == []


def test_a_click_is_a_signed_block_actions_payload_the_app_accepts(
    page_and_app: tuple[SlackWebPage, FakeSlack, Store],
) -> None:
    page, slack, store = page_and_app
    ts = slack.messages("payments")[0]["ts"]
    channel = slack.channel("payments")
    assert channel is not None
    answer = requests.post(
        page.url + "click",
        json={
            "channel": channel.id,
            "ts": ts,
            "action_id": "gapbot_snooze",
            "block_id": "gap:dup-okta:actions",
            "value": "dup-okta",
        },
        timeout=10,
    )
    assert answer.json() == {"status": 200}

    def snoozed() -> bool:
        with store.session() as session:
            finding = get_finding(session, "dup-okta")
            return finding is not None and finding.status == "snoozed"

    assert slack.wait_for(snoozed, timeout=10)
    with store.session() as session:
        finding = get_finding(session, "dup-okta")
        assert finding is not None
        assert finding.status_by == page.user_id
    # The message had no delivery record, so the app answered through the response_url:
    # the page shows that answer in place of the clicked message, as Slack does.
    assert slack.wait_for(lambda: "Snoozed" in json.dumps(page.state()), timeout=10)


def test_a_wrong_signing_secret_is_rejected_by_the_app(
    page_and_app: tuple[SlackWebPage, FakeSlack, Store],
) -> None:
    page, slack, _ = page_and_app
    forged = SlackWebPage(slack, page.events_url, "not-the-secret")
    status = forged.run_command(str(slack.channel("payments").id), "/gaps summary")  # type: ignore[union-attr]
    assert status == 401
    assert "HTTP 401" in forged.notes[-1]
