"""`gapbot search` and `gapbot similar`: "is anyone already working on this?"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy import select
from sqlmodel import col

from bot.commands.items import item_json
from bot.context import AppContext
from bot.output import print_json, print_table
from config.errors import InputError
from store.db import Store
from store.models import WorkItem

if TYPE_CHECKING:
    from config.settings import GapbotConfig
    from detectors.similarity import Match

DEFAULT_LIMIT = 10


def _config(context: AppContext) -> GapbotConfig | None:
    """The config when a config file exists (search works on an imported store without one)."""
    return context.settings.config if context.config_path.exists() else None


def _check_limit(limit: int) -> None:
    if limit < 1:
        msg = f"--limit: must be at least 1, got {limit}"
        raise InputError(msg)


def _ranked_json(matches: list[Match], items: dict[str, WorkItem]) -> list[dict[str, Any]]:
    return [{**item_json(items[m.key]), "score": round(m.score, 4)} for m in matches]


def _ranked_rows(matches: list[Match], items: dict[str, WorkItem]) -> list[tuple[Any, ...]]:
    rows = []
    for rank, match in enumerate(matches, start=1):
        item = items[match.key]
        status = item.status or item.status_category
        rows.append((rank, f"{match.score:.2f}", item.key, item.team, status, item.title))
    return rows


COLUMNS = ("#", "score", "key", "team", "status", "title")


def _load(store: Store, keys: list[str]) -> dict[str, WorkItem]:
    """The live items of `keys`."""
    found: dict[str, WorkItem] = {}
    with store.session() as session:
        for start in range(0, len(keys), 500):
            query = select(WorkItem).where(
                col(WorkItem.key).in_(keys[start : start + 500]), col(WorkItem.gone).is_(False)
            )
            found.update((item.key, item) for item in session.scalars(query))
    return found


def search_command(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What the work is about, in words.")],
    limit: Annotated[int, typer.Option("--limit", help="How many items to show.")] = DEFAULT_LIMIT,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """The items most like TEXT, best first."""
    _check_limit(limit)
    if not text.strip():
        msg = "TEXT: give some words to search for"
        raise InputError(msg)
    context: AppContext = ctx.obj
    store = context.store
    # The matcher (numpy, scipy) loads only for the commands that use it, not on every start.
    from detectors.index_cache import index_for  # noqa: PLC0415

    found = index_for(store, _config(context)).search(text, limit)
    items = _load(store, [m.key for m in found])
    matches = [m for m in found if m.key in items]
    if as_json:
        print_json(_ranked_json(matches, items))
        return
    print_table(f'{len(matches)} items like "{text}"', COLUMNS, _ranked_rows(matches, items))


def similar_command(
    ctx: typer.Context,
    keys: Annotated[list[str], typer.Argument(help="Item keys, e.g. PAY-12 acme/web#45.")],
    limit: Annotated[int, typer.Option("--limit", help="How many items per key.")] = DEFAULT_LIMIT,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """For each KEY, the most similar other items (all teams, any state), best first."""
    _check_limit(limit)
    context: AppContext = ctx.obj
    store = context.store
    wanted = list(dict.fromkeys(keys))
    items = _load(store, wanted)
    unknown = [key for key in keys if key not in items]
    if unknown:
        msg = f"unknown item key: {', '.join(unknown)} (see `gapbot items`)"
        raise InputError(msg)
    from detectors.index_cache import index_for  # noqa: PLC0415 - see search_command

    index = index_for(store, _config(context))
    results = {key: index.similar(key, limit) for key in wanted}
    items.update(_load(store, sorted({m.key for ms in results.values() for m in ms} - set(items))))
    results = {key: [m for m in ms if m.key in items] for key, ms in results.items()}
    if as_json:
        print_json({key: _ranked_json(matches, items) for key, matches in results.items()})
        return
    for key, matches in results.items():
        print_table(f'like {key} "{items[key].title}"', COLUMNS, _ranked_rows(matches, items))


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command("search")(search_command)
    app.command("similar")(similar_command)
