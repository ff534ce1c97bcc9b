"""The GitHub connector through PyGithub against the fake GitHub, on both stores."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from config.settings import TeamMap
from connectors.github import GitHubConnector
from connectors.sync import SyncReport, sync_source
from sandbox.github_server import (
    GitHubModel,
    GitHubServer,
    primary_rate_limit,
    secondary_rate_limit,
)
from sandbox.http import Fault
from store.db import Store
from store.items import all_links, get_item, list_items
from tests.sandbox_env import BASE_TIME, Sleeps, fill_github, make_settings, quick_retry, state_of

LISTING = r"/(repos/acme/payments-api|repositories/\d+)/issues$"


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    """A fake GitHub with acme/payments-api filled and acme/platform empty."""
    model = GitHubModel()
    fill_github(model)
    with GitHubServer(model) as server:
        yield server


def _connector(
    server: GitHubServer, sleeps: Sleeps | None = None, timeout: int = 2, **kw: object
) -> GitHubConnector:
    settings = make_settings(github_url=server.url, **kw)
    return GitHubConnector(settings, retry=quick_retry(sleeps), page_size=5, timeout=timeout)


def _sync(store: Store, connector: GitHubConnector, *, full: bool = False) -> SyncReport:
    report = sync_source(store, connector, TeamMap(connector.settings.config.teams), full=full)
    connector.close()
    return report


def test_first_sync_reads_issues_and_pull_requests(store: Store, github: GitHubServer) -> None:
    github.model.update(
        "acme/payments-api",
        3,
        merged_at=BASE_TIME + timedelta(days=1),
        updated=BASE_TIME + timedelta(minutes=3),
    )
    github.model.update(
        "acme/payments-api",
        6,
        reviews=[],
        draft=True,
        updated=BASE_TIME + timedelta(minutes=6),
    )
    report = _sync(store, _connector(github))
    assert report.ok, report
    with store.session() as session:
        items = {i.key: i for i in list_items(session)}
        links = {(lk.source_key, lk.target_key, lk.type) for lk in all_links(session)}
    assert len(items) == 12
    issue = items["acme/payments-api#1"]
    assert issue.kind == "issue"
    assert issue.status_category == "todo"
    assert issue.team == "payments"
    assert issue.project == "acme/payments-api"
    merged = items["acme/payments-api#3"]
    assert merged.kind == "pull_request"
    assert merged.merged
    assert merged.status == "merged"
    assert merged.status_category == "done"
    assert merged.merged_at == BASE_TIME + timedelta(days=1)
    assert merged.head_branch == "feature/pay-2"
    assert merged.files == ["src/file0.py", "src/file1.py", "src/file2.py"]
    assert merged.review_state == "commented"
    assert merged.first_review_at == BASE_TIME + timedelta(minutes=3, hours=1)
    assert merged.mentions == ["PAY-2"]
    draft = items["acme/payments-api#6"]
    assert draft.draft
    assert draft.status == "draft"
    assert draft.review_state == "requested"
    assert draft.first_review_at is None
    # Ticket keys in title/branch/body implement the ticket; "Closes #2" links the issue.
    assert ("acme/payments-api#3", "PAY-2", "implements") in links
    assert ("acme/payments-api#3", "acme/payments-api#2", "implements") in links
    # 5 per page, sorted by update, all states; each next page is asked `since` the last
    # item's time (less a second), dropping what was read: 5 + 4 + 3 items.
    listings = github.requests_to(LISTING)
    assert [r.arg("since") for r in listings] == [
        None,
        "2026-11-01T12:04:59Z",
        "2026-11-01T12:08:59Z",
    ]
    assert listings[0].query == {
        "state": ["all"],
        "sort": ["updated"],
        "direction": ["asc"],
        "per_page": ["5"],
    }
    # Details only for the 4 pull requests; no lazy re-fetch of listed issues.
    assert len(github.requests_to(r"/pulls/\d+$")) == 4
    assert github.requests_to(r"/issues/\d+$") == []
    assert all(r.header("Authorization") == "token gh-token" for r in github.requests), (
        "every request carries the token"
    )
    assert state_of(store, "github", "acme/payments-api").cursor == BASE_TIME + timedelta(
        minutes=12
    )


def test_incremental_sync_asks_since_the_cursor_minus_overlap(
    store: Store, github: GitHubServer
) -> None:
    connector = _connector(github)
    assert _sync(store, connector).ok
    later = BASE_TIME + timedelta(hours=3)
    github.model.update("acme/payments-api", 4, title="Renamed", updated=later)
    before = len(github.requests)
    assert _sync(store, _connector(github)).ok
    listings = [r for r in github.requests[before:] if re.search(LISTING, r.path)]
    # The overlap's 6 items and the change, 5 a page.
    assert [r.arg("since") for r in listings] == ["2026-11-01T12:07:00Z", "2026-11-01T12:10:59Z"]
    with store.session() as session:
        assert get_item(session, "acme/payments-api#4").title == "Renamed"
    assert state_of(store, "github", "acme/payments-api").cursor == later


def test_org_wildcard_expands_to_every_repository(store: Store, github: GitHubServer) -> None:
    github.model.add_issue("acme/search", "Search is slow")
    teams = [{"name": "everyone", "github_repos": ["acme/*"]}]
    report = _sync(store, _connector(github, teams=teams))
    assert report.ok
    assert sorted(r.scope for r in report.results) == [
        "acme/payments-api",
        "acme/platform",
        "acme/search",
    ]
    with store.session() as session:
        assert get_item(session, "acme/search#1").team == "everyone"


def test_primary_rate_limit_waits_until_the_reset(store: Store, github: GitHubServer) -> None:
    sleeps = Sleeps()
    github.add_fault(primary_rate_limit(reset_in=30, path=LISTING, nth=2))
    assert _sync(store, _connector(github, sleeps)).ok
    assert len(sleeps.waits) == 1
    assert 28 <= sleeps.waits[0] <= 32
    with store.session() as session:
        assert len(list_items(session)) == 12


def test_secondary_rate_limit_waits_as_retry_after_says(store: Store, github: GitHubServer) -> None:
    sleeps = Sleeps()
    github.add_fault(secondary_rate_limit(retry_after=9, path=r"/pulls/\d+$", nth=2))
    assert _sync(store, _connector(github, sleeps)).ok
    assert sleeps.waits == [9.0]


def test_a_reset_too_far_away_fails_the_scope_instead_of_waiting(
    store: Store, github: GitHubServer
) -> None:
    sleeps = Sleeps()
    github.add_fault(primary_rate_limit(reset_in=3600, path=LISTING))
    report = _sync(store, _connector(github, sleeps))
    assert sleeps.waits == []
    failed = report.failed[0]
    assert failed.scope == "acme/payments-api"
    assert "try again later" in failed.error


def test_5xx_and_timeouts_are_retried(store: Store, github: GitHubServer) -> None:
    sleeps = Sleeps()
    github.add_fault(Fault(status=502, body={"message": "Server Error"}, path=LISTING, nth=1))
    github.add_fault(Fault(hang=5, path=r"/pulls/\d+/files$", nth=1))
    assert _sync(store, _connector(github, sleeps, timeout=1)).ok
    assert len(sleeps.waits) == 2
    with store.session() as session:
        assert len(list_items(session)) == 12


def test_bad_credentials_stop_the_source(store: Store, github: GitHubServer) -> None:
    sleeps = Sleeps()
    report = _sync(store, _connector(github, sleeps, github_token="expired"))
    error = report.source_errors["github"]
    assert "Bad credentials" in error
    assert "GITHUB_TOKEN" in error
    assert "expired" not in error
    assert sleeps.waits == []
    assert len(github.requests) == 1  # one refusal, no retry storm, no other repository
    assert state_of(store, "github", "acme/platform").last_error == error


def test_forbidden_that_is_not_a_rate_limit_stops_the_source(
    store: Store, github: GitHubServer
) -> None:
    github.add_fault(
        Fault(status=403, body={"message": "Resource not accessible by integration"}, nth=2)
    )
    report = _sync(store, _connector(github))
    assert "403" in report.source_errors["github"]
    assert "GITHUB_TOKEN" in report.source_errors["github"]


def test_unknown_repository_is_skipped_and_recorded(store: Store, github: GitHubServer) -> None:
    teams = [{"name": "payments", "github_repos": ["acme/gone", "acme/payments-api"]}]
    report = _sync(store, _connector(github, teams=teams))
    assert [(r.scope, r.status) for r in report.results] == [
        ("acme/gone", "skipped"),
        ("acme/payments-api", "ok"),
    ]
    assert "acme/gone not found" in state_of(store, "github", "acme/gone").last_error
    with store.session() as session:
        assert len(list_items(session)) == 12


def test_malformed_page_stops_the_scope_without_moving_its_cursor(
    store: Store, github: GitHubServer
) -> None:
    github.add_fault(Fault(malformed=True, path=LISTING, nth=2))
    report = _sync(store, _connector(github))
    assert report.failed[0].scope == "acme/payments-api"
    state = state_of(store, "github", "acme/payments-api")
    assert state is not None
    assert state.cursor == BASE_TIME + timedelta(minutes=5)  # page 1 only
    assert "not valid JSON" in state.last_error
    assert _sync(store, _connector(github)).ok
    with store.session() as session:
        assert len(list_items(session)) == 12


def test_full_sync_marks_deleted_issues_gone(store: Store, github: GitHubServer) -> None:
    assert _sync(store, _connector(github)).ok
    github.model.delete("acme/payments-api", 1)
    report = _sync(store, _connector(github), full=True)
    assert report.ok
    with store.session() as session:
        assert get_item(session, "acme/payments-api#1").gone is True
        assert get_item(session, "acme/payments-api#2").gone is False


def test_pull_request_files_are_capped(store: Store) -> None:
    model = GitHubModel()
    model.add_pull("acme/payments-api", "Huge refactor", files=[f"f{i}.py" for i in range(250)])
    model.add_repo("acme/platform")
    with GitHubServer(model) as server:
        settings_kw = {"github": {"max_files_per_pr": 120}}
        connector = _connector(server, **settings_kw)
        connector.page_size = 100
        assert _sync(store, connector).ok
    with store.session() as session:
        item = get_item(session, "acme/payments-api#1")
    assert item is not None
    assert len(item.files) == 120


def test_a_change_during_the_sync_skips_nothing(store: Store, github: GitHubServer) -> None:
    """An item already read is updated mid-sync: numbered pages would shift, time keys don't."""
    connector = _connector(github)
    scope = connector.scopes()[0]
    first = connector.fetch_page(scope, None, None)
    assert [r.key for r in first.records][-1] == "acme/payments-api#5"
    github.model.update("acme/payments-api", 1, title="changed")
    github.model.update("acme/payments-api", 2, title="changed")
    second = connector.fetch_page(scope, None, first.next_token)
    assert [r.key for r in second.records] == [f"acme/payments-api#{n}" for n in range(6, 10)]
    connector.close()


def test_a_page_within_one_second_goes_on_by_page_number(store: Store) -> None:
    model = GitHubModel()
    for n in range(12):
        model.add_issue("acme/payments-api", f"Bulk-labelled {n}", updated=BASE_TIME)
    model.add_repo("acme/platform")
    with GitHubServer(model) as server:
        assert _sync(store, _connector(server)).ok
        pages = [r.arg("page") for r in server.requests_to(LISTING)]
    assert pages == [None, None, "2", "3"]  # one page re-read when time stopped moving
    with store.session() as session:
        assert len(list_items(session)) == 12
