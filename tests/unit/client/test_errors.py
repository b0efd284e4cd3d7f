"""The client's typed errors: one class per status, the API's error object kept, no key shown."""

from __future__ import annotations

import json

import httpx
import pytest

from scripts.client import (
    ApiClientError,
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    DocqueueError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    WaitTimeoutError,
)
from tests.support.cli import KEY, Recorder, answers, error, mock_client, refused


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, BadRequestError, False),
        (401, AuthenticationError, False),
        (403, PermissionDeniedError, False),
        (404, NotFoundError, False),
        (409, ConflictError, False),
        (413, APIStatusError, False),
        (422, UnprocessableEntityError, False),
        (429, RateLimitError, True),
        (500, InternalServerError, True),
        (503, InternalServerError, True),
    ],
)
def test_each_error_status_raises_its_own_class_with_status_type_and_message(
    status: int, cls: type[APIStatusError], retryable: bool
) -> None:
    handler, _ = answers(*[error(status, "some_type", "what went wrong")] * 6)
    with mock_client(handler, max_retries=0) as api, pytest.raises(cls) as caught:
        api.get_job("j1")
    exc = caught.value
    assert type(exc) is cls
    assert isinstance(exc, DocqueueError)
    assert (exc.status, exc.type, exc.message) == (status, "some_type", "what went wrong")
    assert str(exc) == f"HTTP {status} some_type: what went wrong"
    assert exc.retryable is retryable


def test_a_422_keeps_the_whole_error_object_with_its_pointer() -> None:
    answer = error(422, "schema_invalid", "oneOf is refused", pointer="/properties/a/oneOf")
    handler, _ = answers(answer)
    with mock_client(handler) as api, pytest.raises(UnprocessableEntityError) as caught:
        api.create_extractor({"name": "x"})
    assert caught.value.detail["pointer"] == "/properties/a/oneOf"
    assert caught.value.detail["type"] == "schema_invalid"


def test_an_error_answer_that_is_not_json_is_one_line_of_its_text() -> None:
    handler, _ = answers(httpx.Response(404, text="<html>\n<b>no such page</b>\n</html>"))
    with mock_client(handler) as api, pytest.raises(NotFoundError) as caught:
        api.get_batch("b1")
    assert str(caught.value) == "HTTP 404 http_error: <html> <b>no such page</b> </html>"
    assert caught.value.detail == {}


def test_the_old_client_error_name_still_catches_every_client_error() -> None:
    assert ApiClientError is DocqueueError
    handler, _ = answers(error(409, "invalid_state"))
    with mock_client(handler) as api, pytest.raises(ApiClientError):
        api.retry_job("j1")


def test_the_api_key_is_in_no_message_detail_repr_or_retry_reason_even_when_echoed() -> None:
    echoed = error(503, "broken", f"bad header Authorization: Bearer {KEY}")
    revoked = error(
        401,
        "unauthorized",
        f"key {KEY} revoked",
        key=KEY,
        seen={"headers": [f"Bearer {KEY}", "x"], KEY: {"again": (f"…{KEY}…",)}},
    )
    handler, _ = answers(echoed, echoed, revoked)
    rec = Recorder()
    api = mock_client(handler, rec, max_retries=2)
    with api, pytest.raises(AuthenticationError) as caught:
        api.get_batch("b1")
    reasons = [r[3] for r in rec.retries]
    detail = json.dumps(caught.value.detail)
    texts = [str(caught.value), repr(caught.value), caught.value.message, repr(api), detail]
    assert len(reasons) == 2
    assert all(KEY not in text for text in [*texts, *reasons]), texts
    assert "***" in str(caught.value)
    assert caught.value.detail["key"] == "***"
    assert caught.value.detail["seen"]["headers"] == ["Bearer ***", "x"]
    assert caught.value.detail["seen"]["***"] == {"again": ["…***…"]}


def test_a_connection_error_names_the_url_but_not_the_key() -> None:
    handler, _ = answers(refused())
    with mock_client(handler, max_retries=0) as api, pytest.raises(APIConnectionError) as caught:
        api.get_batch("b1")
    assert "http://api.test" in str(caught.value)
    assert KEY not in str(caught.value) + repr(caught.value)


def test_a_client_without_a_key_is_refused_with_the_variable_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DOCQUEUE_API_KEY", raising=False)
    with pytest.raises(DocqueueError, match="set DOCQUEUE_API_KEY"):
        Client("http://api.test")


@pytest.mark.parametrize("url", ["localhost:8000", "127.0.0.1:8000", "ftp://api.test", "api.test"])
def test_a_url_without_http_or_https_is_refused_at_once_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DOCQUEUE_API_URL", url)
    with pytest.raises(DocqueueError, match="DOCQUEUE_API_URL must start with http:// or https://"):
        Client(api_key=KEY)
    with pytest.raises(DocqueueError, match="must start with http://"):
        Client(url, KEY)
    with Client("HTTPS://api.test", KEY) as upper:  # the scheme's case does not matter
        assert upper.base_url.lower() == "https://api.test"


def test_the_url_and_key_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCQUEUE_API_URL", "http://from-env:9000/")
    monkeypatch.setenv("DOCQUEUE_API_KEY", KEY)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "b1"})

    with Client(transport=httpx.MockTransport(handler)) as api:
        assert api.base_url == "http://from-env:9000"
        api.get_batch("b1")
    assert str(seen[0].url) == "http://from-env:9000/v1/batches/b1"
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"
    monkeypatch.delenv("DOCQUEUE_API_URL")
    assert Client().base_url == "http://127.0.0.1:8000"


def test_a_wait_timeout_is_a_timeout_error_and_a_client_error() -> None:
    exc = WaitTimeoutError("batch b1 not finished after 5 s", last={"id": "b1"})
    assert isinstance(exc, TimeoutError)
    assert isinstance(exc, DocqueueError)
    assert (exc.type, exc.last, str(exc)) == ("timeout", {"id": "b1"}, exc.message)
