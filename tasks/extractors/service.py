"""Register a tenant's extractor version: the door check, the hashes, the stored row."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from schemas.errors import SchemaInvalid
from schemas.extractor_api import ExtractorCreate
from schemas.extractors.build import stored_spec
from schemas.extractors.check import check_schema
from schemas.extractors.limits import ExtractorLimits
from storage import extractors as store
from storage.extractor_models import Extractor, ExtractorVersion
from tasks.extractors.registry import BUILTIN_NAMES, content_hash

__all__ = ["register"]


def register(
    *, session: Session, tenant_id: uuid.UUID, body: ExtractorCreate, limits: ExtractorLimits
) -> tuple[Extractor, ExtractorVersion, bool]:
    """Check the schema at the door and store it as the same or the next version.

    Raises SchemaInvalid (with its JSON Pointer) for any schema outside the accepted subset,
    so a schema error never surfaces later as a failed job.
    """
    if body.name in BUILTIN_NAMES:
        raise SchemaInvalid("/name", f"{body.name!r} is a built-in extractor; choose another name")
    check_schema(body.json_schema, limits=limits)
    # Building the spec proves the model builds and gives the hashes jobs will record.
    spec = stored_spec(
        name=body.name,
        version=0,
        owner=str(tenant_id),
        description=body.description,
        schema=body.json_schema,
        instructions=body.instructions,
    )
    new = store.NewVersion(
        name=body.name,
        description=body.description,
        json_schema=body.json_schema,
        instructions=body.instructions,
        prompt_system=spec.prompt.system,
        prompt_user=spec.prompt.user,
        schema_hash=spec.schema_hash,
        prompt_hash=spec.prompt_hash,
        content_hash=content_hash(
            description=body.description, schema=body.json_schema, instructions=body.instructions
        ),
    )
    return store.register_version(session=session, tenant_id=tenant_id, new=new)
