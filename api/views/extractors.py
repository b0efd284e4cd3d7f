"""Map extractor rows to API models."""

from __future__ import annotations

from schemas.extractor_api import ExtractorOut, ExtractorVersionOut, VersionBrief
from storage.extractor_models import Extractor, ExtractorVersion


def extractor_out(row: Extractor, versions: list[ExtractorVersion] | None = None) -> ExtractorOut:
    """The public view of an extractor (with its versions when given)."""
    return ExtractorOut(
        name=row.name,
        owner="system" if row.tenant_id is None else "tenant",
        description=row.description,
        latest_version=row.latest_version,
        archived=row.archived_at is not None,
        created_at=row.created_at,
        review_threshold=row.review_threshold,
        verify=row.verify,  # stored only through ExtractorSettings
        versions=None
        if versions is None
        else [
            VersionBrief(
                version=v.version,
                schema_hash=v.schema_hash,
                prompt_hash=v.prompt_hash,
                created_at=v.created_at,
            )
            for v in versions
        ],
    )


def version_out(row: Extractor, version: ExtractorVersion) -> ExtractorVersionOut:
    """The public view of one version."""
    return ExtractorVersionOut(
        name=row.name,
        version=version.version,
        owner="system" if row.tenant_id is None else "tenant",
        description=version.description,
        instructions=version.instructions,
        json_schema=version.json_schema,
        schema_hash=version.schema_hash,
        prompt_hash=version.prompt_hash,
        created_at=version.created_at,
    )
