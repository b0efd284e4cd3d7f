"""Document verbs: texts stored once under their sha256, and read back by it."""

from __future__ import annotations

import hashlib

from sqlalchemy import false, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from storage.errors import NotFound
from storage.models import Document


def text_sha256(text_: str) -> str:
    """The content hash a document's text is stored under."""
    return hashlib.sha256(text_.encode()).hexdigest()


def put_document(*, session: Session, text_: str, kind: str, tokens: int) -> str:
    """Store the text once (no-op if present, but the row stays locked); return its hash."""
    digest = text_sha256(text_)
    stmt = insert(Document).values(
        sha256=digest, text=text_, chars=len(text_), tokens=tokens, kind=kind
    )
    # A no-op update that locks a stored row: an erasure then cannot delete it under the
    # job about to point at it (storage/erasure.py).
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["sha256"], set_={"sha256": stmt.excluded.sha256}, where=false()
        )
    )
    return digest


def get_document_text(*, session: Session, sha256: str) -> str:
    """The stored text for a content hash."""
    found = session.scalar(select(Document.text).where(Document.sha256 == sha256))
    if found is None:
        raise NotFound("document", sha256)
    return found
