"""Redis clients from REDIS_URL: one Redis, or a master that Redis Sentinel names.

The Sentinel form is `redis+sentinel://[:password@]host:port[,host:port...]/master[/db]`:
the sentinels' addresses, the monitored master's name, and the database number. Every
Redis user (flow-control scripts, liveness, kill switch, rate limits) goes through
`redis_client`; Celery gets kombu's own form from `celery_broker`.

Replication is asynchronous, so a failover can lose the last writes. For leases that is
the unsafe direction (a lost grant would let the cap be exceeded), so in Sentinel mode a
grant is acknowledged by a replica (`WAIT`) before the caller uses it; lost releases and
renewals only err the safe way (a lease lives until its TTL, a slot stays busy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import structlog
from redis.commands.core import Script
from redis.sentinel import Sentinel

SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379
REPLICA_ACK_TIMEOUT_MS = 500  # a grant waits this long for a replica's acknowledgement

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SentinelTarget:
    """A Sentinel-form REDIS_URL, parsed."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    password: str | None = None


def parse_sentinel(url: str) -> SentinelTarget | None:
    """The Sentinel target of a `redis+sentinel://` URL; None for any other URL."""
    parts = urlsplit(url)
    if parts.scheme != SCHEME:
        return None
    auth, _, hosts = parts.netloc.rpartition("@")
    password = unquote(auth.partition(":")[2]) if auth else None
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
        sentinels.append((name or host, int(port) if port else DEFAULT_SENTINEL_PORT))
    path = [p for p in parts.path.split("/") if p]
    if not path or not sentinels:
        raise ValueError(f"{SCHEME} URL needs sentinels and a master name: {SCHEME}://h:p/name/db")
    return SentinelTarget(
        sentinels=tuple(sentinels),
        master=path[0],
        db=int(path[1]) if len(path) > 1 else 0,
        password=password or None,
    )


def redis_client(url: str, **options: Any) -> redis.Redis:
    """A client for REDIS_URL; in Sentinel form, one that follows the current master."""
    target = parse_sentinel(url)
    if target is None:
        return redis.Redis.from_url(url, **options)
    timeouts = {k: v for k, v in options.items() if k.startswith("socket_")}
    # redis.sentinel ships without annotations on these two
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels),
        sentinel_kwargs={"password": target.password, **timeouts},
        password=target.password,
    )
    client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        target.master, db=target.db, **options
    )
    return client


def replicas_to_ack(url: str) -> int:
    """How many replicas must acknowledge a lease grant: one under Sentinel, else none."""
    return 1 if parse_sentinel(url) is not None else 0


def run_replicated(
    script: Script, client: redis.Redis, *, keys: list[str], args: list[Any], replicas: int
) -> Any:
    """Run a lease-granting script; with `replicas`, return once that many hold its writes."""
    if not replicas:
        return script(keys=keys, args=args)
    # Same connection, same round trip: WAIT covers the script's writes only there.
    pipe = client.pipeline(transaction=False)
    script(keys=keys, args=args, client=pipe)
    pipe.wait(replicas, REPLICA_ACK_TIMEOUT_MS)
    result, acked = pipe.execute()
    if int(acked) < replicas:
        log.warning("lease_not_replicated", replicas=replicas, acked=int(acked))
    return result


def celery_broker(url: str) -> tuple[str, dict[str, Any]]:
    """Kombu's broker URL and transport options for REDIS_URL (its own Sentinel form)."""
    target = parse_sentinel(url)
    if target is None:
        return url, {}
    auth = f":{target.password}@" if target.password else ""
    broker = ";".join(f"sentinel://{auth}{h}:{p}/{target.db}" for h, p in target.sentinels)
    options: dict[str, Any] = {"master_name": target.master}
    if target.password:
        options["sentinel_kwargs"] = {"password": target.password}
    return broker, options
