"""Trust settings of tenants and extractors, and the policy a new job snapshots from them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.errors import NotFound
from storage.extractor_models import Extractor, ExtractorVersion
from storage.models import Tenant

TENANT_SETTINGS = frozenset({"review_threshold", "on_mismatch", "retention_days"})
EXTRACTOR_SETTINGS = frozenset({"review_threshold", "verify"})


@dataclass(frozen=True, slots=True)
class Layer:
    """One level's say in a job's policy (None: it says nothing, the next level decides)."""

    review_threshold: float | None = None
    verify: str | None = None
    on_mismatch: str | None = None


def snapshot(*, job: Layer, extractor: Layer, tenant: Layer) -> dict[str, Any]:
    """The trust_policy a job records: the job's own choice, then its extractor's, then the
    tenant's; keys nobody set are left out (the worker then uses the TOML's defaults).

    `verify` is not a tenant setting and `on_mismatch` is only one.
    """
    policy: dict[str, Any] = {
        "review_threshold": _first(
            job.review_threshold, extractor.review_threshold, tenant.review_threshold
        ),
        "verify": _first(job.verify, extractor.verify),
        "on_mismatch": tenant.on_mismatch,
    }
    return {key: value for key, value in policy.items() if value is not None}


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def tenant_layer(tenant: Tenant) -> Layer:
    """What a tenant's settings say."""
    return Layer(review_threshold=tenant.review_threshold, on_mismatch=tenant.on_mismatch)


def extractor_layer(*, session: Session, version_id: uuid.UUID | None) -> Layer:
    """What the extractor of a version says (read now: these settings change in place)."""
    if version_id is None:
        return Layer()
    row = session.execute(
        select(Extractor.review_threshold, Extractor.verify)
        .join(ExtractorVersion, ExtractorVersion.extractor_id == Extractor.id)
        .where(ExtractorVersion.id == version_id)
    ).first()
    if row is None:
        return Layer()
    return Layer(review_threshold=row.review_threshold, verify=row.verify)


def set_tenant_settings(
    *, session: Session, tenant_id: uuid.UUID, values: dict[str, Any]
) -> Tenant:
    """Change some of a tenant's settings (a None value clears one back to the default)."""
    unknown = set(values) - TENANT_SETTINGS
    if unknown:
        raise ValueError(f"not tenant settings: {sorted(unknown)}")
    if values:
        session.execute(update(Tenant).where(Tenant.id == tenant_id).values(**values))
    tenant = session.get(Tenant, tenant_id, populate_existing=True)
    if tenant is None:
        raise NotFound("tenant", tenant_id)
    return tenant


def set_extractor_settings(
    *, session: Session, tenant_id: uuid.UUID, name: str, values: dict[str, Any]
) -> Extractor:
    """Change some of a tenant's own extractor's settings (None clears one).

    Built-in extractors belong to no tenant, so they are not found here: one tenant's
    choice must not change another's jobs.
    """
    unknown = set(values) - EXTRACTOR_SETTINGS
    if unknown:
        raise ValueError(f"not extractor settings: {sorted(unknown)}")
    mine = (Extractor.tenant_id == tenant_id, Extractor.name == name)
    if values:
        session.execute(update(Extractor).where(*mine).values(**values))
    found = session.scalar(select(Extractor).where(*mine).execution_options(populate_existing=True))
    if found is None:
        raise NotFound("extractor", name)
    return found
