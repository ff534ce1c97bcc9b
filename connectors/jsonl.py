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
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                msg = f"{path}:{number}: not valid JSON: {exc.msg}"
                raise InputError(msg) from None
            if not isinstance(data, dict):
                msg = f"{path}:{number}: each line must be a JSON object"
                raise InputError(msg)
            try:
                record = ItemRecord.model_validate(data)
            except ValidationError as exc:
                key = data.get("key")
                who = f" ({key})" if isinstance(key, str) and key else ""
                msg = f"{path}:{number}{who}: {describe_validation_error(exc)}"
                raise InputError(msg) from None
            yield number, record
