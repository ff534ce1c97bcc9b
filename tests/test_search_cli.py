"""`gapbot search` and `gapbot similar` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.commands.items import ITEM_JSON_FIELDS
from tests.cli import run_gapbot
from tests.similarity_corpus import ROWS


def _import(tmp_path: Path, database_url: str) -> tuple[Path, dict[str, str]]:
    lines = [
        json.dumps({**row, "source": "jira", "project": row["key"].split("-")[0]}) for row in ROWS
    ]
    (tmp_path / "items.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {"DATABASE_URL": database_url}
    result = run_gapbot("import", "items.jsonl", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    return tmp_path, env


@pytest.fixture
def workdir(tmp_path: Path, database_url: str) -> tuple[Path, dict[str, str]]:
    """The corpus imported into a store on SQLite and on PostgreSQL."""
    return _import(tmp_path, database_url)


@pytest.fixture
def sqlite_workdir(tmp_path: Path, sqlite_url: str) -> tuple[Path, dict[str, str]]:
    """The corpus imported into a SQLite store."""
    return _import(tmp_path, sqlite_url)


def test_search_json(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    result = run_gapbot("search", "okta saml login", "--limit", "2", "--json", cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert isinstance(found, list)
    assert {f["key"] for f in found} == {"PAY-1", "ID-7"}
    assert set(found[0]) == {*ITEM_JSON_FIELDS, "score"}
    assert found[0]["score"] >= found[1]["score"] > 0


def test_similar_json_and_table(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    result = run_gapbot("similar", "PAY-1", "DATA-5", "--limit", "3", "--json", cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert list(found) == ["PAY-1", "DATA-5"]
    assert found["PAY-1"][0]["key"] == "ID-7"
    assert found["DATA-5"][0]["key"] == "DATA-8"
    assert all(len(v) <= 3 and "score" in v[0] for v in found.values())
    table = run_gapbot("similar", "PAY-1", cwd=cwd, env=env)
    assert table.returncode == 0, table.stderr
    header, first = table.stdout.splitlines()[:2]
    assert header.split("\t") == ["#", "score", "key", "team", "status", "title"]
    assert first.split("\t")[2] == "ID-7"


def test_bad_input_is_one_line_and_exit_2(sqlite_workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = sqlite_workdir
    result = run_gapbot("similar", "PAY-1", "NOPE-1", "--json", cwd=cwd, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "gapbot: error: unknown item key: NOPE-1 (see `gapbot items`)"
    ]
    result = run_gapbot("search", "okta", "--limit", "0", cwd=cwd, env=env)
    assert result.returncode == 2
    assert "--limit" in result.stderr
    assert "Traceback" not in result.stderr
