"""The simulator's ASGI app: OpenAI and Anthropic endpoints plus the /sim control surface."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive

from scripts.simulator import anthropic_wire, openai_wire
from scripts.simulator.answers import build_answer, document_words, make_invalid
from scripts.simulator.batch_routes import batch_routes
from scripts.simulator.calls import Answer, Call, WireError, new_id
from scripts.simulator.envelope import build_envelope, invalid_answer, is_envelope
from scripts.simulator.faults import Directives, decide, parse_directives, retry_headers
from scripts.simulator.hallucinate import env_rate
from scripts.simulator.prefix_cache import CacheUse, PrefixCache
from scripts.simulator.state import SAMPLE_INTERVAL_S, SimState, Stats
from scripts.simulator.tokens import input_tokens, output_tokens

MAX_TRACKED_DOCUMENTS = 100_000
CLIENT_GONE = 499  # nginx's code for "client closed request": counted, never seen by a client


@dataclass(frozen=True)
class Provider:
    """One wire format: how to parse a request and shape answers and errors."""

    parse: Callable[[dict[str, Any]], Call]
    render: Callable[[Call, Answer, CacheUse], Any]
    error_body: Callable[[int, str | None, str | None], Any]
    request_id_header: str


OPENAI = Provider(openai_wire.parse, openai_wire.render, openai_wire.error_body, "x-request-id")
ANTHROPIC = Provider(
    anthropic_wire.parse, anthropic_wire.render, anthropic_wire.error_body, "request-id"
)


async def sleep_or_disconnect(receive: Receive, seconds: float) -> bool:
    """Sleep, but return False as soon as the client disconnects, so no hang outlives it."""
    if seconds <= 0:
        return True

    async def watch() -> None:
        # The body is already read, so the next ASGI message can only be the disconnect.
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(watch())
    try:
        done, _ = await asyncio.wait({watcher}, timeout=seconds)
    finally:
        watcher.cancel()
    return not done


class Simulator:
    """State, counters and the request pipeline shared by every endpoint."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.initial = state.copy()
        self.stats = Stats()
        self.rng = random.Random(state.seed)
        self.seen: dict[int, int] = {}
        self.hallucinate = env_rate()  # DOCQUEUE_SIM_HALLUCINATE: evidence envelopes only
        self.prefixes = PrefixCache()  # the providers' prompt caches

    async def complete(self, request: Request, provider: Provider) -> Response:
        """Serve one completion request, keeping the in-flight gauges right on every path."""
        self.stats.arrive(request.headers.get("x-client-request-id"))
        try:
            raw = await request.body()
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return self._error(
                    provider,
                    "unknown",
                    400,
                    message="We could not parse the JSON body of your request.",
                )
            model = body["model"] if isinstance(body.get("model"), str) else "unknown"
            self.stats.begin(model)
            try:
                return await self._answer(request, provider, body, model)
            finally:
                self.stats.end(model)
        finally:
            self.stats.leave()

    async def _answer(
        self, request: Request, provider: Provider, body: dict[str, Any], model: str
    ) -> Response:
        self.stats.record(request.url.path, body, self.state.record_requests)
        try:
            call = provider.parse(body)
        except WireError as exc:
            return self._error(provider, model, exc.status, message=exc.message, param=exc.param)
        directives = parse_directives(call.document)
        decision = decide(
            self.state,
            model,
            directives,
            first_turn=call.first_turn,
            seen=self._seen(call, directives),
            rng=self.rng,
        )
        counters = self.stats.model(model)
        if decision.status is not None:
            counters.faults += 1
            headers = retry_headers(decision.status, self.rng)
            return self._error(provider, model, decision.status, headers=headers)
        if decision.hang_s > 0:
            counters.faults += 1
            counters.timeouts += 1
        if not await sleep_or_disconnect(request.receive, decision.hang_s + decision.latency_s):
            self.stats.model(model).disconnects += 1
            self.stats.count_status(model, CLIENT_GONE)
            return Response(status_code=CLIENT_GONE)

        answer, payload = self.rendered(provider, call, decision.invalid)
        counters = self.stats.model(model)  # re-read: a reset may have happened meanwhile
        counters.ok += 1
        counters.invalid += int(decision.invalid)
        counters.input_tokens += answer.input_tokens
        counters.output_tokens += answer.output_tokens
        self.stats.count_status(model, 200)
        return JSONResponse(payload, headers={provider.request_id_header: new_id("req_")})

    def _seen(self, call: Call, directives: Directives) -> int:
        """How many earlier requests carried this document (tracked only for fail_times)."""
        if directives.fail_times is None:
            return 0
        if len(self.seen) > MAX_TRACKED_DOCUMENTS:
            self.seen.clear()  # a bound, not an LRU: fail_times runs are short-lived tests
        key = zlib.crc32(call.seed_text.encode("utf-8", "replace"))
        count = self.seen.get(key, 0)
        self.seen[key] = count + 1
        return count

    def rendered(self, provider: Provider, call: Call, invalid: bool) -> tuple[Answer, Any]:
        """A parsed call's answer and its wire payload: what a 200 (realtime or batch) carries."""
        answer = self._build(call, invalid)  # input_tokens: all of them, cached ones included
        return answer, provider.render(call, answer, self.prefixes.use(call))

    def _build(self, call: Call, invalid: bool) -> Answer:
        """The answer, its JSON text (plain text when no schema was given) and its usage."""
        value: Any
        if call.schema is None:
            value = text = " ".join(document_words(call.seed_text)[:12])
        else:
            value = (
                build_envelope(
                    call.schema, call.seed_text, call.document, self.state.seed, self.hallucinate
                )
                if is_envelope(call.schema)
                else build_answer(call.schema, call.seed_text, self.state.seed)
            )
            if invalid:  # a well-formed answer that fails validation (an envelope's `data`)
                fail = invalid_answer if is_envelope(call.schema) else make_invalid
                value = fail(value, call.schema)
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        in_tokens = input_tokens(call.texts, call.schema_objs)
        out_tokens = output_tokens(text)
        if call.max_tokens is not None and out_tokens > call.max_tokens:
            # Like the real APIs: output stops at max_tokens and the finish reason says so.
            cut = text[: call.max_tokens * 4]
            return Answer(value, cut, in_tokens, call.max_tokens, truncated=True)
        return Answer(value, text, in_tokens, out_tokens, truncated=False)

    def _error(
        self,
        provider: Provider,
        model: str,
        status: int,
        *,
        message: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        self.stats.count_status(model, status)
        all_headers = {provider.request_id_header: new_id("req_"), **(headers or {})}
        body = provider.error_body(status, message, param)
        return JSONResponse(body, status_code=status, headers=all_headers)

    def reset(self) -> None:
        """Counters to zero and configuration back to what the app was created with."""
        self.state.merge(self.initial.to_dict())
        self.stats.reset()
        self.seen.clear()
        self.prefixes.clear()
        self.rng = random.Random(self.state.seed)

    async def sample_forever(self) -> None:
        """Record in_flight every SAMPLE_INTERVAL_S for utilisation measurements."""
        while True:
            self.stats.sample()
            await asyncio.sleep(SAMPLE_INTERVAL_S)


def create_app(state: SimState | None = None) -> Starlette:
    """Build the simulator app; `state` is its initial (and reset) configuration."""
    sim = Simulator(state if state is not None else SimState())

    async def chat_completions(request: Request) -> Response:
        return await sim.complete(request, OPENAI)

    async def messages(request: Request) -> Response:
        return await sim.complete(request, ANTHROPIC)

    async def count_tokens(request: Request) -> Response:
        # Same formula as the usage of a real call, so a pre-flight count matches the bill.
        try:
            body = json.loads(await request.body())
            call = anthropic_wire.parse({"max_tokens": 1, **body})
        except (ValueError, TypeError, WireError) as exc:
            message = exc.message if isinstance(exc, WireError) else "invalid JSON body"
            return JSONResponse(anthropic_wire.error_body(400, message), status_code=400)
        return JSONResponse({"input_tokens": input_tokens(call.texts, call.schema_objs)})

    async def stats(request: Request) -> Response:
        since = request.query_params.get("since")
        with_samples = request.query_params.get("samples", "1") not in ("0", "false")
        try:
            since_value = float(since) if since else None
        except ValueError:
            return JSONResponse({"error": "since must be a unix time"}, status_code=400)
        return JSONResponse(sim.stats.snapshot(since_value, with_samples))

    async def config(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = json.loads(await request.body() or b"{}")
                if isinstance(changes, dict):
                    sim.state.merge(changes)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            if not isinstance(changes, dict):
                return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
            if "seed" in changes:
                sim.rng = random.Random(sim.state.seed)
        return JSONResponse(sim.state.to_dict())

    async def reset(_: Request) -> Response:
        sim.reset()
        return JSONResponse(sim.state.to_dict())

    async def recorded(_: Request) -> Response:
        return JSONResponse(list(sim.stats.recorded))

    async def client_request_ids(_: Request) -> Response:
        return JSONResponse(list(sim.stats.client_request_ids))

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        sampler = asyncio.create_task(sim.sample_forever())
        try:
            yield
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
            Route("/sim/stats", stats, methods=["GET"]),
            Route("/sim/config", config, methods=["GET", "POST"]),
            Route("/sim/reset", reset, methods=["POST"]),
            Route("/sim/requests", recorded, methods=["GET"]),
            Route("/sim/client-request-ids", client_request_ids, methods=["GET"]),
            Route("/sim/health", health, methods=["GET"]),
            *batch_routes(sim, OPENAI, ANTHROPIC),
        ],
        lifespan=lifespan,
    )
    app.state.sim = sim
    return app
