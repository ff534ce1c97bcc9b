"""`gapbot import FILE`: upsert a file's items, all or nothing.

The file streams through in batches inside one transaction; a bad line anywhere (even line
90,000) raises before the commit, so nothing is written. Memory stays flat with file size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from config.errors import InputError
from config.settings import TeamMap
from connectors.jira_csv import looks_like_jira_csv, read_jira_csv
from connectors.jsonl import read_jsonl
from connectors.records import ItemRecord
from store.db import Store
from store.items import replace_links, upsert_items
from store.models import utcnow

BATCH_SIZE = 2_000
Reader = Callable[[Path], Iterator[tuple[int, ItemRecord]]]


@dataclass
class ImportResult:
    """What an import did."""

    path: Path
    format: str
    items: int
    links: int


def detect_format(path: Path) -> tuple[str, Reader]:
    """`jsonl` or `jira-csv`, from the file name and, for CSV, its header."""
    suffix = path.suffix.lower()
    if suffix == ".csv" or (
        suffix not in (".jsonl", ".json", ".ndjson") and looks_like_jira_csv(path)
    ):
        return "jira-csv", read_jira_csv
    return "jsonl", read_jsonl


def import_file(
    store: Store,
    path: Path,
    team_map: TeamMap | None,
    *,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import `path` into the store; nothing is written unless every line is valid."""
    if not path.is_file():
        msg = f"{path}: no such file"
        raise InputError(msg)
    fmt, reader = detect_format(path)
    now = utcnow()
    items = links = 0
    seen: dict[str, int] = {}
    # One transaction: a bad line anywhere rolls back everything before it, so the file is
    # all in or all out, while only one batch of rows is ever held in memory.
    try:
        with store.session() as session:
            rows: list[dict[str, Any]] = []
            link_rows: list[dict[str, Any]] = []
            for number, record in reader(path):
                previous = seen.get(record.key)
                if previous is not None:
                    msg = f"{path}:{number} ({record.key}): key: already given on line {previous}"
                    raise InputError(msg)
                seen[record.key] = number
                rows.append(record.to_row(team_map, now=now))
                link_rows.extend(record.link_rows())
                if len(rows) >= BATCH_SIZE:
                    items, links = _write(session, rows, link_rows, items, links, progress)
                    rows, link_rows = [], []
            if rows:
                items, links = _write(session, rows, link_rows, items, links, progress)
            if items == 0:
                msg = f"{path}: no items in the file"
                raise InputError(msg)
    except UnicodeDecodeError as exc:
        msg = f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise InputError(msg) from None
    return ImportResult(path=path, format=fmt, items=items, links=links)


def _write(
    session: Session,
    rows: list[dict[str, Any]],
    link_rows: list[dict[str, Any]],
    items: int,
    links: int,
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    items += upsert_items(session, rows)
    replace_links(session, (r["key"] for r in rows), link_rows)
    if progress:
        progress(len(rows))
    return items, links + len(link_rows)
