"""Benchmark (d): import rate through the store against raw executemany of the same rows."""

from __future__ import annotations

import time
from pathlib import Path

from bench.raw import insert_raw
from bench.timing import BenchResult
from cmdb.demo import DemoHospital
from cmdb.model import ChangeContext, CIInput, Origin, RelationshipInput
from cmdb.store import open_store
from cmdb.store.base import GraphStore

CONTEXT = ChangeContext(actor="bench", origin=Origin.DEMO, request_id="bench")


def import_rate(*, hospital: DemoHospital, store_path: Path, raw_path: Path, batch_size: int) -> BenchResult:
    """Load ``hospital`` into a fresh store at ``store_path`` and the same rows into plain tables.

    Rates are rows (CIs plus relationships) per second. The store is left in place for the
    other benchmarks. Validating the rows from plain dicts, which an import from a file does
    before calling the store, is timed apart and reported in the details.
    """
    rows = len(hospital.cis) + len(hospital.relationships)

    started = time.perf_counter()
    insert_raw(str(raw_path), hospital.cis, hospital.relationships, batch_size=batch_size)
    raw_seconds = time.perf_counter() - started

    store = open_store(f"sqlite:///{store_path}")
    try:
        started = time.perf_counter()
        rejected = _upsert(store, hospital, batch_size)
        store_seconds = time.perf_counter() - started
        counts = store.counts()
    finally:
        store.close()

    ci_dumps = [ci.model_dump(mode="json") for ci in hospital.cis]
    rel_dumps = [rel.model_dump(mode="json") for rel in hospital.relationships]
    started = time.perf_counter()
    for ci_row in ci_dumps:
        CIInput.model_validate(ci_row)
    for rel_row in rel_dumps:
        RelationshipInput.model_validate(rel_row)
    validation_seconds = time.perf_counter() - started

    store_rate = rows / store_seconds
    raw_rate = rows / raw_seconds
    return BenchResult(
        name="(d) import: store upsert vs raw executemany",
        unit="rows/s",
        measured=store_rate,
        baseline=raw_rate,
        goal=">= 0.3x and >= 100k rows/s",
        passed=store_rate >= 0.3 * raw_rate and store_rate >= 100_000,
        details={
            "rows": rows,
            "batch_size": batch_size,
            "store_seconds": round(store_seconds, 2),
            "raw_seconds": round(raw_seconds, 2),
            "rejected": rejected,
            "store_counts": counts,
            "pydantic_validation_seconds": round(validation_seconds, 2),
            "rate_with_validation": round(rows / (store_seconds + validation_seconds)),
        },
    )


def _upsert(store: GraphStore, hospital: DemoHospital, batch_size: int) -> int:
    rejected = 0
    for start in range(0, len(hospital.cis), batch_size):
        result = store.upsert_cis(hospital.cis[start : start + batch_size], context=CONTEXT)
        rejected += len(result.rejected)
    for start in range(0, len(hospital.relationships), batch_size):
        rel_result = store.upsert_relationships(
            hospital.relationships[start : start + batch_size], context=CONTEXT
        )
        rejected += len(rel_result.rejected)
    return rejected
