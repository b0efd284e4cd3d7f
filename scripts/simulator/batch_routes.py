"""The batch lane's routes: OpenAI Files + Batches, Anthropic Message Batches, billing record."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scripts.simulator.batch_anthropic import AnthropicBatches
from scripts.simulator.batch_openai import OpenAIBatches

if TYPE_CHECKING:
    from scripts.simulator.app import Provider, Simulator


def batch_routes(sim: Simulator, openai: Provider, anthropic: Provider) -> list[Route]:
    """Every batch endpoint, backed by in-memory stores that live as long as the app."""
    openai_batches = OpenAIBatches(sim, openai)
    anthropic_batches = AnthropicBatches(sim, anthropic)

    async def billed(_: Request) -> Response:
        # Succeeded items only: errored, expired and canceled items are never billed.
        return JSONResponse(list(sim.stats.batch_billed))

    return [
        *openai_batches.routes(),
        *anthropic_batches.routes(),
        Route("/sim/batches/billed", billed, methods=["GET"]),
    ]
