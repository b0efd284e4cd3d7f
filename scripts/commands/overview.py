"""The text of `docqueue --help`: what docqueue is, its environment, and an example."""

from __future__ import annotations

# Typer's rich mode keeps the line breaks of every paragraph after the first, so prose is
# one line per paragraph (rich wraps it to the terminal) and the table lines stay short.
_ABOUT = (
    "Push ten thousand or a million documents (invoices, contracts, résumés, reports) "
    "through structured LLM extraction and find validated results in Postgres, whichever "
    "providers run them. This command talks to the HTTP API (ingest, status, results, estimate, "
    "batches, cancel, retry, usage, schemas, extractors, rerun, diff, eval, review) and runs "
    "the platform itself (db, tenant, api, worker, webhooks, scheduler, flower, killswitch)."
)
_ENV = "\n".join(
    [
        "[bold]Environment[/bold]",
        "  [cyan]DOCQUEUE_API_URL[/cyan]   API of the client commands (http://127.0.0.1:8000)",
        "  [cyan]DOCQUEUE_API_KEY[/cyan]   your tenant's key (`docqueue tenant create` makes one)",
        "  [cyan]DATABASE_URL[/cyan]       Postgres (db, tenant and the platform's processes)",
        "  [cyan]REDIS_URL[/cyan]          Redis (broker, flow control, the kill switch)",
        "  [cyan]DOCQUEUE_CONFIG[/cyan]    TOML of tiers, models, prices and limits",
        "  [cyan]OTEL_EXPORTER_OTLP_ENDPOINT[/cyan]  where the processes send traces, if set",
    ]
)
OVERVIEW = "\n\n".join(
    ["docqueue: structured LLM extraction for batches of documents.", _ABOUT, _ENV]
)

_EXAMPLE = "\n".join(
    [
        "[bold]Example[/bold]",
        "  export DOCQUEUE_API_KEY=dq_...",
        "  docqueue ingest ./invoices --schema invoice --wait --out results.csv",
        "  docqueue batches --since 2026-05-01",
        "  docqueue usage",
    ]
)
_RETRIES = (
    "Network errors, 5xx and 429 answers are retried, each wait told on stderr "
    "(`retrying (2/5) in 1.6 s: ...`); a failure ends with one `error:` line and exit "
    "status 1, never a traceback."
)
EPILOG = "\n\n".join([_EXAMPLE, _RETRIES])
