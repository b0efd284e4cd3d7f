"""Pure parts of batch intake and the ingest CLI: NDJSON splitting, sources, client retries."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from api.intake.batch import ndjson_lines
from scripts.client import ApiClientError
from scripts.client import Client as ApiClient
from scripts.ingest import run as ingest
from scripts.ingest import sources as ingest_sources


def split(chunks: list[bytes], limit: int = 10) -> list[tuple[int, bytes | None]]:
    """Run ndjson_lines over the chunks."""

    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async def collect() -> list[tuple[int, bytes | None]]:
        return [item async for item in ndjson_lines(source(), max_line_bytes=limit)]

    return anyio.run(collect)


def test_ndjson_lines_join_across_chunks_and_number_every_line() -> None:
    assert split([b"ab", b"c\nde", b"f\n\ng"]) == [(1, b"abc"), (2, b"def"), (3, b""), (4, b"g")]


def test_ndjson_line_over_the_limit_is_none_and_the_next_line_survives() -> None:
    lines = split([b"0123456789", b"0123456789", b"xx\nok\n"], limit=10)
    assert lines == [(1, None), (2, b"ok")]


def test_oversized_last_line_without_newline_is_none() -> None:
    assert split([b"ok\n", b"x" * 30], limit=10) == [(1, b"ok"), (2, None)]


def test_folder_expansion_finds_documents_sorted_and_skips_other_files(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    for name in ("b/z.md", "a.txt", "b/c.pdf", "skip.bin", "b/d.docx", "e.html"):
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in ingest_sources.expand([str(tmp_path)])]
    assert found == ["a.txt", "b/c.pdf", "b/d.docx", "b/z.md", "e.html"]
    globbed = ingest_sources.expand([str(tmp_path / "**" / "*.md")])
    assert [p.name for p in globbed] == ["z.md"]
    with pytest.raises(ingest_sources.SourceError, match="no such file"):
        ingest_sources.expand([str(tmp_path / "missing")])


def test_file_keys_hash_content_and_schema_and_binaries_go_as_base64(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("same words")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.4 binary")
    a, b = ingest_sources.read(sorted(tmp_path.iterdir()), schema="invoice")
    assert a.key == ingest_sources.content_key(b"same words", "invoice")
    assert a.key != ingest_sources.content_key(b"same words", "contract")
    assert a.body["text"] == "same words"
    assert "text" not in b.body
    assert base64.b64decode(b.body["content_base64"]) == b"%PDF-1.4 binary"


def test_csv_rows_put_extra_columns_in_metadata_and_keep_given_keys(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    path.write_text('text,key,filename,customer\n"line one, with comma",k1,a.txt,acme\nhi,,,x\n')
    first, second = ingest_sources.read([path], schema="invoice")
    assert ingest_sources.count_rows(path) == 2
    assert first.body == {
        "key": "k1",
        "metadata": {"customer": "acme"},
        "text": "line one, with comma",
        "filename": "a.txt",
    }
    assert second.key == ingest_sources.content_key(b"hi", "invoice")


def test_jsonl_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"text": "ok", "metadata": {"a": 1}}) + "\n\n{oops\n")
    docs = ingest_sources.read([path], schema="invoice")
    assert next(docs).body["metadata"] == {"a": 1}
    with pytest.raises(ingest_sources.SourceError, match=r"docs.jsonl:3"):
        next(docs)


def test_groups_respect_size() -> None:
    docs = [ingest_sources.Doc(f"k{i}", {}, 10) for i in range(5)]
    sizes = [len(g) for g in ingest.groups(docs, size=2)]
    assert sizes == [2, 2, 1]


def test_client_retries_429_and_5xx_honouring_retry_after_then_succeeds() -> None:
    limited = {"error": {"type": "rate_limited", "message": "slow down"}}
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "2"}, json=limited),
            httpx.Response(503, text="busy"),
            httpx.Response(200, json={"id": "b1"}),
        ]
    )
    seen: list[str] = []
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return next(answers)

    transport = httpx.MockTransport(handler)
    with ApiClient(
        base_url="http://api", api_key="k", transport=transport, sleep=slept.append
    ) as api:
        assert api.get_batch("b1") == {"id": "b1"}
    assert seen == ["Bearer k"] * 3
    assert slept[0] == 2.0  # Retry-After, not the backoff
    assert 0 < slept[1] < 30


def test_client_reports_4xx_at_once_and_gives_up_on_network_errors() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if request.url.path.endswith("gone"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(404, json={"error": {"type": "not_found", "message": "batch x"}})

    transport = httpx.MockTransport(handler)
    with ApiClient(
        base_url="http://api", api_key="k", attempts=3, max_wait_s=0.01, transport=transport
    ) as api:
        with pytest.raises(ApiClientError, match="HTTP 404 not_found: batch x"):
            api.get_batch("x")
        assert calls == 1
        with pytest.raises(ApiClientError, match="cannot reach http://api"):
            api.get_batch("gone")
    assert calls == 4
