"""REDIS_URL forms: one Redis, or Sentinel (tasks/flow/connection.py)."""

from __future__ import annotations

import pytest
import redis

from tasks.flow.connection import (
    SentinelTarget,
    celery_broker,
    parse_sentinel,
    redis_client,
    replicas_to_ack,
)

URL = "redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380,sentinel-c/dqmaster/4"


def test_a_sentinel_url_names_its_sentinels_master_database_and_password() -> None:
    assert parse_sentinel(URL) == SentinelTarget(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26380), ("sentinel-c", 26379)),
        master="dqmaster",
        db=4,
        password="s3cret",  # noqa: S106 - a test URL's password
    )


def test_a_plain_url_is_no_sentinel_and_waits_for_no_replica() -> None:
    assert parse_sentinel("redis://127.0.0.1:6379/0") is None
    assert replicas_to_ack("redis://127.0.0.1:6379/0") == 0
    assert replicas_to_ack(URL) == 1


def test_a_sentinel_url_without_a_master_name_is_refused() -> None:
    with pytest.raises(ValueError, match="master name"):
        parse_sentinel("redis+sentinel://10.0.0.1:26379")


def test_celery_gets_kombus_sentinel_form_and_the_master_name() -> None:
    broker, options = celery_broker(URL)
    assert broker == (
        "sentinel://:s3cret@10.0.0.1:26379/4;sentinel://:s3cret@10.0.0.2:26380/4;"
        "sentinel://:s3cret@sentinel-c:26379/4"
    )
    assert options == {"master_name": "dqmaster", "sentinel_kwargs": {"password": "s3cret"}}
    assert celery_broker("redis://h:1/2") == ("redis://h:1/2", {})


def test_a_sentinel_client_follows_the_master_pool_not_a_fixed_host() -> None:
    client = redis_client(URL, socket_timeout=1)
    pool = client.connection_pool
    assert type(pool).__name__ == "SentinelConnectionPool"
    assert isinstance(client, redis.Redis)
    assert pool.connection_kwargs["db"] == 4
