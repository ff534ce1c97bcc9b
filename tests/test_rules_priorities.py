"""Misaligned priorities: each rule fires on a small scenario and stays quiet on the near miss."""

from __future__ import annotations

from config.settings import Objective
from detectors.priorities import (
    detect_focus_drift,
    detect_parent_child_priority,
    detect_priority_inversion,
    detect_unaligned_work,
)
from tests.scenarios import config, days_ago, item, link, pr, snapshot

# --- priority_inversion -------------------------------------------------------------------


def test_priority_inversion_fires_when_a_top_item_waits_on_another_teams_backlog() -> None:
    waiting = item("PAY-12", priority="Highest", status="In Progress")
    blocker = item("CORE-88", priority="Low", status="To Do")
    gaps = detect_priority_inversion(
        snapshot([waiting, blocker], [link("CORE-88", "blocks", "PAY-12")])
    )
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap.kind == "priority_inversion"
    assert gap.item_keys == ("PAY-12", "CORE-88")
    assert gap.teams == ("payments", "platform")
    assert gap.severity == "high"  # three levels apart
    assert gap.explanation == (
        "Priority inversion: PAY-12 (Highest, payments) is blocked by CORE-88 (Low, platform), "
        "which is not started; the blocker is ranked 3 levels lower than the work waiting on it."
    )


def test_priority_inversion_two_levels_is_medium_and_names_the_site_status() -> None:
    waiting = item("PAY-12", priority="High", status="To Do")
    blocker = item("CORE-88", priority="Low", status="Backlog")
    gaps = detect_priority_inversion(
        snapshot([waiting, blocker], [link("CORE-88", "blocks", "PAY-12")])
    )
    assert [g.severity for g in gaps] == ["medium"]
    assert "which is not started (Backlog)" in gaps[0].explanation


def test_priority_inversion_quiet_on_near_misses() -> None:
    links = [link("CORE-88", "blocks", "PAY-12")]
    # One level apart only.
    one_level = [item("PAY-12", priority="High"), item("CORE-88", priority="Medium")]
    # Blocker already in progress.
    moving = [
        item("PAY-12", priority="Highest"),
        item("CORE-88", priority="Lowest", status="In Progress"),
    ]
    # Same team.
    same_team = [
        item("PAY-12", priority="Highest"),
        item("CORE-88", priority="Low", team="payments"),
    ]
    # Waiting item already done.
    done = [item("PAY-12", priority="Highest", status="Done"), item("CORE-88", priority="Low")]
    for items in (one_level, moving, same_team, done):
        assert detect_priority_inversion(snapshot(items, links)) == []
    # The link pointing the other way: the high item blocks the low one, which is fine.
    reverse = [link("PAY-12", "blocks", "CORE-88")]
    items = [item("PAY-12", priority="Highest"), item("CORE-88", priority="Low")]
    assert detect_priority_inversion(snapshot(items, reverse)) == []


def test_priority_inversion_threshold_comes_from_config() -> None:
    items = [item("PAY-12", priority="High"), item("CORE-88", priority="Medium")]
    links = [link("CORE-88", "blocks", "PAY-12")]
    settings = config(priority_inversion={"min_rank_gap": 1})
    gaps = detect_priority_inversion(snapshot(items, links, settings=settings))
    assert [g.severity for g in gaps] == ["low"]


# --- parent_child_priority ----------------------------------------------------------------


def test_high_parent_with_only_low_open_children_fires() -> None:
    items = [
        item("PAY-1", priority="Highest", kind="epic"),
        item("PAY-2", priority="Low", parent="PAY-1"),
        item("PAY-3", priority="Lowest", parent="PAY-1"),
        item("PAY-4", priority="Highest", parent="PAY-1", status="Done"),  # done: ignored
    ]
    gaps = detect_parent_child_priority(snapshot(items))
    assert len(gaps) == 1
    assert gaps[0].item_keys == ("PAY-1", "PAY-2", "PAY-3")
    assert gaps[0].severity == "high"
    assert gaps[0].explanation == (
        "Parent and child disagree: PAY-1 (Highest, payments) is ranked high but all 2 of its "
        "open children are ranked 3 levels or more lower: PAY-2 (Low), PAY-3 (Lowest)."
    )


def test_high_parent_quiet_when_one_child_is_ranked_close() -> None:
    items = [
        item("PAY-1", priority="Highest"),
        item("PAY-2", priority="Low", parent="PAY-1"),
        item("PAY-3", priority="High", parent="PAY-1"),
    ]
    assert detect_parent_child_priority(snapshot(items)) == []


def test_child_ranked_far_above_its_parent_fires_through_a_parent_link() -> None:
    items = [item("PAY-1", priority="Low"), item("PAY-7", priority="Highest")]
    gaps = detect_parent_child_priority(snapshot(items, [link("PAY-1", "parent", "PAY-7")]))
    assert [(g.item_keys, g.severity) for g in gaps] == [(("PAY-7", "PAY-1"), "high")]
    assert gaps[0].explanation == (
        "Parent and child disagree: PAY-7 (Highest, payments) is ranked 3 levels above its "
        "parent PAY-1 (Low, payments)."
    )


def test_child_one_level_above_parent_or_parent_done_is_quiet() -> None:
    close = [item("PAY-1", priority="Medium"), item("PAY-7", priority="High", parent="PAY-1")]
    parent_done = [
        item("PAY-1", priority="Lowest", status="Done"),
        item("PAY-7", priority="Highest", parent="PAY-1"),
    ]
    assert detect_parent_child_priority(snapshot(close)) == []
    assert detect_parent_child_priority(snapshot(parent_done)) == []


# --- focus_drift --------------------------------------------------------------------------


def _lower_in_progress(count: int, *, updated_days_ago: float = 1) -> list:
    return [
        item(
            f"PAY-{50 + n}",
            priority="Low",
            status="In Progress",
            updated=days_ago(updated_days_ago),
        )
        for n in range(count)
    ]


def test_focus_drift_fires_when_high_work_sits_while_lower_work_moves() -> None:
    stale = item("PAY-1", priority="High", status="To Do", updated=days_ago(12))
    gaps = detect_focus_drift(snapshot([stale, *_lower_in_progress(3)]))
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap.teams == ("payments",)
    assert gap.item_keys[0] == "PAY-1"
    assert gap.severity == "medium"
    assert gap.explanation.startswith(
        "Focus drift in payments: 1 high-priority item has not been updated for 7 days or more "
        "(PAY-1 (High), untouched for 12 days) while 3 lower-priority items are in progress:"
    )


def test_focus_drift_quiet_on_near_misses() -> None:
    fresh_high = item("PAY-1", priority="High", updated=days_ago(6))
    stale_high = item("PAY-1", priority="High", updated=days_ago(12))
    # The high item was touched within the week.
    assert detect_focus_drift(snapshot([fresh_high, *_lower_in_progress(3)])) == []
    # Only two lower items in progress.
    assert detect_focus_drift(snapshot([stale_high, *_lower_in_progress(2)])) == []
    # The lower items are "in progress" but nobody touched them either.
    assert (
        detect_focus_drift(snapshot([stale_high, *_lower_in_progress(3, updated_days_ago=20)]))
        == []
    )
    # Lower work in another team does not count.
    others = [item(f"CORE-{n}", priority="Low", status="In Progress") for n in range(1, 5)]
    assert detect_focus_drift(snapshot([stale_high, *others])) == []


# --- unaligned_work -----------------------------------------------------------------------


def _objectives() -> list[Objective]:
    return [Objective(key="OBJ-1", title="Self-serve onboarding", labels=["onboarding"])]


def test_unaligned_work_is_silent_without_objectives() -> None:
    items = [item(f"PAY-{n}", status="In Progress") for n in range(1, 6)]
    assert detect_unaligned_work(snapshot(items)) == []


def test_unaligned_work_counts_per_team_and_follows_parents_labels_and_links() -> None:
    items = [
        item("PAY-1", kind="epic", status="In Progress", parent="OBJ-1"),  # child of objective
        item("PAY-2", status="In Progress", parent="PAY-1"),  # grandchild
        item("PAY-3", status="In Progress", labels=["Onboarding"]),  # label
        item("PAY-4", status="In Progress"),  # linked below
        item("PAY-5", status="In Progress", priority="Highest"),
        item("PAY-6", status="In Progress", priority="High"),
        item("PAY-7", status="In Progress", priority="Low"),
        item("PAY-8", status="To Do"),  # not in progress
        pr("acme/web#1"),  # pull requests are not planned work
    ]
    links = [link("PAY-4", "relates", "OBJ-1")]
    gaps = detect_unaligned_work(snapshot(items, links, settings=config(_objectives())))
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap.item_keys == ("PAY-5", "PAY-6", "PAY-7")
    assert gap.severity == "medium"  # 3 of 7
    assert gap.explanation == (
        "Unaligned work in payments: 3 of 7 in-progress items (43%) link to no objective "
        "(OBJ-1). Largest: PAY-5 (Highest), PAY-6 (High), PAY-7 (Low)."
    )


def test_unaligned_work_below_min_items_is_quiet() -> None:
    items = [
        item("PAY-1", status="In Progress"),
        item("PAY-2", status="In Progress"),
        item("PAY-3", status="In Progress", labels=["onboarding"]),
    ]
    assert detect_unaligned_work(snapshot(items, settings=config(_objectives()))) == []


def test_parent_cycles_do_not_hang_the_alignment_walk() -> None:
    items = [
        item("PAY-1", status="In Progress", parent="PAY-2"),
        item("PAY-2", status="In Progress", parent="PAY-1"),
        item("PAY-3", status="In Progress"),
    ]
    gaps = detect_unaligned_work(snapshot(items, settings=config(_objectives())))
    assert [len(g.item_keys) for g in gaps] == [3]
