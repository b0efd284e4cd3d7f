"""`docqueue ingest`, `status` and `results`: one ingest is one batch; follow it, export it.

Every request of an ingest carries the same Idempotency-Key (`manifest.batch_key`), so the
server appends each group of documents to one batch, and a re-run of the same command
after a crash or Ctrl-C finds that batch, fills in what is missing and creates nothing
twice. Every input is accounted for by path (`accounting.py`): sent, a duplicate of an
earlier path, skipped with its reason, or sent before in another batch, whose results are
fetched from there, filtered by key.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import TextColumn
from rich.table import Table

from scripts.client import ApiClientError
from scripts.client import Client as ApiClient
from scripts.client.lanes import LaneChoice, lane_fields
from scripts.client.models import STATUSES
from scripts.ingest import columns, exports, manifest, sources
from scripts.ingest.accounting import MISSING, SKIPPED, Ledger, Usage
from scripts.ingest.base import shown
from scripts.ingest.progress import aggregate, bars, facts_table, follow, paused, summary_table
from scripts.ingest.spool import Spool, collect

__all__ = [
    "aggregate",
    "follow",
    "run_ingest",
    "run_status",
    "summary_table",
    "write_results",
]

MAX_REQUEST_BYTES = 16 * 1024 * 1024  # one request stays far below the API's body limit
TRUNCATED_FACT = "cells cut to 32,767 characters (XLSX)"

out = Console()


def groups(docs: Iterable[sources.Doc], *, size: int) -> Iterator[list[sources.Doc]]:
    """Consecutive documents, `size` (and at most MAX_REQUEST_BYTES) per request."""
    group: list[sources.Doc] = []
    used = 0
    for doc in docs:
        if group and (len(group) >= size or used + doc.size > MAX_REQUEST_BYTES):
            yield group
            group, used = [], 0
        group.append(doc)
        used += doc.size
    if group:
        yield group


def pin(api: ApiClient, schema: str) -> tuple[str, dict[str, Any] | None]:
    """The version `schema` names now (`name@N`) and its JSON Schema.

    The batch is keyed and opened on the pin, so a re-run after a new version is a new
    batch (whose documents were sent before), never a conflict with the old one. An
    unknown name comes back as given: the batch request then says what is wrong.
    """
    name, _, number = schema.strip().partition("@")
    try:
        version = int(number) if number else int(api.extractor(name)["latest_version"])
        found = api.extractor_version(name, version)
    except ApiClientError as exc:
        if exc.status not in (404, 422):
            raise
        return schema, None
    except (ValueError, KeyError, TypeError):
        return schema, None
    json_schema = found.get("json_schema")
    return f"{name}@{version}", json_schema if isinstance(json_schema, dict) else None


def upload(
    api: ApiClient,
    inputs: list[manifest.Input],
    *,
    schema: str,
    ref: str,
    tier: str,
    size: int,
    key: str,
    lane: dict[str, str] | None = None,
) -> Ledger:
    """Account for every input and send the documents, every request to the one batch.

    `lane`: the body's `lane` and `deadline` (client.lanes.lane_fields), the same for all.
    """
    ledger = Ledger()

    def to_send() -> Iterator[sources.Doc]:
        for item in manifest.documents(inputs, schema=schema):
            if item.doc is None:
                ledger.skip(item.path, item.reason or "unreadable")
            elif ledger.offer(item.path, item.doc.key):
                yield item.doc

    with bars(TextColumn("{task.fields[note]}")) as progress:
        task = progress.add_task("upload", total=manifest.count(inputs), note="")
        for group in groups(to_send(), size=size):
            body: dict[str, Any] = {"schema": ref, "tier": tier, **(lane or {})}
            body["documents"] = [d.body for d in group]
            ledger.answered(api.create_batch(body, key=key))
            progress.update(task, completed=len(ledger.entries), note=ledger.note())
        progress.update(task, completed=len(ledger.entries), note=ledger.note())
    return ledger


def run_ingest(
    api: ApiClient,
    paths: list[str],
    *,
    schema: str,
    tier: str,
    batch_size: int,
    wait: bool,
    out_path: Path | None,
    run_name: str | None = None,
    lane: LaneChoice = "realtime",
    deadline: str | None = None,
    estimate_first: bool = False,
    ask: bool = False,
) -> None:
    """The whole `docqueue ingest`: account, upload, then (with --wait or --out) follow.

    `estimate_first`: print the estimate before anything is sent; with `ask`, on a
    terminal, start only once the user confirms (scripts, with no terminal, go on).
    """
    if out_path is not None:
        exports.check_out_path(out_path)  # before anything is sent
    # `24h` is resolved once: every request of the ingest carries the same deadline.
    lane_body = lane_fields(lane, deadline)
    # The --out file (and its .part) is never an input: a re-run resumes the same batch.
    inputs = manifest.walk(paths, exclude=exports.own_files(out_path) if out_path else ())
    if not inputs:
        raise sources.SourceError("no files found")
    ref, json_schema = pin(api, schema)
    key = manifest.batch_key(inputs, schema=ref, tier=tier, run=run_name)
    if estimate_first:
        _estimate_gate(api, inputs, ref=ref, tier=tier, lane=lane_body, size=batch_size, ask=ask)
    ledger = upload(
        api,
        inputs,
        schema=schema,
        ref=ref,
        tier=tier,
        size=max(1, batch_size),
        key=key,
        lane=lane_body,
    )
    del inputs  # the ledger holds all an input still needs: a million inputs, once
    own = ledger.batch_id
    facts: dict[str, Any] = {"batch": own}
    if own is None:
        facts = {}
        if out_path is not None:  # every input has its row, and why it was skipped
            with Spool(columns.from_schema(json_schema)) as spool:
                facts = _write_ingest(ledger, spool, out_path)
        _print(facts_table("nothing sent", {**facts, **ledger.facts()}), ledger)
        raise sources.SourceError(f"nothing to send: all {len(ledger.entries)} inputs skipped")
    earlier = list(ledger.earlier)
    if not (wait or out_path):
        if earlier:
            collect(api, earlier, ledger)
        _print(facts_table("submitted", {**facts, **ledger.facts()}), ledger)
    else:
        follow(api, [own], also=earlier, keys=ledger.first)
        with Spool(columns.from_schema(json_schema)) as spool:
            collect(api, [own, *earlier], ledger, spool if out_path is not None else None)
            if out_path is not None:
                facts.update(_write_ingest(ledger, spool, out_path))
        _print(_finished(ledger, facts), ledger)
    # Unwrapped, one line, last: for `docqueue status` / `results`, and for scripts.
    typer.echo(f"batch: {own}")


def _estimate_gate(
    api: ApiClient,
    inputs: list[manifest.Input],
    *,
    ref: str,
    tier: str,
    lane: dict[str, str],
    size: int,
    ask: bool,
) -> None:
    """Print the estimate; with `ask` on a terminal, stop (exit 1) unless the user agrees."""
    from scripts.commands.estimate import estimate_inputs, show

    answer = estimate_inputs(api, inputs, schema=ref, tier=tier, lane=lane, size=max(1, size))
    show(answer)
    if not ask or not sys.stdin.isatty():
        return
    if not typer.confirm("start the ingest?", default=False):
        typer.echo("not started: nothing was sent", err=True)
        raise typer.Exit(1)


def _finished(ledger: Ledger, facts: dict[str, Any]) -> Table:
    """The ingest's account, then each input's status, then the usage of its jobs."""
    table = facts_table("finished", {**facts, **ledger.facts()})
    table.add_section()
    counts = ledger.per_input()
    for status in (*STATUSES, SKIPPED, MISSING):
        if status in STATUSES or counts[status]:
            table.add_row(status, str(counts[status]))
    table.add_row("total inputs", str(len(ledger.entries)))
    _usage_rows(table, "this batch", ledger.this_batch)
    if ledger.before:  # processed (and billed) before this ingest: not its cost
        _usage_rows(table, "earlier batches", ledger.earlier_batches)
    return table


def _usage_rows(table: Table, where: str, usage: Usage) -> None:
    tokens = f"{usage.input_tokens:,} / {usage.output_tokens:,}"
    table.add_row(f"tokens in / out ({where})", tokens)
    table.add_row(f"cost ({where})", f"${usage.cost_usd:.6f}")


def _print(table: Table, ledger: Ledger) -> None:
    out.print(table)
    lines = ledger.skipped_lines()
    if lines:
        typer.echo("skipped:\n" + "\n".join(lines))


def _write_ingest(ledger: Ledger, spool: Spool, path: Path) -> dict[str, Any]:
    """One row per input, in input order: duplicates share their job, skips say why."""
    with exports.writer(path, spool.columns) as write:
        for entry in ledger.entries:
            first = ledger.first.get(entry.key or "") if entry.state != SKIPPED else None
            if first is None or first.at is None:
                write(exports.unsent_row(entry))
            else:
                shared = {"state": entry.state, "duplicate_of": entry.duplicate_of}
                write(exports.export_row(spool.get(first.at), path=entry.path, **shared))
    facts: dict[str, Any] = {"results file": f"{shown(path)} ({write.rows} rows)"}
    if write.truncated:
        facts[TRUNCATED_FACT] = write.truncated
    return facts


def write_results(api: ApiClient, ids: list[str], path: Path) -> int:
    """Write the batches' jobs to `path`; returns the rows.

    The same writers as `ingest --out`; with no input paths here, `path` is the filename.
    """
    exports.check_out_path(path)
    ref = str(api.get_batch(ids[0])["schema"]) if ids else ""
    _, json_schema = pin(api, ref) if "@" in ref else ("", None)
    with Spool(columns.from_schema(json_schema)) as spool:
        collect(api, ids, None, spool)
        with exports.writer(path, spool.columns) as write:
            for row in spool.rows():
                name = str(row.get("filename") or "")
                write(exports.export_row(row, path=name, state=None, duplicate_of=None))
    if write.truncated:
        typer.echo(f"note: {write.truncated} {TRUNCATED_FACT}", err=True)
    return write.rows


def run_status(api: ApiClient, batch_id: str) -> None:
    """`docqueue status BATCH`: the batch's counts, progress and cost."""
    batch = api.get_batch(batch_id)
    facts = {
        "batch": batch["id"],
        "schema / tier": f"{batch['schema']} / {batch['tier']}",
        "progress": f"{batch['progress']:.1%}",
        "created at": batch["created_at"],
        "finished at": batch["finished_at"] or "-",
    }
    note = paused(batch)
    if note:
        facts["kill switch"] = note
    out.print(summary_table("batch", aggregate([batch]), facts))
