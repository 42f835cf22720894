"""Loading the demo hospital: batching through the store protocol, and a real SQLite store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pytest

from cmdb.demo import generate_hospital, load_demo
from cmdb.model import ChangeContext, CIInput, Origin, RelationshipInput
from cmdb.store.base import GraphStore, UpsertResult

CONTEXT = ChangeContext(actor="demo-test", origin=Origin.DEMO, request_id="test")


class RecordingStore:
    """Records the size of every batch it is given and reports each row as added."""

    def __init__(self) -> None:
        self.ci_batches: list[int] = []
        self.relationship_batches: list[int] = []
        self.ci_keys: list[str] = []

    def upsert_cis(
        self, cis: Sequence[CIInput], *, context: ChangeContext, strict: bool = False
    ) -> UpsertResult:
        self.ci_batches.append(len(cis))
        self.ci_keys.extend(ci.key for ci in cis)
        return UpsertResult(added=len(cis))

    def upsert_relationships(
        self, relationships: Sequence[RelationshipInput], *, context: ChangeContext, strict: bool = False
    ) -> UpsertResult:
        assert self.ci_batches, "relationships written before any CI"
        self.relationship_batches.append(len(relationships))
        return UpsertResult(added=len(relationships))


def test_load_writes_in_batches() -> None:
    store = RecordingStore()
    summary = load_demo(store=cast(GraphStore, store), seed=7, scale=1, context=CONTEXT, batch_size=1000)
    hospital = generate_hospital(seed=7, scale=1)
    assert sum(store.ci_batches) == len(hospital.cis)
    assert max(store.ci_batches) == 1000
    assert sum(store.relationship_batches) == len(hospital.relationships)
    assert max(store.relationship_batches) == 1000
    assert store.ci_keys == [ci.key for ci in hospital.cis]
    assert summary == {
        "cis": len(hospital.cis),
        "relationships": len(hospital.relationships),
        "added": len(hospital.cis) + len(hospital.relationships),
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }


def test_load_rejects_invalid_batch_size() -> None:
    with pytest.raises(ValueError, match="invalid batch size 0"):
        load_demo(store=cast(GraphStore, RecordingStore()), context=CONTEXT, batch_size=0)


def test_load_into_sqlite_twice(sqlite_store: GraphStore) -> None:
    first = load_demo(store=sqlite_store, seed=7, scale=1, context=CONTEXT, batch_size=2000)
    assert first["rejected"] == 0
    assert first["added"] == first["cis"] + first["relationships"]
    second = load_demo(store=sqlite_store, seed=7, scale=1, context=CONTEXT, batch_size=2000)
    assert second["unchanged"] == first["cis"] + first["relationships"]
    assert second["added"] == 0
    counts = sqlite_store.counts()
    assert counts["cis"] == first["cis"]
    assert counts["relationships"] == first["relationships"]
