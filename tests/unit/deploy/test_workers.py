"""The Kubernetes workers: shutdown grace, liveness, metrics, KEDA scaling; disruption budgets."""

from __future__ import annotations

import re
import shlex
from functools import cache

import pytest

from schemas.config import TIERS, AppConfig, load_config
from tests.unit.deploy.manifests import (
    BASE,
    DEV,
    Resource,
    command,
    containers,
    env_values,
    flags,
    items,
    kustomization,
    mapping,
    named,
    of_kind,
    pod_labels,
    pod_spec,
    strings,
)


@cache
def _config() -> AppConfig:
    """The deployed TOML (read at test time: a broken file fails tests, not collection)."""
    return load_config(BASE / "docqueue.toml")


GRACE_MARGIN_S = 15  # the hand-back and the process exit after the grace period


def _celery_workers() -> list[Resource]:
    """The Deployments running a Celery worker: the tier workers and the webhook worker."""
    return [
        d
        for d in of_kind("Deployment", BASE)
        if command(containers(d)[0])[:2] in (["docqueue", "worker"], ["docqueue", "webhooks"])
    ]


def _tier_worker(tier: str) -> Resource:
    (found,) = [
        d for d in _celery_workers() if flags(command(containers(d)[0]))[1].get("--tier") == tier
    ]
    return found


def _scaled_object(tier: str) -> Resource:
    name = _tier_worker(tier).name
    (found,) = [
        s for s in of_kind("ScaledObject", BASE) if s.spec["scaleTargetRef"]["name"] == name
    ]
    return found


def _trigger(tier: str) -> dict[str, object]:
    (trigger,) = items(_scaled_object(tier).spec["triggers"])
    return trigger


def _query(tier: str) -> str:
    return " ".join(str(mapping(_trigger(tier)["metadata"])["query"]).split())


def test_every_celery_worker_deployment_is_found() -> None:
    assert len(_celery_workers()) == len(TIERS) + 1


@pytest.mark.parametrize("worker", _celery_workers(), ids=str)
def test_every_worker_outlives_its_shutdown_grace(worker: Resource) -> None:
    grace = _config().celery.shutdown_grace_s
    assert pod_spec(worker)["terminationGracePeriodSeconds"] >= grace + GRACE_MARGIN_S


@pytest.mark.parametrize("worker", _celery_workers(), ids=str)
def test_every_worker_is_live_only_while_its_own_celery_node_answers(worker: Resource) -> None:
    (container,) = containers(worker)
    argv = command(container)
    # `docqueue worker --name X` names its node X@%h; `docqueue webhooks` names it webhooks@%h
    node = flags(argv)[1].get("--name", "webhooks") if argv[1] == "worker" else "webhooks"
    probe = mapping(container["livenessProbe"])
    shell = strings(mapping(probe["exec"])["command"])
    assert shell[:2] == ["sh", "-c"]
    words = shlex.split(shell[2])
    assert words[words.index("celery") :][:5] == [
        "celery",
        "-A",
        "tasks.celery.app:app",
        "inspect",
        "ping",
    ]
    # the pod's own node: the shell expands $HOSTNAME, the pod name Celery's %h reads
    assert words[words.index("-d") + 1] == f"{node}@$HOSTNAME"
    assert probe["timeoutSeconds"] > int(words[words.index("-t") + 1])


@pytest.mark.parametrize("worker", _celery_workers(), ids=str)
def test_every_worker_serves_metrics_on_the_port_it_declares(worker: Resource) -> None:
    (container,) = containers(worker)
    port = int(env_values(container)["METRICS_PORT"])
    assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in items(
        container["ports"]
    )


@pytest.mark.parametrize("tier", TIERS)
def test_each_worker_tier_scales_on_its_own_postgres_backlog(tier: str) -> None:
    trigger = _trigger(tier)
    assert trigger["type"] == "postgresql"
    query = _query(tier)
    # both subqueries read this tier's jobs, and no other tier is named
    assert re.findall(r"j\.tier = '(\w+)'", query) == [tier, tier]
    assert not [t for t in TIERS if t != tier and f"'{t}'" in query]
    # waiting: queued, not yet dispatched, not parked in the batch lane (storage/picks.py)
    waiting = "j.status = 'queued' AND j.dispatched_at IS NULL AND j.parked_at IS NULL"
    # in flight: the predicate of ix_jobs_in_flight (storage/models.py)
    in_flight = "j.status = 'running' OR (j.status = 'queued' AND j.dispatched_at IS NOT NULL)"
    assert waiting in query
    assert in_flight in query
    assert "LEAST(t.concurrency" in query  # a tenant's cap holds the rest back


@pytest.mark.parametrize("tier", TIERS)
def test_a_worker_replica_is_asked_for_as_many_jobs_as_it_has_threads(tier: str) -> None:
    target = mapping(_trigger(tier)["metadata"])["targetQueryValue"]
    assert int(target) == _config().celery.worker_concurrency


def test_every_scaled_object_targets_an_existing_deployment() -> None:
    objects = of_kind("ScaledObject", BASE)
    assert len(objects) == len(TIERS)
    for scaled in objects:
        ref = mapping(scaled.spec["scaleTargetRef"])
        assert ref.get("kind", "Deployment") == "Deployment"
        named("Deployment", str(ref["name"]), BASE)
        assert 0 <= scaled.spec["minReplicaCount"] <= 1
        assert scaled.spec["maxReplicaCount"] > scaled.spec["minReplicaCount"]


@pytest.mark.parametrize("tier", TIERS)
def test_each_trigger_reads_its_connection_from_a_secret_key_that_exists(tier: str) -> None:
    auth = named("TriggerAuthentication", str(mapping(_trigger(tier)["authenticationRef"])["name"]))
    (ref,) = items(auth.spec["secretTargetRef"])
    assert ref["parameter"] == "connection"
    secret = mapping(named("Secret", str(ref["name"]), BASE).doc["stringData"])
    # KEDA's pgx wants a libpq URL, not SQLAlchemy's postgresql+psycopg:// form
    assert re.match(r"postgres(ql)?://", str(secret[ref["key"]]))


def _disrupted(budget: Resource) -> list[str]:
    selector = mapping(mapping(budget.spec["selector"])["matchLabels"])
    return [
        d.name for d in of_kind("Deployment", BASE) if selector.items() <= pod_labels(d).items()
    ]


def test_pod_disruption_budgets_cover_the_api_each_worker_tier_and_the_scheduler() -> None:
    covered = {name for b in of_kind("PodDisruptionBudget", BASE) for name in _disrupted(b)}
    wanted = {"docqueue-api", "docqueue-scheduler"} | {_tier_worker(t).name for t in TIERS}
    assert covered >= wanted
    for budget in of_kind("PodDisruptionBudget", BASE):
        assert len(_disrupted(budget)) == 1, budget  # a selector matching one Deployment


def test_two_schedulers_run_for_failover() -> None:
    assert named("Deployment", "docqueue-scheduler", BASE).spec["replicas"] == 2


@pytest.mark.parametrize("service", of_kind("Service"), ids=str)
def test_every_service_selects_a_deployment_on_a_port_it_declares(service: Resource) -> None:
    selector = mapping(service.spec["selector"])
    (target,) = [d for d in of_kind("Deployment") if selector.items() <= pod_labels(d).items()]
    (container,) = containers(target)
    names = {p["name"] for p in items(container["ports"])}
    assert {p["targetPort"] for p in items(service.spec["ports"])} <= names


def test_the_dev_overlay_points_the_sdks_at_its_simulator() -> None:
    (env,) = items(kustomization(DEV)["configMapGenerator"])
    assert env["name"] == "docqueue-env"
    assert env["behavior"] == "merge"
    literals = dict(lit.split("=", 1) for lit in strings(env["literals"]))
    service = named("Service", "docqueue-simulator", DEV)
    (port,) = items(service.spec["ports"])
    root = f"http://{service.name}:{port['port']}"
    assert literals["OPENAI_BASE_URL"] == f"{root}/v1"
    assert literals["ANTHROPIC_BASE_URL"] == root


def test_the_dev_overlay_runs_one_replica_of_each_deployment_on_a_dev_image() -> None:
    kust = kustomization(DEV)
    counts = {str(r["name"]): r["count"] for r in items(kust["replicas"])}
    assert counts == {d.name: 1 for d in of_kind("Deployment", BASE)}
    assert [i["newTag"] for i in items(kust["images"])] == ["dev"]


# The loop's longest idle wait, which the probe's limit must exceed with room to spare.
_IDLE_S = {
    "docqueue-scheduler": lambda c: c.dispatch.poll_interval_s,
    "docqueue-batcher": lambda c: c.batch_lane.poll_s,
}


@pytest.mark.parametrize("name", sorted(_IDLE_S))
def test_the_scheduler_and_batcher_are_live_only_while_their_heartbeat_is_fresh(name: str) -> None:
    (container,) = containers(named("Deployment", name, BASE))
    argv = strings(mapping(mapping(container["livenessProbe"])["exec"])["command"])
    assert argv[:3] == ["python", "-m", "tasks.observability.heartbeat"]
    path, limit = argv[3], float(argv[4])
    assert env_values(container)["HEARTBEAT_FILE"] == path  # the file the loop touches
    assert limit >= 4 * _IDLE_S[name](_config())
