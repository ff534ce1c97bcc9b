"""Running the detectors and keeping the findings' lifecycle.

`run_detection(store, config, now)` loads one snapshot of the store, runs every enabled
detector on it, and reconciles what they found with the stored findings in one
transaction:

- a gap found for the first time becomes an `open` finding (reported as new);
- a gap found again is the same finding (its id is a fingerprint of the rule and its
  subject): `last_seen` moves and its text, score, severity, teams and items are updated;
- an `open` finding no longer found becomes `resolved`, with the time;
- a `resolved` finding found again is `open` again (reported as re-opened);
- a `dismissed` finding stays dismissed while its facts (`DetectedGap.facts_hash`) are the
  ones it had when dismissed, and re-opens when they change (a priority moved, a new
  review request);
- a `snoozed` finding stays snoozed until `snoozed_until`, then re-opens if still found
  (or resolves if not); a change of facts re-opens it early;
- the findings of a detector that is switched off are resolved; those of a detector that
  crashed are left as they are (a crash says nothing about the gaps).

A crashing detector is logged and recorded (in the result, and as a `sync_state` row with
source `detector`, which `gapbot status` shows), and the others go on; with `debug` it
re-raises.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from config.settings import UNASSIGNED_TEAM, GapbotConfig
from detectors.base import DetectedGap, Snapshot
from detectors.gc_pause import collector_paused
from detectors.registry import DetectorSpec, registry
from detectors.snapshot import load_snapshot
from store.db import Store
from store.findings import DISMISSED, OPEN, RESOLVED, SNOOZED
from store.models import Finding, FindingItem, SyncState

if TYPE_CHECKING:
    from detectors.semantic import EmbeddingProgress

log = logging.getLogger(__name__)

DETECTOR_SOURCE = "detector"
"""`sync_state.source` of the rows that record each detector's last run."""
WRITE_BATCH = 1_000
SWITCHED_OFF_REASON = "the rule was switched off"


@dataclass
class DetectorRun:
    """How one detector's run went."""

    id: str
    gaps: int = 0
    seconds: float = 0.0
    error: str = ""


@dataclass
class DetectionResult:
    """What a detection run found and changed."""

    now: datetime
    items: int = 0
    links: int = 0
    runs: list[DetectorRun] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    """Ids of findings seen for the first time (open)."""
    reopened: list[str] = field(default_factory=list)
    """Ids of findings that were resolved, dismissed or snoozed and are open again."""
    resolved: list[str] = field(default_factory=list)
    """Ids of findings that are resolved as of this run."""
    open_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    """Open findings found in this run, per (kind, team); a finding counts for each team."""
    new_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    """New and re-opened findings per (kind, team)."""
    resolved_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    """Findings resolved in this run per (kind, team)."""
    open_total: int = 0
    """Open findings found in this run (each counted once)."""
    load_seconds: float = 0.0
    reconcile_seconds: float = 0.0

    @property
    def new_open(self) -> list[str]:
        """New and re-opened findings: what an alert should announce."""
        return [*self.new, *self.reopened]

    @property
    def failed(self) -> list[DetectorRun]:
        """The detectors that crashed."""
        return [run for run in self.runs if run.error]


def _error_line(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def run_detectors(
    snapshot: Snapshot, specs: Sequence[DetectorSpec], *, debug: bool = False
) -> tuple[list[DetectorRun], dict[str, list[DetectedGap]]]:
    """Run each detector on the snapshot; a crash is logged and recorded, the rest go on."""
    runs: list[DetectorRun] = []
    found: dict[str, list[DetectedGap]] = {}
    for spec in specs:
        started = time.perf_counter()
        try:
            gaps = spec.run(snapshot)
        except Exception as exc:
            if debug:
                raise
            run = DetectorRun(spec.id, error=_error_line(exc))
            # One line for the person; the traceback only for whoever asked for debug logs.
            log.error("detector %s failed: %s", spec.id, run.error)
            log.debug("detector %s traceback", spec.id, exc_info=True)
        else:
            wrong = [g for g in gaps if g.kind != spec.id]
            if wrong:
                # A detector owns its kind; a foreign kind would be resolved by nobody.
                run = DetectorRun(spec.id, error=f"returned a finding of kind '{wrong[0].kind}'")
                log.error("detector %s %s", spec.id, run.error)
            else:
                run = DetectorRun(spec.id, gaps=len(gaps))
                found[spec.id] = gaps
        run.seconds = time.perf_counter() - started
        runs.append(run)
    return runs, found


def _unique(gaps: Iterable[DetectedGap]) -> dict[str, DetectedGap]:
    by_id: dict[str, DetectedGap] = {}
    for gap in gaps:
        # Two gaps with one fingerprint are one finding; the first wins.
        by_id.setdefault(gap.finding_id, gap)
    return by_id


_CONTENT_COLUMNS = ("severity", "score", "summary", "explanation", "teams", "item_keys")


def _content(gap: DetectedGap, now: datetime) -> dict[str, Any]:
    return {
        "id": gap.finding_id,
        "severity": gap.severity,
        "score": float(gap.score),
        "summary": gap.summary,
        "explanation": gap.explanation,
        "teams": list(gap.teams),
        "item_keys": list(gap.item_keys),
        "last_seen": now,
    }


def _reopen(row: dict[str, Any], gap: DetectedGap, now: datetime, reason: str) -> None:
    row.update(
        status=OPEN,
        facts=gap.facts_hash,
        status_at=now,
        status_by="gapbot",
        status_reason=reason,
        snoozed_until=None,
        resolved_at=None,
    )


def _insert_ignoring_conflicts(session: Session, model: type[Finding | FindingItem]) -> Any:
    table = model.__table__  # type: ignore[union-attr]
    dialect = session.get_bind().dialect.name
    statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return statement.on_conflict_do_nothing()


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), WRITE_BATCH):
        yield rows[start : start + WRITE_BATCH]


def reconcile(
    session: Session,
    found: dict[str, list[DetectedGap]],
    switched_off: Iterable[str],
    now: datetime,
    result: DetectionResult,
) -> None:
    """Bring the stored findings of the kinds in `found` and `switched_off` up to date."""
    off = set(switched_off)
    kinds = sorted(set(found) | off)
    if not kinds:
        return
    gaps = _unique(gap for kind in sorted(found) for gap in found[kind])
    stored = {
        row.id: row
        for row in session.execute(
            select(
                col(Finding.id),
                col(Finding.kind),
                col(Finding.status),
                col(Finding.facts),
                col(Finding.snoozed_until),
                col(Finding.teams),
                col(Finding.severity),
                col(Finding.score),
                col(Finding.summary),
                col(Finding.explanation),
                col(Finding.item_keys),
            ).where(col(Finding.kind).in_(kinds))
        )
    }
    stored_items: dict[str, set[str]] = defaultdict(set)
    for finding_id, item_key in session.execute(
        select(col(FindingItem.finding_id), col(FindingItem.item_key))
        .join(Finding, col(Finding.id) == col(FindingItem.finding_id))
        .where(col(Finding.kind).in_(kinds))
    ):
        stored_items[finding_id].add(item_key)

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    touched: list[str] = []
    final_status: dict[str, str] = {}
    for finding_id, gap in gaps.items():
        row = _content(gap, now)
        previous = stored.get(finding_id)
        if previous is None:
            row.update(
                kind=gap.kind,
                facts=gap.facts_hash,
                status=OPEN,
                status_by="",
                status_reason="",
                status_at=None,
                snoozed_until=None,
                first_seen=now,
                resolved_at=None,
            )
            inserts.append(row)
            result.new.append(finding_id)
            final_status[finding_id] = OPEN
            continue
        status = previous.status
        facts_changed = previous.facts != gap.facts_hash
        if status == OPEN:
            row["facts"] = gap.facts_hash
        elif status == RESOLVED:
            _reopen(row, gap, now, "found again")
            result.reopened.append(finding_id)
            status = OPEN
        elif status in (DISMISSED, SNOOZED) and facts_changed:
            _reopen(row, gap, now, f"the facts changed since it was {status}")
            result.reopened.append(finding_id)
            status = OPEN
        elif status == SNOOZED and (
            previous.snoozed_until is None or previous.snoozed_until <= now
        ):
            _reopen(row, gap, now, "the snooze ended")
            result.reopened.append(finding_id)
            status = OPEN
        # Otherwise dismissed or snoozed with the same facts: it stays hidden; only
        # last_seen and the text move, and the facts stay those it was hidden with.
        if (
            status == previous.status
            and not (status == OPEN and facts_changed)
            and all(row[name] == getattr(previous, name) for name in _CONTENT_COLUMNS)
        ):
            # Nothing but the time changed: one UPDATE for all of these, not one each.
            touched.append(finding_id)
        else:
            updates.append(row)
        final_status[finding_id] = status

    for finding_id, previous in stored.items():
        if finding_id in gaps:
            continue
        gone_kind = previous.kind not in found
        if previous.status == OPEN or (
            previous.status == SNOOZED
            and (gone_kind or previous.snoozed_until is None or previous.snoozed_until <= now)
        ):
            change: dict[str, Any] = {
                "id": finding_id,
                "status": RESOLVED,
                "resolved_at": now,
                "snoozed_until": None,
            }
            if gone_kind:
                change.update(status_at=now, status_by="gapbot", status_reason=SWITCHED_OFF_REASON)
            updates.append(change)
            result.resolved.append(finding_id)

    # A second run at the same time (the scheduler and a person at the terminal) may
    # insert the same new finding first: keep its row rather than fail the whole run.
    for chunk in _chunks(inserts):
        session.execute(_insert_ignoring_conflicts(session, Finding), chunk)
    for chunk in _chunks(updates):
        session.execute(update(Finding), chunk)
    for start in range(0, len(touched), WRITE_BATCH):
        session.execute(
            update(Finding)
            .where(col(Finding.id).in_(touched[start : start + WRITE_BATCH]))
            .values(last_seen=now)
            .execution_options(synchronize_session=False)
        )

    item_inserts: list[dict[str, Any]] = []
    item_deletes: list[tuple[str, str]] = []
    for finding_id, gap in gaps.items():
        wanted = set(gap.item_keys)
        have = stored_items.get(finding_id, set())
        item_inserts += [{"finding_id": finding_id, "item_key": k} for k in sorted(wanted - have)]
        item_deletes += [(finding_id, k) for k in sorted(have - wanted)]
    for chunk in _chunks(item_inserts):
        session.execute(_insert_ignoring_conflicts(session, FindingItem), chunk)
    for finding_id, item_key in item_deletes:
        session.execute(
            delete(FindingItem).where(
                col(FindingItem.finding_id) == finding_id, col(FindingItem.item_key) == item_key
            )
        )

    counts: Counter[tuple[str, str]] = Counter()
    for finding_id, gap in gaps.items():
        if final_status[finding_id] == OPEN:
            result.open_total += 1
            for team in gap.teams or (UNASSIGNED_TEAM,):
                counts[(gap.kind, team)] += 1
    result.open_counts = dict(sorted(counts.items()))
    result.new_counts = _per_kind_and_team((gaps[i].kind, gaps[i].teams) for i in result.new_open)
    result.resolved_counts = _per_kind_and_team(
        (stored[i].kind, tuple(stored[i].teams or ())) for i in result.resolved
    )


def _per_kind_and_team(
    entries: Iterable[tuple[str, Sequence[str]]],
) -> dict[tuple[str, str], int]:
    counts: Counter[tuple[str, str]] = Counter()
    for kind, teams in entries:
        for team in teams or (UNASSIGNED_TEAM,):
            counts[(kind, team)] += 1
    return dict(sorted(counts.items()))


def record_runs(session: Session, runs: Iterable[DetectorRun], now: datetime) -> None:
    """Keep each detector's last run, success and error as a `sync_state` row."""
    for run in runs:
        state = session.get(SyncState, (DETECTOR_SOURCE, run.id))
        if state is None:
            state = SyncState(source=DETECTOR_SOURCE, scope=run.id)
        state.last_run = now
        state.last_error = run.error
        if not run.error:
            state.last_success = now
            state.items_synced = run.gaps
        session.add(state)


def run_detection(
    store: Store,
    config: GapbotConfig,
    now: datetime,
    *,
    debug: bool = False,
    detectors: Sequence[DetectorSpec] | None = None,
    embedding_progress: EmbeddingProgress | None = None,
) -> DetectionResult:
    """Run the enabled detectors on the store and reconcile the findings.

    Args:
        store: The store to read items from and write findings to.
        config: The settings (each detector's thresholds and switch).
        now: The time to judge by (aware; a naive time is taken as UTC).
        debug: Re-raise a detector's exception instead of recording it.
        detectors: The detectors to consider; default every registered one.
        embedding_progress: Told of the items' texts embedded for the duplicates detector
            (with `detectors.duplicates.embeddings`; the first run embeds every item).

    Returns:
        What was found, opened, re-opened and resolved.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    specs = list(detectors) if detectors is not None else list(registry().values())
    enabled = [spec for spec in specs if spec.enabled(config)]
    result = DetectionResult(now=now, disabled=[s.id for s in specs if not s.enabled(config)])
    with collector_paused():
        started = time.perf_counter()
        with store.session() as session:
            snapshot = load_snapshot(session, config, now)
        if config.detectors.duplicates.embeddings and any(
            s.setting == "duplicates" for s in enabled
        ):
            # Imported only when configured: the optional extra may not be installed.
            from detectors.semantic import StoredEmbeddings  # noqa: PLC0415

            semantic = StoredEmbeddings(store, embedding_progress)
            snapshot = replace(snapshot, semantic=semantic)
        result.items, result.links = len(snapshot.items), len(snapshot.links)
        result.load_seconds = time.perf_counter() - started
        result.runs, found = run_detectors(snapshot, enabled, debug=debug)
        started = time.perf_counter()
        with store.session() as session:
            reconcile(session, found, result.disabled, now, result)
            record_runs(session, result.runs, now)
        result.reconcile_seconds = time.perf_counter() - started
        if snapshot.semantic is not None:
            _prune_vectors(snapshot, now)
    return result


def _prune_vectors(snapshot: Snapshot, now: datetime) -> None:
    """Drop stored embeddings of texts no item has any more: housekeeping, never fatal."""
    from detectors.duplicates import indexed_text  # noqa: PLC0415 - with the matcher
    from detectors.semantic import StoredEmbeddings  # noqa: PLC0415 - optional extra

    semantic = snapshot.semantic
    if not isinstance(semantic, StoredEmbeddings):
        return
    try:
        pruned = semantic.prune([indexed_text(item) for item in snapshot.items.values()], now)
    except Exception as exc:  # the run's findings are saved; the table can wait
        log.warning("pruning stored embeddings failed: %s: %s", type(exc).__name__, exc)
        return
    if pruned:
        log.info("deleted %d stored embeddings no item uses any more", pruned)
