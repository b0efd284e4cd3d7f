"""What `kubectl kustomize` renders from base and the dev overlay validates and hangs together."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.unit.deploy.manifests import (
    BASE,
    DEV,
    KUBE,
    KUBERNETES_VERSION,
    Doc,
    closed,
    items,
    keda_schema,
    mapping,
)

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl (with kustomize) not installed")
TARGETS = {"base": (BASE, "docqueue:latest"), "dev": (DEV, "docqueue:dev")}


@cache
def _render(target: str) -> tuple[Doc, ...]:
    """`kubectl kustomize` of a target, offline: every resource it renders."""
    assert KUBECTL is not None
    out = subprocess.run(
        [KUBECTL, "kustomize", str(TARGETS[target][0])],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return tuple(mapping(d) for d in yaml.safe_load_all(out) if d is not None)


def _names(target: str, kind: str) -> set[str]:
    return {str(d["metadata"]["name"]) for d in _render(target) if d["kind"] == kind}


def _pods(target: str) -> list[Doc]:
    return [
        mapping(d["spec"]["template"]["spec"])
        for d in _render(target)
        if d["kind"] in ("Deployment", "Job")
    ]


@pytest.mark.parametrize("target", TARGETS)
def test_every_rendered_resource_validates(target: str) -> None:
    docs = _render(target)
    assert len(docs) >= 15
    for doc in docs:
        if str(doc["apiVersion"]).startswith("keda.sh/"):
            schema = mapping(closed(keda_schema(str(doc["kind"]))))
            jsonschema.Draft7Validator(schema).validate(doc)
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("target", TARGETS)
def test_every_rendered_container_runs_the_overlay_image(target: str) -> None:
    images = {
        str(c["image"])
        for pod in _pods(target)
        for c in items(pod["containers"]) + items(pod.get("initContainers"))
    }
    assert images == {TARGETS[target][1]}


@pytest.mark.parametrize("target", TARGETS)
def test_every_rendered_config_map_and_secret_reference_resolves(target: str) -> None:
    maps, secrets = _names(target, "ConfigMap"), _names(target, "Secret")
    assert [m for m in maps if m.startswith("docqueue-config-")]  # the content hash suffix
    seen = 0
    for pod in _pods(target):
        for volume in items(pod.get("volumes")):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in maps
                seen += 1
        for container in items(pod["containers"]):
            for source in items(container.get("envFrom")):
                ref = mapping(source.get("configMapRef") or source["secretRef"])
                assert ref["name"] in (maps if "configMapRef" in source else secrets)
                seen += 1
    assert seen >= 10


@pytest.mark.parametrize("target", TARGETS)
def test_every_rendered_scaler_and_its_secret_exist_together(target: str) -> None:
    deployments, secrets = _names(target, "Deployment"), _names(target, "Secret")
    auths = _names(target, "TriggerAuthentication")
    for doc in _render(target):
        if doc["kind"] == "ScaledObject":
            assert doc["spec"]["scaleTargetRef"]["name"] in deployments
            for trigger in items(doc["spec"]["triggers"]):
                assert trigger["authenticationRef"]["name"] in auths
        if doc["kind"] == "TriggerAuthentication":
            for ref in items(doc["spec"]["secretTargetRef"]):
                assert ref["name"] in secrets
    # dev runs without KEDA: nothing of KEDA's is rendered there
    assert (target == "dev") == (not auths and "docqueue-keda" not in secrets)


def test_the_dev_overlay_keeps_the_app_secret_whole() -> None:
    base = next(d for d in _render("base") if d["metadata"]["name"] == "docqueue")
    dev = next(d for d in _render("dev") if d["metadata"]["name"] == "docqueue")
    assert dev["kind"] == base["kind"] == "Secret"
    assert set(dev["stringData"]) == set(base["stringData"])
    assert dev["stringData"]["DATABASE_LISTEN_URL"] == dev["stringData"]["DATABASE_URL"]


def test_the_rendered_targets_are_the_ones_on_disk() -> None:
    assert {p.parent for p in KUBE.rglob("kustomization.yaml")} == {
        Path(t[0]) for t in TARGETS.values()
    }
