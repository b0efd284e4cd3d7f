"""Extractor verbs on real Postgres: content-addressed versions, owners, archive, concurrency."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from storage import extractors as store
from storage.db import session_scope
from storage.errors import NotFound
from tests.support.tenants import make_tenant


def _tenant(pg_url: str) -> uuid.UUID:
    return uuid.UUID(make_tenant("extractors", url=pg_url).id)


def _new(name: str, content: str) -> store.NewVersion:
    schema = {"type": "object", "properties": {content: {"type": "string"}}}
    return store.NewVersion(
        name=name,
        description="d",
        json_schema=schema,
        instructions=None,
        prompt_system="system",
        prompt_user="user {document}",
        schema_hash="s" * 64,
        prompt_hash="p" * 64,
        content_hash=content.ljust(64, "0"),
    )


def _register(pg_url: str, tenant_id: uuid.UUID | None, new: store.NewVersion) -> tuple[int, bool]:
    with session_scope(pg_url) as session:
        _, version, created = store.register_version(session=session, tenant_id=tenant_id, new=new)
        return version.version, created


def test_the_same_content_is_the_same_version_and_new_content_the_next(pg_url: str) -> None:
    tenant = _tenant(pg_url)
    assert _register(pg_url, tenant, _new("claims", "a")) == (1, True)
    assert _register(pg_url, tenant, _new("claims", "a")) == (1, False)
    assert _register(pg_url, tenant, _new("claims", "b")) == (2, True)
    # returning to earlier content is a change too: versions only move forward
    assert _register(pg_url, tenant, _new("claims", "a")) == (3, True)


def test_concurrent_identical_registrations_make_one_version(pg_url: str) -> None:
    tenant = _tenant(pg_url)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: _register(pg_url, tenant, _new("race", "x")), range(4)))
    assert sorted(answers) == [(1, False), (1, False), (1, False), (1, True)]


def test_the_system_owns_a_name_once_and_tenants_each_their_own(pg_url: str) -> None:
    name = f"sys_{uuid.uuid4().hex[:6]}"
    assert _register(pg_url, None, _new(name, "a")) == (1, True)
    assert _register(pg_url, None, _new(name, "a")) == (1, False)  # NULLS NOT DISTINCT
    one, two = _tenant(pg_url), _tenant(pg_url)
    assert _register(pg_url, one, _new("shared_name", "a")) == (1, True)
    assert _register(pg_url, two, _new("shared_name", "b")) == (1, True)
    with session_scope(pg_url) as session:
        mine = store.find_extractor(session=session, tenant_id=one, name="shared_name")
        assert mine.tenant_id == one
        system = store.find_extractor(session=session, tenant_id=one, name=name)
        assert system.tenant_id is None


def test_another_tenants_extractor_is_not_found_and_cannot_be_archived(pg_url: str) -> None:
    owner, other = _tenant(pg_url), _tenant(pg_url)
    _register(pg_url, owner, _new("private", "a"))
    with session_scope(pg_url) as session:
        with pytest.raises(NotFound):
            store.find_extractor(session=session, tenant_id=other, name="private")
        with pytest.raises(NotFound):
            store.archive_extractor(session=session, tenant_id=other, name="private")
        archived = store.archive_extractor(session=session, tenant_id=owner, name="private")
        assert archived.archived_at is not None


def test_a_new_version_unarchives_and_old_versions_stay_readable(pg_url: str) -> None:
    tenant = _tenant(pg_url)
    _register(pg_url, tenant, _new("aging", "a"))
    with session_scope(pg_url) as session:
        store.archive_extractor(session=session, tenant_id=tenant, name="aging")
    assert _register(pg_url, tenant, _new("aging", "b")) == (2, True)
    with session_scope(pg_url) as session:
        row = store.find_extractor(session=session, tenant_id=tenant, name="aging")
        assert row.archived_at is None
        first = store.get_version(session=session, extractor=row, version=1)
        assert first.json_schema["properties"] == {"a": {"type": "string"}}
        found = store.load_version(session=session, version_id=first.id)
        assert found is not None
        assert found[0].id == row.id
        with pytest.raises(NotFound):
            store.get_version(session=session, extractor=row, version=9)
