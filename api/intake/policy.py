"""The trust policy a submission fixes on its jobs: the request's, the extractor's, the tenant's."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from schemas.api import Submission
from schemas.extractors.spec import ExtractorSpec
from storage.models import Tenant
from storage.trust_settings import Layer, extractor_layer, snapshot, tenant_layer

TRUST_FIELDS = ("verify", "review_threshold")


def trust_policy(
    *, session: Session, tenant: Tenant, spec: ExtractorSpec, body: Submission
) -> dict[str, Any]:
    """The snapshot the jobs record (later changes to the settings leave them alone)."""
    version_id = uuid.UUID(spec.version_id) if spec.version_id else None
    return snapshot(
        job=Layer(review_threshold=body.review_threshold, verify=body.verify),
        extractor=extractor_layer(session=session, version_id=version_id),
        tenant=tenant_layer(tenant),
    )


def hashed_body(body: Submission) -> dict[str, Any]:
    """The body as its Idempotency-Key hash sees it.

    Unset trust fields, and the lane fields at their defaults, are left out, so a request
    sent before they existed hashes the same.
    """
    dumped = body.model_dump(mode="json")
    for name in (*TRUST_FIELDS, "deadline"):
        if dumped.get(name) is None:
            dumped.pop(name, None)
    if dumped.get("lane") == "realtime":
        dumped.pop("lane", None)
    return dumped
