"""deploy/kubernetes validates offline and runs what the Procfile runs, with docqueue's settings."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate import utils

from schemas.config import DEFAULT_CONFIG, Settings, load_config
from tests.unit.deploy.manifests import (
    BASE,
    DEV,
    IMAGE,
    KUBE,
    KUBERNETES_VERSION,
    Resource,
    closed,
    command,
    containers,
    env_values,
    flags,
    items,
    keda_schema,
    kustomization,
    kustomizations,
    load_documents,
    manifest_files,
    mapping,
    named,
    of_kind,
    patch_files,
    pod_spec,
    procfile,
    procfile_command,
    resources,
    strings,
    workloads,
    yaml_files,
)

# Which Deployment runs each Procfile process (the simulator only in the dev overlay).
DEPLOYMENTS = {
    "web": "docqueue-api",
    "worker_low": "docqueue-worker-low",
    "worker_medium": "docqueue-worker-medium",
    "worker_high": "docqueue-worker-high",
    "webhooks": "docqueue-webhooks",
    "scheduler": "docqueue-scheduler",
    "batcher": "docqueue-batcher",
    "flower": "docqueue-flower",
    "simulator": "docqueue-simulator",
}
# Variables the manifests set that are not Settings fields: the Procfile's own, and the one
# the kubelet sets (the worker probes read it).
EXTRA_ENV = {"PORT", "FLOWER_ADDRESS", "HOSTNAME"}
SETTINGS_ENV = {name.upper() for name in Settings.model_fields}
APP_SECRET_KEYS = {
    "DATABASE_URL",
    "DATABASE_LISTEN_URL",
    "REDIS_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "FLOWER_BASIC_AUTH",
    "METRICS_TOKEN",
}


def _kube_resources() -> list[Resource]:
    return [r for r in resources() if not str(r.doc["apiVersion"]).startswith("keda.sh/")]


def _keda_resources() -> list[Resource]:
    return [r for r in resources() if str(r.doc["apiVersion"]).startswith("keda.sh/")]


def _deployment(process: str) -> Resource:
    return named("Deployment", DEPLOYMENTS[process], DEV if process == "simulator" else BASE)


def test_the_manifests_hold_every_kind_they_promise() -> None:
    kinds = {r.kind for r in resources()}
    assert kinds >= {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert kinds >= {"Job", "Secret", "ScaledObject", "TriggerAuthentication"}
    assert len(manifest_files()) >= 10


def test_kubernetes_validate_ships_the_schemas_of_the_version_we_target() -> None:
    shipped = {utils.major_minor(v) for v in utils.all_versions()}
    assert KUBERNETES_VERSION in shipped


@pytest.mark.parametrize("resource", _kube_resources(), ids=str)
def test_every_manifest_is_a_valid_kubernetes_resource(resource: Resource) -> None:
    # strict: the -strict schemas refuse unknown fields, as kubectl's default validation does
    kubernetes_validate.validate(resource.doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("resource", _keda_resources(), ids=str)
def test_every_keda_resource_fits_its_vendored_crd_schema(resource: Resource) -> None:
    schema = closed(keda_schema(resource.kind))
    jsonschema.Draft7Validator(mapping(schema)).validate(resource.doc)


def _referenced(directory: Path) -> list[Path]:
    kust = kustomization(directory)
    names = strings(kust.get("resources")) + [
        str(p["path"]) for p in items(kust.get("patches")) if "path" in p
    ]
    for generator in items(kust.get("configMapGenerator")) + items(kust.get("secretGenerator")):
        names += [f.split("=", 1)[-1] for f in strings(generator.get("files"))]
    return [(directory / name).resolve() for name in names]


@pytest.mark.parametrize("path", kustomizations(), ids=lambda p: str(p.relative_to(KUBE)))
def test_every_kustomization_names_only_files_that_exist(path: Path) -> None:
    kust = load_documents(path)[0]
    assert kust["kind"] == "Kustomization"
    missing = [p for p in _referenced(path.parent) if not p.exists()]
    assert missing == []


def test_every_yaml_file_is_used_by_a_kustomization() -> None:
    used = {p for path in kustomizations() for p in _referenced(path.parent)}
    stray = [p for p in yaml_files() if p.name != "kustomization.yaml" and p.resolve() not in used]
    assert stray == []


def test_every_patch_targets_a_resource_of_the_base() -> None:
    base = {(r.kind, r.name) for r in resources(BASE)}
    patched = [
        (str(d["kind"]), str(d["metadata"]["name"]))
        for p in patch_files()
        for d in load_documents(p)
    ]
    assert patched
    assert [p for p in patched if p not in base] == []


def test_the_deployed_toml_parses_and_matches_the_default_config() -> None:
    generators = items(kustomization(BASE)["configMapGenerator"])
    files = [f for g in generators for f in strings(g.get("files"))]
    assert files == ["docqueue.toml"]
    assert load_config(BASE / "docqueue.toml") == load_config(DEFAULT_CONFIG)


def test_every_container_runs_the_one_docqueue_image() -> None:
    images = {str(c["image"]) for w in workloads() for c in containers(w)}
    assert images == {IMAGE}
    for path in kustomizations():
        assert [i["name"] for i in items(load_documents(path)[0].get("images"))] == [IMAGE]


@pytest.mark.parametrize("process", sorted(procfile()))
def test_every_procfile_process_has_a_deployment_running_its_command(process: str) -> None:
    (container,) = containers(_deployment(process))
    ran = flags(command(container))
    expected = flags(procfile_command(process, env_values(container)))
    if process == "simulator":  # bound to the pod's address, as docker-compose.yml does
        expected[1]["--host"] = "0.0.0.0"  # noqa: S104
    assert ran == expected


def test_the_deployment_table_names_every_procfile_process() -> None:
    assert set(DEPLOYMENTS) == set(procfile())


def _env_names() -> set[str]:
    names = {
        str(e["name"]) for w in workloads() for c in containers(w) for e in items(c.get("env"))
    }
    for path in kustomizations():
        for gen in items(load_documents(path)[0].get("configMapGenerator")):
            names |= {lit.split("=", 1)[0] for lit in strings(gen.get("literals"))}
    return names | set(mapping(named("Secret", "docqueue", BASE).doc["stringData"]))


def test_every_env_var_in_the_manifests_is_a_setting_or_a_known_extra() -> None:
    names = _env_names()
    assert {"DOCQUEUE_CONFIG", "METRICS_PORT", "OPENAI_BASE_URL"} <= names
    assert names - SETTINGS_ENV - EXTRA_ENV == set()


def test_the_app_secret_carries_every_connection_setting_and_key() -> None:
    for secret in of_kind("Secret"):
        if secret.name == "docqueue":
            assert set(mapping(secret.doc["stringData"])) == APP_SECRET_KEYS, secret


def test_every_container_reads_only_config_maps_and_secrets_that_exist() -> None:
    secrets = {r.name for r in of_kind("Secret", BASE)}
    maps = {str(g["name"]) for g in items(kustomization(BASE)["configMapGenerator"])}
    for workload in workloads(BASE):
        for container in containers(workload):
            for source in items(container.get("envFrom")):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, workload
                else:
                    assert source["configMapRef"]["name"] in maps, workload
            for env in items(container.get("env")):
                ref = mapping(env.get("valueFrom", {})).get("secretKeyRef")
                if ref is not None:
                    keys = mapping(named("Secret", ref["name"], BASE).doc["stringData"])
                    assert ref["key"] in keys, workload


def test_every_pod_mounts_the_toml_where_docqueue_config_names_it() -> None:
    generators = items(kustomization(BASE)["configMapGenerator"])
    (env,) = [g for g in generators if g["name"] == "docqueue-env"]
    literals = dict(lit.split("=", 1) for lit in strings(env["literals"]))
    where = Path(literals["DOCQUEUE_CONFIG"])
    for workload in workloads(BASE):
        volumes = {str(v["name"]): v for v in items(pod_spec(workload).get("volumes"))}
        for container in containers(workload):
            mounts = [
                m
                for m in items(container.get("volumeMounts"))
                if mapping(volumes[m["name"]].get("configMap", {})).get("name") == "docqueue-config"
            ]
            assert [Path(m["mountPath"]) for m in mounts] == [where.parent], workload
    assert where.name == "docqueue.toml"


@pytest.mark.parametrize(("process", "port"), [("web", 8000), ("flower", 5555)])
def test_container_ports_agree_with_the_procfile(process: str, port: int) -> None:
    (container,) = containers(_deployment(process))
    procfile_port = flags(procfile_command(process, env_values(container)))[1]["--port"]
    assert int(procfile_port) == port
    assert [p["containerPort"] for p in items(container["ports"])] == [port]


def _probes(container: dict[str, object]) -> list[dict[str, object]]:
    keys = ("startupProbe", "readinessProbe", "livenessProbe")
    return [mapping(container[k]) for k in keys if k in container]


def test_every_http_probe_names_a_port_its_container_declares() -> None:
    checked = 0
    for workload in workloads():
        for container in containers(workload):
            ports = {p.get("name") for p in items(container.get("ports"))}
            ports |= {p["containerPort"] for p in items(container.get("ports"))}
            for probe in _probes(container):
                if "httpGet" in probe:
                    assert mapping(probe["httpGet"])["port"] in ports, workload
                    checked += 1
    assert checked >= 5


def test_the_api_is_ready_on_slash_ready_and_alive_on_slash_health() -> None:
    (api,) = containers(_deployment("web"))
    assert mapping(mapping(api["readinessProbe"])["httpGet"])["path"] == "/ready"
    assert mapping(mapping(api["livenessProbe"])["httpGet"])["path"] == "/health"
