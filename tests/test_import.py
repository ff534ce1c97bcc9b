"""`gapbot import`: JSON Lines and Jira CSV, checked whole before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from config.errors import InputError
from config.loader import parse_config
from config.settings import TeamMap
from connectors.imports import import_file
from connectors.jira_csv import parse_jira_date
from store.db import Store
from store.items import count_items, get_item, links_of
from tests.cli import run_gapbot

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
CONFIG = """\
teams:
  - name: payments
    slack_channel: "#payments"
    jira_projects: [PAY]
    github_repos: [acme/web]
  - name: platform
    jira_projects: [CORE]
    labels: [infra]
"""


def _write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _many(count: int) -> list[dict[str, object]]:
    return [
        {
            "key": f"PAY-{n}",
            "title": f"Checkout step {n} fails for saved cards",
            "status": "In Progress" if n % 3 else "Done",
            "priority": ["Highest", "High", "Medium", "Low", "Lowest"][n % 5],
            "labels": ["checkout"],
            "created": "2026-10-01T10:00:00",
            "updated": "2026-11-01T10:00:00+01:00",
            "links": [{"type": "blocks", "target": f"CORE-{n}"}] if n % 10 == 0 else [],
        }
        for n in range(count)
    ]


def test_import_resolves_teams_ranks_categories_and_links(store: Store, tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "items.jsonl",
        [
            {
                "key": "PAY-1",
                "title": "Okta SSO login",
                "priority": "Highest",
                "status": "In Review",
                "links": [{"type": "blocked_by", "target": "CORE-9"}],
                "parent": "PAY-0",
                "created": "2026-11-01T08:00:00",
            },
            {
                "key": "CORE-9",
                "title": "Token refresh",
                "priority": "Low",
                "labels": ["infra"],
                "status_category": "todo",
                "due": "2026-12-01",
            },
            {
                "key": "acme/web#4",
                "title": "Login button",
                "kind": "pull_request",
                "merged_at": "2026-11-02T10:00:00Z",
                "files": ["src/login.ts"],
            },
            {"key": "MISC-1", "title": "Somebody else's", "team": "design"},
        ],
    )
    result = import_file(store, path, TeamMap(parse_config(CONFIG).teams))
    assert (result.items, result.links) == (4, 2)
    with store.session() as session:
        pay = get_item(session, "PAY-1")
        core = get_item(session, "CORE-9")
        pr = get_item(session, "acme/web#4")
        misc = get_item(session, "MISC-1")
        assert pay
        assert core
        assert pr
        assert misc
        assert (pay.team, pay.priority_rank, pay.status_category) == ("payments", 1, "in_progress")
        assert pay.created is not None
        assert pay.created.isoformat() == "2026-11-01T08:00:00+00:00"
        assert (core.team, core.priority_rank, str(core.due)) == ("platform", 4, "2026-12-01")
        assert (pr.team, pr.status_category, pr.merged, pr.files) == (
            "payments",
            "done",
            True,
            ["src/login.ts"],
        )
        assert misc.team == "design"
        links = {(lk.source_key, lk.target_key, lk.type) for lk in links_of(session, ["PAY-1"])}
        assert links == {("CORE-9", "PAY-1", "blocks"), ("PAY-0", "PAY-1", "parent")}


def test_importing_twice_changes_nothing(store: Store, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "items.jsonl", _many(50))
    import_file(store, path, None)
    with store.session() as session:
        before = {i.key: (i.title, i.team, i.labels) for i in _all(session)}
        links_before = len(links_of(session, before))
    import_file(store, path, None)
    with store.session() as session:
        after = {i.key: (i.title, i.team, i.labels) for i in _all(session)}
        assert after == before
        assert len(links_of(session, after)) == links_before == 5


def _all(session: object) -> list:  # type: ignore[type-arg]
    from store.items import list_items

    return list_items(session)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", ":3: not valid JSON"),
        ('{"title": "no key"}', ":3: key: required but missing"),
        ('{"key": "PAY-3"}', ":3 (PAY-3): title: required but missing"),
        ('{"key": "PAY-3", "title": "x", "priority_rank": "high"}', ":3 (PAY-3): priority_rank:"),
        ('{"key": "PAY-3", "title": "x", "priority_rank": 9}', ":3 (PAY-3): priority_rank:"),
        ('{"key": "PAY-3", "title": "x", "created": "last week"}', ":3 (PAY-3): created:"),
        (
            '{"key": "PAY-3", "title": "x", "links": [{"type": "loves", "target": "A-1"}]}',
            ":3 (PAY-3): links.0.type: 'loves' is not a link type",
        ),
        ('["PAY-3", "x"]', ":3: each line must be a JSON object"),
        ('{"key": "PAY-1", "title": "again"}', ":3 (PAY-1): key: already given on line 1"),
    ],
    ids=[
        "json",
        "no-key",
        "no-title",
        "rank-type",
        "rank-range",
        "date",
        "link-type",
        "array",
        "dup-key",
    ],
)
def test_bad_line_names_line_and_field_and_writes_nothing(
    store: Store, tmp_path: Path, line: str, expected: str
) -> None:
    good = '{"key": "PAY-1", "title": "one"}\n{"key": "PAY-2", "title": "two"}\n'
    path = tmp_path / "items.jsonl"
    path.write_text(good + line + "\n" + '{"key": "PAY-4", "title": "four"}\n')
    with pytest.raises(InputError) as caught:
        import_file(store, path, None)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
    with store.session() as session:
        assert count_items(session) == 0


def test_cli_bad_line_exit_2_one_line_store_unchanged(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url}
    _write_jsonl(tmp_path / "good.jsonl", _many(3))
    assert run_gapbot("import", "good.jsonl", cwd=tmp_path, env=env).returncode == 0
    (tmp_path / "bad.jsonl").write_text('{"key": "PAY-1", "title": "renamed"}\n{"key": 5}\n')
    result = run_gapbot("import", "bad.jsonl", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gapbot: error: bad.jsonl:2: key: Input should be a valid string"
    ]
    listed = json.loads(run_gapbot("items", "--json", cwd=tmp_path, env=env).stdout)
    assert [i["title"] for i in listed if i["key"] == "PAY-1"] == [
        "Checkout step 1 fails for saved cards"
    ]


def test_cli_init_then_import_1000_and_list_them(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url}
    init = run_gapbot("init", cwd=tmp_path, env=env)
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "gapbot.yaml").exists()
    assert (tmp_path / "slack-manifest.yaml").exists()
    _write_jsonl(tmp_path / "items.jsonl", _many(1000))
    imported = run_gapbot("import", "items.jsonl", cwd=tmp_path, env=env)
    assert imported.returncode == 0, imported.stderr
    assert "imported 1000 items and 100 links" in imported.stderr
    listed = run_gapbot("items", "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert len(items) == 1000
    assert {i["team"] for i in items} == {"payments"}
    first = next(i for i in items if i["key"] == "PAY-10")
    assert first["links"] == [{"type": "blocks", "target": "CORE-10"}]
    assert first["updated"] == "2026-11-01T09:00:00+00:00"
    team = run_gapbot("items", "--team", "platform", "--json", cwd=tmp_path, env=env)
    assert json.loads(team.stdout) == []
    plain = run_gapbot("items", "--source", "import", cwd=tmp_path, env=env)
    assert plain.stdout.splitlines()[0] == "key\tteam\tsource\tstatus\tpriority\ttitle"
    assert len(plain.stdout.splitlines()) == 1001


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    assert run_gapbot("init", cwd=tmp_path).returncode == 0
    again = run_gapbot("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "gapbot.yaml already exists (use --force to overwrite)" in again.stderr


@pytest.mark.parametrize("name", ["jira_cloud_export.csv", "jira_server_export_excel_resaved.csv"])
def test_jira_csv_exports_import(store: Store, tmp_path: Path, name: str) -> None:
    source = FIXTURES / "jira" / "csv" / name
    if not source.exists():
        pytest.skip("the shared fixtures are not beside this checkout")
    path = tmp_path / name
    shutil.copy(source, path)
    result = import_file(store, path, None)
    assert result.format == "jira-csv"
    assert result.items >= 1
    with store.session() as session:
        assert count_items(session) == result.items


def test_jira_csv_repeated_columns_and_links(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Summary,Issue key,Issue id,Issue Type,Status,Project key,Priority,Created,Updated,"
        "Resolved,Due date,Labels,Labels,Component/s,Component/s,"
        "Outward issue link (Blocks),Outward issue link (Blocks),Inward issue link (Blocks),"
        "Outward issue link (Relates),Status Category\n"
        '"Retry payouts, safely",PAY-7,10007,Story,In Progress,PAY,High,15/Sep/25 6:42 PM,'
        "17/Sep/25 2:26 AM,,05/Oct/25 12:00 AM,payouts,risk,API,Ledger,CORE-1,CORE-2,OPS-3,"
        "PAY-8,In Progress\n",
        encoding="utf-8",
    )
    import_file(store, path, TeamMap(parse_config(CONFIG).teams))
    with store.session() as session:
        item = get_item(session, "PAY-7")
        assert item is not None
        assert item.title == "Retry payouts, safely"
        assert item.labels == ["payouts", "risk"]
        assert item.components == ["API", "Ledger"]
        assert item.status_category == "in_progress"
        assert item.external_id == "10007"
        assert str(item.due) == "2025-10-05"
        assert item.created is not None
        assert item.created.isoformat() == "2025-09-15T18:42:00+00:00"
        links = {(lk.source_key, lk.target_key, lk.type) for lk in links_of(session, ["PAY-7"])}
        assert links == {
            ("PAY-7", "CORE-1", "blocks"),
            ("PAY-7", "CORE-2", "blocks"),
            ("OPS-3", "PAY-7", "blocks"),
            ("PAY-7", "PAY-8", "relates"),
        }


def test_jira_csv_bad_date_names_row_and_column(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Summary,Issue key,Created\nGood,PAY-1,15/Sep/25 6:42 PM\nBad,PAY-2,someday\n",
        encoding="utf-8",
    )
    with pytest.raises(
        InputError, match=r"export.csv:3 \(PAY-2\): Created: 'someday' is not a date"
    ):
        import_file(store, path, None)
    with store.session() as session:
        assert count_items(session) == 0


def test_jira_date_formats() -> None:
    assert parse_jira_date("16/02/2017 15:26").isoformat() == "2017-02-16T15:26:00+00:00"  # type: ignore[union-attr]
    assert parse_jira_date("") is None


def test_hostile_and_unicode_text_round_trips(store: Store, tmp_path: Path) -> None:
    title = "<!channel> hotfix <@U123> & 'quotes' — ünïcödé \u202e"
    path = _write_jsonl(
        tmp_path / "items.jsonl", [{"key": "PAY-1", "title": title, "body": "x" * 50_000}]
    )
    import_file(store, path, None)
    with store.session() as session:
        item = get_item(session, "PAY-1")
        assert item is not None
        assert item.title == title
        assert len(item.body) == 50_000
