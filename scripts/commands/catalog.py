"""`docqueue schemas`: what `--schema` takes, the built-ins and your own extractors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from scripts.commands.common import AsJson, Retries, with_api

if TYPE_CHECKING:
    from rich.table import Table

    from scripts.client import Client

Row = tuple[str, str, str, str]  # schema, owner, version, description


def schema_rows(builtin: list[dict[str, Any]], extractors: list[dict[str, Any]]) -> list[Row]:
    """Your extractors first (archived ones left out), then the built-ins, each by name."""
    rows: dict[str, Row] = {}
    for s in builtin:
        rows[str(s["name"])] = (
            str(s["name"]),
            "system",
            str(s.get("version", "")),
            str(s.get("description") or ""),
        )
    for e in extractors:
        name = str(e["name"])
        if e.get("archived") or (name in rows and e.get("owner") == "system"):
            continue
        latest = e.get("latest_version")
        rows[name] = (
            name,
            str(e.get("owner", "tenant")),
            f"@{latest}" if latest is not None else "-",
            str(e.get("description") or ""),
        )
    return sorted(rows.values(), key=lambda r: (r[1] != "tenant", r[0]))


def _table(rows: list[Row], archived: int) -> Table:
    from rich.table import Table

    caption = f"{archived} archived (docqueue extractor list)" if archived else None
    table = Table(title="schemas (--schema NAME, or NAME@N for a version)", caption=caption)
    for column in ("schema", "owner", "version", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def schemas(as_json: AsJson = False, retries: Retries = 6) -> None:
    """The schemas `--schema` takes: the built-ins and your extractors."""

    def action(api: Client) -> None:
        builtin, extractors = api.schemas(), api.extractors()
        if as_json:
            body = {"schemas": builtin, "extractors": extractors}
            typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
            return
        from rich.console import Console

        archived = sum(1 for e in extractors if e.get("archived"))
        Console().print(_table(schema_rows(builtin, extractors), archived))

    with_api(retries, action)
