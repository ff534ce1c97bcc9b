"""`gapbot import` and `gapbot items`: putting work items in the store and seeing them."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bot.context import AppContext
from bot.output import info, is_terminal, print_json, print_table, stderr
from connectors.imports import import_file
from store.items import all_links, list_items
from store.models import Link, WorkItem

ITEM_JSON_FIELDS = (
    "key",
    "source",
    "kind",
    "title",
    "body",
    "url",
    "project",
    "team",
    "status",
    "status_category",
    "priority",
    "priority_rank",
    "assignee",
    "labels",
    "components",
    "created",
    "updated",
    "resolved",
    "due",
    "parent",
    "draft",
    "merged_at",
    "review_requested_at",
    "first_review_at",
    "files",
)


def item_json(item: WorkItem, links: list[Link] | None = None) -> dict[str, Any]:
    """An item in the JSON shape of `items --json` (the import schema's names)."""
    data: dict[str, Any] = {name: getattr(item, name) for name in ITEM_JSON_FIELDS}
    for name in (
        "created",
        "updated",
        "resolved",
        "due",
        "merged_at",
        "review_requested_at",
        "first_review_at",
    ):
        value = data[name]
        data[name] = value.isoformat() if value is not None else None
    if links is not None:
        data["links"] = [
            {"type": link.type, "target": link.target_key}
            for link in links
            if link.source_key == item.key and link.type != "parent"
        ] + [
            {"type": "blocked_by", "target": link.source_key}
            for link in links
            if link.target_key == item.key and link.type == "blocks"
        ]
    return data


def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A JSON Lines file or a Jira CSV export.")],
) -> None:
    """Load work items from JSON Lines or a Jira CSV export (upserted by key)."""
    context: AppContext = ctx.obj
    team_map = context.optional_team_map()
    store = context.store
    started = time.perf_counter()
    if is_terminal():
        with Progress(
            TextColumn("importing"), BarColumn(), MofNCompleteColumn(), console=stderr
        ) as progress:
            task = progress.add_task("import", total=None)
            result = import_file(
                store, file, team_map, progress=lambda n: progress.advance(task, n)
            )
    else:
        result = import_file(store, file, team_map)
    elapsed = time.perf_counter() - started
    info(
        f"imported {result.items} items and {result.links} links from {file} "
        f"({result.format}) in {elapsed:.1f}s"
    )


def items_command(
    ctx: typer.Context,
    team: Annotated[str | None, typer.Option("--team", help="Only this team's items.")] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Only items from this source (jira, github, import)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """What the store holds."""
    context: AppContext = ctx.obj
    with context.store.session() as session:
        items = list_items(session, team=team, source=source)
        if as_json:
            by_key: dict[str, list[Link]] = defaultdict(list)
            for link in all_links(session):
                by_key[link.source_key].append(link)
                by_key[link.target_key].append(link)
            print_json([item_json(item, by_key.get(item.key, [])) for item in items])
            return
    rows = [
        (
            i.key,
            i.team,
            i.source,
            i.status or i.status_category,
            i.priority or f"rank {i.priority_rank}",
            i.title,
        )
        for i in items
    ]
    print_table(
        f"{len(items)} items", ("key", "team", "source", "status", "priority", "title"), rows
    )


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command("import")(import_command)
    app.command("items")(items_command)
