"""One structured call to one model through instructor, with every provider response billed.

The SDKs never retry (max_retries=0) and instructor re-asks only on parse and validation
errors, so each transport attempt is visible here and lands in the ledger. Each request's
ledger row is opened by an httpx request hook, the last step before bytes leave: if the row
cannot be written, the request is never sent.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import instructor
import openai
from instructor.core import InstructorRetryException
from instructor.v2.core.function_calls import response_schema
from instructor.v2.core.hooks import HookName, Hooks
from pydantic import BaseModel, ValidationError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from schemas.config import Settings
from tasks.engine import caching, instructor_once
from tasks.engine.cost import TokenUsage
from tasks.engine.tape import REPLAY, TAPE, Captured, ReplayTransport


@dataclass
class CallRecord:
    """One provider HTTP call as the ledger stores it."""

    model: str
    provider: str
    usage: TokenUsage
    latency_ms: int
    outcome: str  # ok | validation_error | http_429 | timeout | ...
    status_code: int | None = None
    call_id: int | None = None  # the ledger row opened before the request was sent
    replayed: bool = False  # answered from the job's tape: billed when it was recorded


Opener = Callable[[], int | None]  # writes a call's in-flight ledger row; returns its id


def usage_of(provider: str, response: Any) -> TokenUsage:
    """Provider-neutral usage of an SDK response (a realtime answer or a batch result)."""
    usage = getattr(response, "usage", None)
    if usage is None:
        return TokenUsage(0, 0, 0)
    if provider == "openai":
        details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0)
        return TokenUsage(int(usage.prompt_tokens), int(usage.completion_tokens), cached)
    # Anthropic reports cache reads separately from input_tokens; we count all prompt tokens.
    cached = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
    created = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
    total_in = int(usage.input_tokens) + cached + created
    return TokenUsage(total_in, int(usage.output_tokens), cached, created)


class Clients:
    """Process-wide SDK clients with pooled connections; never one client per call."""

    def __init__(self, settings: Settings) -> None:
        cfg = settings.app.celery
        # The SDKs bring their own HTTP stack (httpx2 in openai 3 / anthropic 2): build the
        # pooled clients through their factories so the types always match the SDK.
        timeout = openai.Timeout(cfg.sdk_timeout_s, connect=cfg.sdk_connect_timeout_s)
        limits = httpx2.Limits(max_connections=256, max_keepalive_connections=128)
        hooks = {"request": [_open_ledger_row]}
        self._openai = openai.OpenAI(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            max_retries=0,
            timeout=timeout,
            http_client=openai.DefaultHttpxClient(
                timeout=timeout,
                event_hooks=hooks,
                transport=ReplayTransport(httpx2.HTTPTransport(limits=limits)),
            ),
        )
        self._anthropic = anthropic.Anthropic(
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,
            max_retries=0,
            timeout=timeout,
            http_client=anthropic.DefaultHttpxClient(
                timeout=timeout,
                event_hooks=hooks,
                transport=ReplayTransport(httpx2.HTTPTransport(limits=limits)),
            ),
        )
        self.openai = instructor.from_openai(self._openai, mode=instructor.Mode.TOOLS)
        self.anthropic = instructor.from_anthropic(self._anthropic, mode=instructor.Mode.TOOLS)

    def close(self) -> None:
        """Close the HTTP pools."""
        self._openai.close()
        self._anthropic.close()


instructor_once.install()  # before any call: instructor then checks each model once


class _Recorder:
    """Per-call instructor hooks that turn each provider response or error into a record."""

    def __init__(
        self, model: str, provider: str, opener: Opener, sink: Callable[[CallRecord], None]
    ) -> None:
        self.model, self.provider, self.opener, self.sink = model, provider, opener, sink
        self.started = time.monotonic()
        self.pending: CallRecord | None = None
        self.call_id: int | None = None
        self.open_error: Exception | None = None
        self.replaying = False  # the request in progress is answered from the tape
        self.lock = threading.Lock()

    def flush(self) -> None:
        """Hand the pending record to the sink."""
        if self.pending is not None:
            self.sink(self.pending)
            self.pending = None

    def on_send(self) -> None:
        """The request is about to leave: open its ledger row first (raising stops it)."""
        self.flush()
        try:
            self.call_id = self.opener()
        except Exception as exc:
            self.open_error = exc
            raise
        self.started = time.monotonic()

    def _sent_id(self) -> int | None:
        call_id, self.call_id = self.call_id, None
        return call_id

    def on_response(self, response: Any, *_: Any, **__: Any) -> None:
        self.flush()
        latency = int((time.monotonic() - self.started) * 1000)
        usage = usage_of(self.provider, response)
        replayed, self.replaying = self.replaying, False
        self.pending = CallRecord(
            self.model, self.provider, usage, latency, "ok", 200, self._sent_id(), replayed
        )

    def on_parse_error(self, *_: Any, **__: Any) -> None:
        if self.pending is not None:
            self.pending.outcome = "validation_error"

    def on_error(self, error: Exception, *_: Any, **__: Any) -> None:
        self.flush()
        replayed, self.replaying = self.replaying, False
        if replayed:  # a recorded error: billed when the batcher recorded it
            self.call_id = None
            return
        if self.open_error is not None or self.call_id is None:
            return  # no ledger row was opened, so the request never left: nothing to bill
        latency = int((time.monotonic() - self.started) * 1000)
        status = getattr(error, "status_code", None)
        outcome = f"http_{status}" if status else type(error).__name__.lower()[:32]
        usage = TokenUsage(0, 0)
        self.sink(
            CallRecord(self.model, self.provider, usage, latency, outcome, status, self._sent_id())
        )

    def hooks(self) -> Hooks:
        hooks = Hooks()
        hooks.on(HookName.COMPLETION_RESPONSE, self.on_response)
        hooks.on(HookName.PARSE_ERROR, self.on_parse_error)
        hooks.on(HookName.COMPLETION_ERROR, self.on_error)
        return hooks


_SENDING: ContextVar[_Recorder | None] = ContextVar("docqueue_sending", default=None)


def _open_ledger_row(request: Any) -> None:
    """httpx request hook: the call in progress on this thread opens its ledger row."""
    recorder = _SENDING.get()
    if recorder is None:
        return
    tape = TAPE.get()
    if tape is not None:
        try:
            recorded = tape.next(provider=recorder.provider, content=request.content)
        except Captured as exc:
            recorder.open_error = exc  # extract re-raises it, not the SDK's wrapper
            raise
        if recorded is not None:
            request.extensions[REPLAY] = recorded
            recorder.flush()
            recorder.replaying = True
            recorder.call_id = recorded.call_id  # the row billed when the answer arrived
            return
    recorder.on_send()
    if recorder.call_id is not None:  # OpenAI's tracing header: ties the call to its row
        request.headers["X-Client-Request-Id"] = f"docqueue-call-{recorder.call_id}"


def reask_policy(max_reasks: int) -> Retrying:
    """Instructor's retry policy: re-ask on parse and validation errors only."""
    return Retrying(
        stop=stop_after_attempt(max_reasks + 1),
        retry=retry_if_exception_type((ValidationError, json.JSONDecodeError)),
        reraise=True,
    )


def unwrap(exc: BaseException) -> BaseException:
    """The provider or validation error under instructor's InstructorRetryException."""
    seen = 0
    while isinstance(exc, InstructorRetryException) and exc.__cause__ and seen < 5:
        exc = exc.__cause__
        seen += 1
    return exc


@functools.lru_cache(maxsize=256)
def instructor_model(model: type[BaseModel]) -> type[BaseModel]:
    """`model` wrapped as instructor's ResponseSchema once, not once per call.

    Given a plain model, instructor builds a new wrapper class on every call, so its
    schema cache never hits and each call regenerates the JSON Schema (profiled: most of
    instructor's CPU per call). Given the wrapper, it reuses it and its cached schema.
    """
    wrapped: type[BaseModel] = response_schema(model)
    return wrapped


def extract(
    *,
    clients: Clients,
    provider: str,
    model: str,
    messages: list[dict[str, str]],
    response_model: type[BaseModel],
    max_reasks: int,
    max_output_tokens: int,
    sink: Callable[[CallRecord], None],
    opener: Opener = lambda: None,
) -> BaseModel:
    """Run one structured extraction; every provider response is passed to `sink`.

    `opener` runs before each request is sent and writes its ledger row. Raises the
    provider's own exception, ValidationError after the last re-ask, or the opener's error
    (the request then never left).
    """
    recorder = _Recorder(model, provider, opener, sink)
    client = clients.openai if provider == "openai" else clients.anthropic
    kwargs: dict[str, Any] = {"max_tokens": max_output_tokens}
    messages = caching.stable_first(messages)  # the cacheable prefix before the document
    if provider == "anthropic":
        system = caching.anthropic_system(messages)  # one block, marked for caching
        if system is not None:
            kwargs["system"] = system
        messages = caching.without_system(messages)
    token = _SENDING.set(recorder)
    try:
        return client.chat.completions.create(
            model=model,
            messages=messages,  # type: ignore[arg-type]
            response_model=instructor_model(response_model),
            max_retries=reask_policy(max_reasks),
            hooks=recorder.hooks(),
            **kwargs,
        )
    except Exception as exc:
        if recorder.open_error is not None:  # the SDK wrapped it as a connection error
            raise recorder.open_error from exc
        if isinstance(exc, InstructorRetryException):
            raise unwrap(exc) from exc
        raise
    finally:
        _SENDING.reset(token)
        recorder.flush()  # the last response is billed even if parsing raised
