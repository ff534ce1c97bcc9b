"""Printing results: JSON for programs, rich tables on a terminal, plain text in a pipe.

Data goes to stdout; messages and errors to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    msg = f"cannot serialise {type(value).__name__}"
    raise TypeError(msg)


def print_json(data: Any) -> None:
    """Pretty JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=_default) + "\n")
    sys.stdout.flush()


def is_terminal() -> bool:
    """Whether stdout is a terminal (rich output) or a pipe or file (plain text)."""
    return sys.stdout.isatty()


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table: rich on a terminal, tab-separated lines with a header otherwise."""
    if is_terminal():
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        stdout.print(table)
        return
    lines = ["\t".join(columns)]
    lines += ["\t".join("" if v is None else _plain(v) for v in row) for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")


def _plain(value: Any) -> str:
    return str(value).replace("\t", " ").replace("\n", " ")


def info(message: str) -> None:
    """A short message for the person at the terminal, on stderr."""
    stderr.print(message, markup=False)
