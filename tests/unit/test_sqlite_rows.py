"""Row encoding of the SQLite store: relationship snapshots written without model_dump."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.model import RelationshipInput
from cmdb.store.sqlite_rows import dumps, relationship_snapshot

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("app", "web", {}),
    ("pump-1", "acc-sw", {"port": "Gi1/0/7", "vlan": 120, "strength": "soft"}),
    ('quote"key', "back\\slash", {"note": "tab\there\nnewline", "flag": True, "empty": None}),
    ("Überwachung-Station", "日本-sw", {"label": "Zimmer 3 — Bett 2", "ctl": "\x01\x1f"}),
    ("a", "b", {"weight": 0.5, "nested": {"z": 1, "a": [1, "x"]}}),
]


@pytest.mark.parametrize(("source", "target", "properties"), CASES)
def test_relationship_snapshot_matches_dumps(source: str, target: str, properties: dict[str, Any]) -> None:
    rel = RelationshipInput(source=source, type="CONNECTS_TO", target=target, properties=properties)
    expected = dumps({**rel.model_dump(mode="json"), "version": 3})

    assert relationship_snapshot(rel, dumps(rel.properties), 3) == expected
