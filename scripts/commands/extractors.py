"""`docqueue extractor ...`: register, list, show, archive and infer tenant-defined extractors."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scripts.commands.common import Retries, with_api

if TYPE_CHECKING:
    from rich.table import Table

    from scripts.client import Client, DocqueueError

app = typer.Typer(
    no_args_is_help=True, help="Your own extractors: a JSON Schema and instructions, versioned."
)


class FileProblem(Exception):
    """A schema or instructions file that cannot be read or is not what it should be."""


def create_body(
    name: str, schema_path: Path, instructions_path: Path | None, description: str | None
) -> dict[str, Any]:
    """The POST /v1/extractors body; the description defaults to the schema's own."""
    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FileProblem(f"cannot read {schema_path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileProblem(f"{schema_path} is not JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise FileProblem(f"{schema_path}: a JSON Schema is an object")
    instructions = None
    if instructions_path is not None:
        try:
            instructions = instructions_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FileProblem(f"cannot read {instructions_path}: {exc}") from None
    if description is None:
        description = str(schema.get("description") or name)
    return {
        "name": name,
        "description": description,
        "json_schema": schema,
        "instructions": instructions,
    }


def created_line(created: bool, version: dict[str, Any]) -> str:
    """`created NAME@N` for a new version, `unchanged NAME@N` when the content was the same."""
    return f"{'created' if created else 'unchanged'} {version['name']}@{version['version']}"


def schema_problem(exc: DocqueueError) -> str:
    """A schema_invalid answer as one line: where in the schema, and why."""
    pointer = str(exc.detail.get("pointer") or "/")
    message = str(exc.detail.get("message") or exc)
    # The message may already start with the pointer; say it once.
    message = message.removeprefix(f"{pointer}: ")
    return f"schema_invalid at {pointer}: {message}"


def extractor_rows(data: Iterable[dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    """Table rows (name, owner, latest, archived, description), sorted by owner then name."""
    ordered = sorted(data, key=lambda e: (e.get("owner") != "tenant", str(e["name"])))
    return [
        (
            str(e["name"]),
            str(e.get("owner", "")),
            f"@{e['latest_version']}" if e.get("latest_version") is not None else "-",
            "yes" if e.get("archived") else "no",
            str(e.get("description") or ""),
        )
        for e in ordered
    ]


def _table(rows: list[tuple[str, str, str, str, str]]) -> Table:
    from rich.table import Table

    table = Table(title="extractors")
    for column in ("name", "owner", "latest", "archived", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A slug: lowercase letters, digits, _ and -.")],
    schema: Annotated[Path, typer.Option(help="The JSON Schema file.")],
    instructions: Annotated[
        Path | None, typer.Option(help="Extraction instructions (Markdown or text).")
    ] = None,
    description: Annotated[
        str | None, typer.Option(help="One line; defaults to the schema's description.")
    ] = None,
    retries: Retries = 6,
) -> None:
    """Register a version; the same content again changes nothing."""
    from scripts.client import DocqueueError, UnprocessableEntityError
    from scripts.ingest.sources import SourceError

    def action(api: Client) -> None:
        try:
            body = create_body(name, schema, instructions, description)
        except FileProblem as exc:
            raise SourceError(str(exc)) from None
        try:
            created, version = api.create_extractor(body)
        except UnprocessableEntityError as exc:
            if exc.type != "schema_invalid":
                raise
            line = schema_problem(exc)
            raise DocqueueError(line, status=exc.status, type_=exc.type) from None
        typer.echo(created_line(created, version))

    with_api(retries, action)


@app.command("list")
def list_(retries: Retries = 6) -> None:
    """Your extractors and the built-ins."""
    from rich.console import Console

    def action(api: Client) -> None:
        Console().print(_table(extractor_rows(api.extractors())))

    with_api(retries, action)


@app.command("show")
def show(
    name: str,
    version: Annotated[int | None, typer.Option(min=1, help="A version (default: latest).")] = None,
    retries: Retries = 6,
) -> None:
    """Print a version's JSON Schema (stdout: the JSON alone, fit to save as a file)."""

    def action(api: Client) -> None:
        number = version if version is not None else int(api.extractor(name)["latest_version"])
        found = api.extractor_version(name, number)
        typer.echo(f"{found['name']}@{found['version']} schema {found['schema_hash']}", err=True)
        typer.echo(json.dumps(found["json_schema"], indent=2, ensure_ascii=False))

    with_api(retries, action)


@app.command("archive")
def archive(name: str, retries: Retries = 6) -> None:
    """Refuse new jobs for an extractor; its versions and old results stay readable."""

    def action(api: Client) -> None:
        done = api.archive_extractor(name)
        typer.echo(f"archived {done['name']} (latest @{done.get('latest_version', '-')})")

    with_api(retries, action)


@app.command("infer")
def infer(
    samples: Annotated[list[str], typer.Argument(help="1 to 5 sample documents.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the JSON Schema.")],
    hint: Annotated[str | None, typer.Option(help="What to extract, in a sentence.")] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for a running inference.")
    ] = 300.0,
    retries: Retries = 6,
) -> None:
    """Propose a JSON Schema from sample documents (a billed model call) and write it."""
    from scripts.commands.inference import cost_text, infer_samples, wait_for_schema, write_schema

    def action(api: Client) -> None:
        answer = api.infer_schema(infer_samples(samples), hint)
        if answer.get("status") != "succeeded":
            typer.echo(f"inference {answer.get('job_id')} {answer.get('status')}...", err=True)
        answer = wait_for_schema(api, answer, timeout_s=timeout)
        write_schema(out, answer["json_schema"])
        typer.echo(f"schema written to {out} (job {answer['job_id']}, cost {cost_text(answer)})")

    with_api(retries, action)
