"""Shared fixtures: a clean environment, and a store on SQLite and on PostgreSQL.

The PostgreSQL store lives in a schema of its own per test (dropped afterwards), reached
through `?options=-csearch_path=...` in the URL so that subprocesses given DATABASE_URL see
the same schema. Without a server the PostgreSQL cases skip, except with CI=true, where they
fail: CI must prove both stores.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from store.db import Store

PG_BASE_URL = os.environ.get("GAPBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
_SECRET_AND_ROUTING_VARS = (
    "DATABASE_URL",
    "GAPBOT_CONFIG",
    "GAPBOT_LOG_LEVEL",
    "GAPBOT_DEBUG",
    "JIRA_URL",
    "JIRA_EMAIL",
    "JIRA_API_TOKEN",
    "JIRA_PAT",
    "GITHUB_TOKEN",
    "GITHUB_API_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's tokens, database or config."""
    for name in _SECRET_AND_ROUTING_VARS:
        monkeypatch.delenv(name, raising=False)


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_BASE_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL base URL; skips (or fails under CI=true) when no server answers."""
    problem = _pg_available()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL is not reachable at {PG_BASE_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_BASE_URL}: {problem}")
    return PG_BASE_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A DATABASE_URL for an empty schema of its own on the PostgreSQL server."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in pg_server else "?"
    yield f"{pg_server}{separator}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A DATABASE_URL for a new SQLite file."""
    return f"sqlite:///{tmp_path / 'gapbot.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A DATABASE_URL for an empty store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gapbot.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated, empty store on each database; no connection may be left checked out."""
    opened = Store(database_url)
    yield opened
    pool = opened.engine.pool
    checked_out = getattr(pool, "checkedout", lambda: 0)()
    opened.dispose()
    assert checked_out == 0, "a test left a database connection checked out"
