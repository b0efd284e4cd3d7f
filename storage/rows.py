"""What the verbs share: a tenant's row by id, the keyset order of jobs, legal moves."""

from __future__ import annotations

import datetime as dt
import uuid
from functools import cache
from typing import TypeVar

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.orm import Session

from schemas.jobs import JobStatus, can_transition
from storage.errors import NotFound
from storage.models import Batch, Job

Owned = TypeVar("Owned", Job, Batch)
Cursor = tuple[dt.datetime, uuid.UUID]  # (created_at, id) of the last job a page held
KEYSET_ORDER = (Job.created_at, Job.id)


def owned(
    *, session: Session, model: type[Owned], tenant_id: uuid.UUID, ident: uuid.UUID, what: str
) -> Owned:
    """The tenant's row of `model` with this id; another tenant's id is NotFound(`what`)."""
    found = session.scalar(select(model).where(model.id == ident, model.tenant_id == tenant_id))
    if found is None:
        raise NotFound(what, ident)
    return found


def jobs_after(cursor: Cursor) -> ColumnElement[bool]:
    """Jobs past `cursor` in KEYSET_ORDER."""
    # tuple_ compiles to a row comparison; a Python tuple would compare created_at only,
    # and jobs inserted in one transaction share it.
    return tuple_(*KEYSET_ORDER) > tuple_(*cursor)


def moving(*, from_: tuple[JobStatus, ...], to: JobStatus) -> ColumnElement[bool]:
    """WHERE a job is in one of `from_`, each a legal move to `to` (schemas.jobs.TRANSITIONS).

    Every status-changing UPDATE goes through this, so the transition table is enforced:
    a verb written against it fails the first time it runs, not in production data.
    """
    _check_moves(from_, to)
    return Job.status.in_(from_)


@cache  # claim and finish run this on every job: check each distinct move once
def _check_moves(from_: tuple[JobStatus, ...], to: JobStatus) -> None:
    illegal = [s for s in from_ if not can_transition(s, to)]
    if illegal:
        raise ValueError(f"illegal job transition {illegal} -> {to}")
