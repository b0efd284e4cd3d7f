"""The simulator CLI serves real HTTP and sustains the load the bench needs."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time

import httpx

from tests.support.paths import REPO
from tests.unit.simulator.harness import DOC, Invoice, user


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _keepalive_load(port: int, request: bytes, total: int, connections: int) -> float:
    """Send `total` requests over `connections` keep-alive sockets; return requests per second.

    A bare asyncio HTTP/1.1 client: an SDK or httpx client costs more CPU per request than
    the simulator does, and would measure itself instead of the server.
    """
    pending = iter(range(total))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in pending:
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.split(b" ", 2)[1] == b"200"
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return total / (time.perf_counter() - start)


def test_cli_serves_a_hundred_requests_in_flight_at_once() -> None:
    """`python -m scripts.simulator` at 200 ms latency holds 100 keep-alive calls at once.

    Concurrency is the property the pipeline relies on; its throughput is `make bench`'s
    business, not a wall-clock assert on a shared 2-core machine.
    """
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.simulator", "--port", str(port), "--latency-ms", "200"],
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{port}"
    body = json.dumps(
        {
            "model": "gpt-5.6-luna",
            "messages": user(DOC * 20),
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "Invoice", "schema": Invoice.model_json_schema()},
            },
        }
    ).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/sim/health").raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        asyncio.run(_keepalive_load(port, request, 1500, 100))
        snapshot = httpx.get(f"{base}/sim/stats?samples=0").json()
        assert snapshot["max_in_flight"] >= 90
        assert snapshot["by_model"]["gpt-5.6-luna"]["ok"] == 1500
    finally:
        proc.terminate()
        proc.wait(timeout=10)
