"""The sync loop: every scope of every source, page by page, with a cursor that is never ahead.

For each scope (a Jira project or team query, a GitHub repository):

- the query starts at the scope's cursor minus the overlap window (`jira.overlap_minutes`),
  or at the beginning on a first or `--full` sync;
- each page's items, their links and the new cursor are committed in ONE transaction; the
  cursor is the newest `updated` on the page, capped at the moment this scope's sync started
  (anything changed during the run is read again next time) and it only moves forward;
  killed at any moment, the next sync goes on from the last committed page, and because items
  are upserted by key, re-reading the overlap changes nothing;
- 429/5xx/timeouts are retried by the connector's RetryPolicy (bounded, logged); 401 and a
  403 that is not a rate limit stop the whole source; a 404 project or repository is skipped
  and recorded in SyncState.last_error; a malformed page stops its scope without moving the
  cursor;
- moved items (a Jira issue moved to another project comes back under a new key with the same
  id) keep one item: the old key's row is removed when the new key arrives;
- `--full` re-reads everything and marks the scope's items that were not seen as gone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from config.errors import ConfigError, GapbotError, SourceError
from config.settings import Settings, TeamMap
from connectors.base import (
    AuthError,
    Connector,
    MalformedPageError,
    Page,
    Scope,
    ScopeNotFoundError,
)
from store.db import Store
from store.items import replace_links, upsert_items
from store.models import Link, SyncState, WorkItem, utcnow

log = logging.getLogger(__name__)

SOURCES = ("jira", "github")


@dataclass
class ScopeResult:
    """How one scope's sync went."""

    source: str
    scope: str
    items: int = 0
    pages: int = 0
    seconds: float = 0.0
    status: str = "ok"
    """`ok`, `skipped` (404) or `failed` (anything else); a stopped source is in
    SyncReport.source_errors instead."""
    error: str = ""
    gone: int = 0


@dataclass
class SyncReport:
    """Every scope's result, in order."""

    results: list[ScopeResult] = field(default_factory=list)
    source_errors: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[ScopeResult]:
        """Scopes that did not complete (skipped, failed or not run)."""
        return [r for r in self.results if r.status != "ok"]

    @property
    def ok(self) -> bool:
        """Whether every scope of every source completed."""
        return not self.failed and not self.source_errors

    def summary_error(self) -> str:
        """One line naming what failed."""
        parts = [f"{name}: {error}" for name, error in self.source_errors.items()]
        parts += [
            f"{r.source}:{r.scope} ({r.error})"
            for r in self.failed
            if r.source not in self.source_errors
        ]
        return "sync failed for " + "; ".join(parts)


class Progress:
    """What the sync tells the person watching; the CLI's bar or log lines implement it."""

    def source_started(self, source: str, scopes: int) -> None:
        """A source begins with this many scopes."""

    def page_done(self, source: str, scope: str, items: int) -> None:
        """A page of `items` was committed."""

    def scope_done(self, result: ScopeResult) -> None:
        """A scope finished (whatever its status)."""

    def source_done(self, source: str) -> None:
        """A source finished."""


def _load_state(session: Session, source: str, scope: str) -> SyncState | None:
    return session.get(SyncState, (source, scope))


def _save_state(session: Session, source: str, scope: str, **values: Any) -> None:
    state = session.get(SyncState, (source, scope))
    if state is None:
        state = SyncState(source=source, scope=scope)
        session.add(state)
    for name, value in values.items():
        setattr(state, name, value)


def _merge_moved(session: Session, source: str, rows: list[dict[str, Any]]) -> None:
    """Drop rows of items that now come under another key (same external id): one item each."""
    by_external = {r["external_id"]: r["key"] for r in rows if r.get("external_id")}
    if not by_external:
        return
    old_rows = session.execute(
        select(col(WorkItem.key), col(WorkItem.external_id)).where(
            and_(
                col(WorkItem.source) == source,
                col(WorkItem.external_id).in_(list(by_external)),
                col(WorkItem.key).not_in(list(by_external.values())),
            )
        )
    ).all()
    for old_key, external_id in old_rows:
        new_key = by_external[external_id]
        log.info("%s: %s moved to %s; keeping one item", source, old_key, new_key)
        session.execute(delete(Link).where(col(Link.origin) == old_key))
        # Links other items declared towards the old key now point at the new one.
        existing = {
            (link.source_key, link.target_key, link.type)
            for link in session.scalars(
                select(Link).where(
                    (col(Link.source_key) == new_key) | (col(Link.target_key) == new_key)
                )
            )
        }
        for link in list(
            session.scalars(
                select(Link).where(
                    (col(Link.source_key) == old_key) | (col(Link.target_key) == old_key)
                )
            )
        ):
            moved = (
                new_key if link.source_key == old_key else link.source_key,
                new_key if link.target_key == old_key else link.target_key,
                link.type,
            )
            if moved in existing:
                session.delete(link)
            else:
                link.source_key, link.target_key = moved[0], moved[1]
                existing.add(moved)
        session.execute(
            update(WorkItem).where(col(WorkItem.parent) == old_key).values(parent=new_key)
        )
        session.delete(session.get(WorkItem, old_key))
        session.flush()


def commit_page(
    store: Store,
    connector_name: str,
    scope: Scope,
    page: Page,
    team_map: TeamMap,
    *,
    started: datetime,
    previous_cursor: datetime | None,
) -> datetime | None:
    """Store a page's items and links and move the cursor, in one transaction.

    Returns the cursor now stored.
    """
    now = utcnow()
    rows = [record.to_row(team_map, now=now) for record in page.records]
    links = [link for record in page.records for link in record.link_rows()]
    links += page.extra_links
    cursor = previous_cursor
    if page.max_updated is not None:
        candidate = min(page.max_updated, started)
        if cursor is None or candidate > cursor:
            cursor = candidate
    with store.session() as session:
        _merge_moved(session, connector_name, rows)
        upsert_items(session, rows)
        replace_links(session, [r["key"] for r in rows], links)
        state = _load_state(session, connector_name, scope.name)
        _save_state(
            session,
            connector_name,
            scope.name,
            cursor=cursor,
            last_run=started,
            items_synced=(state.items_synced if state else 0) + len(rows),
        )
    return cursor


def _mark_gone(store: Store, source: str, scope: Scope, seen: set[str]) -> int:
    """After a full read of a project or repository, flag its items that were not seen."""
    if not scope.project:
        return 0
    with store.session() as session:
        keys = session.scalars(
            select(col(WorkItem.key)).where(
                and_(
                    col(WorkItem.source) == source,
                    col(WorkItem.project) == scope.project,
                    col(WorkItem.gone).is_(False),
                )
            )
        ).all()
        missing = [k for k in keys if k not in seen]
        for start in range(0, len(missing), 500):
            session.execute(
                update(WorkItem)
                .where(col(WorkItem.key).in_(missing[start : start + 500]))
                .values(gone=True)
            )
    return len(missing)


def sync_scope(
    store: Store,
    connector: Connector,
    scope: Scope,
    team_map: TeamMap,
    *,
    full: bool,
    overlap: timedelta,
    progress: Progress,
) -> ScopeResult:
    """Sync one scope; AuthError propagates (it stops the source), other failures are recorded."""
    result = ScopeResult(connector.name, scope.name)
    clock = time.perf_counter()
    started = utcnow()
    with store.session() as session:
        state = _load_state(session, connector.name, scope.name)
        cursor = state.cursor if state else None
    since = None if full or cursor is None else cursor - overlap
    seen: set[str] = set()
    retry = connector.retry

    def fetch(token: str | None, number: int) -> Page:
        return retry.call(
            f"{connector.name} {scope.name} page {number}",
            lambda: connector.fetch_page(scope, since, token),
        )

    # One page is fetched ahead while the previous one is committed: the API and the store
    # work at the same time. Commits stay in page order, so the cursor is as safe as ever.
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{connector.name}-fetch")
    try:
        retry.call(f"{connector.name} {scope.name}", lambda: connector.check_scope(scope))
        tokens_seen: set[str] = set()
        truncated = False
        pending: Future[Page] | None = ahead.submit(fetch, None, 1)
        while pending is not None:
            page = pending.result()
            pending = None
            if page.next_token is not None:
                if page.next_token in tokens_seen:
                    # A server handing the same page token twice would loop forever.
                    msg = f"{connector.name} {scope.name}: the server repeated a page token"
                    raise MalformedPageError(msg)
                tokens_seen.add(page.next_token)
                pending = ahead.submit(fetch, page.next_token, result.pages + 2)
            cursor = commit_page(
                store,
                connector.name,
                scope,
                page,
                team_map,
                started=started,
                previous_cursor=cursor,
            )
            seen.update(page.seen_keys)
            truncated = truncated or page.truncated
            result.pages += 1
            result.items += len(page.records)
            progress.page_done(connector.name, scope.name, len(page.records))
        if full and not truncated:
            result.gone = _mark_gone(store, connector.name, scope, seen)
        with store.session() as session:
            _save_state(
                session,
                connector.name,
                scope.name,
                last_run=started,
                last_success=utcnow(),
                last_error="",
            )
    except (AuthError, ConfigError):
        raise
    except ScopeNotFoundError as exc:
        result.status, result.error = "skipped", str(exc)
    except GapbotError as exc:
        result.status, result.error = "failed", str(exc)
    finally:
        # A failed commit leaves at most one fetch in flight; let it end before the client
        # is used for the next scope.
        ahead.shutdown(wait=True, cancel_futures=True)
    if result.error:
        log.warning("%s %s: %s", connector.name, scope.name, result.error)
        with store.session() as session:
            _save_state(
                session, connector.name, scope.name, last_run=started, last_error=result.error
            )
    result.seconds = time.perf_counter() - clock
    return result


def _expand(connector: Connector, scope: Scope) -> list[Scope]:
    return connector.retry.call(
        f"{connector.name} {scope.name}", lambda: connector.expand_scope(scope)
    )


def sync_source(
    store: Store,
    connector: Connector,
    team_map: TeamMap,
    *,
    full: bool = False,
    overlap: timedelta = timedelta(minutes=5),
    progress: Progress | None = None,
    report: SyncReport | None = None,
) -> SyncReport:
    """Sync every scope of one source; an AuthError stops the source and is recorded."""
    progress = progress or Progress()
    report = report if report is not None else SyncReport()
    configured = connector.scopes()
    progress.source_started(connector.name, len(configured))
    try:
        for configured_scope in configured:
            try:
                scopes = _expand(connector, configured_scope)
            except (AuthError, ConfigError):
                raise
            except GapbotError as exc:
                result = ScopeResult(
                    connector.name,
                    configured_scope.name,
                    status="skipped" if isinstance(exc, ScopeNotFoundError) else "failed",
                    error=str(exc),
                )
                with store.session() as session:
                    _save_state(
                        session,
                        connector.name,
                        configured_scope.name,
                        last_run=utcnow(),
                        last_error=str(exc),
                    )
                report.results.append(result)
                progress.scope_done(result)
                continue
            for scope in scopes:
                result = sync_scope(
                    store,
                    connector,
                    scope,
                    team_map,
                    full=full,
                    overlap=overlap,
                    progress=progress,
                )
                report.results.append(result)
                progress.scope_done(result)
    except (AuthError, ConfigError) as exc:
        # Refused or missing credentials, or no URL: every scope would fail the same way.
        report.source_errors[connector.name] = str(exc)
        log.error("%s: %s", connector.name, exc)
        with store.session() as session:
            for scope in configured:
                if not any(r.scope == scope.name for r in report.results):
                    _save_state(
                        session, connector.name, scope.name, last_run=utcnow(), last_error=str(exc)
                    )
    progress.source_done(connector.name)
    return report


ConnectorFactory = Callable[[Settings], Any]


def build_connectors(settings: Settings, sources: list[str] | None = None) -> list[Any]:
    """The configured connectors (all, or those named), in a stable order."""
    from connectors.github import GitHubConnector  # noqa: PLC0415 - heavy imports, load lazily
    from connectors.jira import JiraConnector  # noqa: PLC0415

    wanted = sources or list(SOURCES)
    found: list[Any] = []
    if "jira" in wanted:
        jira = JiraConnector(settings)
        if jira.configured:
            found.append(jira)
    if "github" in wanted:
        github = GitHubConnector(settings)
        if github.configured:
            found.append(github)
    return found


def close_connectors(connectors: list[Any]) -> None:
    """Release the connectors' HTTP sessions (those that hold one)."""
    for connector in connectors:
        close = getattr(connector, "close", None)
        if close is not None:
            close()


def run_sync(
    settings: Settings,
    store: Store,
    connectors: list[Any],
    *,
    full: bool = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Sync every given connector into `store`; never raises for a source's failure.

    Sources run side by side (one thread each): they wait on different servers, and each
    commits its own pages, so a slow Jira does not hold GitHub back.
    """
    team_map = TeamMap(settings.config.teams)
    overlap = timedelta(minutes=settings.config.jira.overlap_minutes)

    def one(connector: Any) -> SyncReport:
        return sync_source(
            store, connector, team_map, full=full, overlap=overlap, progress=progress
        )

    if len(connectors) <= 1:
        reports = [one(c) for c in connectors]
    else:
        with ThreadPoolExecutor(max_workers=len(connectors), thread_name_prefix="sync") as pool:
            reports = list(pool.map(one, connectors))
    report = SyncReport()
    for part in reports:  # in the connectors' order, whatever finished first
        report.results.extend(part.results)
        report.source_errors.update(part.source_errors)
    return report


def raise_for_report(report: SyncReport) -> None:
    """Raise one SourceError naming every failed scope, if any failed."""
    if not report.ok:
        raise SourceError(report.summary_error())


def sync_all(store: Store, settings: Settings, *, full: bool = False) -> dict[str, int]:
    """Sync every configured source into `store` (the scheduler's `sync` job).

    A thin wrapper over `build_connectors` and `run_sync` that closes the connectors.

    Returns:
        Counts for the job's log and record: items, scopes, failed scopes, items gone.

    Raises:
        SourceError: Naming every scope that failed (what the other scopes synced is
            committed all the same).
    """
    connectors = build_connectors(settings)
    if not connectors:
        log.info("sync: no team reads Jira or GitHub; nothing to sync")
        return {"items": 0, "scopes": 0, "failed": 0}
    try:
        report = run_sync(settings, store, connectors, full=full)
    finally:
        close_connectors(connectors)
    raise_for_report(report)
    return {
        "items": sum(r.items for r in report.results),
        "scopes": len(report.results),
        "failed": len(report.failed),
        "gone": sum(r.gone for r in report.results),
    }
