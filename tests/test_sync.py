"""`gapbot sync` and `gapbot check` as a user runs them: a subprocess against the sandbox.

The kill test is the promise of the cursor: a sync killed with SIGKILL part-way, then run
again, leaves exactly the store an uninterrupted sync leaves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.github_server import GitHubModel, GitHubServer
from sandbox.http import FakeServer, Request, Response, json_response
from sandbox.jira_server import JiraModel, JiraServer
from store.db import Store
from tests.cli import REPO_ROOT, run_gapbot
from tests.sandbox_env import BASE_TIME, TEAMS, fill_github, fill_jira, snapshot


@pytest.fixture
def jira() -> Iterator[JiraServer]:
    """A fake Jira Cloud with 120 PAY issues, 20 a page."""
    model = JiraModel(deployment="Cloud")
    fill_jira(model, count=120)
    model.add_link("PAY-3", "Blocks", "PAY-90")
    model.update_issue("PAY-4", epic="CORE-1", updated=BASE_TIME + timedelta(minutes=4))
    with JiraServer(model, max_page=20) as server:
        yield server


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    """A fake GitHub with 30 issues and pull requests."""
    model = GitHubModel()
    fill_github(model, count=30)
    with GitHubServer(model) as server:
        yield server


@pytest.fixture
def slack() -> Iterator[FakeServer]:
    """A tiny fake Slack Web API answering auth.test."""
    server = FakeServer()

    def auth_test(request: Request) -> Response:
        if request.header("Authorization") != "Bearer xoxb-good":
            return json_response({"ok": False, "error": "invalid_auth"})
        return json_response(
            {
                "ok": True,
                "url": "https://acme.slack.com/",
                "team": "Acme",
                "user": "gapbot",
                "team_id": "T0001",
                "user_id": "U0001",
                "bot_id": "B0001",
            }
        )

    server.route("POST", "/api/auth.test", auth_test)
    with server:
        yield server


def _workdir(tmp_path: Path, teams: list[dict[str, Any]] | None = None) -> Path:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    config = {"timezone": "UTC", "teams": teams or TEAMS}
    (workdir / "gapbot.yaml").write_text(yaml.safe_dump(config))
    return workdir


def _env(
    database_url: str, jira: JiraServer | None, github: GitHubServer | None, **extra: str
) -> dict[str, str]:
    env = {"DATABASE_URL": database_url}
    if jira is not None:
        env.update(
            {"JIRA_URL": jira.url, "JIRA_EMAIL": "bot@example.com", "JIRA_API_TOKEN": "jira-token"}
        )
    if github is not None:
        env.update({"GITHUB_API_URL": github.url, "GITHUB_TOKEN": "gh-token"})
    env.update(extra)
    return env


def test_sync_command_logs_one_line_per_scope(
    tmp_path: Path, database_url: str, jira: JiraServer, github: GitHubServer
) -> None:
    result = run_gapbot(
        "sync", cwd=_workdir(tmp_path), env=_env(database_url, jira, github), timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("jira PAY: 120 items, 6 pages in ") for line in lines)
    assert any(line.startswith("github acme/payments-api: 30 items") for line in lines)
    assert "synced 151 items from 4 scopes" in result.stderr
    store = Store(database_url)
    try:
        assert len(snapshot(store)["items"]) == 151
    finally:
        store.dispose()


def test_sync_source_option_limits_the_sync(
    tmp_path: Path, sqlite_url: str, jira: JiraServer, github: GitHubServer
) -> None:
    env = _env(sqlite_url, jira, github)
    result = run_gapbot("sync", "--source", "github", cwd=_workdir(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    assert jira.requests == []
    assert github.requests
    bad = run_gapbot("sync", "--source", "trello", cwd=_workdir(tmp_path), env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "gapbot: error: --source: 'trello' is not a source (jira or github)"
    )


def test_sync_exits_non_zero_naming_the_failed_scopes(
    tmp_path: Path, sqlite_url: str, jira: JiraServer, github: GitHubServer
) -> None:
    teams = [
        {"name": "payments", "jira_projects": ["PAY", "NOPE"], "github_repos": ["acme/missing"]}
    ]
    result = run_gapbot(
        "sync", cwd=_workdir(tmp_path, teams), env=_env(sqlite_url, jira, github), timeout=60
    )
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("gapbot: error: sync failed for jira:NOPE (")
    assert "github:acme/missing (" in error
    assert "Traceback" not in result.stderr
    # The reachable project was still synced.
    assert "jira PAY: 120 items" in result.stderr


def test_sync_with_a_refused_token_names_the_variable_and_hides_it(
    tmp_path: Path, sqlite_url: str, jira: JiraServer
) -> None:
    env = _env(sqlite_url, jira, None, JIRA_API_TOKEN="not-the-token")
    result = run_gapbot("sync", cwd=_workdir(tmp_path), env=env)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gapbot: error: sync failed for jira: Jira refused the credentials")
    assert "JIRA_API_TOKEN" in last
    assert "not-the-token" not in result.stderr
    # serverInfo needs no login; the first authenticated call is refused, and that is all.
    assert len(jira.requests_to("/myself")) == 1
    assert jira.requests_to("/search") == []


def _run_killed_sync(cwd: Path, env: dict[str, str], jira: JiraServer, pages: int) -> None:
    """Start `gapbot sync` and SIGKILL it once Jira has served `pages` search pages."""
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(cwd),
        "PYTHONPATH": str(REPO_ROOT),
        "LANG": "C.UTF-8",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sync"],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(jira.requests_to("/search/jql")) < pages:
            assert process.poll() is None, "the sync ended before it could be killed"
            assert time.monotonic() < deadline, "the sync never got going"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_a_killed_sync_resumes_to_the_same_store(
    tmp_path: Path, database_url: str, jira: JiraServer, github: GitHubServer
) -> None:
    cwd = _workdir(tmp_path)
    # Reference: one uninterrupted sync into a store of its own.
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    done = run_gapbot("sync", cwd=cwd, env=_env(reference_url, jira, github), timeout=120)
    assert done.returncode == 0, done.stderr
    jira.requests.clear()
    # Slow the API down so the kill lands mid-scope, after three committed pages of PAY.
    jira.latency = 0.1
    _run_killed_sync(cwd, _env(database_url, jira, github), jira, pages=5)
    jira.latency = 0.0
    store = Store(database_url)
    try:
        partial = snapshot(store)
        cursor, _ = partial["cursors"][("jira", "PAY")]
        assert cursor is not None
        assert cursor < BASE_TIME + timedelta(minutes=120)  # part-way
        assert 0 < len(partial["items"]) < 150
        jira.requests.clear()
        resumed = run_gapbot("sync", cwd=cwd, env=_env(database_url, jira, github), timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        # The resumed run started from the committed cursor, not from the beginning.
        first_resumed = next(r for r in jira.requests if r.path.endswith("/search/jql"))
        assert 'updated >= "' in (first_resumed.arg("jql") or "")
        after = snapshot(store)
    finally:
        store.dispose()
    reference_store = Store(reference_url)
    try:
        reference = snapshot(reference_store)
    finally:
        reference_store.dispose()
    assert after["items"] == reference["items"]
    assert after["links"] == reference["links"]
    assert after["cursors"] == reference["cursors"]


def test_check_reports_what_works(
    tmp_path: Path,
    sqlite_url: str,
    jira: JiraServer,
    github: GitHubServer,
    slack: FakeServer,
) -> None:
    env = _env(
        sqlite_url, jira, github, SLACK_BOT_TOKEN="xoxb-good", SLACK_API_URL=f"{slack.url}/api/"
    )
    result = run_gapbot("check", cwd=_workdir(tmp_path), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert rows[0] == ["part", "target", "status", "detail"]
    by_target = {(r[0], r[1]): (r[2], r[3]) for r in rows[1:]}
    assert by_target[("jira", jira.url)][0] == "ok"
    assert "Cloud" in by_target[("jira", jira.url)][1]
    assert by_target[("jira", "project PAY")] == ("ok", "reachable")
    assert by_target[("jira", "project CORE")] == ("ok", "reachable")
    assert by_target[("github", "acme/payments-api")] == ("ok", "reachable")
    assert by_target[("github", "acme/platform")] == ("ok", "reachable")
    assert by_target[("slack", f"{slack.url}/api/")] == ("ok", "workspace Acme, bot gapbot")


def test_check_fails_naming_what_is_broken(
    tmp_path: Path, sqlite_url: str, jira: JiraServer, github: GitHubServer, slack: FakeServer
) -> None:
    teams = [
        {"name": "payments", "jira_projects": ["PAY", "NOPE"], "github_repos": ["acme/missing"]},
        {"name": "growth", "jql": "assignee WAS EVER currentUser()"},
    ]
    env = _env(
        sqlite_url,
        jira,
        github,
        SLACK_BOT_TOKEN="xoxb-revoked",
        SLACK_API_URL=f"{slack.url}/api/",
    )
    result = run_gapbot("check", cwd=_workdir(tmp_path, teams), env=env)
    assert result.returncode == 1
    rows = {tuple(line.split("\t")[:3]) for line in result.stdout.strip().splitlines()}
    assert ("jira", "project PAY", "ok") in rows
    assert ("jira", "project NOPE", "FAIL") in rows
    assert ("github", "acme/missing", "FAIL") in rows
    assert ("jira", "team:growth", "FAIL") in rows
    assert "HTTP 400: Error in the JQL Query" in result.stdout
    assert ("slack", f"{slack.url}/api/", "FAIL") in rows
    assert "invalid_auth" in result.stdout
    assert "xoxb-revoked" not in result.stdout + result.stderr


def test_check_with_a_bad_github_token_and_no_slack(
    tmp_path: Path, sqlite_url: str, jira: JiraServer, github: GitHubServer
) -> None:
    env = _env(sqlite_url, jira, github, GITHUB_TOKEN="ghp_wrong")
    result = run_gapbot("check", cwd=_workdir(tmp_path), env=env)
    assert result.returncode == 1
    github_rows = [line for line in result.stdout.splitlines() if line.startswith("github")]
    assert len(github_rows) == 1
    assert "FAIL" in github_rows[0]
    assert "GITHUB_TOKEN" in github_rows[0]
    assert "ghp_wrong" not in result.stdout
    assert "slack\t\tskipped\tskipped: SLACK_BOT_TOKEN is not set" in result.stdout


def test_check_with_a_bad_config_exits_2(tmp_path: Path, sqlite_url: str) -> None:
    workdir = tmp_path / "bad"
    workdir.mkdir()
    (workdir / "gapbot.yaml").write_text("teams:\n  - name: x\n    colour: blue\n")
    result = run_gapbot("check", cwd=workdir, env={"DATABASE_URL": sqlite_url})
    assert result.returncode == 2
    assert result.stderr.startswith("gapbot: error: gapbot.yaml:")


def test_the_progress_bar_on_a_terminal(sqlite_url: str, jira: JiraServer) -> None:
    from io import StringIO

    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TextColumn

    from bot.commands.sync import BarProgress
    from connectors.jira import JiraConnector
    from connectors.sync import run_sync
    from tests.sandbox_env import make_settings, quick_retry

    settings = make_settings(jira_url=jira.url)
    out = StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    store = Store(sqlite_url)
    try:
        columns = (TextColumn("{task.description}"), TextColumn("{task.fields[items]} items"),
                   TextColumn("{task.fields[scopes]}"))  # fmt: skip
        with RichProgress(*columns, console=console) as bar:
            report = run_sync(
                settings,
                store,
                [JiraConnector(settings, retry=quick_retry())],
                progress=BarProgress(bar),
            )
    finally:
        store.dispose()
    assert report.ok
    assert "jira 121 items 2/2 scopes" in out.getvalue()


def test_sync_without_a_jira_url_says_so(tmp_path: Path, sqlite_url: str) -> None:
    result = run_gapbot(
        "sync", "--source", "jira", cwd=_workdir(tmp_path), env=_env(sqlite_url, None, None)
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "gapbot: error: sync failed for jira: Jira: teams name Jira projects but "
        "jira.url (or JIRA_URL) is not set"
    )
