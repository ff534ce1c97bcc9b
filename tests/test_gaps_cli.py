"""`gapbot detect`, `gaps`, `dismiss` and `snooze` through the real command line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from store.db import Store
from store.findings import get_finding
from tests.cli import run_gapbot

SCENARIO = Path(__file__).parent / "data" / "gaps_scenario.jsonl"
CONFIG = """\
teams:
  - name: payments
    jira_projects: [PAY]
  - name: platform
    jira_projects: [CORE]
  - name: web
    jira_projects: [WEB]
    github_repos: [acme/web]
"""
FINDING_KEYS = {
    "id",
    "kind",
    "severity",
    "status",
    "score",
    "summary",
    "explanation",
    "teams",
    "items",
    "first_seen",
    "last_seen",
}
ITEM_KEYS = {"key", "source", "title", "url", "team"}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder with the scenario's config."""
    (tmp_path / "gapbot.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def _gapbot(workdir: Path, url: str, *args: str) -> Any:
    return run_gapbot(*args, cwd=workdir, env={"DATABASE_URL": url, "USER": "dana"})


def _detected(workdir: Path, url: str) -> None:
    imported = _gapbot(workdir, url, "import", str(SCENARIO))
    assert imported.returncode == 0, imported.stderr
    detected = _gapbot(workdir, url, "detect")
    assert detected.returncode == 0, detected.stderr


def _gaps_json(workdir: Path, url: str, *args: str) -> list[dict[str, Any]]:
    listed = _gapbot(workdir, url, "gaps", "--json", *args)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert isinstance(data, list)
    return data


@pytest.mark.slow
def test_import_detect_and_list_gaps_as_json(workdir: Path, database_url: str) -> None:
    imported = _gapbot(workdir, database_url, "import", str(SCENARIO))
    assert imported.returncode == 0, imported.stderr
    detected = _gapbot(workdir, database_url, "detect")
    assert detected.returncode == 0, detected.stderr
    # The duplicates detector lives in its own module and judges titles its own way: this
    # scenario pins the rule detectors' rows and leaves `duplicate` rows out.
    lines = [line for line in detected.stdout.splitlines() if not line.startswith("duplicate")]
    assert lines[0] == "kind\tteam\topen\tnew\tresolved"
    assert sorted(lines[1:]) == [
        "blocked\tpayments\t1\t1\t0",
        "blocked\tplatform\t1\t1\t0",
        "overdue\tpayments\t1\t1\t0",
        "priority_inversion\tpayments\t1\t1\t0",
        "priority_inversion\tplatform\t1\t1\t0",
        "stale_pr\tweb\t1\t1\t0",
        "status_drift\tweb\t1\t1\t0",
    ]
    assert re.search(r"(\d+) open, \1 new, 0 re-opened, 0 resolved", detected.stderr)

    every = _gaps_json(workdir, database_url)
    assert {frozenset(g) for g in every} == {frozenset(FINDING_KEYS)}
    gaps = [g for g in every if g["kind"] != "duplicate"]
    assert len(gaps) == 5
    assert all(set(i) == ITEM_KEYS for g in gaps for i in g["items"])
    severities = [g["severity"] for g in every]
    assert severities == sorted(severities, key=["high", "medium", "low"].index)
    blocked = next(g for g in gaps if g["kind"] == "blocked")
    assert blocked["status"] == "open"
    assert blocked["teams"] == ["payments", "platform"]
    assert blocked["items"][0] == {
        "key": "PAY-12",
        "source": "import",
        "title": "Retry declined card payments",
        "url": "https://jira.example.test/browse/PAY-12",
        "team": "payments",
    }
    assert blocked["explanation"].startswith(
        "Blocked across teams: PAY-12 (Highest, payments) has been blocked for"
    )
    assert blocked["first_seen"] == blocked["last_seen"]

    # Detecting again changes nothing but last_seen.
    again = _gapbot(workdir, database_url, "detect")
    assert re.search(r"\d+ open, 0 new, 0 re-opened, 0 resolved", again.stderr)
    assert {g["id"] for g in _gaps_json(workdir, database_url)} == {g["id"] for g in every}


@pytest.mark.slow
def test_gaps_filters_by_kind_and_team(workdir: Path, sqlite_url: str) -> None:
    _detected(workdir, sqlite_url)
    assert [g["kind"] for g in _gaps_json(workdir, sqlite_url, "--kind", "stale_pr")] == [
        "stale_pr"
    ]
    platform = _gaps_json(workdir, sqlite_url, "--team", "platform")
    assert sorted(g["kind"] for g in platform) == ["blocked", "priority_inversion"]
    both = _gaps_json(workdir, sqlite_url, "--kind", "overdue", "--team", "platform")
    assert both == []
    table = _gapbot(workdir, sqlite_url, "gaps", "--kind", "overdue")
    assert table.returncode == 0
    assert table.stdout.splitlines()[0] == "id\tseverity\tkind\tteams\tsummary"
    assert "PAY-20 (Medium) is" in table.stdout


@pytest.mark.slow
def test_dismiss_and_snooze_hide_findings(workdir: Path, sqlite_url: str) -> None:
    _detected(workdir, sqlite_url)
    gaps = _gaps_json(workdir, sqlite_url)
    duplicates = {g["id"] for g in gaps if g["kind"] == "duplicate"}
    blocked = next(g["id"] for g in gaps if g["kind"] == "blocked")
    stale = next(g["id"] for g in gaps if g["kind"] == "stale_pr")

    dismissed = _gapbot(workdir, sqlite_url, "dismiss", blocked, "--reason", "agreed in planning")
    assert dismissed.returncode == 0, dismissed.stderr
    assert dismissed.stderr.startswith(f"dismissed {blocked}: ")
    snoozed = _gapbot(workdir, sqlite_url, "snooze", stale, "--days", "3")
    assert snoozed.returncode == 0, snoozed.stderr
    assert f"snoozed {stale} until " in snoozed.stderr

    # Both stay hidden after the next detection.
    assert _gapbot(workdir, sqlite_url, "detect").returncode == 0
    remaining = {g["id"] for g in _gaps_json(workdir, sqlite_url)}
    assert blocked not in remaining
    assert stale not in remaining
    assert len(remaining - duplicates) == 3

    store = Store(sqlite_url)
    with store.session() as session:
        finding = get_finding(session, blocked)
        assert finding is not None
        assert (finding.status, finding.status_by, finding.status_reason) == (
            "dismissed",
            "dana",
            "agreed in planning",
        )
        snoozed_finding = get_finding(session, stale)
        assert snoozed_finding is not None
        assert snoozed_finding.status == "snoozed"
    store.dispose()


@pytest.mark.slow
def test_errors_are_one_line_with_exit_code_2(workdir: Path, sqlite_url: str) -> None:
    cases = [
        (("gaps", "--kind", "dupes"), "--kind: unknown kind 'dupes' (valid kinds: duplicate, "),
        (("gaps", "--team", "growth"), "--team: unknown team 'growth' (teams: payments, "),
        (("dismiss", "nope-123"), "no finding with id 'nope-123'"),
        (("snooze", "nope-123", "--days", "2"), "no finding with id 'nope-123'"),
    ]
    for args, message in cases:
        result = _gapbot(workdir, sqlite_url, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr
    zero = _gapbot(workdir, sqlite_url, "snooze", "sta-123", "--days", "0")
    assert zero.returncode == 2
    assert "--days must be more than 0" in zero.stderr
    missing = _gapbot(workdir, sqlite_url, "snooze", "sta-123")
    assert missing.returncode == 2
    assert "--days" in missing.stderr


@pytest.mark.slow
def test_detect_without_a_config_or_with_a_rule_switched_off(
    tmp_path: Path, sqlite_url: str
) -> None:
    no_config = run_gapbot("detect", cwd=tmp_path, env={"DATABASE_URL": sqlite_url})
    assert no_config.returncode == 2
    assert "gapbot.yaml" in no_config.stderr
    (tmp_path / "gapbot.yaml").write_text(
        CONFIG + "detectors:\n  blocked: {enabled: false}\n", encoding="utf-8"
    )
    _detected(tmp_path, sqlite_url)
    kinds = {g["kind"] for g in _gaps_json(tmp_path, sqlite_url)}
    assert "blocked" not in kinds
    assert "priority_inversion" in kinds
