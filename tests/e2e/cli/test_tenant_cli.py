"""`docqueue tenant`: zero means zero, and a bad tenant id is one line, never a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from decimal import Decimal

from storage.models import Tenant
from tests.support.stacks import LiveStack


def _cli(live: LiveStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", "tenant", *args],
        env={**os.environ, **live.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _created(live: LiveStack, *args: str) -> dict[str, str]:
    done = _cli(live, "create", f"zero-{uuid.uuid4().hex[:8]}", *args, "--json")
    assert done.returncode == 0, done.stderr
    created: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return created


def test_a_tenant_created_with_a_zero_budget_stores_zero_not_the_default(
    live: LiveStack,
) -> None:
    created = _created(live, "--budget-usd", "0", "--daily-budget-usd", "0")
    with live.session() as session:
        tenant = session.get(Tenant, uuid.UUID(created["tenant_id"]))
        assert tenant is not None
        assert (tenant.monthly_budget_usd, tenant.daily_budget_usd) == (Decimal(0), Decimal(0))


def test_a_key_issued_to_expire_in_zero_days_is_already_expired(live: LiveStack) -> None:
    created = _created(live)
    done = _cli(live, "issue-key", created["tenant_id"], "--expires-in-days", "0")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    with live.client() as client:
        answer = client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"})
        fresh = client.get("/v1/jobs", headers={"Authorization": f"Bearer {created['api_key']}"})
    assert answer.status_code == 401, answer.text
    assert "expired" in answer.json()["error"]["message"]
    assert fresh.status_code == 200


def test_issuing_a_key_to_an_unknown_or_malformed_tenant_prints_one_line_and_no_key(
    live: LiveStack,
) -> None:
    unknown = _cli(live, "issue-key", str(uuid.uuid4()))
    malformed = _cli(live, "issue-key", "not-a-uuid")
    assert (unknown.returncode, malformed.returncode) == (1, 2)
    for done in (unknown, malformed):
        assert done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert "dq_" not in done.stderr  # no key...
        assert re.search(r"[0-9a-f]{64}", done.stderr) is None  # ...and no hash of one
    assert "tenant" in unknown.stderr
    assert "not a tenant id" in malformed.stderr


def test_tenant_create_prints_the_whsec_secret_that_verifies_its_webhooks(
    live: LiveStack,
) -> None:
    """The printed secret is the Standard Webhooks key of the tenant's stored secret."""
    import time

    from standardwebhooks import Webhook

    from tasks.webhooks.signing import standard_headers

    created = _created(live)
    secret = created["webhook_secret"]
    assert secret.startswith("whsec_")
    with live.session() as session:
        tenant = session.get(Tenant, uuid.UUID(created["tenant_id"]))
        assert tenant is not None
        stored = tenant.webhook_secret
    body = b'{"event":"job.finished"}'
    headers = standard_headers(secret=stored, msg_id="msg_1", body=body, timestamp=int(time.time()))
    assert Webhook(secret).verify(body, headers) == {"event": "job.finished"}
