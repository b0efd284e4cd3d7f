"""python -m scripts.simulator --host 127.0.0.1 --port 8900 [--latency-ms N]."""

from __future__ import annotations

import argparse

import uvicorn

from scripts.simulator.server import uvicorn_config
from scripts.simulator.state import SimState


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the simulator until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m scripts.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--latency-jitter-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    state = SimState(
        latency_ms=args.latency_ms, latency_jitter_ms=args.latency_jitter_ms, seed=args.seed
    )
    uvicorn.Server(uvicorn_config(state, args.host, args.port)).run()


if __name__ == "__main__":
    main()
