"""Workload and the detector registry."""

from __future__ import annotations

import pytest

from config.settings import GapbotConfig
from detectors.base import FINDING_KINDS, DetectedGap, Snapshot
from detectors.common import detector
from detectors.registry import (
    BUILTIN_DETECTORS,
    DetectorSpec,
    RegistryError,
    build_registry,
    enabled_detectors,
    registry,
    spec_of,
)
from detectors.workload import detect_overload
from tests.scenarios import TEAMS, config, item, pr, snapshot


def _work(person: str, keys: list[str], **fields: object) -> list:
    return [item(key, assignee=person, status="In Progress", **fields) for key in keys]


def test_overload_fires_across_teams() -> None:
    work = _work("Dana Lee", ["PAY-1", "PAY-2", "PAY-3", "CORE-4", "CORE-5", "WEB-6"])
    gaps = detect_overload(snapshot(work))
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap.teams == ("payments", "platform", "web")
    assert gap.severity == "medium"
    assert gap.subject == "person:dana lee"
    assert gap.explanation == (
        "Overloaded person: Dana Lee has 6 items in progress across 3 teams (payments, "
        "platform, web) and 3 projects (CORE, PAY, WEB), more than the limit of 5: "
        "CORE-4 (Medium), CORE-5 (Medium), PAY-1 (Medium), PAY-2 (Medium), PAY-3 (Medium) "
        "and 1 more."
    )


def test_overload_groups_by_email_when_names_differ() -> None:
    work = _work("Dana Lee", ["PAY-1", "PAY-2", "PAY-3"], assignee_email="dana@acme.test")
    work += _work("dana.lee", ["CORE-4", "CORE-5", "CORE-6"], assignee_email="Dana@acme.test")
    assert [g.subject for g in detect_overload(snapshot(work))] == ["person:dana@acme.test"]


def test_overload_quiet_on_near_misses() -> None:
    # Exactly the limit.
    five = _work("Dana Lee", ["PAY-1", "PAY-2", "PAY-3", "CORE-4", "CORE-5"])
    # Six items, one team, one project.
    one_team = _work("Dana Lee", [f"PAY-{n}" for n in range(1, 7)])
    # Six, but one is to do and pull requests do not count.
    mixed = [
        *_work("Dana Lee", ["PAY-1", "PAY-2", "CORE-3", "CORE-4", "CORE-5"]),
        item("PAY-6", assignee="Dana Lee", status="To Do"),
        pr("acme/web#7", assignee="Dana Lee"),
    ]
    for items in (five, one_team, mixed):
        assert detect_overload(snapshot(items)) == []


def test_overload_doubles_to_high_and_reads_its_limit() -> None:
    work = _work("Dana Lee", [f"PAY-{n}" for n in range(1, 4)] + ["CORE-4"])
    assert detect_overload(snapshot(work)) == []
    gaps = detect_overload(snapshot(work, settings=config(overload={"max_in_progress": 2})))
    assert [g.severity for g in gaps] == ["high"]


# --- registry -----------------------------------------------------------------------------


def test_registry_keys_every_builtin_by_its_kind() -> None:
    ids = list(registry())
    assert ids[: len(BUILTIN_DETECTORS)] == [
        "priority_inversion",
        "parent_child_priority",
        "focus_drift",
        "unaligned_work",
        "stale_pr",
        "blocked",
        "overdue",
        "status_drift",
        "overload",
    ]
    assert set(ids) <= set(FINDING_KINDS)


def test_registry_fails_loudly_on_a_missing_or_duplicate_id() -> None:
    def unmarked(snapshot: Snapshot) -> list[DetectedGap]:
        return []

    with pytest.raises(RegistryError, match="has no id"):
        spec_of(unmarked)
    twice = [spec_of(f) for f in BUILTIN_DETECTORS] + [spec_of(BUILTIN_DETECTORS[0])]
    with pytest.raises(RegistryError, match="two detectors have the id 'priority_inversion'"):
        build_registry(twice)
    with pytest.raises(RegistryError, match="not a finding kind"):
        build_registry([spec_of(detector("made_up")(unmarked))])


def test_a_detector_is_switched_off_by_config() -> None:
    settings = GapbotConfig.model_validate(
        {
            "teams": [t.model_dump() for t in TEAMS],
            "detectors": {"blocked": {"enabled": False}, "overload": {"enabled": False}},
        }
    )
    ids = [spec.id for spec in enabled_detectors(settings)]
    assert "blocked" not in ids
    assert "overload" not in ids
    assert "stale_pr" in ids


def test_an_optional_detector_is_imported_only_when_run() -> None:
    spec = DetectorSpec(
        id="overload",
        setting="overload",
        module="detectors.workload",
        attribute="detect_overload",
    )
    work = _work("Dana Lee", ["PAY-1", "PAY-2", "PAY-3", "CORE-4", "CORE-5", "WEB-6"])
    assert len(spec.run(snapshot(work))) == 1
