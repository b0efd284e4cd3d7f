"""Load what a console page shows, for the signed-in tenant only: another tenant's batch or
job is the same 404 page as one that does not exist."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from api.console.auth import Viewer
from api.console.errors import PageNotFound
from storage import batches as batch_store
from storage import jobs as job_store
from storage.errors import NotFound
from storage.models import Batch, Job


def owned_batch(session: Session, viewer: Viewer, batch_id: uuid.UUID) -> Batch:
    """The viewer's batch, or PageNotFound."""
    try:
        return batch_store.get_batch(session=session, tenant_id=viewer.tenant.id, batch_id=batch_id)
    except NotFound:
        raise PageNotFound("batch") from None


def owned_job(session: Session, viewer: Viewer, job_id: uuid.UUID) -> Job:
    """The viewer's job, or PageNotFound."""
    try:
        return job_store.get_job(session=session, tenant_id=viewer.tenant.id, job_id=job_id)
    except NotFound:
        raise PageNotFound("job") from None
