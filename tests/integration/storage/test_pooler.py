"""docqueue's engines through a real PgBouncer in transaction mode (Debian's pgbouncer)."""

from __future__ import annotations

import uuid

import psycopg
from sqlalchemy import text

from schemas.config import PoolConfig, Settings
from scripts.devstack.pgbouncer import PgBouncerServer
from scripts.devstack.postgres import PostgresServer
from storage import pooler
from storage.db import make_engine
from storage.migrate import upgrade

DIRECT = "postgresql+psycopg://docqueue@127.0.0.1:5432/dq"
BOUNCER = "postgresql+psycopg://docqueue@127.0.0.1:6432/dq"


def _fresh_database(pg_server: PostgresServer) -> str:
    name = f"dq_pooler_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pooler.libpq_url(pg_server.url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def test_a_listen_url_apart_marks_the_database_url_as_pooled() -> None:
    settings = Settings(database_url=BOUNCER, database_listen_url=DIRECT)
    assert pooler.behind_pooler(BOUNCER, settings)
    assert not pooler.behind_pooler(DIRECT, settings)
    assert pooler.session_url(settings) == "postgresql://docqueue@127.0.0.1:5432/dq"


def test_without_a_listen_url_only_the_pool_mode_says_pooled() -> None:
    assert not pooler.behind_pooler(DIRECT, Settings(database_url=DIRECT))
    assert pooler.session_url(Settings(database_url=DIRECT)) == pooler.libpq_url(DIRECT)
    told = Settings(database_url=BOUNCER, database_pool_mode="transaction")
    assert pooler.behind_pooler(BOUNCER, told)
    assert pooler.session_url(told) is None  # no session to LISTEN on: the scheduler polls


def test_migrations_and_statements_run_through_the_pooler_without_prepared_statements(
    pg_server: PostgresServer, pgbouncer: PgBouncerServer
) -> None:
    url = pgbouncer.database_url(_fresh_database(pg_server))
    upgrade(url=url)  # the refused startup options are dropped at connect, then it runs
    engine = make_engine(url, PoolConfig(pool_size=2))
    try:
        with engine.connect() as conn:
            # psycopg would prepare a statement run this often; through a transaction
            # pooler the next run may land on a server connection that lacks it.
            for _ in range(12):
                with conn.begin():
                    assert conn.execute(text("SELECT count(*) FROM tenants")).scalar() == 0
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            timeout = conn.execute(text("SHOW statement_timeout")).scalar()
    finally:
        engine.dispose()
    assert version is not None
    assert timeout == "30s"  # the pooler's connect_query, since the options were refused


def test_prepared_statements_are_off_on_every_engine(pg_url: str) -> None:
    engine = make_engine(pg_url, PoolConfig(pool_size=1))
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, psycopg.Connection)
            assert raw.prepare_threshold is None
            timeout = conn.execute(text("SHOW statement_timeout")).scalar()
    finally:
        engine.dispose()
    assert timeout == "30s"  # direct: the startup options still carry it
