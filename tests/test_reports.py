"""Reports on a scenario whose answers are known (sandbox/report_scenario.py).

The week reported is 23–29 Nov 2026 in Europe/Berlin: [22 Nov 23:00 UTC, 29 Nov 23:00 UTC).
Organisation-wide, leaving out dup-f5 (it touches the restricted security team):
open at the week's end are dup-f1, pri-f2 and sta-f4 (sta-f3 was resolved on the 25th,
blo-f6 dismissed on the 20th, ove-f7 found only on the 30th); new are dup-f1 and sta-f4;
resolved is sta-f3. KPIs: the two pull requests first reviewed in the week waited 10 h and
30 h (median 20); CHK-5 was blocked by payments' PAY-5 from the week's start until PAY-5 was
resolved on 27 Nov 23:00 UTC (5 days); two of the five in-progress items outside security
serve OBJ-1 (PAY-1 through EPIC-1, CHK-1 by its label): 40%.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image
from slack_sdk import WebClient
from slack_sdk.models.blocks import SectionBlock
from sqlalchemy import select

from bot.charts import PNG_SIGNATURE, render_open_gaps_chart
from bot.reports import (
    HEADER_TEXT_LIMIT,
    MAX_BLOCKS,
    SECTION_TEXT_LIMIT,
    DailyDigest,
    FindingLine,
    build_daily_digest,
    build_weekly_report,
    digest_blocks,
    post_daily_digest,
    post_weekly_reports,
    report_html,
    report_json,
    report_markdown,
    weekly_blocks,
    write_snapshot,
)
from bot.views.text import escape
from config.errors import GapbotError, InputError
from sandbox import report_scenario as scenario
from sandbox.slack_server import FakeSlack
from store.db import Store
from store.models import Delivery, JobRun, Snapshot, WeeklyKpi


@pytest.fixture
def seeded(store: Store) -> Store:
    scenario.seed(store)
    return store


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """The fake Slack workspace with the scenario's channels."""
    with FakeSlack() as fake:
        for name in ("payments", "checkout", "security", "eng-leads"):
            fake.add_channel(name)
        yield fake


def _client(slack: FakeSlack) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=10)


def _calls(slack: FakeSlack, method: str) -> list[dict]:
    return [call.params for call in slack.calls_to(method)]


def test_weekly_report_figures_for_the_organisation(seeded: Store) -> None:
    report = build_weekly_report(seeded, scenario.load_config(), scenario.NOW)
    assert report.week == date(2026, 11, 23)
    assert report.period == "23–29 Nov 2026"
    assert report.totals["open"].current == 3
    assert report.totals["new"].current == 2
    assert report.totals["resolved"].current == 1
    # The four weeks before, oldest first, from the `*` Snapshot rows.
    assert report.totals["open"].history == [5, 4, 6, 2]
    assert report.totals["new"].history == [1, 0, 3, 1]
    assert report.totals["resolved"].history == [4, 1, 1, 5]
    assert {k: f["open"].current for k, f in report.by_kind.items()} == {
        "duplicate": 1,
        "priority_inversion": 1,
        "stale_pr": 1,
    }
    assert report.by_kind["stale_pr"]["new"].current == 1
    assert report.by_kind["stale_pr"]["resolved"].current == 1
    assert report.by_team == {
        "checkout": {"open": 3, "new": 2, "resolved": 0},
        "payments": {"open": 2, "new": 1, "resolved": 1},
    }
    assert [f.id for f in report.top_duplicates] == ["dup-f1"]
    assert [f.id for f in report.priority_inversions] == ["pri-f2"]
    assert [f.id for f in report.stale_prs] == ["sta-f4"]
    kpis = report.kpis
    assert kpis["median_hours_to_first_review"].current == 20.0
    assert kpis["median_hours_to_first_review"].history == [None, None, 12.0, 30.0]
    assert kpis["days_blocked_by_other_teams"].current == 5.0
    assert kpis["aligned_share"].current == 40.0
    assert kpis["aligned_share"].history == [None, None, None, 40.0]
    assert len(report.chart_weeks) == 12
    assert report.chart_weeks[-1] == date(2026, 11, 23)
    assert report.chart_series["duplicate"] == [4, 4, 5, 5, 4, 3, 3, 2, 1, 2, 1, 1]
    assert report.chart_series["stale_pr"][-1] == 1


def test_team_report_and_restricted_teams(seeded: Store) -> None:
    config = scenario.load_config()
    payments = build_weekly_report(
        seeded, config, scenario.NOW, team="payments", channel="#payments"
    )
    assert payments.totals["open"].current == 2
    assert payments.totals["new"].current == 1
    assert payments.totals["resolved"].current == 1
    assert payments.totals["open"].history == [1, 1, 1, 1]
    assert payments.kpis["median_hours_to_first_review"].current == 10.0
    assert payments.kpis["days_blocked_by_other_teams"].current == 0.0
    assert payments.kpis["aligned_share"].current == 33.3
    assert payments.by_team == {}
    all_keys = json.dumps(report_json(payments))
    assert "SEC-1" not in all_keys
    assert "dup-f5" not in all_keys
    security = build_weekly_report(seeded, config, scenario.NOW, team="security")
    assert [f.id for f in security.top_duplicates] == ["dup-f5"]
    assert security.totals["new"].current == 1
    org = build_weekly_report(seeded, config, scenario.NOW, channel="#eng-leads")
    assert "security" not in org.by_team
    assert "SEC-1" not in json.dumps(report_json(org))
    with pytest.raises(InputError, match="no team named 'nobody'"):
        build_weekly_report(seeded, config, scenario.NOW, team="nobody")


def test_write_snapshot_counts_the_week(seeded: Store) -> None:
    config = scenario.load_config()
    written = write_snapshot(seeded, date(2026, 11, 23), config, now=scenario.NOW)
    assert written == 10 * 4  # every kind for `*`, checkout, payments and security
    with seeded.session() as session:
        rows = {
            (r.team, r.kind): (r.open_count, r.new_count, r.resolved_count)
            for r in session.scalars(select(Snapshot).where(Snapshot.week == date(2026, 11, 23)))
        }
        kpis = {
            (r.team, r.name): r.value
            for r in session.scalars(select(WeeklyKpi).where(WeeklyKpi.week == date(2026, 11, 23)))
        }
    assert rows[("*", "duplicate")] == (1, 1, 0)
    assert rows[("*", "stale_pr")] == (1, 1, 1)
    assert rows[("security", "duplicate")] == (1, 1, 0)
    assert rows[("payments", "duplicate")] == (2, 2, 0)  # its own restricted-pair gap counts
    assert kpis[("*", "median_hours_to_first_review")] == 20.0
    assert kpis[("*", "aligned_share")] == 40.0
    assert kpis[("checkout", "days_blocked_by_other_teams")] == 5.0
    # Writing the week again replaces it; the next report reads it as history.
    assert write_snapshot(seeded, date(2026, 11, 23), config, now=scenario.NOW) == written
    later = build_weekly_report(seeded, config, scenario.NOW + timedelta(days=7))
    assert later.totals["open"].history[-1] == 3
    assert later.kpis["median_hours_to_first_review"].history[-1] == 20.0
    with pytest.raises(InputError, match="Monday"):
        write_snapshot(seeded, date(2026, 11, 24), config)


def test_daily_digest_since_the_last_one(seeded: Store) -> None:
    config = scenario.load_config()
    with seeded.session() as session:
        for channel in ("#checkout", "#payments"):
            session.add(
                JobRun(
                    job=f"digest:{channel}",
                    started_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
                    ok=True,
                )
            )
    checkout = build_daily_digest(seeded, config, "#checkout", scenario.NOW)
    assert [f.id for f in checkout.new] == ["dup-f1", "ove-f7", "sta-f4"]
    assert checkout.resolved == []
    assert [f.id for f in checkout.oldest_open] == ["pri-f2"]
    assert checkout.open_count == 4
    payments = build_daily_digest(seeded, config, "#payments", scenario.NOW)
    assert [f.id for f in payments.new] == ["dup-f1"]  # dup-f5 is security's, restricted
    assert [f.id for f in payments.resolved] == ["sta-f3"]
    # No digest before: the last 24 hours; dup-f5 is older, so it is among the oldest open.
    security = build_daily_digest(seeded, config, "#security", scenario.NOW)
    assert security.since == scenario.NOW - timedelta(days=1)
    assert security.new == []
    assert [f.id for f in security.oldest_open] == ["dup-f5"]


def _texts(blocks: list[dict[str, object]]) -> list[str]:
    found = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            found.append(str(text["text"]))
        for element in block.get("elements", []) or []:  # type: ignore[attr-defined]
            found.append(str(element["text"]))
    return found


def test_blocks_escape_outside_text(seeded: Store) -> None:
    report = build_weekly_report(seeded, scenario.load_config(), scenario.NOW)
    dumped = json.dumps([b.to_dict() for b in weekly_blocks(report)])
    assert "<!channel>" not in dumped
    assert "&lt;!channel&gt; &amp; co" in dumped
    assert "<https://example.test/browse/PAY-1|PAY-1>" in dumped
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def _line(index: int) -> FindingLine:
    return FindingLine(
        id=f"dup-{index:04d}",
        kind="duplicate",
        severity="high",
        score=0.9,
        summary="Both teams rebuild the same checkout flow " * 12,
        teams=["payments"],
        items=[{"key": f"PAY-{index}", "title": "", "url": f"https://x.test/{index}", "team": "p"}],
        first_seen=scenario.NOW,
        age_days=index,
    )


def test_block_kit_limits_hold_for_large_inputs(seeded: Store) -> None:
    digest = DailyDigest(
        channel="#payments",
        teams=["payments" * 30],
        since=scenario.NOW,
        generated_at=scenario.NOW,
        new=[_line(i) for i in range(300)],
        resolved=[_line(i) for i in range(300)],
        oldest_open=[_line(i) for i in range(3)],
        open_count=600,
    )
    blocks = [b.to_dict() for b in digest_blocks(digest)]  # to_dict validates Slack's limits
    assert len(blocks) <= MAX_BLOCKS
    assert len(blocks[0]["text"]["text"]) <= HEADER_TEXT_LIMIT  # type: ignore[index]
    assert all(len(t) <= SECTION_TEXT_LIMIT for t in _texts(blocks))
    assert any("more" in t for t in _texts(blocks))
    report = build_weekly_report(seeded, scenario.load_config(), scenario.NOW)
    report.by_team = {f"team-{i}": {"open": i, "new": 0, "resolved": 0} for i in range(500)}
    report.top_duplicates = [_line(i) for i in range(50)]
    weekly = weekly_blocks(report)
    assert len(weekly) <= MAX_BLOCKS
    sections = [b for b in weekly if isinstance(b, SectionBlock)]
    assert all(len(str(s.text.text)) <= SECTION_TEXT_LIMIT for s in sections)  # type: ignore[union-attr]
    [b.to_dict() for b in weekly]


def test_chart_is_a_phone_sized_png(seeded: Store) -> None:
    report = build_weekly_report(seeded, scenario.load_config(), scenario.NOW)
    png = report.chart_png()
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.verify()
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert 1000 <= image.width <= 1400
    assert image.height >= 800
    empty = render_open_gaps_chart([date(2026, 11, 23)], {})
    assert empty.startswith(PNG_SIGNATURE)


def test_markdown_html_and_json_outputs(seeded: Store) -> None:
    report = build_weekly_report(seeded, scenario.load_config(), scenario.NOW)
    markdown = report_markdown(report, chart_path="report.png")
    assert markdown.startswith("# Weekly gap report · organisation\n")
    assert "| Open gaps | **3** | 5 | 4 | 6 | 2 |" in markdown
    assert "| Median time to first review (hours) | **20** | — | — | 12 | 30 |" in markdown
    assert "| checkout | 3 | 2 | 0 |" in markdown
    assert "![Open gaps by kind over the last 12 weeks](report.png)" in markdown
    page = report_html(report, report.chart_png())
    assert page.startswith("<!doctype html>")
    assert page.count('src="data:image/png;base64,') == 1
    assert "<script" not in page
    assert 'src="http' not in page  # self-contained: nothing fetched from elsewhere
    assert "&lt;!channel&gt; &amp; co" in page
    data = report_json(report)
    assert data["week"] == "2026-11-23"
    assert data["totals"]["open"] == {"current": 3, "history": [5, 4, 6, 2]}
    assert data["kpis"]["days_blocked_by_other_teams"]["current"] == 5.0
    json.dumps(data)


def test_weekly_reports_posted_with_the_chart_in_the_thread(
    seeded: Store, slack: FakeSlack
) -> None:
    config = scenario.load_config()
    counts = post_weekly_reports(_client(slack), seeded, config, scenario.NOW)
    assert counts == {"snapshot_rows": 40, "posted": 4, "skipped": 0}
    posts = _calls(slack, "chat.postMessage")
    assert [p["channel"] for p in posts] == ["#payments", "#checkout", "#security", "#eng-leads"]
    completes = _calls(slack, "files.completeUploadExternal")
    assert len(completes) == 4
    assert len(slack.uploads) == 4
    assert all(data.startswith(PNG_SIGNATURE) for data in slack.uploads.values())
    for post, complete in zip(posts, completes, strict=True):
        assert complete["channel_id"] == slack.channel(post["channel"]).id  # type: ignore[union-attr]
        assert complete["thread_ts"]
    # Each upload went into the thread of the message posted just before it.
    for channel in ("#payments", "#checkout", "#security", "#eng-leads"):
        report, chart = slack.messages(channel)
        assert chart["thread_ts"] == report["ts"]
        assert chart["files"]
    org_post = json.dumps(posts[3]["blocks"])
    payments_post = json.dumps(posts[0]["blocks"])
    for text in (org_post, payments_post):
        assert "SEC-1" not in text
    assert "SEC-1" in json.dumps(posts[2]["blocks"])
    # A re-run (a catch-up after a crash) posts nothing twice.
    again = post_weekly_reports(_client(slack), seeded, config, scenario.NOW)
    assert again["posted"] == 0
    assert again["skipped"] == 4
    with seeded.session() as session:
        kinds = [d.kind for d in session.scalars(select(Delivery))]
    assert sorted(kinds) == ["org_report"] + ["weekly_report"] * 3


def test_a_refused_channel_does_not_stop_the_others(seeded: Store, slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", "channel_not_found", channel="#checkout")
    with pytest.raises(GapbotError, match="#checkout: channel_not_found"):
        post_weekly_reports(_client(slack), seeded, scenario.load_config(), scenario.NOW)
    assert len(_calls(slack, "files.completeUploadExternal")) == 3


def test_daily_digest_is_posted_once_a_day(seeded: Store, slack: FakeSlack) -> None:
    config = scenario.load_config()
    counts = post_daily_digest(_client(slack), seeded, config, "#payments", scenario.NOW)
    assert counts["posted"] == 1
    assert counts["open"] == 2
    posts = _calls(slack, "chat.postMessage")
    assert posts[0]["channel"] == "#payments"
    assert posts[0]["text"].startswith("Daily gaps:")
    later = post_daily_digest(
        _client(slack), seeded, config, "#payments", scenario.NOW + timedelta(hours=2)
    )
    assert later == {"posted": 0}
    slack.fail("chat.postMessage", "channel_not_found", channel="#checkout")
    with pytest.raises(GapbotError, match="channel_not_found"):
        post_daily_digest(_client(slack), seeded, config, "#checkout", scenario.NOW)


def test_a_failed_chart_upload_keeps_the_message_and_is_not_posted_twice(
    seeded: Store, slack: FakeSlack
) -> None:
    config = scenario.load_config()
    slack.fail("files.completeUploadExternal", "not_in_channel", channel="#security")
    with pytest.raises(GapbotError, match="#security: chart upload failed: not_in_channel"):
        post_weekly_reports(_client(slack), seeded, config, scenario.NOW)
    assert len(_calls(slack, "chat.postMessage")) == 4
    again = post_weekly_reports(_client(slack), seeded, config, scenario.NOW)
    assert again["posted"] == 0
    assert len(_calls(slack, "chat.postMessage")) == 4
