"""Reading a Jira issue-navigator CSV export.

Jira writes one column per value for multi-valued fields, so `Labels`, `Component/s`,
`Sprint`, `Watchers` and each `Outward issue link (Type)` repeat in the header. Dates come in
the exporting user's format (`15/Sep/25 6:42 PM` from Cloud, `16/02/2017 15:26` once Excel
has re-saved the file) and zone, which the file does not say: they are read as UTC.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import ValidationError

from config.errors import InputError
from connectors.jsonl import describe_validation_error
from connectors.records import ItemRecord, LinkRecord

_DATE_FORMATS = (
    "%d/%b/%y %I:%M %p",
    "%d/%b/%Y %I:%M %p",
    "%d/%b/%y %H:%M",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%d/%b/%y",
    "%d/%m/%Y",
    "%Y-%m-%d",
)
_LINK_COLUMN = re.compile(r"^(Outward|Inward) issue link \((.+)\)$")
_LINK_TYPES = {
    "blocks": "blocks",
    "duplicate": "duplicates",
    "duplicates": "duplicates",
    "relates": "relates",
    "cloners": "relates",
    "problem/incident": "relates",
}
REQUIRED_COLUMNS = ("Issue key", "Summary")


def parse_jira_date(text: str) -> datetime | None:
    """A time from one of Jira's export formats, in UTC; None for an empty cell."""
    text = text.strip()
    if not text:
        return None
    for fmt in _DATE_FORMATS:
        try:
            value = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    msg = f"'{text}' is not a date Jira exports"
    raise ValueError(msg)


def _due(text: str) -> date | None:
    value = parse_jira_date(text)
    return value.date() if value else None


def looks_like_jira_csv(path: Path) -> bool:
    """Whether the file's header is a Jira export's."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return all(column in header for column in REQUIRED_COLUMNS)


def read_jira_csv(path: Path) -> Iterator[tuple[int, ItemRecord]]:
    """Yield (line number, record) for each issue row; raise InputError naming a bad row."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            msg = f"{path}: the file is empty"
            raise InputError(msg) from None
        missing = [column for column in REQUIRED_COLUMNS if column not in header]
        if missing:
            msg = f"{path}:1: not a Jira CSV export: no column {', '.join(missing)}"
            raise InputError(msg)
        try:
            for row in reader:
                number = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                yield number, _record(path, number, header, row)
        except csv.Error as exc:
            msg = f"{path}:{reader.line_num}: unreadable CSV: {exc}"
            raise InputError(msg) from None


def _record(path: Path, number: int, header: list[str], row: list[str]) -> ItemRecord:
    values: dict[str, list[str]] = defaultdict(list)
    for column, cell in zip(header, row, strict=False):
        if cell.strip():
            values[column].append(cell.strip())

    def one(column: str) -> str:
        return values[column][0] if values.get(column) else ""

    key = one("Issue key")
    where = f"{path}:{number}" + (f" ({key})" if key else "")
    links: list[LinkRecord] = []
    for column, cells in values.items():
        match = _LINK_COLUMN.match(column)
        if not match:
            continue
        direction, name = match[1], match[2].strip().lower()
        link_type = _LINK_TYPES.get(name, "relates")
        for target in cells:
            if direction == "Outward":
                links.append(LinkRecord(type=link_type, target=target))
            elif link_type == "blocks":
                links.append(LinkRecord(type="blocked_by", target=target))
            else:
                # Inward non-blocking links are declared by their other end's outward column.
                continue
    field = ""
    try:
        field = "Created"
        created = parse_jira_date(one("Created"))
        field = "Updated"
        updated = parse_jira_date(one("Updated"))
        field = "Resolved"
        resolved = parse_jira_date(one("Resolved"))
        field = "Due date"
        due = _due(one("Due date") or one("Due Date"))
    except ValueError as exc:
        msg = f"{where}: {field}: {exc}"
        raise InputError(msg) from None
    issue_type = one("Issue Type")
    kind = {"epic": "epic", "sub-task": "subtask", "subtask": "subtask", "bug": "bug"}.get(
        issue_type.lower(), "issue"
    )
    parent = one("Parent") or one("Parent key") or one("Custom field (Epic Link)") or None
    if parent and parent.isdigit():
        parent = None  # a bare "Parent id" names no key
    data = {
        "key": key,
        "title": one("Summary"),
        "source": "jira",
        "kind": kind,
        "external_id": one("Issue id") or None,
        "body": one("Description"),
        "project": one("Project key"),
        "status": one("Status"),
        "status_category": one("Status Category") or None,
        "priority": one("Priority"),
        "issue_type": issue_type,
        "assignee": one("Assignee"),
        "labels": values.get("Labels", []),
        "components": values.get("Component/s", []),
        "created": created,
        "updated": updated,
        "resolved": resolved,
        "due": due,
        "parent": parent,
        "links": links,
    }
    try:
        return ItemRecord.model_validate(data)
    except ValidationError as exc:
        columns = {"key": "Issue key", "title": "Summary"}
        detail = describe_validation_error(exc)
        name = detail.split(":", 1)[0]
        detail = detail.replace(name, columns.get(name, name), 1)
        msg = f"{where}: {detail}"
        raise InputError(msg) from None
