"""Schemathesis drives every operation of the API's own OpenAPI spec against the live stack."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant

pytestmark = pytest.mark.e2e

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_tenant(live: LiveStack) -> Tenant:
    """A tenant of its own, so the fuzzer's jobs never show up in other tests' listings."""
    return live.tenant("fuzz", budget=5.0, concurrency=8)


def _spec() -> dict[str, Any]:
    # Built at collection, before any server runs (schemathesis' lazy `from_fixture` loader
    # does not work with pytest 9's node ids); `served_spec` checks it is what the API serves.
    from api.app import create_app

    spec: dict[str, Any] = create_app().openapi()
    return spec


SPEC = _spec()
schema = schemathesis.openapi.from_dict(SPEC)


@pytest.fixture(scope="module")
def served_spec(live: LiveStack) -> dict[str, Any]:
    """The spec the running API serves; the fuzzer uses exactly this one."""
    served: dict[str, Any] = httpx.get(f"{live.api_url}/openapi.json", timeout=30).json()
    assert served == SPEC
    return served


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples in every run: a failure here is reproducible
)
def test_every_operation_answers_generated_requests_without_5xx_or_off_spec_answers(
    case: schemathesis.Case[Any], live: LiveStack, fuzz_tenant: Tenant, served_spec: dict[str, Any]
) -> None:
    case.call_and_validate(
        base_url=live.api_url,
        headers={"Authorization": f"Bearer {fuzz_tenant.api_key}"},
        checks=CHECKS,
        timeout=30,
    )
