"""Engines and sessions: SQLite by default, PostgreSQL through DATABASE_URL.

SQLite gets WAL (readers never wait for the syncing writer), foreign keys and a busy timeout
(two processes may write); PostgreSQL goes through psycopg 3 whatever driver the URL names.
The schema is Alembic's: `migrate()` runs on every start and is a no-op when up to date.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from config.errors import ConfigError, GapbotError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SCHEMA_HEAD = "0007_embeddings"
"""The newest migration's revision; a test keeps it equal to Alembic's head. A store already
at it opens without loading Alembic (a third of a second saved on every command)."""
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str) -> str:
    """Point PostgreSQL URLs at psycopg 3, the driver gapbot ships with."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact_url(url: str) -> str:
    """The URL with its password hidden, for logs and errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable DATABASE_URL>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the store at `url`, with the per-dialect settings gapbot relies on."""
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        msg = f"DATABASE_URL: '{redact_url(url)}' is not a database URL (sqlite:///path or postgresql://...)"
        raise ConfigError(msg) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() != "postgresql":
        msg = (
            f"DATABASE_URL: {parsed.get_backend_name()} is not supported (use SQLite or PostgreSQL)"
        )
        raise ConfigError(msg)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config  # noqa: PLC0415 - alembic is only needed to migrate

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creating it on an empty database)."""
    from alembic import command  # noqa: PLC0415

    if _at_head(engine):
        return
    try:
        with engine.begin() as connection:
            cfg = _alembic_config(engine)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        msg = f"cannot open the store at {redact_url(str(engine.url))}: {reason}"
        raise GapbotError(msg) from None


def _at_head(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except (OperationalError, ProgrammingError):
        return False  # a new database: no version table yet
    return [row[0] for row in versions] == [SCHEMA_HEAD]


def head_revision(engine: Engine) -> str:
    """The newest migration's revision, as Alembic computes it."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    heads = ScriptDirectory.from_config(_alembic_config(engine)).get_heads()
    return ",".join(heads)


def current_revision(engine: Engine) -> str | None:
    """The schema's Alembic revision, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def has_schema(engine: Engine) -> bool:
    """Whether the store's tables exist."""
    return inspect(engine).has_table("work_item")


class Store:
    """One store: an engine, migrated, and a way to open sessions on it."""

    def __init__(self, url: str, *, migrate_schema: bool = True, **engine_kwargs: Any) -> None:
        """Open the store at `url`, migrating it unless told not to."""
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        if migrate_schema:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
