"""The partitions bench's pure helpers: a plan's execution time and the fill's tenant ids."""

from __future__ import annotations

import uuid

from scripts.bench.partition_data import tenant_id
from scripts.bench.partitions import execution_ms

PLAN = """Index Scan using pk_jobs on jobs  (cost=0.42..8.44 rows=1 width=1903)
Planning Time: 0.118 ms
Trigger for constraint fk_llm_calls_job_id_jobs: time=139.002 calls=5000
Execution Time: 572.392 ms"""


def test_the_execution_time_is_read_from_the_plan_triggers_included() -> None:
    assert execution_ms(PLAN) == 572.392


def test_a_plan_without_an_execution_time_reads_as_zero() -> None:
    assert execution_ms("Seq Scan on jobs  (cost=0.00..1.00 rows=1 width=8)") == 0.0


def test_tenant_ids_are_the_md5_uuids_the_sql_fill_writes() -> None:
    # md5('t1')::uuid in Postgres
    assert tenant_id(1) == uuid.UUID("83f1535f-99ab-0bf4-e9d0-2dfd85d3e3f7")
    assert len({tenant_id(i) for i in range(1, 1001)}) == 1000
