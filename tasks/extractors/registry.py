"""Resolve `name[@N]` (API) or a version id (worker) to an ExtractorSpec, one code path.

Built-in schemas are registered as extractors of the system, through the same verb tenants
use, so each job records the version, schema hash and prompt hash of what made its result.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from schemas.errors import ExtractorArchived, UnknownSchemaError
from schemas.extraction.prompts import PROMPT_VERSION, PromptTemplate
from schemas.extraction.registry import get_schema, json_schema, list_schemas
from schemas.extractors.build import builtin_spec, stored_spec
from schemas.extractors.canonical import sha256_of
from schemas.extractors.spec import SYSTEM_OWNER, ExtractorSpec
from storage import extractors as store
from storage.errors import NotFound
from storage.extractor_models import Extractor, ExtractorVersion
from storage.models import Job

__all__ = [
    "BUILTIN_NAMES",
    "content_hash",
    "ensure_builtins",
    "parse_ref",
    "resolve",
    "spec_for_job",
]

_REF = re.compile(r"([a-z][a-z0-9_]{0,63})(?:@([1-9][0-9]{0,8}))?")
BUILTIN_NAMES = frozenset(spec.name for spec in list_schemas())
_synced = False
# Versions are immutable, so a spec (with its models) is built once per version per process.
_SPECS: dict[uuid.UUID, ExtractorSpec] = {}
_MAX_SPECS = 1024


def parse_ref(ref: str) -> tuple[str, int | None]:
    """`claims_form` -> (name, None) for the latest; `claims_form@3` -> (name, 3)."""
    match = _REF.fullmatch(ref.strip())
    if match is None:
        raise UnknownSchemaError(ref, ())
    return match.group(1), int(match.group(2)) if match.group(2) else None


def content_hash(*, description: str, schema: dict[str, Any], instructions: str | None) -> str:
    """What makes two registrations the same version."""
    return sha256_of({"description": description, "schema": schema, "instructions": instructions})


def ensure_builtins(*, session: Session) -> None:
    """Register the compiled-in schemas as system extractors, once per process.

    One unlocked read finds them current (every start but the first after a change);
    only a changed one is registered, in the caller's session: a second connection per
    request could deadlock a full pool. A changed built-in schema or prompt becomes the
    next version, so old jobs keep pointing at theirs.
    """
    global _synced  # noqa: PLW0603 - a once-per-process flag
    if _synced:
        return
    stored = store.system_content_hashes(session=session)
    changed = [new for new in _builtin_versions() if stored.get(new.name) != new.content_hash]
    for new in changed:
        store.register_version(session=session, tenant_id=None, new=new)
    # Registered ones are only durable once the caller commits: the next call reads again.
    _synced = not changed


def _builtin_versions() -> list[store.NewVersion]:
    versions = []
    for builtin in list_schemas():
        spec = builtin_spec(builtin)
        versions.append(
            store.NewVersion(
                name=spec.name,
                description=spec.description,
                json_schema=json_schema(builtin),
                instructions=None,
                prompt_system=spec.prompt.system,
                prompt_user=spec.prompt.user,
                schema_hash=spec.schema_hash,
                prompt_hash=spec.prompt_hash,
                content_hash=sha256_of([spec.schema_hash, spec.prompt_hash]),
            )
        )
    return versions


def resolve(*, session: Session, tenant_id: uuid.UUID, ref: str) -> ExtractorSpec:
    """The spec a new job of this tenant runs: the latest version, or the pinned one.

    Unknown names (another tenant's included) raise UnknownSchemaError; archived ones
    ExtractorArchived.
    """
    name, number = parse_ref(ref)
    ensure_builtins(session=session)
    try:
        extractor = store.find_extractor(session=session, tenant_id=tenant_id, name=name)
        if extractor.archived_at is not None:
            raise ExtractorArchived(name)
        version = store.get_version(session=session, extractor=extractor, version=number)
    except NotFound:
        raise UnknownSchemaError(ref, _available(session, tenant_id)) from None
    return spec_of(extractor, version)


def _available(session: Session, tenant_id: uuid.UUID) -> list[str]:
    rows = store.list_extractors(session=session, tenant_id=tenant_id)
    return [row.name for row in rows if row.archived_at is None]


def spec_of(extractor: Extractor, version: ExtractorVersion) -> ExtractorSpec:
    """The spec of one stored version (built once per process)."""
    cached = _SPECS.get(version.id)
    if cached is not None:
        return cached
    spec = _build(extractor, version)
    if len(_SPECS) >= _MAX_SPECS:
        _SPECS.pop(next(iter(_SPECS)))  # oldest first: dicts keep insertion order
    _SPECS[version.id] = spec
    return spec


def _build(extractor: Extractor, version: ExtractorVersion) -> ExtractorSpec:
    if extractor.tenant_id is None and extractor.name in BUILTIN_NAMES:
        current = builtin_spec(
            get_schema(extractor.name), version=version.version, version_id=str(version.id)
        )
        if (current.schema_hash, current.prompt_hash) == (version.schema_hash, version.prompt_hash):
            return current  # the compiled model adds checks JSON Schema cannot say (totals)
    owner = SYSTEM_OWNER if extractor.tenant_id is None else str(extractor.tenant_id)
    return stored_spec(
        name=extractor.name,
        version=version.version,
        owner=owner,
        description=version.description,
        schema=version.json_schema,
        instructions=version.instructions,
        version_id=str(version.id),
        # The stored texts, so the prompt hash the job recorded is the prompt it runs
        # (an older built-in version too, once the code has moved on).
        prompt=PromptTemplate(
            version=PROMPT_VERSION, system=version.prompt_system, user=version.prompt_user
        ),
    )


Loader = Callable[[uuid.UUID], tuple[Extractor, ExtractorVersion] | None]


def spec_for_job(job: Job, load: Loader) -> ExtractorSpec:
    """The spec a claimed job runs: its recorded version; rows older than extractors by name.

    `load(version_id)` returns (Extractor, ExtractorVersion) or None.
    """
    version_id = job.extractor_version_id
    if version_id is None:
        return builtin_spec(get_schema(job.schema_name))
    cached = _SPECS.get(version_id)
    if cached is not None:
        return cached
    found = load(version_id)
    if found is None:
        raise UnknownSchemaError(f"{job.schema_name}@{job.schema_version}", ())
    return spec_of(*found)
