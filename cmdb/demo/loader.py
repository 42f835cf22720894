"""Write a generated demo hospital into a store in batches."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TypeVar

from cmdb.demo.generator import generate_hospital
from cmdb.model import ChangeContext
from cmdb.store.base import GraphStore, UpsertResult

logger = logging.getLogger(__name__)

_Row = TypeVar("_Row")

DEFAULT_BATCH_SIZE = 5_000


def load_demo(
    *,
    store: GraphStore,
    seed: int = 7,
    scale: int = 1,
    context: ChangeContext,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, int]:
    """Generate the demo hospital and upsert it into ``store``, CIs first, ``batch_size`` rows per call.

    Returns the number of CIs and relationships generated and the added, updated,
    unchanged and rejected counts of the writes. Loading the same seed and scale
    twice leaves every row unchanged the second time.
    """
    if batch_size < 1:
        raise ValueError(f"invalid batch size {batch_size}; use 1 or more")
    started = time.perf_counter()
    hospital = generate_hospital(seed=seed, scale=scale)
    logger.info(
        "loading demo hospital seed %s scale %s: %d CIs, %d relationships",
        seed,
        scale,
        len(hospital.cis),
        len(hospital.relationships),
    )
    ci_result = UpsertResult()
    for offset, batch in _batches(hospital.cis, batch_size):
        ci_result.merge(store.upsert_cis(batch, context=context), index_offset=offset)
    rel_result = UpsertResult()
    for offset, rel_batch in _batches(hospital.relationships, batch_size):
        rel_result.merge(store.upsert_relationships(rel_batch, context=context), index_offset=offset)
    for label, result in (("CI", ci_result), ("relationship", rel_result)):
        for row in result.rejected[:10]:
            logger.warning("demo %s row %d (%s) rejected: %s", label, row.index, row.key, row.message)
    summary = {
        "cis": len(hospital.cis),
        "relationships": len(hospital.relationships),
        "added": ci_result.added + rel_result.added,
        "updated": ci_result.updated + rel_result.updated,
        "unchanged": ci_result.unchanged + rel_result.unchanged,
        "rejected": len(ci_result.rejected) + len(rel_result.rejected),
    }
    logger.info("loaded demo hospital in %.1f s: %s", time.perf_counter() - started, summary)
    return summary


def _batches(rows: Sequence[_Row], size: int) -> list[tuple[int, Sequence[_Row]]]:
    return [(offset, rows[offset : offset + size]) for offset in range(0, len(rows), size)]
