"""Standard Webhooks signatures, checked with the `standardwebhooks` library a receiver uses."""

from __future__ import annotations

import base64
import secrets
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tasks.webhooks.signing import sign, standard_headers, standard_secret, verify

SECRET = secrets.token_hex(32)  # as storage.tenants.create_tenant makes one
BODY = b'{"event":"job.finished","id":"j1","status":"succeeded"}'
MSG_ID = "0b6f5a52-1f0e-4c55-9a0e-5f3f1b7c2d11"


def _headers(*, age_s: int = 0, secret: str = SECRET) -> dict[str, str]:
    return standard_headers(
        secret=secret, msg_id=MSG_ID, body=BODY, timestamp=int(time.time()) - age_s
    )


def test_the_standard_headers_verify_with_the_library_under_the_whsec_secret() -> None:
    headers = _headers()
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == MSG_ID
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(standard_secret(SECRET)).verify(BODY, headers) == {
        "event": "job.finished",
        "id": "j1",
        "status": "succeeded",
    }


def test_the_whsec_secret_is_the_base64_of_the_key_the_deprecated_hmac_uses() -> None:
    whsec = standard_secret(SECRET)
    assert whsec.startswith("whsec_")
    key = base64.b64decode(whsec.removeprefix("whsec_"))
    assert key == SECRET.encode()
    # one stored secret, both schemes: the old header still checks under the decoded key
    old = sign(secret=key.decode(), body=BODY, timestamp=int(time.time()))
    assert verify(secret=SECRET, body=BODY, header=old)


@pytest.mark.parametrize(
    ("body", "age_s", "secret"),
    [
        (BODY.replace(b"succeeded", b"failed"), 0, SECRET),
        (BODY, 6 * 60, SECRET),  # the library's tolerance is five minutes
        (BODY, 0, secrets.token_hex(32)),
    ],
    ids=["tampered-body", "old-timestamp", "another-tenants-secret"],
)
def test_a_standard_signature_fails_for_a_changed_body_an_old_timestamp_or_another_secret(
    body: bytes, age_s: int, secret: str
) -> None:
    headers = _headers(age_s=age_s, secret=secret)
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_secret(SECRET)).verify(body, headers)


def test_a_changed_webhook_id_breaks_the_signature() -> None:
    headers = {**_headers(), "webhook-id": "another-delivery"}
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_secret(SECRET)).verify(BODY, headers)
