"""One simulator for every test here, reset to its initial state before each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from scripts.simulator import BackgroundSimulator, SimState


@pytest.fixture(scope="package")
def sim() -> Iterator[BackgroundSimulator]:
    """One simulator for the package, on a free loopback port."""
    with BackgroundSimulator(SimState(record_requests=20)) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset(sim: BackgroundSimulator) -> None:
    httpx.post(f"{sim.base_url}/sim/reset").raise_for_status()
