"""Typed access to deploy/kubernetes: its YAML documents, kustomizations and the Procfile."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

import yaml

from tests.support.paths import REPO

KUBE = REPO / "deploy" / "kubernetes"
BASE = KUBE / "base"
DEV = KUBE / "overlays" / "dev"
SCHEMAS = Path(__file__).with_name("schemas")
KUBERNETES_VERSION = "1.30"  # the oldest release the manifests promise to fit
IMAGE = "docqueue"  # every container's image; kustomize `images:` sets the tag
Doc = dict[str, Any]

_SHELL_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")  # Procfile: ${PORT:-8000}
_KUBE_VAR = re.compile(r"\$\((\w+)\)")  # Kubernetes: $(PORT), from the container's env


def mapping(value: object) -> Doc:
    """`value` as a YAML mapping (TypeError otherwise)."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return cast(Doc, value)


def items(value: object) -> list[Doc]:
    """`value` as a list of YAML mappings; an absent (None) list is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return [mapping(v) for v in value]


def strings(value: object) -> list[str]:
    """`value` as a list of strings; an absent (None) list is empty."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of strings, got {value!r}")
    return cast(list[str], value)


def load_documents(path: Path) -> list[Doc]:
    """Every non-empty YAML document of a file."""
    return [mapping(d) for d in yaml.safe_load_all(path.read_text()) if d is not None]


def yaml_files() -> list[Path]:
    """Every YAML file under deploy/kubernetes."""
    return sorted(KUBE.rglob("*.yaml"))


def kustomizations() -> list[Path]:
    """Every kustomization.yaml under deploy/kubernetes."""
    return [p for p in yaml_files() if p.name == "kustomization.yaml"]


def kustomization(directory: Path) -> Doc:
    """The kustomization of a directory."""
    return load_documents(directory / "kustomization.yaml")[0]


def patch_files() -> set[Path]:
    """The files the kustomizations use as patches (partial resources, not manifests)."""
    found: set[Path] = set()
    for path in kustomizations():
        for patch in items(mapping(load_documents(path)[0]).get("patches")):
            if "path" in patch:
                found.add((path.parent / patch["path"]).resolve())
    return found


def manifest_files() -> list[Path]:
    """The YAML files holding whole Kubernetes resources."""
    patches = patch_files()
    return [
        p for p in yaml_files() if p.name != "kustomization.yaml" and p.resolve() not in patches
    ]


@dataclass(frozen=True)
class Resource:
    """One Kubernetes resource and the file it came from."""

    path: Path
    doc: Doc

    @property
    def kind(self) -> str:
        """The resource's kind."""
        return str(self.doc["kind"])

    @property
    def name(self) -> str:
        """The resource's metadata.name."""
        return str(mapping(self.doc["metadata"])["name"])

    @property
    def spec(self) -> Doc:
        """The resource's spec."""
        return mapping(self.doc["spec"])

    def __str__(self) -> str:
        return f"{self.path.relative_to(KUBE)}:{self.kind}/{self.name}"


@cache
def _resources_of(directory: Path) -> tuple[Resource, ...]:
    return tuple(
        Resource(path, doc)
        for path in manifest_files()
        if path.is_relative_to(directory)
        for doc in load_documents(path)
    )


def resources(directory: Path = KUBE) -> list[Resource]:
    """The resources of the manifests under `directory` (all of deploy/kubernetes)."""
    return list(_resources_of(directory))


def of_kind(kind: str, directory: Path = KUBE) -> list[Resource]:
    """The resources of one kind."""
    return [r for r in resources(directory) if r.kind == kind]


def named(kind: str, name: str, directory: Path = KUBE) -> Resource:
    """The one resource of this kind and name (KeyError when there is none)."""
    for r in of_kind(kind, directory):
        if r.name == name:
            return r
    raise KeyError(f"no {kind} named {name} under {directory}")


def pod_spec(resource: Resource) -> Doc:
    """The pod template's spec of a Deployment or Job."""
    return mapping(mapping(resource.spec["template"])["spec"])


def pod_labels(resource: Resource) -> dict[str, str]:
    """The pod template's labels of a Deployment or Job."""
    metadata = mapping(mapping(resource.spec["template"])["metadata"])
    return cast(dict[str, str], mapping(metadata["labels"]))


def containers(resource: Resource) -> list[Doc]:
    """The (init and app) containers of a Deployment's or Job's pods."""
    spec = pod_spec(resource)
    return items(spec.get("initContainers")) + items(spec["containers"])


def workloads(directory: Path = KUBE) -> list[Resource]:
    """The Deployments and Jobs."""
    return [r for r in resources(directory) if r.kind in ("Deployment", "Job")]


def env_values(container: Doc) -> dict[str, str]:
    """The container's literal env values (those without valueFrom)."""
    return {str(e["name"]): str(e["value"]) for e in items(container.get("env")) if "value" in e}


def command(container: Doc) -> list[str]:
    """The container's command and args, with Kubernetes' $(VAR) taken from its env."""
    env = env_values(container)
    tokens = strings(container.get("command")) + strings(container.get("args"))
    return [_KUBE_VAR.sub(lambda m: env[m.group(1)], t) for t in tokens]


def procfile() -> dict[str, str]:
    """The Procfile's processes: name to command line."""
    lines = (REPO / "Procfile").read_text().splitlines()
    pairs = [line.split(":", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name.strip(): cmd.strip() for name, cmd in pairs}


def procfile_command(process: str, env: dict[str, str]) -> list[str]:
    """A Procfile line's tokens, each ${VAR:-default} taken from `env` or its default."""
    line = _SHELL_DEFAULT.sub(lambda m: env.get(m.group(1), m.group(2)), procfile()[process])
    return shlex.split(line)


def flags(tokens: list[str]) -> tuple[list[str], dict[str, str]]:
    """Split a command into its leading words and its --flag value pairs (value '' if none)."""
    words: list[str] = []
    found: dict[str, str] = {}
    rest = list(tokens)
    while rest and not rest[0].startswith("--"):
        words.append(rest.pop(0))
    while rest:
        flag = rest.pop(0)
        found[flag] = rest.pop(0) if rest and not rest[0].startswith("--") else ""
    return words, found


def keda_schema(kind: str) -> Doc:
    """The vendored openAPIV3Schema of a keda.sh/v1alpha1 kind (tests/unit/deploy/schemas)."""
    path = SCHEMAS / f"keda-{kind.lower()}-v1alpha1.json"
    return mapping(json.loads(path.read_text()))


def closed(schema: object) -> object:
    """The schema with unknown fields refused wherever it lists properties (kubectl's Strict)."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out
