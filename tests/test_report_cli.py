"""`gapbot report` and `gapbot status` through the real command line, in a subprocess."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from bot.charts import PNG_SIGNATURE
from sandbox import report_scenario as scenario
from store.db import Store
from store.models import JobRun, SyncState
from tests.cli import run_gapbot

REPORT_KEYS = {
    "scope",
    "team",
    "channel",
    "timezone",
    "week",
    "week_end",
    "period",
    "generated_at",
    "totals",
    "by_kind",
    "by_team",
    "top_duplicates",
    "priority_inversions",
    "stale_prs",
    "kpis",
    "chart_weeks",
    "chart_series",
}


def _setup(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "gapbot.yaml").write_text(scenario.CONFIG_YAML, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'gapbot.db'}"
    store = Store(url)
    scenario.seed(store)
    with store.session() as session:
        session.add(
            JobRun(
                job="weekly_report",
                started_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
                finished_at=datetime(2026, 11, 23, 8, 0, 3, tzinfo=UTC),
                duration_seconds=3.2,
                ok=False,
                error="GapbotError: weekly report not posted to 1 channel(s): #x: not_in_channel",
            )
        )
        session.add(
            JobRun(
                job="sync",
                started_at=datetime(2026, 11, 23, 8, 15, tzinfo=UTC),
                duration_seconds=12.5,
                ok=True,
                counts={"items": 42},
            )
        )
        session.add(
            SyncState(
                source="jira",
                scope="PAY",
                last_run=datetime(2026, 11, 23, 8, 15, tzinfo=UTC),
                last_error="Jira answered 401: check JIRA_API_TOKEN",
                items_synced=40,
            )
        )
    store.dispose()
    return {"DATABASE_URL": url}


def test_report_json_has_the_documented_keys(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    result = run_gapbot("report", "--format", "json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == REPORT_KEYS
    assert data["scope"] == "organisation"
    assert set(data["totals"]) == {"open", "new", "resolved"}
    assert len(data["chart_weeks"]) == 12


def test_report_html_is_one_self_contained_file(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    out = tmp_path / "report.html"
    result = run_gapbot(
        "report", "--team", "payments", "--format", "html", "--out", str(out), cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    page = out.read_text(encoding="utf-8")
    assert "<h1>Weekly gap report · payments</h1>" in page
    encoded = page.split('src="data:image/png;base64,', 1)[1].split('"', 1)[0]
    assert base64.b64decode(encoded).startswith(PNG_SIGNATURE)
    assert "SEC-1" not in page


def test_report_markdown_writes_the_chart_beside_it(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    out = tmp_path / "weekly.md"
    result = run_gapbot("report", "--out", str(out), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert "](weekly.png)" in text
    assert Image.open(tmp_path / "weekly.png").format == "PNG"
    to_stdout = run_gapbot("report", cwd=tmp_path, env=env)
    assert to_stdout.stdout.startswith("# Weekly gap report · organisation")


def test_report_errors_are_one_line(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    result = run_gapbot("report", "--team", "nobody", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gapbot: error: --team: no team named 'nobody' (teams: payments, checkout, security)"
    ]
    bad_format = run_gapbot("report", "--format", "pdf", cwd=tmp_path, env=env)
    assert bad_format.returncode == 2
    missing_dir = run_gapbot(
        "report",
        "--out",
        str(tmp_path / "no" / "r.json"),
        "--format",
        "json",
        cwd=tmp_path,
        env=env,
    )
    assert missing_dir.returncode == 2
    assert "--out: cannot write" in missing_dir.stderr


def test_status_shows_runs_errors_and_what_is_due(tmp_path: Path) -> None:
    env = _setup(tmp_path)
    result = run_gapbot("status", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == [
        "job",
        "last run",
        "result",
        "took",
        "counts",
        "next due",
        "error",
    ]
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:] if "\t" in line}
    assert rows["sync"][1] == "2026-11-23 09:15 CET"
    assert rows["sync"][2:5] == ["ok", "12.5s", "items=42"]
    assert rows["weekly_report"][2] == "failed"
    assert rows["weekly_report"][5].endswith(("CET", "CEST"))
    assert "not_in_channel" in rows["weekly_report"][6]
    assert rows["digest:#payments"][1:3] == ["never", "never run"]
    assert rows["detect"][5] == "after each sync"
    assert rows["jira"][1] == "PAY"
    assert rows["jira"][6] == "Jira answered 401: check JIRA_API_TOKEN"
