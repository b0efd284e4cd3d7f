"""The `docqueue` command line: database, tenants, processes and the kill switch.

The commands that talk to the HTTP API live in scripts/commands/.
"""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal
from typing import Annotated

import typer

from scripts.commands import batches, catalog, documents, evals, extractors, reruns, review, usage
from scripts.commands import estimate as estimate_cmd
from scripts.commands.console_link import console_link
from scripts.commands.overview import EPILOG, OVERVIEW

app = typer.Typer(
    help=OVERVIEW,
    epilog=EPILOG,
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
tenant_app = typer.Typer(no_args_is_help=True, help="Tenants and API keys.")
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.command("console-link")(console_link)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply Alembic migrations."""
    from storage.migrate import upgrade

    upgrade(revision=revision)
    typer.echo(f"database at {revision}")


@tenant_app.command("create")
def tenant_create(
    name: str,
    budget_usd: Annotated[
        float | None, typer.Option(min=0, help="Monthly budget in USD (0 allows no spend).")
    ] = None,
    daily_budget_usd: Annotated[float | None, typer.Option(min=0)] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="In-flight jobs per tier.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a tenant; print its API key (shown once, stored hashed) and webhook secret."""
    from schemas.config import get_settings
    from storage.db import session_scope
    from storage.tenants import create_tenant, issue_key
    from tasks.webhooks.signing import standard_secret

    defaults = get_settings().app.tenants
    with session_scope() as session:
        tenant = create_tenant(
            session=session,
            name=name,
            # `is None`, not `or`: zero means zero (a budget of 0 refuses every call).
            monthly_budget_usd=Decimal(
                str(defaults.default_monthly_budget_usd if budget_usd is None else budget_usd)
            ),
            daily_budget_usd=None if daily_budget_usd is None else Decimal(str(daily_budget_usd)),
            concurrency=defaults.default_concurrency if concurrency is None else concurrency,
        )
        key = issue_key(session=session, tenant_id=tenant.id)
        tenant_id = str(tenant.id)
        # The Standard Webhooks form of the signing secret receivers verify with.
        webhook_secret = standard_secret(tenant.webhook_secret)
    if as_json:
        payload = {"tenant_id": tenant_id, "api_key": key, "webhook_secret": webhook_secret}
        typer.echo(json.dumps(payload))
    else:
        typer.echo(
            f"tenant {name}: id {tenant_id}\napi key (store it now): {key}\n"
            f"webhook secret: {webhook_secret}"
        )


@tenant_app.command("issue-key")
def tenant_issue_key(
    tenant_id: str,
    expires_in_days: Annotated[
        int | None, typer.Option(min=0, help="Key lifetime in days (0: expired at once).")
    ] = None,
) -> None:
    """Issue another API key for a tenant (for rotation); prints it once."""
    import datetime as dt
    import uuid

    from storage.db import session_scope
    from storage.errors import NotFound
    from storage.tenants import issue_key

    try:
        owner = uuid.UUID(tenant_id)
    except ValueError:
        typer.echo(f"error: {tenant_id!r} is not a tenant id (a UUID)", err=True)
        raise typer.Exit(2) from None
    expires = (
        None
        if expires_in_days is None
        else dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_in_days)
    )
    try:
        with session_scope() as session:
            key = issue_key(session=session, tenant_id=owner, expires_at=expires)
    except NotFound as exc:  # one line: a traceback would carry the new key's hash
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(key)


@tenant_app.command("revoke-key")
def tenant_revoke_key(prefix: str) -> None:
    """Revoke the key(s) with this prefix (the 8 hex characters after `dq_`)."""
    from storage.db import session_scope
    from storage.tenants import revoke_key

    with session_scope() as session:
        count = revoke_key(session=session, prefix=prefix)
    typer.echo(f"revoked {count} key(s)")


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the HTTP API."""
    import uvicorn

    uvicorn.run(
        "api.main:app", host=host, port=port, workers=workers, log_level="warning", access_log=False
    )


@app.command()
def worker(
    tier: Annotated[str, typer.Option(help="low, medium, high, or a comma list")] = "medium",
    concurrency: int | None = None,
    name: str | None = None,
) -> None:
    """Run a Celery worker (threads pool) for the given tier queues (webhooks: `webhooks`)."""
    # SIGTERM runs Celery's cold shutdown with its soft-shutdown wait (the grace period)
    # instead of a warm one that waits for every running job however long it takes.
    # billiard reads this once, on import, so it is set before Celery loads.
    os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    from schemas.config import get_settings
    from tasks.celery.app import WORKER_FLAGS
    from tasks.celery.app import app as celery_app
    from tasks.dispatch.queues import queue_name

    tiers = [t.strip() for t in tier.split(",") if t.strip()]
    conc = concurrency or get_settings().app.celery.worker_concurrency
    celery_app.worker_main(
        [
            "worker",  # the pool is `worker_pool` (tasks/pool.py): -P only takes built-ins
            "-c",
            str(conc),
            *WORKER_FLAGS,
            "-Q",
            ",".join(queue_name(t) for t in tiers),
            "-n",
            f"{name or '-'.join(tiers)}@%h",
        ]
    )


@app.command()
def webhooks(concurrency: int | None = None, name: str = "webhooks") -> None:
    """Run the webhook delivery worker: the only consumer of the webhook queue."""
    # Its own process and threads: a receiver that hangs holds a delivery thread here (at
    # most `[webhooks] tenant_concurrency` per tenant), never an extraction thread.
    os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    from schemas.config import get_settings
    from tasks.celery.app import WORKER_FLAGS
    from tasks.celery.app import app as celery_app
    from tasks.dispatch.queues import WEBHOOK_QUEUE

    conc = concurrency or get_settings().app.webhooks.worker_concurrency
    celery_app.worker_main(
        ["worker", "-c", str(conc), *WORKER_FLAGS, "-Q", WEBHOOK_QUEUE, "-n", f"{name}@%h"]
    )


@app.command()
def flower(port: int = 5555, address: str = "127.0.0.1") -> None:
    """Run Flower behind basic auth from FLOWER_BASIC_AUTH; off loopback, never the default."""
    from schemas.config import get_settings
    from scripts.flower_guard import protect_metrics, refusal
    from tasks.celery.app import app as celery_app

    auth = get_settings().flower_basic_auth
    problem = refusal(address=address, basic_auth=auth)
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    protect_metrics()
    celery_app.start(["flower", f"--port={port}", f"--address={address}", f"--basic-auth={auth}"])


@app.command()
def scheduler() -> None:
    """Run the scheduler (with its reconciler duty)."""
    from schemas.config import get_settings
    from storage.db import set_process_kind
    from tasks.dispatch.scheduler import run_forever
    from tasks.observability.logs import configure_logging

    set_process_kind("scheduler")
    configure_logging(get_settings())
    run_forever()


@app.command()
def batcher() -> None:
    """Run the batch lane's batcher: pack, submit and poll provider batches."""
    from schemas.config import get_settings
    from storage.db import set_process_kind
    from tasks.batchlane.process import run_forever
    from tasks.observability.logs import configure_logging

    set_process_kind("scheduler")  # a small pool, like the scheduler's
    configure_logging(get_settings())
    run_forever()


@app.command()
def killswitch(state: Annotated[str, typer.Argument(help="on, off or status")]) -> None:
    """Stop (on) or resume (off) all new provider calls, within a second."""
    from schemas.config import get_settings
    from tasks.flow.connection import redis_client
    from tasks.flow.killswitch import RedisKillSwitch

    switch = RedisKillSwitch(redis_client(get_settings().redis_url))
    if state in ("on", "off"):
        switch.set(state == "on", reason="cli")
    typer.echo(json.dumps(switch.status(), default=str))


documents.register(app)  # ingest, status, results
batches.register(app)  # batches, cancel, retry
estimate_cmd.register(app)  # estimate
app.command("usage")(usage.usage)
app.command("schemas")(catalog.schemas)
app.add_typer(extractors.app, name="extractor")
app.command("extractors", help="Your extractors and the built-ins (`extractor list`).")(
    extractors.list_
)
reruns.register(app)  # rerun, diff
app.command("eval")(evals.eval_)
app.add_typer(review.app, name="review")  # list, approve, export


def main() -> None:
    """Entry point of the `docqueue` console script."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
