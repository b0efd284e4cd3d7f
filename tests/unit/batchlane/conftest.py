"""A real simulator process-thread for the adapter tests, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from scripts.simulator import BackgroundSimulator, SimState


@pytest.fixture(scope="package")
def sim() -> Iterator[BackgroundSimulator]:
    """One simulator (uvicorn on a free loopback port) for the package."""
    with BackgroundSimulator(SimState()) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset(sim: BackgroundSimulator) -> None:
    httpx.post(f"{sim.base_url}/sim/reset").raise_for_status()


@pytest.fixture
def openai_client(sim: BackgroundSimulator) -> openai.OpenAI:
    """The official OpenAI SDK aimed at the simulator."""
    return openai.OpenAI(base_url=sim.openai_base_url, api_key="sk-sim", max_retries=0)


@pytest.fixture
def anthropic_client(sim: BackgroundSimulator) -> anthropic.Anthropic:
    """The official Anthropic SDK aimed at the simulator."""
    return anthropic.Anthropic(base_url=sim.base_url, api_key="sk-sim", max_retries=0)
