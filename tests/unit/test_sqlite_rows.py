"""Row encoding of the SQLite store: CI and relationship snapshots written without model_dump."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.model import CIInput, Criticality, RelationshipInput, Status
from cmdb.store.sqlite_rows import ci_snapshot, dumps, relationship_snapshot
from cmdb.store.sqlite_write import _content, _snapshot

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


CI_CASES: list[CIInput] = [
    CIInput(key="srv-1", ci_class="Server", name="srv 1"),
    CIInput(
        key="pump-7",
        ci_class="MedicalDevice",
        name='Pump "7" — Zimmer 3',
        status=Status.MAINTENANCE,
        criticality=Criticality.LIFE_CRITICAL,
        identifiers={"serial": "SN\t7", "macs": ["00:1A:2B:3C:4D:5E"], "ips": ["10.0.0.7"]},
        attributes={"manufacturer": "Bäxter", "patient_connected": True, "fda_class": "II"},
        tags=["Medication", "icu"],
    ),
    CIInput(
        key="team-clin",
        ci_class="Team",
        name="team",
        attributes={"notify_for_tags": ["medication", "imaging"], "on_call": "555\n0100"},
    ),
]


@pytest.mark.parametrize("ci", CI_CASES, ids=[ci.key for ci in CI_CASES])
def test_ci_snapshot_matches_dumps(ci: CIInput) -> None:
    sources = {name: "import:hl7 \u2014 feed" for name in ci.attributes}
    expected = dumps(_snapshot(ci, 2, sources))

    assert ci_snapshot(ci, _content(ci), dumps(sources), 2) == expected


def test_ci_snapshot_skips_nested_attributes() -> None:
    ci = CIInput(key="ws-1", ci_class="Workstation", name="ws", attributes={"software": [{"name": "x"}]})

    assert ci_snapshot(ci, _content(ci), "{}", 1) is None
