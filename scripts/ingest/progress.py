"""Progress bars on stderr, following batches until they finish, and the summary tables."""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from typing import Any

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

from scripts.client import Client as ApiClient
from scripts.client.models import STATUSES, TERMINAL

EARLIER_POLL_S = 5.0  # an earlier batch's check streams its results: not 4 times a second
err = Console(stderr=True)


def bars(*extra: TextColumn) -> Progress:
    """A progress display on stderr: bar, done/total, elapsed, eta."""
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


def paused(batch: Mapping[str, Any]) -> str | None:
    """`paused: kill switch on (reason)` while a batch answer says the switch is on."""
    switch = batch.get("killswitch") or {}
    if not switch.get("on"):
        return None
    return f"paused: kill switch on ({switch.get('reason') or 'no reason given'})"


def follow(
    api: ApiClient,
    ids: Sequence[str],
    *,
    also: Sequence[str] = (),
    keys: Container[str] = frozenset(),
    max_poll_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll the batches until every one is finished; returns the aggregate of `ids`.

    `also` are earlier batches holding some of our documents (`keys`) among others':
    each is waited for only until our documents in it are done, polled every
    EARLIER_POLL_S at most (a check reads its results). Polls of `ids` start at 4 a
    second (small batches finish fast) and slow down to `max_poll_s`.
    """
    last: dict[str, dict[str, Any]] = {}
    counted = list(dict.fromkeys(ids))
    open_ids = list(counted)
    due = {b: clock() for b in dict.fromkeys(also) if b not in counted}  # next check
    ours: dict[str, int] = {}  # our documents not done yet, per earlier batch
    poll_s = 0.25
    with bars(TextColumn("{task.fields[counts]}")) as progress:
        task = progress.add_task("processing", total=None, counts="")
        while True:
            note = None
            for batch_id in list(open_ids):
                last[batch_id] = answer = api.get_batch(batch_id)
                note = paused(answer) or note
                if answer["finished_at"]:
                    open_ids.remove(batch_id)
            for batch_id, when in list(due.items()):
                if when <= clock():
                    ours[batch_id] = _ours_open(api, batch_id, keys)
                    due[batch_id] = clock() + EARLIER_POLL_S
                    if not ours[batch_id]:
                        del due[batch_id], ours[batch_id]
            agg = aggregate(last[i] for i in counted)
            counts = " ".join(f"{s} {agg[s]}" for s in STATUSES if agg[s])
            waiting = sum(ours.values())
            extra = (
                f"  waiting for {waiting} of ours in {len(ours)} earlier batches" if ours else ""
            )
            text = f"{note}  " if note else ""
            text += f"{counts}  ${agg['cost_usd']:.4f}{extra}"
            progress.update(task, total=agg["total"], completed=agg["terminal"], counts=text)
            if not open_ids and not due:
                return agg
            nap = poll_s if open_ids else min(due.values()) - clock()
            sleep(max(0.0, min(nap, EARLIER_POLL_S)))
            poll_s = min(max_poll_s, poll_s * 1.25)


def _ours_open(api: ApiClient, batch_id: str, keys: Container[str]) -> int:
    """How many of our documents in an earlier batch are not done yet."""
    if api.get_batch(batch_id).get("finished_at"):
        return 0
    return sum(
        1
        for row in api.results(batch_id)
        if row.get("key") in keys and row.get("status") not in TERMINAL
    )


def summary_table(title: str, agg: dict[str, Any], extra: dict[str, Any]) -> Table:
    """A two-column table of the aggregate and extra facts."""
    table = facts_table(title, extra)
    for status in STATUSES:
        table.add_row(status, str(agg[status]))
    table.add_row("total", str(agg["total"]))
    usage_rows(table, agg)
    return table


def facts_table(title: str, facts: Mapping[str, Any]) -> Table:
    """A two-column table of facts, in order."""
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for name, value in facts.items():
        table.add_row(name, str(value))
    return table


def usage_rows(table: Table, usage: Mapping[str, Any]) -> None:
    """Tokens in / out and the cost, as the last rows of a table."""
    table.add_row("tokens in / out", f"{usage['input_tokens']:,} / {usage['output_tokens']:,}")
    table.add_row("cost (USD)", f"{float(usage['cost_usd']):.6f}")
