"""The `docqueue` command line: database, tenants, processes, kill switch."""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
tenant_app = typer.Typer(no_args_is_help=True, help="Tenants and API keys.")
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply Alembic migrations."""
    from storage.migrate import upgrade

    upgrade(revision=revision)
    typer.echo(f"database at {revision}")


@tenant_app.command("create")
def tenant_create(
    name: str,
    budget_usd: Annotated[float | None, typer.Option(help="Monthly budget in USD.")] = None,
    daily_budget_usd: Annotated[float | None, typer.Option()] = None,
    concurrency: Annotated[int | None, typer.Option(help="In-flight jobs per tier.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a tenant and print its API key (shown once; only its hash is stored)."""
    from schemas.config import get_settings
    from storage.db import session_scope
    from storage.tenants import create_tenant, issue_key

    defaults = get_settings().app.tenants
    with session_scope() as session:
        tenant = create_tenant(
            session=session,
            name=name,
            monthly_budget_usd=Decimal(str(budget_usd or defaults.default_monthly_budget_usd)),
            daily_budget_usd=Decimal(str(daily_budget_usd)) if daily_budget_usd else None,
            concurrency=concurrency or defaults.default_concurrency,
        )
        key = issue_key(session=session, tenant_id=tenant.id)
        tenant_id = str(tenant.id)
    if as_json:
        typer.echo(json.dumps({"tenant_id": tenant_id, "api_key": key}))
    else:
        typer.echo(f"tenant {name}: id {tenant_id}\napi key (store it now): {key}")


@tenant_app.command("issue-key")
def tenant_issue_key(
    tenant_id: str,
    expires_in_days: Annotated[int | None, typer.Option(help="Key lifetime.")] = None,
) -> None:
    """Issue another API key for a tenant (for rotation); prints it once."""
    import datetime as dt
    import uuid

    from storage.db import session_scope
    from storage.tenants import issue_key

    expires = (
        dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_in_days) if expires_in_days else None
    )
    with session_scope() as session:
        key = issue_key(session=session, tenant_id=uuid.UUID(tenant_id), expires_at=expires)
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
    """Run a Celery worker (threads pool) for the given tier queues."""
    from schemas.config import get_settings
    from tasks.celery_app import app as celery_app
    from tasks.celery_app import queue_name

    tiers = [t.strip() for t in tier.split(",") if t.strip()]
    conc = concurrency or get_settings().app.celery.worker_concurrency
    celery_app.worker_main(
        [
            "worker",
            "-P",
            "threads",
            "-c",
            str(conc),
            "-E",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
            "-Q",
            ",".join(queue_name(t) for t in tiers),
            "-n",
            f"{name or '-'.join(tiers)}@%h",
        ]
    )


@app.command()
def scheduler() -> None:
    """Run the dispatcher and reconciler."""
    from schemas.config import get_settings
    from scripts.logs import configure_logging
    from tasks.dispatch import run_forever

    configure_logging(get_settings())
    run_forever()


@app.command()
def killswitch(state: Annotated[str, typer.Argument(help="on, off or status")]) -> None:
    """Stop (on) or resume (off) all new provider calls, within a second."""
    import redis

    from schemas.config import get_settings
    from tasks.killswitch import RedisKillSwitch

    switch = RedisKillSwitch(redis.Redis.from_url(get_settings().redis_url))
    if state in ("on", "off"):
        switch.set(state == "on", reason="cli")
    typer.echo(json.dumps(switch.status(), default=str))


def main() -> None:
    """Entry point of the `docqueue` console script."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
