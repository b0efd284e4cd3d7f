"""`docqueue ingest`, `status` and `results`: upload documents as batches, follow, fetch results.

Documents go up in batches of `--batch-size`. Each batch carries an Idempotency-Key
derived from its documents' keys, so a re-run of the same command after a crash or
Ctrl-C finds the same batches, fills in what is missing and creates no duplicates.
Result lines map back to inputs by `key` (sha256 of content + schema, or the row's own
key) and `filename` (the path as found). Documents sent before in other batches (say, with
another --batch-size) are followed and fetched from those batches.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from scripts.ingest import sources
from scripts.ingest.client import ApiClient, ApiClientError

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # one batch request stays far below the API's body limit
CSV_COLUMNS = ("key", "filename", "status", "error_type", "error_message", "result", "metadata")
CSV_USAGE = ("input_tokens", "output_tokens", "cost_usd", "id")

out = Console()
err = Console(stderr=True)


@dataclass(frozen=True)
class Sent:
    """One uploaded batch and what the server made of it."""

    id: str
    created: int
    duplicates: int
    elsewhere: tuple[str, ...]  # earlier batches holding this batch's duplicates


@dataclass
class Upload:
    """Every batch of one ingest, and the key of every document sent."""

    sent: list[Sent]
    keys: set[str]

    @property
    def batch_ids(self) -> list[str]:
        """Our batches, then the earlier ones holding documents we re-sent (no repeats)."""
        ids = [s.id for s in self.sent] + [b for s in self.sent for b in s.elsewhere]
        return list(dict.fromkeys(ids))


def client(*, url: str, key: str | None, retries: int) -> ApiClient:
    """A client for DOCQUEUE_API_URL as the tenant of DOCQUEUE_API_KEY."""
    if not key:
        raise ApiClientError("no API key: set DOCQUEUE_API_KEY (see `docqueue tenant create`)")
    return ApiClient(base_url=url, api_key=key, attempts=retries)


def groups(docs: Iterable[sources.Doc], *, size: int) -> Iterator[list[sources.Doc]]:
    """Consecutive documents, `size` (and at most MAX_REQUEST_BYTES) per batch."""
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


def batch_key(schema: str, tier: str, docs: list[sources.Doc]) -> str:
    """The batch's Idempotency-Key: the same documents make the same batch."""
    digest = hashlib.sha256(f"{schema}\0{tier}\0".encode())
    for doc in docs:
        digest.update(doc.key.encode() + b"\n")
    return f"ingest:{digest.hexdigest()[:48]}"


def _progress(*extra: TextColumn) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err,
    )


def upload(api: ApiClient, paths: list[Path], *, schema: str, tier: str, size: int) -> Upload:
    """Send every document, one batch request per group."""
    done = Upload([], set())
    with _progress(TextColumn("{task.fields[note]}")) as progress:
        task = progress.add_task("upload", total=sources.count(paths), note="")
        for group in groups(sources.read(paths, schema=schema), size=size):
            body = {"schema": schema, "tier": tier, "documents": [d.body for d in group]}
            answer = api.create_batch(body, key=batch_key(schema, tier, group))
            elsewhere = tuple(str(b) for b in answer.get("duplicate_batches", ()))
            done.sent.append(
                Sent(str(answer["id"]), answer["created"], answer["duplicates"], elsewhere)
            )
            done.keys.update(d.key for d in group)
            dupes = sum(s.duplicates for s in done.sent)
            note = f"{len(done.sent)} batches, {dupes} already sent"
            progress.update(task, advance=len(group), note=note)
    return done


def aggregate(summaries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Counts, totals and usage summed over batches."""
    agg: dict[str, Any] = dict.fromkeys(STATUSES, 0)
    agg.update(total=0, input_tokens=0, output_tokens=0, cost_usd=0.0)
    for s in summaries:
        for status in STATUSES:
            agg[status] += s["counts"].get(status, 0)
        agg["total"] += s["total"]
        for field in ("input_tokens", "output_tokens"):
            agg[field] += s["usage"][field]
        agg["cost_usd"] += float(s["usage"]["cost_usd"])
    agg["terminal"] = agg["succeeded"] + agg["failed"] + agg["cancelled"]
    return agg


def follow(api: ApiClient, ids: list[str], *, max_poll_s: float = 2.0) -> dict[str, Any]:
    """Poll the batches until every one is finished; returns the aggregate.

    Polls start at 4 a second (small batches finish fast) and slow down to `max_poll_s`.
    """
    last: dict[str, dict[str, Any]] = {}
    open_ids = list(dict.fromkeys(ids))
    poll_s = 0.25
    with _progress(TextColumn("{task.fields[counts]}")) as progress:
        task = progress.add_task("processing", total=None, counts="")
        while True:
            for batch_id in list(open_ids):
                last[batch_id] = api.get_batch(batch_id)
                if last[batch_id]["finished_at"]:
                    open_ids.remove(batch_id)
            agg = aggregate(last.values())
            counts = " ".join(f"{s} {agg[s]}" for s in STATUSES if agg[s])
            note = f"{counts}  ${agg['cost_usd']:.4f}"
            progress.update(task, total=agg["total"], completed=agg["terminal"], counts=note)
            if not open_ids:
                return agg
            time.sleep(poll_s)
            poll_s = min(max_poll_s, poll_s * 1.25)


def summary_table(title: str, agg: dict[str, Any], extra: dict[str, Any]) -> Table:
    """A two-column table of the aggregate and extra facts."""
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for name, value in extra.items():
        table.add_row(name, str(value))
    for status in STATUSES:
        table.add_row(status, str(agg[status]))
    table.add_row("total", str(agg["total"]))
    table.add_row("tokens in / out", f"{agg['input_tokens']:,} / {agg['output_tokens']:,}")
    table.add_row("cost (USD)", f"{agg['cost_usd']:.6f}")
    return table


def _csv_row(row: dict[str, Any]) -> list[Any]:
    error = row.get("error") or {}
    result = json.dumps(row["result"], ensure_ascii=False) if row["result"] else ""
    return [
        row["key"],
        row["filename"],
        row["status"],
        error.get("type", ""),
        error.get("message", ""),
        result,
        json.dumps(row["metadata"], ensure_ascii=False),
        *(row["usage"][k] for k in CSV_USAGE[:3]),
        row["id"],
    ]


def write_results(api: ApiClient, ids: list[str], path: Path, keys: set[str] | None = None) -> int:
    """Write the batches' jobs (those with `keys`, if given) to `path` (.csv, else NDJSON).

    Returns the number of lines (rows) written. The file appears whole or not at all.
    """
    tmp = path.with_name(path.name + ".part")
    lines = 0
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh) if path.suffix.lower() == ".csv" else None
            if writer is not None:
                writer.writerow(CSV_COLUMNS + CSV_USAGE)
            for batch_id in dict.fromkeys(ids):
                for row in api.results(batch_id):
                    if keys is not None and row["key"] not in keys:
                        continue  # an earlier batch's document that this run did not send
                    lines += 1
                    if writer is None:
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                    else:
                        writer.writerow(_csv_row(row))
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return lines


def run_ingest(
    api: ApiClient,
    paths: list[str],
    *,
    schema: str,
    tier: str,
    batch_size: int,
    wait: bool,
    out_path: Path | None,
) -> None:
    """The whole `docqueue ingest`: upload, then (with --wait or --out) follow and fetch."""
    files = sources.expand(paths)
    if not files:
        raise sources.SourceError("no documents found (txt, md, html, pdf, docx, jsonl, csv)")
    done = upload(api, files, schema=schema, tier=tier, size=max(1, batch_size))
    ids = done.batch_ids
    facts: dict[str, Any] = {
        "batches": len(ids),
        "documents": len(done.keys),
        "created now": sum(s.created for s in done.sent),
        "sent before": sum(s.duplicates for s in done.sent),
    }
    if not (wait or out_path):
        out.print(summary_table("submitted", aggregate(api.get_batch(i) for i in ids), facts))
    else:
        agg = follow(api, ids)
        if out_path is not None:
            lines = write_results(api, ids, out_path, done.keys)
            facts["results file"] = f"{out_path} ({lines} lines)"
        out.print(summary_table("finished", agg, facts))
    # Unwrapped, one line: for `docqueue status` / `results`, and for scripts.
    typer.echo("batches: " + " ".join(dict.fromkeys(ids)))


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
    out.print(summary_table("batch", aggregate([batch]), facts))


def guarded(action: Callable[[], None]) -> None:
    """Run a CLI action; any failure is one line on stderr and a non-zero exit, no traceback."""
    try:
        action()
    except KeyboardInterrupt:
        typer.echo(
            "interrupted: run the same command again to resume (nothing is duplicated)", err=True
        )
        raise typer.Exit(130) from None
    except (ApiClientError, sources.SourceError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except Exception as exc:  # noqa: BLE001 - the CLI promises one line, never a traceback
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
