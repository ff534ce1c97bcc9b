"""The Jira connector through the real `jira` client against the fake Jira, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.settings import TeamMap
from connectors.jira import JiraConnector, adf_to_text
from connectors.sync import sync_source
from sandbox.http import Fault
from sandbox.jira_server import JiraModel, JiraServer
from store.db import Store
from store.items import all_links, get_item, list_items
from tests.sandbox_env import (
    BASE_TIME,
    Sleeps,
    fill_jira,
    make_settings,
    quick_retry,
    snapshot,
    state_of,
)


@pytest.fixture(params=["Cloud", "Server"])
def jira(request: pytest.FixtureRequest) -> Iterator[JiraServer]:
    """A fake Jira site (Cloud and Data Center) with PAY and CORE filled."""
    model = JiraModel(deployment=request.param)
    fill_jira(model)
    # Data Center pages may hold more than the 10 asked for: each re-reads 5 anchor issues.
    with JiraServer(model, max_page=15) as server:
        yield server


@pytest.fixture
def cloud() -> Iterator[JiraServer]:
    """A fake Jira Cloud site only."""
    model = JiraModel(deployment="Cloud")
    fill_jira(model)
    with JiraServer(model, max_page=10) as server:
        yield server


def _connector(
    server: JiraServer, sleeps: Sleeps | None = None, timeout: float = 2, **kw: object
) -> JiraConnector:
    settings = make_settings(jira_url=server.url, cloud=server.cloud, **kw)
    return JiraConnector(settings, retry=quick_retry(sleeps), page_size=10, timeout=timeout)


def _sync(store: Store, connector: JiraConnector, *, full: bool = False):
    team_map = TeamMap(connector.settings.config.teams)
    return sync_source(store, connector, team_map, full=full)


def _searches(server: JiraServer) -> list:
    return server.requests_to(r"/search")


def test_first_sync_reads_every_issue_with_its_fields(store: Store, jira: JiraServer) -> None:
    jira.model.update_issue("PAY-2", epic="CORE-1", updated=BASE_TIME + timedelta(minutes=2))
    jira.model.update_issue(
        "PAY-3", parent="PAY-2", issuetype="Sub-task", updated=BASE_TIME + timedelta(minutes=3)
    )
    jira.model.add_link("PAY-1", "Blocks", "PAY-4")
    jira.model.add_link("PAY-5", "Duplicate", "PAY-6")
    jira.model.add_project("OTHER")
    outsider = jira.model.add_issue("OTHER", "Same bug, other team", updated=BASE_TIME)
    jira.model.add_link(outsider["key"], "Duplicate", "PAY-7")  # a project gapbot does not read
    report = _sync(store, _connector(jira))
    assert report.ok, report
    with store.session() as session:
        items = {i.key: i for i in list_items(session)}
        links = {(lk.source_key, lk.target_key, lk.type) for lk in all_links(session)}
    assert len(items) == 31
    first = items["PAY-1"]
    assert first.source == "jira"
    assert first.external_id == str(jira.model.get("PAY-1")["id"])
    assert first.body == "Details of task 0\nsecond line"  # ADF on Cloud, a string on DC
    assert first.status == "To Do"
    assert first.status_category == "todo"
    assert first.priority == "Highest"
    assert first.priority_rank == 1
    assert first.assignee == "Dev 0"
    assert first.team == "payments"
    assert first.url == f"{jira.url}/browse/PAY-1"
    assert items["PAY-2"].status_category == "in_progress"
    assert items["PAY-3"].status_category == "done"
    assert items["PAY-3"].kind == "subtask"
    assert items["PAY-8"].team == "platform"  # component Platform overrides the project
    # Links with their direction, parents (Cloud's parent; DC's Epic Link custom field).
    assert ("PAY-1", "PAY-4", "blocks") in links
    assert ("PAY-5", "PAY-6", "duplicates") in links
    assert ("OTHER-1", "PAY-7", "duplicates") in links
    assert ("CORE-1", "PAY-2", "parent") in links
    assert ("PAY-2", "PAY-3", "parent") in links
    assert items["PAY-2"].parent == "CORE-1"
    # The right search endpoint, paged the right way, asking only for the fields used.
    searches = [r for r in _searches(jira) if "PAY" in (r.arg("jql") or "")]
    if jira.cloud:
        assert all(r.path == "/rest/api/3/search/jql" for r in searches)
        assert searches[1].arg("nextPageToken")
    else:
        assert all(r.path == "/rest/api/2/search" for r in searches)
        # Each page re-reads the last 5 issues of the one before (offsets may shift).
        assert [r.arg("startAt") for r in searches] == ["0", "5", "15"]
        assert searches[0].header("Authorization") == "Bearer jira-token"
    assert len(searches) == 3
    assert searches[0].arg("jql") == "project in (PAY) ORDER BY updated ASC"
    fields = set(searches[0].query["fields"])
    assert {"summary", "description", "status", "issuelinks", "parent"} <= fields
    assert "comment" not in fields
    assert "*all" not in fields
    state = state_of(store, "jira", "PAY")
    assert state is not None
    assert state.last_error == ""
    assert state.cursor == BASE_TIME + timedelta(minutes=30)


def test_priorities_are_ranked_by_the_sites_scheme(store: Store) -> None:
    model = JiraModel(deployment="Server", priorities=["Blocker", "Urgent", "Normal", "Meh"])
    model.add_issue("PAY", "Renamed top priority", priority="Urgent")
    model.add_issue("PAY", "Lowest of four", priority="Meh")
    model.add_issue("PAY", "No priority", priority=None)
    with JiraServer(model) as server:
        teams = [{"name": "payments", "jira_projects": ["PAY"]}]
        assert _sync(store, _connector(server, teams=teams)).ok
    with store.session() as session:
        ranks = {i.key: i.priority_rank for i in list_items(session)}
    # Four levels spread over 1..5 by position, whatever the names say.
    assert ranks == {"PAY-1": 2, "PAY-2": 5, "PAY-3": 3}


def test_incremental_sync_reads_only_changes_in_the_users_time_zone(
    store: Store, jira: JiraServer
) -> None:
    connector = _connector(jira)
    assert _sync(store, connector).ok
    cursor = state_of(store, "jira", "PAY").cursor
    later = BASE_TIME + timedelta(hours=2)
    jira.model.update_issue("PAY-4", summary="Changed title", updated=later)
    jira.model.update_issue("PAY-9", status="Done", category="done", updated=later)
    before = len(jira.requests)
    assert _sync(store, connector).ok
    searches = [r for r in jira.requests[before:] if "/search" in r.path and "PAY" in r.arg("jql")]
    assert len(searches) == 1
    # The overlap (5 minutes) before the cursor, in the token user's zone, to the minute.
    since = (cursor - timedelta(minutes=5)).astimezone(ZoneInfo("America/New_York"))
    assert f'updated >= "{since:%Y-%m-%d %H:%M}"' in searches[0].arg("jql")
    with store.session() as session:
        assert get_item(session, "PAY-4").title == "Changed title"
        assert get_item(session, "PAY-9").status_category == "done"
    state = state_of(store, "jira", "PAY")
    assert state is not None
    assert state.cursor == later
    # Only the changed issues and the overlap window's came back, not all 30.
    assert state.items_synced == 30 + 2 + 6  # minutes 25..30 re-read, then the two changes


def test_the_overlap_window_catches_a_late_committed_change(
    store: Store, cloud: JiraServer
) -> None:
    connector = _connector(cloud)
    assert _sync(store, connector).ok
    cursor = state_of(store, "jira", "PAY").cursor
    # Changes Jira committed with timestamps just before (and well before) the cursor.
    cloud.model.update_issue(
        "PAY-5", summary="Inside the overlap", updated=cursor - timedelta(minutes=3)
    )
    cloud.model.update_issue(
        "PAY-6", summary="Before the overlap", updated=cursor - timedelta(minutes=20)
    )
    assert _sync(store, connector).ok
    with store.session() as session:
        assert get_item(session, "PAY-5").title == "Inside the overlap"
        assert get_item(session, "PAY-6").title == "Payment task 5"
    # The cursor never moves back.
    assert state_of(store, "jira", "PAY").cursor == cursor


def test_a_moved_issue_stays_one_item(store: Store, jira: JiraServer) -> None:
    jira.model.add_link("PAY-10", "Blocks", "PAY-2")
    connector = _connector(jira)
    assert _sync(store, connector).ok
    moved = jira.model.move_issue("PAY-2", "CORE")
    assert _sync(store, connector).ok
    with store.session() as session:
        assert get_item(session, "PAY-2") is None
        item = get_item(session, moved["key"])
        assert item is not None
        assert item.external_id == moved["id"]
        assert item.team == "platform"
        links = {(lk.source_key, lk.target_key, lk.type) for lk in all_links(session)}
        same_id = [i for i in list_items(session) if i.external_id == moved["id"]]
    assert len(same_id) == 1
    assert ("PAY-10", moved["key"], "blocks") in links
    assert not any("PAY-2" in (s, t) for s, t, _ in links)
    # The old key still resolves on the server, to the same issue.
    response = connector.client()._session.get(f"{jira.url}/rest/api/2/issue/PAY-2")
    assert response.json()["key"] == moved["key"]


def test_full_sync_marks_deleted_issues_gone(store: Store, jira: JiraServer) -> None:
    connector = _connector(jira)
    assert _sync(store, connector).ok
    jira.model.delete_issue("PAY-3")
    assert _sync(store, connector).ok
    with store.session() as session:
        assert get_item(session, "PAY-3").gone is False
    report = _sync(store, connector, full=True)
    assert report.ok
    assert [r.gone for r in report.results if r.scope == "PAY"] == [1]
    with store.session() as session:
        assert get_item(session, "PAY-3").gone is True
        assert len(list_items(session)) == 30


def test_429_waits_as_retry_after_says(store: Store, cloud: JiraServer) -> None:
    sleeps = Sleeps()
    fault = cloud.add_fault(
        Fault(status=429, headers={"Retry-After": "7"}, path=r"/search/jql", nth=2, times=2)
    )
    assert _sync(store, _connector(cloud, sleeps)).ok
    assert fault.fired == 2
    assert sleeps.waits == [7.0, 7.0]
    with store.session() as session:
        assert len(list_items(session)) == 31


def test_5xx_and_timeouts_are_retried_with_backoff(store: Store, cloud: JiraServer) -> None:
    sleeps = Sleeps()
    cloud.add_fault(Fault(status=503, body={"errorMessages": ["down"]}, path="/search", nth=1))
    cloud.add_fault(Fault(hang=5, path="/search", nth=3))
    assert _sync(store, _connector(cloud, sleeps, timeout=1.0)).ok
    assert len(sleeps.waits) == 2
    assert all(0 < w <= 1 for w in sleeps.waits)  # backoff without a server-given wait
    with store.session() as session:
        assert len(list_items(session)) == 31


def test_retries_are_bounded(store: Store, cloud: JiraServer) -> None:
    sleeps = Sleeps()
    cloud.add_fault(Fault(status=500, path="/search", times=0))
    report = _sync(store, _connector(cloud, sleeps))
    assert not report.ok
    assert len(sleeps.waits) == 3 * 2  # 4 attempts per scope, two scopes
    assert "giving up after 4 attempts" in report.results[0].error


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_stop_the_source_at_once(
    store: Store, jira: JiraServer, status: int
) -> None:
    sleeps = Sleeps()
    jira.add_fault(
        Fault(status=status, body={"errorMessages": ["no"], "errors": {}}, path="/project/")
    )
    report = _sync(store, _connector(jira, sleeps))
    hint = "JIRA_API_TOKEN" if jira.cloud else "JIRA_PAT"
    assert hint in report.source_errors["jira"]
    assert "\n" not in report.source_errors["jira"]
    assert "jira-token" not in report.source_errors["jira"]
    assert sleeps.waits == []
    assert len(jira.requests_to("/project/")) == 1  # no retry storm, no further scope
    assert _searches(jira) == []
    assert state_of(store, "jira", "CORE").last_error.startswith("Jira")


def test_wrong_token_is_refused_with_the_variable_named(store: Store, jira: JiraServer) -> None:
    report = _sync(store, _connector(jira, jira_token="wrong"))
    assert "401" in report.source_errors["jira"]
    assert ("JIRA_API_TOKEN" if jira.cloud else "JIRA_PAT") in report.source_errors["jira"]


def test_unknown_project_is_skipped_and_recorded(store: Store, jira: JiraServer) -> None:
    teams = [
        {"name": "ghosts", "jira_projects": ["NOPE"]},
        {"name": "payments", "jira_projects": ["PAY"]},
    ]
    report = _sync(store, _connector(jira, teams=teams))
    assert [(r.scope, r.status) for r in report.results] == [("NOPE", "skipped"), ("PAY", "ok")]
    state = state_of(store, "jira", "NOPE")
    assert state is not None
    assert "NOPE not found" in state.last_error
    with store.session() as session:
        assert len(list_items(session)) == 30


def test_malformed_page_stops_the_scope_without_moving_its_cursor(
    store: Store, jira: JiraServer
) -> None:
    connector = _connector(jira)
    jira.add_fault(Fault(malformed=True, path="/search", nth=2))
    report = _sync(store, connector)
    pay = next(r for r in report.results if r.scope == "PAY")
    assert pay.status == "failed"
    assert "not valid JSON" in pay.error
    state = state_of(store, "jira", "PAY")
    # Page 1 (10 issues, a minute apart) was committed; page 2 did not move the cursor.
    assert state is not None
    assert state.cursor == BASE_TIME + timedelta(minutes=10)
    assert "not valid JSON" in state.last_error
    # The next sync goes on from there and clears the error.
    assert _sync(store, connector).ok
    assert state_of(store, "jira", "PAY").last_error == ""
    with store.session() as session:
        assert len(list_items(session)) == 31


def test_cursor_is_capped_at_sync_start(store: Store, cloud: JiraServer) -> None:
    future = BASE_TIME.replace(year=2099)
    cloud.model.update_issue("PAY-1", updated=future)
    assert _sync(store, _connector(cloud)).ok
    cursor = state_of(store, "jira", "PAY").cursor
    assert cursor is not None
    assert cursor < future.astimezone(UTC)


def test_resyncing_changes_nothing(store: Store, jira: JiraServer) -> None:
    connector = _connector(jira)
    assert _sync(store, connector).ok
    first = snapshot(store)
    assert _sync(store, connector).ok
    assert snapshot(store) == first


def test_adf_to_text_keeps_the_words() -> None:
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Hello "},
                                              {"type": "mention", "attrs": {"text": "@Ana"}}]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]}]},
        ],
    }  # fmt: skip
    assert adf_to_text(doc) == "Hello @Ana\n- one"


def test_a_team_query_and_the_global_filter_shape_the_jql(store: Store, cloud: JiraServer) -> None:
    teams = [{"name": "growth", "jql": "project = PAY AND labels = checkout"}]
    connector = _connector(cloud, teams=teams, jira={"jql": "component = Platform"})
    report = _sync(store, connector)
    assert [(r.scope, r.status, r.items) for r in report.results] == [("team:growth", "ok", 0)]
    (search,) = _searches(cloud)
    assert search.arg("jql") == (
        "(project = PAY AND labels = checkout) AND (component = Platform) ORDER BY updated ASC"
    )
    connector = _connector(cloud, teams=teams)
    assert _sync(store, connector).ok
    with store.session() as session:
        items = list_items(session)
    assert sorted(i.key for i in items) == [
        "PAY-1",
        "PAY-11",
        "PAY-16",
        "PAY-21",
        "PAY-26",
        "PAY-6",
    ]
    assert {i.team for i in items} == {"unassigned"}  # a team query names no owned project


def test_offsets_shifted_by_a_change_during_the_sync_lose_nothing(store: Store) -> None:
    """Data Center: an issue already read is updated mid-sync and moves to the end."""
    model = JiraModel(deployment="Server")
    fill_jira(model)
    with JiraServer(model, max_page=15) as server:
        teams = [{"name": "payments", "jira_projects": ["PAY"]}]
        connector = _connector(server, teams=teams)
        scope = connector.scopes()[0]
        first = connector.fetch_page(scope, None, None)
        assert [r.key for r in first.records][-1] == "PAY-10"
        # Two issues of page 1 change: everything after them shifts two places left.
        model.update_issue("PAY-2", summary="changed")
        model.update_issue("PAY-3", summary="changed")
        second = connector.fetch_page(scope, None, first.next_token)
        assert [r.key for r in second.records][:2] == ["PAY-11", "PAY-12"]  # nothing skipped
        # A shift larger than the anchors ends the scope early and safely.
        for n in range(11, 25):
            model.update_issue(f"PAY-{n}", summary="changed")
        third = connector.fetch_page(scope, None, second.next_token)
        assert third.truncated
        assert third.records == []
        assert third.next_token is None
