"""Trust settings on real Postgres: tenant and extractor settings, the snapshot jobs record."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from storage import batches as batch_store
from storage import extractors as store
from storage import job_rows
from storage.db import session_scope
from storage.errors import NotFound
from storage.models import Job
from storage.trust_settings import (
    Layer,
    extractor_layer,
    set_extractor_settings,
    set_tenant_settings,
    snapshot,
    tenant_layer,
)
from tests.integration.storage.review_seed import tenant


def _extractor(pg_url: str, tenant_id: uuid.UUID | None, name: str) -> uuid.UUID:
    new = store.NewVersion(
        name=name,
        description="d",
        json_schema={"type": "object", "properties": {"a": {"type": "string"}}},
        instructions=None,
        prompt_system="system",
        prompt_user="user {document}",
        schema_hash="s" * 64,
        prompt_hash="p" * 64,
        content_hash=uuid.uuid4().hex.ljust(64, "0"),
    )
    with session_scope(pg_url) as session:
        _, version, _ = store.register_version(session=session, tenant_id=tenant_id, new=new)
        return version.id


def _row(tenant_id: uuid.UUID, policy: dict[str, object]) -> job_rows.NewJob:
    return job_rows.NewJob(
        tenant_id=tenant_id,
        schema_name="claims",
        schema_version="1",
        prompt_version="1",
        tier="low",
        tier_reason="test",
        document_sha256=None,
        trust_policy=policy,
    )


def test_the_job_then_the_extractor_then_the_tenant_decide_and_unset_keys_are_left_out() -> None:
    tenant_says = Layer(review_threshold=0.5, on_mismatch="review")
    extractor_says = Layer(review_threshold=0.7, verify="self_consistency")
    assert snapshot(
        job=Layer(review_threshold=0.9), extractor=extractor_says, tenant=tenant_says
    ) == {
        "review_threshold": 0.9,
        "verify": "self_consistency",
        "on_mismatch": "review",
    }
    assert snapshot(job=Layer(verify="none"), extractor=Layer(), tenant=tenant_says) == {
        "review_threshold": 0.5,
        "verify": "none",
        "on_mismatch": "review",
    }
    assert snapshot(job=Layer(), extractor=Layer(), tenant=Layer()) == {}
    # a threshold of 0 is a choice, not "unset"
    assert snapshot(job=Layer(review_threshold=0.0), extractor=extractor_says, tenant=Layer()) == {
        "review_threshold": 0.0,
        "verify": "self_consistency",
    }


def test_tenant_settings_change_only_the_fields_given_and_none_clears_one(pg_url: str) -> None:
    with session_scope(pg_url) as session:
        tenant_id, _ = tenant(session)
        row = set_tenant_settings(
            session=session,
            tenant_id=tenant_id,
            values={"review_threshold": 0.8, "on_mismatch": "review"},
        )
        assert tenant_layer(row) == Layer(review_threshold=0.8, on_mismatch="review")
        row = set_tenant_settings(
            session=session, tenant_id=tenant_id, values={"on_mismatch": None}
        )
        assert (row.review_threshold, row.on_mismatch) == (0.8, None)
        with pytest.raises(ValueError, match="verify"):
            set_tenant_settings(session=session, tenant_id=tenant_id, values={"verify": "none"})


def test_extractor_settings_are_read_through_a_version_and_only_the_owner_changes_them(
    pg_url: str,
) -> None:
    with session_scope(pg_url) as session:
        mine, _ = tenant(session)
        theirs, _ = tenant(session)
    name = f"claims_{uuid.uuid4().hex[:6]}"
    version_id = _extractor(pg_url, mine, name)
    builtin = f"sys_{uuid.uuid4().hex[:6]}"
    _extractor(pg_url, None, builtin)
    with session_scope(pg_url) as session:
        assert extractor_layer(session=session, version_id=version_id) == Layer()
        set_extractor_settings(
            session=session,
            tenant_id=mine,
            name=name,
            values={"review_threshold": 0.75, "verify": "self_consistency"},
        )
        assert extractor_layer(session=session, version_id=version_id) == Layer(
            review_threshold=0.75, verify="self_consistency"
        )
        with pytest.raises(NotFound):
            set_extractor_settings(session=session, tenant_id=theirs, name=name, values={})
        with pytest.raises(NotFound):  # a built-in is every tenant's: no tenant changes it
            set_extractor_settings(
                session=session, tenant_id=mine, name=builtin, values={"verify": "none"}
            )
        assert extractor_layer(session=session, version_id=None) == Layer()


def test_single_and_bulk_inserted_jobs_record_their_trust_policy(pg_url: str) -> None:
    policy = {"review_threshold": 0.8, "verify": "self_consistency", "on_mismatch": "review"}
    with session_scope(pg_url) as session:
        tenant_id, _ = tenant(session)
        single, created = job_rows.create_job(session=session, new=_row(tenant_id, policy))
        assert created
        batch = batch_store.open_batch(
            session=session,
            tenant_id=tenant_id,
            schema_name="claims@1",
            tier="low",
            webhook_url=None,
            key=None,
        )
        rows = [_row(tenant_id, {"verify": "none"}) for _ in range(3)]
        assert batch_store.add_jobs(session=session, batch_id=batch.id, rows=rows) == 3
    with session_scope(pg_url) as session:
        stored = session.get(Job, single.id)
        assert stored is not None
        assert stored.trust_policy == policy
        in_batch = session.scalars(select(Job.trust_policy).where(Job.batch_id == batch.id)).all()
        assert in_batch == [{"verify": "none"}] * 3
        plain, _ = job_rows.create_job(session=session, new=_row(tenant_id, {}))
        assert session.get(Job, plain.id, populate_existing=True).trust_policy == {}  # type: ignore[union-attr]
