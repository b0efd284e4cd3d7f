"""Extractor verbs: register a version (same content: the same version), list, read, archive."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from storage.errors import InvalidState, NotFound
from storage.extractor_models import Extractor, ExtractorVersion


@dataclass(frozen=True)
class NewVersion:
    """The content of a version to register; the hashes are computed by the caller."""

    name: str
    description: str
    json_schema: dict[str, Any]
    instructions: str | None
    prompt_system: str
    prompt_user: str
    schema_hash: str
    prompt_hash: str
    content_hash: str


def register_version(
    *, session: Session, tenant_id: uuid.UUID | None, new: NewVersion
) -> tuple[Extractor, ExtractorVersion, bool]:
    """The latest version if its content is the same (created False), else version N+1.

    The extractor row is locked while its versions are compared, so two identical
    concurrent registrations make one version. Registering un-archives an extractor.
    """
    session.execute(
        insert(Extractor)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            name=new.name,
            description=new.description,
            latest_version=0,
        )
        .on_conflict_do_nothing(constraint="uq_extractors_owner_name")
    )
    extractor = session.scalars(
        select(Extractor)
        .where(_owner(tenant_id), Extractor.name == new.name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    latest = _version(session, extractor.id, extractor.latest_version)
    if latest is not None and latest.content_hash == new.content_hash:
        if extractor.archived_at is not None:
            extractor.archived_at = None
        return extractor, latest, False
    number = extractor.latest_version + 1
    # In an autocommit session the row lock ends with its statement: a concurrent twin may
    # take the number first, and then its version is the answer if the content matches.
    inserted = session.scalar(
        insert(ExtractorVersion)
        .values(
            id=uuid.uuid4(),
            extractor_id=extractor.id,
            version=number,
            description=new.description,
            json_schema=new.json_schema,
            instructions=new.instructions,
            prompt_system=new.prompt_system,
            prompt_user=new.prompt_user,
            schema_hash=new.schema_hash,
            prompt_hash=new.prompt_hash,
            content_hash=new.content_hash,
        )
        .on_conflict_do_nothing(index_elements=["extractor_id", "version"])
        .returning(ExtractorVersion.id)
    )
    version = _version(session, extractor.id, number)
    if version is None or (inserted is None and version.content_hash != new.content_hash):
        raise InvalidState(f"extractor {new.name!r} changed concurrently; send it again")
    session.execute(
        update(Extractor)
        .where(Extractor.id == extractor.id)
        .values(
            latest_version=func.greatest(Extractor.latest_version, number),
            description=new.description,
            archived_at=None,
        )
    )
    session.refresh(extractor)
    return extractor, version, inserted is not None


def system_content_hashes(*, session: Session) -> dict[str, str]:
    """The content hash of each system extractor's latest version, by name (no locks)."""
    rows = session.execute(
        select(Extractor.name, ExtractorVersion.content_hash)
        .join(ExtractorVersion, ExtractorVersion.extractor_id == Extractor.id)
        .where(Extractor.tenant_id.is_(None), ExtractorVersion.version == Extractor.latest_version)
    ).all()
    return {row.name: row.content_hash for row in rows}


def _owner(tenant_id: uuid.UUID | None) -> Any:
    if tenant_id is None:
        return Extractor.tenant_id.is_(None)
    return Extractor.tenant_id == tenant_id


def _version(session: Session, extractor_id: uuid.UUID, version: int) -> ExtractorVersion | None:
    return session.scalar(
        select(ExtractorVersion).where(
            ExtractorVersion.extractor_id == extractor_id, ExtractorVersion.version == version
        )
    )


def find_extractor(*, session: Session, tenant_id: uuid.UUID, name: str) -> Extractor:
    """The tenant's extractor of this name, else the system's; another tenant's is NotFound."""
    rows = session.scalars(
        select(Extractor).where(
            Extractor.name == name,
            or_(Extractor.tenant_id == tenant_id, Extractor.tenant_id.is_(None)),
        )
    ).all()
    mine = [row for row in rows if row.tenant_id is not None] or list(rows)
    if not mine:
        raise NotFound("extractor", name)
    return mine[0]


def list_extractors(*, session: Session, tenant_id: uuid.UUID) -> list[Extractor]:
    """The tenant's extractors and the system's built-ins, by name."""
    return list(
        session.scalars(
            select(Extractor)
            .where(or_(Extractor.tenant_id == tenant_id, Extractor.tenant_id.is_(None)))
            .order_by(Extractor.name, Extractor.tenant_id.nulls_first())
        )
    )


def list_versions(*, session: Session, extractor_id: uuid.UUID) -> list[ExtractorVersion]:
    """Every version of one extractor, oldest first."""
    return list(
        session.scalars(
            select(ExtractorVersion)
            .where(ExtractorVersion.extractor_id == extractor_id)
            .order_by(ExtractorVersion.version)
        )
    )


def get_version(*, session: Session, extractor: Extractor, version: int | None) -> ExtractorVersion:
    """One version of `extractor` (None: the latest), or NotFound."""
    number = extractor.latest_version if version is None else version
    found = _version(session, extractor.id, number)
    if found is None:
        raise NotFound("extractor version", f"{extractor.name}@{number}")
    return found


def load_version(
    *, session: Session, version_id: uuid.UUID
) -> tuple[Extractor, ExtractorVersion] | None:
    """A version and its extractor by the version's id (for workers: no tenant scope)."""
    row = session.execute(
        select(Extractor, ExtractorVersion)
        .join(ExtractorVersion, ExtractorVersion.extractor_id == Extractor.id)
        .where(ExtractorVersion.id == version_id)
    ).first()
    return None if row is None else (row[0], row[1])


def archive_extractor(*, session: Session, tenant_id: uuid.UUID, name: str) -> Extractor:
    """Archive the tenant's extractor: new jobs are refused, its results stay readable."""
    found = session.scalar(
        update(Extractor)
        .where(Extractor.tenant_id == tenant_id, Extractor.name == name)
        .values(archived_at=dt.datetime.now(dt.UTC))
        .returning(Extractor)
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise NotFound("extractor", name)
    return found
