"""`docqueue extractor`, `rerun` and `diff` as real subprocesses against the shared live stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import ok, one_error
from tests.support.paths import REPO
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant

pytestmark = pytest.mark.e2e

DOCQUEUE = str(Path(sys.executable).with_name("docqueue"))
SAMPLES = REPO / "scripts" / "samples"
CLAIMS_SCHEMA = SAMPLES / "extractors" / "claims_form.json"
CLAIMS_NOTES = SAMPLES / "extractors" / "claims_form.md"
CLAIMS = sorted(SAMPLES.glob("claim-*.txt"))
BUILT_INS = ("invoice", "contract", "resume", "document_summary")
NEW_FIELD = "adjuster_notes"


def cli(live: LiveStack, tenant: Tenant, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `docqueue ARGS` as `tenant`, on a terminal wide enough for whole table rows."""
    env = {
        **os.environ,
        "DOCQUEUE_API_URL": live.api_url,
        "DOCQUEUE_API_KEY": tenant.api_key,
        "COLUMNS": "240",
    }
    return subprocess.run(
        [DOCQUEUE, *args],
        check=False,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )


def second_version(tmp_path: Path) -> Path:
    """claims_form.json with one more required top-level field."""
    schema = json.loads(CLAIMS_SCHEMA.read_text())
    schema["properties"][NEW_FIELD] = {
        "type": "string",
        "maxLength": 500,
        "description": "Notes an adjuster added to the form for office use.",
    }
    schema["required"].append(NEW_FIELD)
    path = tmp_path / "claims_form_v2.json"
    path.write_text(json.dumps(schema))
    return path


def create(live: LiveStack, tenant: Tenant, schema: Path) -> str:
    """`docqueue extractor create claims_form`; its one line of stdout."""
    args = ["extractor", "create", "claims_form", "--schema", str(schema)]
    return ok(cli(live, tenant, *args, "--instructions", str(CLAIMS_NOTES))).strip()


def table_row(stdout: str, first_cell: str) -> list[str]:
    """The cells of the rich table row whose first cell is `first_cell`."""
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("┃│").split("│")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{stdout}")


def batch_of(ingested: str) -> str:
    """The batch id of `docqueue ingest`'s `batch: ID` line."""
    line = next(line for line in ingested.splitlines() if line.startswith("batch:"))
    (batch_id,) = line.removeprefix("batch:").split()
    return batch_id


def counts(live: LiveStack, tenant: Tenant, batch_id: str) -> dict[str, Any]:
    """GET /v1/batches/{id} as the tenant."""
    with live.client(tenant) as client:
        answer = client.get(f"/v1/batches/{batch_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_the_same_extractor_again_is_unchanged_and_a_changed_schema_is_version_2(
    live: LiveStack, tmp_path: Path
) -> None:
    tenant = live.tenant("cli-extractor-versions")
    assert create(live, tenant, CLAIMS_SCHEMA) == "created claims_form@1"
    assert create(live, tenant, CLAIMS_SCHEMA) == "unchanged claims_form@1"
    assert create(live, tenant, second_version(tmp_path)) == "created claims_form@2"

    latest = json.loads(ok(cli(live, tenant, "extractor", "show", "claims_form")))
    first = json.loads(ok(cli(live, tenant, "extractor", "show", "claims_form", "--version", "1")))
    assert NEW_FIELD in latest["properties"]
    assert NEW_FIELD not in first["properties"]
    assert set(first["properties"]) == set(json.loads(CLAIMS_SCHEMA.read_text())["properties"])

    listed = ok(cli(live, tenant, "extractor", "list"))
    assert table_row(listed, "claims_form")[1:4] == ["tenant", "@2", "no"]
    for name in BUILT_INS:
        assert table_row(listed, name)[1] == "system"


def test_an_archived_extractor_is_listed_as_archived_and_ingest_refuses_it(
    live: LiveStack,
) -> None:
    tenant = live.tenant("cli-extractor-archive")
    assert create(live, tenant, CLAIMS_SCHEMA) == "created claims_form@1"
    archived = ok(cli(live, tenant, "extractor", "archive", "claims_form"))
    assert archived.startswith("archived claims_form")

    listed = ok(cli(live, tenant, "extractor", "list"))
    assert table_row(listed, "claims_form")[3] == "yes"
    # Archiving stops new work only: the versions stay readable.
    shown = json.loads(ok(cli(live, tenant, "extractor", "show", "claims_form")))
    assert shown["properties"]["claim_number"]["pattern"] == "^CLM-[0-9]{6}$"

    refused = cli(live, tenant, "ingest", *map(str, CLAIMS), "--schema", "claims_form")
    assert "archived" in one_error(refused).lower()
    with live.client(tenant) as client:
        assert client.get("/v1/jobs").json()["items"] == []  # nothing was queued


def test_a_schema_with_a_backtracking_pattern_is_refused_with_its_pointer(
    live: LiveStack, tmp_path: Path
) -> None:
    tenant = live.tenant("cli-extractor-invalid")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"ref": {"type": "string", "pattern": "^(a+)\\1$"}},
                "required": ["ref"],
            }
        )
    )
    refused = cli(live, tenant, "extractor", "create", "echoes", "--schema", str(bad))
    line = one_error(refused)
    assert line.startswith("error: schema_invalid at /properties/ref/pattern: ")
    assert len(line) > len("error: schema_invalid at /properties/ref/pattern: ")  # a reason
    assert "created" not in refused.stdout
    listed = ok(cli(live, tenant, "extractor", "list"))
    assert "echoes" not in listed


def test_a_rerun_under_version_2_is_a_new_batch_whose_diff_shows_the_added_field(
    live: LiveStack, tmp_path: Path
) -> None:
    tenant = live.tenant("cli-extractor-rerun")
    assert create(live, tenant, CLAIMS_SCHEMA) == "created claims_form@1"
    ingested = ok(
        cli(live, tenant, "ingest", *map(str, CLAIMS), "--schema", "claims_form@1", "--wait")
    )
    old = batch_of(ingested)
    assert counts(live, tenant, old)["counts"]["succeeded"] == len(CLAIMS) == 3
    assert create(live, tenant, second_version(tmp_path)) == "created claims_form@2"

    rerun = ok(cli(live, tenant, "rerun", old, "--schema", "claims_form@2", "--wait"))
    new = rerun.strip().splitlines()[-1]
    assert new != old
    rerun_batch = counts(live, tenant, new)
    assert rerun_batch["counts"]["succeeded"] == len(CLAIMS)
    assert rerun_batch["finished_at"] is not None  # --wait waited

    summary = ok(cli(live, tenant, "diff", new, old))
    assert table_row(summary, NEW_FIELD)[1:] == ["0", str(len(CLAIMS)), "0"]
    assert int(table_row(summary, "total")[2]) >= len(CLAIMS)

    streamed = ok(cli(live, tenant, "diff", new, old, "--ndjson"))
    lines = [json.loads(line) for line in streamed.splitlines()]
    documents, final = lines[:-1], lines[-1]
    assert final["type"] == "summary"
    assert final["fields"][NEW_FIELD]["added"] == len(CLAIMS)
    assert len(documents) == len(CLAIMS)
    for doc in documents:
        assert doc["type"] == "document"
        assert doc["filename"].endswith(".txt")
        new_field = [c for c in doc["changes"] if c["field"] == NEW_FIELD]
        assert [c["change"] for c in new_field] == ["added"]
        assert new_field[0]["after"]
