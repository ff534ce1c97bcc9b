"""Delivery gaps: each rule fires on a small scenario and stays quiet on the near miss.

NOW is Wednesday 11 November 2026, 12:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from config.settings import GapbotConfig
from detectors.common import working_hours_between
from detectors.delivery import detect_blocked, detect_overdue, detect_stale_prs, detect_status_drift
from tests.scenarios import TEAMS, config, days_ago, item, link, pr, snapshot

MONDAY_9 = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
MONDAY_13 = datetime(2026, 11, 9, 13, 0, tzinfo=UTC)
FRIDAY_18 = datetime(2026, 11, 6, 18, 0, tzinfo=UTC)
TUESDAY_NOON = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)

# --- working hours ------------------------------------------------------------------------


def test_working_hours_count_weekdays_only() -> None:
    utc = ZoneInfo("UTC")
    assert working_hours_between(MONDAY_9, TUESDAY_NOON, utc) == 27
    # Friday 18:00 to Tuesday noon: 6 h on Friday, none at the weekend, 24 + 12 after.
    assert working_hours_between(FRIDAY_18, TUESDAY_NOON, utc) == 42
    saturday = datetime(2026, 11, 7, 10, tzinfo=UTC)
    sunday = datetime(2026, 11, 8, 10, tzinfo=UTC)
    assert working_hours_between(saturday, sunday, utc) == 0
    # Three whole weeks later: 15 weekdays.
    assert working_hours_between(MONDAY_9, datetime(2026, 11, 30, 9, tzinfo=UTC), utc) == 360
    assert working_hours_between(TUESDAY_NOON, MONDAY_9, utc) == 0


def test_working_hours_follow_the_configured_time_zone() -> None:
    # Saturday 01:00 in Berlin is still Friday midnight UTC: in Berlin nothing counts.
    start = datetime(2026, 11, 7, 0, 0, tzinfo=UTC)
    end = datetime(2026, 11, 7, 22, 0, tzinfo=UTC)
    assert working_hours_between(start, end, ZoneInfo("Europe/Berlin")) == 0
    assert working_hours_between(datetime(2026, 11, 6, 22, tzinfo=UTC), end, ZoneInfo("UTC")) == 2


# --- stale_pr -----------------------------------------------------------------------------


def test_stale_pr_fires_after_48_working_hours_and_names_its_ticket() -> None:
    items = [
        pr("acme/web#45", review_requested_at=MONDAY_9),
        item("WEB-3", priority="High", status="In Progress"),
    ]
    gaps = detect_stale_prs(snapshot(items, [link("acme/web#45", "implements", "WEB-3")]))
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap.item_keys == ("acme/web#45", "WEB-3")
    assert gap.severity == "medium"
    assert gap.explanation == (
        "Stale pull request: acme/web#45 (web) has waited 51 working hours for a first review "
        "since review was requested on Mon 9 Nov (the limit is 48). It implements "
        "WEB-3 (High, web)."
    )


def test_stale_pr_quiet_on_near_misses() -> None:
    cases = [
        pr("acme/web#1", review_requested_at=MONDAY_13),  # 47 working hours
        pr("acme/web#2", review_requested_at=MONDAY_9, draft=True),
        pr("acme/web#3", review_requested_at=MONDAY_9, first_review_at=TUESDAY_NOON),
        pr("acme/web#4", review_requested_at=MONDAY_9, review_state="APPROVED"),
        pr("acme/web#5", review_requested_at=MONDAY_9, merged=True, status_category="done"),
        pr("acme/web#6", review_requested_at=MONDAY_9, status="closed", status_category="done"),
    ]
    assert detect_stale_prs(snapshot(cases)) == []


def test_stale_pr_skips_the_weekend_and_falls_back_to_the_opening_time() -> None:
    opened_friday = pr("acme/web#7", created=FRIDAY_18)
    # Tuesday noon: 90 hours on the clock, 42 working hours.
    assert detect_stale_prs(snapshot([opened_friday], now=TUESDAY_NOON)) == []
    gaps = detect_stale_prs(snapshot([opened_friday]))  # Wednesday noon: 66 working hours
    assert len(gaps) == 1
    assert "since it was opened on Fri 6 Nov" in gaps[0].explanation


def test_stale_pr_severity_grows_with_the_wait_and_the_ticket_rank() -> None:
    old = pr("acme/web#8", review_requested_at=datetime(2026, 10, 26, 9, tzinfo=UTC))
    assert [g.severity for g in detect_stale_prs(snapshot([old]))] == ["high"]
    low_ticket = [pr("acme/web#9", review_requested_at=MONDAY_9), item("WEB-9", priority="Low")]
    gaps = detect_stale_prs(snapshot(low_ticket, [link("acme/web#9", "implements", "WEB-9")]))
    assert [g.severity for g in gaps] == ["low"]


def test_stale_pr_limit_comes_from_config() -> None:
    settings = config(stale_pr={"review_wait_hours": 60})
    assert (
        detect_stale_prs(
            snapshot([pr("acme/web#45", review_requested_at=MONDAY_9)], settings=settings)
        )
        == []
    )


# --- blocked ------------------------------------------------------------------------------


def test_blocked_fires_with_the_issue_example_sentence() -> None:
    items = [
        item("PAY-12", priority="Highest", status="In Progress", created=days_ago(30)),
        item("CORE-88", priority="Low", status="To Do", created=days_ago(9)),
    ]
    gaps = detect_blocked(snapshot(items, [link("CORE-88", "blocks", "PAY-12")]))
    assert len(gaps) == 1
    assert gaps[0].explanation == (
        "Blocked across teams: PAY-12 (Highest, payments) has been blocked for 9 days by "
        "CORE-88 (Low, platform), which is not started."
    )
    assert gaps[0].severity == "medium"
    assert gaps[0].teams == ("payments", "platform")


def test_blocked_quiet_on_near_misses() -> None:
    links = [link("CORE-88", "blocks", "PAY-12")]
    # Blocked since the blocker was created 5 days ago: not more than 5 days.
    recent = [item("PAY-12", created=days_ago(30)), item("CORE-88", created=days_ago(5))]
    # The blocker is done.
    unblocked = [item("PAY-12"), item("CORE-88", status="Done")]
    # Both in one team.
    same_team = [item("PAY-12"), item("CORE-88", team="payments")]
    # The blocker is not in the store (another company's project): nothing to judge.
    for items in (recent, unblocked, same_team, [item("PAY-12")]):
        assert detect_blocked(snapshot(items, links)) == []


def test_blocked_is_high_when_many_wait_on_one_blocker() -> None:
    items = [item("CORE-88", created=days_ago(8), priority="Low")]
    items += [item(f"PAY-{n}", priority="Medium") for n in (1, 2, 3)]
    links = [link("CORE-88", "blocks", f"PAY-{n}") for n in (1, 2, 3)]
    gaps = detect_blocked(snapshot(items, links))
    assert [g.severity for g in gaps] == ["high"] * 3
    assert gaps[0].explanation.endswith("2 other items wait on CORE-88 too.")


# --- overdue ------------------------------------------------------------------------------


def test_overdue_fires_for_an_open_item_past_its_date() -> None:
    late = item("PAY-12", priority="High", status="In Review", due=date(2026, 11, 2))
    gaps = detect_overdue(snapshot([late]))
    assert len(gaps) == 1
    assert gaps[0].severity == "medium"
    assert gaps[0].explanation == (
        "Overdue: PAY-12 (High, payments) was due on Mon 2 Nov, 9 days ago, and is in "
        "progress (In Review)."
    )


def test_overdue_quiet_on_near_misses() -> None:
    items = [
        item("PAY-1", due=date(2026, 11, 11)),  # due today
        item("PAY-2", due=date(2026, 11, 2), status="Done"),
        pr("acme/web#3", due=date(2026, 11, 2)),
        item("PAY-4"),  # no due date
    ]
    assert detect_overdue(snapshot(items)) == []
    one_day = [item("PAY-5", due=date(2026, 11, 10))]
    assert len(detect_overdue(snapshot(one_day))) == 1
    assert detect_overdue(snapshot(one_day, settings=config(overdue={"grace_days": 1}))) == []


def test_overdue_judges_today_in_the_configured_time_zone() -> None:
    late_evening = datetime(2026, 11, 11, 23, 30, tzinfo=UTC)
    due_today_utc = [item("PAY-1", priority="Low", due=date(2026, 11, 11))]
    assert detect_overdue(snapshot(due_today_utc, now=late_evening)) == []
    auckland = GapbotConfig(teams=list(TEAMS), timezone="Pacific/Auckland")
    gaps = detect_overdue(snapshot(due_today_utc, now=late_evening, settings=auckland))
    assert [(g.summary, g.severity) for g in gaps] == [("PAY-1 (Low) is 1 day overdue", "low")]


def test_parent_due_before_its_child() -> None:
    items = [
        item("PAY-1", kind="epic", due=date(2026, 12, 1)),
        item("PAY-7", parent="PAY-1", due=date(2026, 12, 20)),
        item("PAY-8", parent="PAY-1", due=date(2026, 11, 30)),  # before the parent: fine
    ]
    gaps = detect_overdue(snapshot(items))
    assert len(gaps) == 1
    assert gaps[0].item_keys == ("PAY-1", "PAY-7")
    assert gaps[0].severity == "high"
    assert gaps[0].explanation == (
        "Overdue: parent PAY-1 (Medium, payments) is due on Tue 1 Dec, 19 days before its "
        "child PAY-7 (Medium, payments), due on Sun 20 Dec."
    )


# --- status_drift -------------------------------------------------------------------------


def test_merged_pr_whose_ticket_is_not_done() -> None:
    items = [
        pr("acme/web#45", merged=True, merged_at=days_ago(5), status_category="done"),
        item("WEB-3", priority="High", status="In Review"),
    ]
    gaps = detect_status_drift(snapshot(items, [link("acme/web#45", "implements", "WEB-3")]))
    assert len(gaps) == 1
    assert gaps[0].explanation == (
        "Status drift: acme/web#45 (web) was merged 5 days ago (Fri 6 Nov) but the ticket it "
        "implements, WEB-3 (High, web), is still in progress (In Review)."
    )


def test_merged_pr_near_misses() -> None:
    links = [link("acme/web#45", "implements", "WEB-3"), link("acme/web#46", "implements", "WEB-3")]
    recent = [
        pr("acme/web#45", merged=True, merged_at=days_ago(2), status_category="done"),
        item("WEB-3", status="In Progress"),
    ]
    another_open = [
        pr("acme/web#45", merged=True, merged_at=days_ago(9), status_category="done"),
        pr("acme/web#46"),
        item("WEB-3", status="In Progress"),
    ]
    closed_unmerged = [
        pr("acme/web#45", status="closed", status_category="done", resolved=days_ago(9)),
        item("WEB-3", status="In Progress"),
    ]
    for items in (recent, another_open, closed_unmerged):
        assert detect_status_drift(snapshot(items, links)) == []


def test_done_ticket_with_an_open_pr() -> None:
    items = [pr("acme/web#45"), item("WEB-3", priority="High", status="Done")]
    gaps = detect_status_drift(snapshot(items, [link("acme/web#45", "implements", "WEB-3")]))
    assert [g.explanation for g in gaps] == [
        "Status drift: WEB-3 (High, web) is done but its pull request acme/web#45 (web) is "
        "still open."
    ]


def test_todo_ticket_with_an_open_pr_and_the_in_progress_near_miss() -> None:
    links = [link("acme/web#45", "implements", "WEB-3")]
    todo = [pr("acme/web#45"), item("WEB-3", priority="Low", status="Backlog")]
    gaps = detect_status_drift(snapshot(todo, links))
    assert [(g.severity, g.explanation) for g in gaps] == [
        (
            "low",
            "Status drift: WEB-3 (Low, web) is still to do (Backlog) while pull request "
            "acme/web#45 (web) is open: the work is invisible in the plan.",
        )
    ]
    in_progress = [pr("acme/web#45"), item("WEB-3", status="In Progress")]
    assert detect_status_drift(snapshot(in_progress, links)) == []
    # A `relates` link is not an implementation.
    assert detect_status_drift(snapshot(todo, [link("acme/web#45", "relates", "WEB-3")])) == []
