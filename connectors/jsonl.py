"""Reading work items from JSON Lines, one object a line (schema in DESIGN.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from config.errors import InputError
from connectors.records import ItemRecord


def describe_validation_error(exc: ValidationError) -> str:
    """`field: problem` for the first error of a record."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "(object)"
    problem = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        problem = "required but missing"
    return f"{field}: {problem}"


def read_jsonl(path: Path) -> Iterator[tuple[int, ItemRecord]]:
    """Yield (line number, record) for each non-blank line; raise InputError on a bad one."""
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                # pydantic parses the JSON itself: much faster than json.loads + validate.
                yield number, ItemRecord.model_validate_json(line)
            except ValidationError:
                raise InputError(_describe_bad_line(path, number, line)) from None


def _describe_bad_line(path: Path, number: int, line: str) -> str:
    """The one-line message for a line that failed: bad JSON, not an object, or a field."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"{path}:{number}: not valid JSON: {exc.msg}"
    if not isinstance(data, dict):
        return f"{path}:{number}: each line must be a JSON object"
    key = data.get("key")
    who = f" ({key})" if isinstance(key, str) and key else ""
    try:
        ItemRecord.model_validate(data)
    except ValidationError as exc:
        return f"{path}:{number}{who}: {describe_validation_error(exc)}"
    return f"{path}:{number}{who}: invalid item"
