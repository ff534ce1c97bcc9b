"""The findings lifecycle on a real store (SQLite and PostgreSQL): run_detection end to end."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from detectors import registry as registry_module
from detectors.base import DetectedGap, Snapshot
from detectors.registry import DetectorSpec, registry
from detectors.runner import DETECTOR_SOURCE, run_detection
from detectors.snapshot import load_snapshot
from store.db import Store
from store.findings import dismiss, get_finding, snooze
from store.items import replace_links, upsert_items
from store.models import Finding, FindingItem, Link, SyncState, WorkItem
from tests.scenarios import NOW, config, days_ago, item, link, link_rows, pr, store_rows

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _write(store: Store, items: Iterable[WorkItem], links: Iterable[Link] = ()) -> None:
    items = list(items)
    with store.session() as session:
        upsert_items(session, store_rows(items))
        replace_links(session, [i.key for i in items], link_rows(links))


def _specs(*ids: str) -> list[DetectorSpec]:
    every = registry()
    return [every[i] for i in ids]


def _blocked_scenario(
    store: Store, *, waiting_priority: str = "Highest", blocker_status: str = "To Do"
) -> None:
    _write(
        store,
        [
            item(
                "PAY-12",
                title="Card retries for EU checkout",
                priority=waiting_priority,
                status="In Progress",
                created=days_ago(30),
            ),
            item(
                "CORE-88",
                title="Idempotency keys in the ledger API",
                priority="Low",
                status=blocker_status,
                created=days_ago(9),
            ),
        ],
        [link("CORE-88", "blocks", "PAY-12")],
    )


def _finding(store: Store, finding_id: str) -> Finding:
    with store.session() as session:
        found = get_finding(session, finding_id)
        assert found is not None
        return found


def _finding_items(store: Store, finding_id: str) -> list[str]:
    with store.session() as session:
        return sorted(
            session.scalars(
                select(col(FindingItem.item_key)).where(col(FindingItem.finding_id) == finding_id)
            )
        )


def test_new_then_found_again_is_the_same_finding(store: Store) -> None:
    _blocked_scenario(store)
    specs = _specs("blocked", "priority_inversion")
    first = run_detection(store, config(), NOW, detectors=specs)
    assert len(first.new) == 2
    assert first.reopened == first.resolved == []
    assert first.open_counts == {
        ("blocked", "payments"): 1,
        ("blocked", "platform"): 1,
        ("priority_inversion", "payments"): 1,
        ("priority_inversion", "platform"): 1,
    }
    blocked_id = next(i for i in first.new if i.startswith("blo-"))
    assert _finding_items(store, blocked_id) == ["CORE-88", "PAY-12"]

    second = run_detection(store, config(), NOW + 2 * DAY, detectors=specs)
    assert second.new == second.reopened == second.resolved == []
    finding = _finding(store, blocked_id)
    assert finding.status == "open"
    assert finding.first_seen == NOW
    assert finding.last_seen == NOW + 2 * DAY
    # The text follows the facts of the day: two more days blocked.
    assert "blocked for 11 days" in finding.explanation
    with store.session() as session:
        assert len(list(session.scalars(select(Finding)))) == 2


def test_a_gap_that_disappears_is_resolved_and_comes_back_open(store: Store) -> None:
    _blocked_scenario(store)
    specs = _specs("blocked")
    (blocked_id,) = run_detection(store, config(), NOW, detectors=specs).new

    _blocked_scenario(store, blocker_status="Done")
    result = run_detection(store, config(), NOW + HOUR, detectors=specs)
    assert result.resolved == [blocked_id]
    assert result.resolved_counts == {("blocked", "payments"): 1, ("blocked", "platform"): 1}
    finding = _finding(store, blocked_id)
    assert (finding.status, finding.resolved_at) == ("resolved", NOW + HOUR)
    # Still gone: resolved once, not again.
    assert run_detection(store, config(), NOW + 2 * HOUR, detectors=specs).resolved == []

    _blocked_scenario(store)
    result = run_detection(store, config(), NOW + 3 * HOUR, detectors=specs)
    assert result.reopened == [blocked_id]
    assert result.new_open == [blocked_id]
    finding = _finding(store, blocked_id)
    assert (finding.status, finding.resolved_at) == ("open", None)
    assert finding.first_seen == NOW


def test_dismissed_stays_dismissed_until_the_facts_change(store: Store) -> None:
    _blocked_scenario(store)
    specs = _specs("blocked")
    (blocked_id,) = run_detection(store, config(), NOW, detectors=specs).new
    with store.session() as session:
        dismiss(session, blocked_id, by="dana", reason="agreed with platform", now=NOW)

    # Found again with the same facts (only the days grew): stays dismissed, last_seen moves.
    result = run_detection(store, config(), NOW + 3 * DAY, detectors=specs)
    assert result.new_open == []
    finding = _finding(store, blocked_id)
    assert (finding.status, finding.status_by, finding.status_reason) == (
        "dismissed",
        "dana",
        "agreed with platform",
    )
    assert finding.last_seen == NOW + 3 * DAY
    assert result.open_counts == {}

    # Not found for a while: a dismissed finding is kept as it is, not resolved.
    _blocked_scenario(store, blocker_status="Done")
    assert run_detection(store, config(), NOW + 4 * DAY, detectors=specs).resolved == []
    _blocked_scenario(store)
    assert run_detection(store, config(), NOW + 5 * DAY, detectors=specs).reopened == []
    assert _finding(store, blocked_id).status == "dismissed"

    # The waiting item's priority changes: the facts differ, the finding opens again.
    _blocked_scenario(store, waiting_priority="High")
    result = run_detection(store, config(), NOW + 6 * DAY, detectors=specs)
    assert result.reopened == [blocked_id]
    finding = _finding(store, blocked_id)
    assert finding.status == "open"
    assert finding.status_reason == "the facts changed since it was dismissed"


def test_snoozed_comes_back_after_its_time(store: Store) -> None:
    _blocked_scenario(store)
    specs = _specs("blocked")
    (blocked_id,) = run_detection(store, config(), NOW, detectors=specs).new
    with store.session() as session:
        snooze(session, blocked_id, days=2, by="dana", now=NOW)

    result = run_detection(store, config(), NOW + DAY, detectors=specs)
    assert result.new_open == []
    assert _finding(store, blocked_id).status == "snoozed"

    result = run_detection(store, config(), NOW + 2 * DAY + HOUR, detectors=specs)
    assert result.reopened == [blocked_id]
    finding = _finding(store, blocked_id)
    assert (finding.status, finding.snoozed_until) == ("open", None)


def test_snoozed_comes_back_early_when_the_facts_change(store: Store) -> None:
    _blocked_scenario(store)
    specs = _specs("blocked")
    (blocked_id,) = run_detection(store, config(), NOW, detectors=specs).new
    with store.session() as session:
        snooze(session, blocked_id, days=7, by="dana", now=NOW)
    _blocked_scenario(store, waiting_priority="Medium")
    assert run_detection(store, config(), NOW + DAY, detectors=specs).reopened == [blocked_id]


def test_snoozed_and_gone_resolves_once_the_snooze_ends(store: Store) -> None:
    _blocked_scenario(store)
    specs = _specs("blocked")
    (blocked_id,) = run_detection(store, config(), NOW, detectors=specs).new
    with store.session() as session:
        snooze(session, blocked_id, days=2, by="dana", now=NOW)
    _blocked_scenario(store, blocker_status="Done")
    assert run_detection(store, config(), NOW + DAY, detectors=specs).resolved == []
    assert _finding(store, blocked_id).status == "snoozed"
    assert run_detection(store, config(), NOW + 3 * DAY, detectors=specs).resolved == [blocked_id]


def test_finding_items_follow_the_gap(store: Store) -> None:
    specs = _specs("stale_pr")
    _write(store, [pr("acme/web#45", review_requested_at=days_ago(10)), item("WEB-3")])
    (stale_id,) = run_detection(store, config(), NOW, detectors=specs).new
    assert _finding_items(store, stale_id) == ["acme/web#45"]
    _write(
        store,
        [pr("acme/web#45", review_requested_at=days_ago(10)), item("WEB-3")],
        [link("acme/web#45", "implements", "WEB-3")],
    )
    run_detection(store, config(), NOW + HOUR, detectors=specs)
    assert _finding_items(store, stale_id) == ["WEB-3", "acme/web#45"]
    assert _finding(store, stale_id).item_keys == ["acme/web#45", "WEB-3"]


def _crash(snapshot: Snapshot) -> list[DetectedGap]:
    msg = f"cannot judge {len(snapshot.items)} items"
    raise ZeroDivisionError(msg)


def test_a_crashing_detector_is_recorded_and_the_others_go_on(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    _blocked_scenario(store)
    working = _specs("blocked")
    (blocked_id,) = run_detection(store, config(), NOW, detectors=working).new
    crashing = DetectorSpec(id="blocked", setting="blocked", function=_crash)
    others = _specs("priority_inversion")
    with caplog.at_level(logging.WARNING, logger="detectors.runner"):
        result = run_detection(store, config(), NOW + HOUR, detectors=[crashing, *others])
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("ERROR", "detector blocked failed: ZeroDivisionError: cannot judge 2 items", None)
    ]
    assert [(r.id, r.error) for r in result.failed] == [
        ("blocked", "ZeroDivisionError: cannot judge 2 items")
    ]
    assert len(result.new) == 1  # the priority inversion
    # A crash says nothing about the gaps: the blocked finding is not resolved.
    assert result.resolved == []
    assert _finding(store, blocked_id).status == "open"
    with store.session() as session:
        state = session.get(SyncState, (DETECTOR_SOURCE, "blocked"))
        assert state is not None
        assert state.last_error == "ZeroDivisionError: cannot judge 2 items"
        assert state.last_success == NOW
        ok = session.get(SyncState, (DETECTOR_SOURCE, "priority_inversion"))
        assert ok is not None
        assert (ok.last_error, ok.last_success, ok.items_synced) == ("", NOW + HOUR, 1)


def test_switching_a_detector_off_resolves_its_findings(store: Store) -> None:
    _blocked_scenario(store)
    specs = _specs("blocked", "priority_inversion")
    first = run_detection(store, config(), NOW, detectors=specs)
    blocked_id = next(i for i in first.new if i.startswith("blo-"))
    result = run_detection(store, config(blocked={"enabled": False}), NOW + HOUR, detectors=specs)
    assert result.disabled == ["blocked"]
    assert result.resolved == [blocked_id]
    finding = _finding(store, blocked_id)
    assert (finding.status, finding.status_reason) == ("resolved", "the rule was switched off")


def test_every_registered_rule_runs_on_the_store(store: Store) -> None:
    _blocked_scenario(store)
    result = run_detection(store, config(), NOW)
    assert [r.id for r in result.runs][:9] == list(registry())[:9]
    assert result.failed == []
    assert (result.items, result.links) == (2, 1)
    with store.session() as session:
        kinds = sorted(session.scalars(select(col(Finding.kind))))
    assert kinds == ["blocked", "priority_inversion"]


def test_the_snapshot_reads_what_the_orm_reads(store: Store) -> None:
    rich = item(
        "PAY-12",
        priority="Highest",
        status="In Review",
        labels=["checkout", "eu"],
        components=["api"],
        due=days_ago(3).date(),
        resolved=None,
        assignee="Dana Lee",
    )
    merged = pr("acme/web#45", merged=True, merged_at=days_ago(2), files=["a.py"], draft=True)
    gone = item("PAY-13", gone=True)
    _write(store, [rich, merged, gone], [link("acme/web#45", "implements", "PAY-12")])
    with store.session() as session:
        snap = load_snapshot(session, config(), NOW)
        orm_items = {i.key: i for i in session.scalars(select(WorkItem))}
    assert sorted(snap.items) == ["PAY-12", "acme/web#45"]  # gone items are left out
    columns = [c.name for c in WorkItem.__table__.columns]  # type: ignore[attr-defined]
    for key, view in snap.items.items():
        for name in columns:
            assert getattr(view, name) == getattr(orm_items[key], name), (key, name)
    assert snap.items["PAY-12"].created is not None
    assert snap.items["PAY-12"].created.tzinfo is not None
    assert snap.items["acme/web#45"].draft is True
    assert [(x.source_key, x.type, x.target_key) for x in snap.links] == [
        ("acme/web#45", "implements", "PAY-12")
    ]
    assert repr(snap.items["PAY-12"]) == "ItemView(key='PAY-12')"


def test_unchanged_findings_only_move_last_seen(store: Store) -> None:
    _blocked_scenario(store)
    specs = _specs("blocked")
    (blocked_id,) = run_detection(store, config(), NOW, detectors=specs).new
    before = _finding(store, blocked_id)
    # An hour later the text is the same (still 9 days): only last_seen moves.
    run_detection(store, config(), NOW + HOUR, detectors=specs)
    after = _finding(store, blocked_id)
    assert after.last_seen == NOW + HOUR
    assert (after.explanation, after.first_seen, after.facts) == (
        before.explanation,
        before.first_seen,
        before.facts,
    )


OPTIONAL_MODULE = """
from detectors.base import DetectedGap


def detect_duplicates(snapshot):
    keys = sorted(snapshot.items)
    return [
        DetectedGap(
            kind="duplicate",
            item_keys=tuple(keys),
            summary="same work",
            explanation="Both items describe the same work.",
            teams=("payments", "platform"),
        )
    ]
"""


def test_an_optional_detector_present_is_registered_run_and_reconciled(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stands in for detectors.duplicates (written separately): a module found on the path.
    (tmp_path / "optional_dupes_for_test.py").write_text(OPTIONAL_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        registry_module,
        "OPTIONAL_DETECTORS",
        (("duplicate", "duplicates", "optional_dupes_for_test", "detect_duplicates"),),
    )
    assert "duplicate" in registry()
    _blocked_scenario(store)
    result = run_detection(store, config(), NOW)
    assert [r.id for r in result.runs][-1] == "duplicate"
    assert result.open_counts[("duplicate", "payments")] == 1
    off = run_detection(store, config(duplicates={"enabled": False}), NOW + HOUR)
    assert "duplicate" in off.disabled
    assert len(off.resolved) == 1


def test_an_optional_detector_absent_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        registry_module,
        "OPTIONAL_DETECTORS",
        (("duplicate", "duplicates", "no_such_module_for_gapbot", "detect_duplicates"),),
    )
    assert "duplicate" not in registry()
