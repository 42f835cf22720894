"""History through the store protocol: versions in force at an instant, the graph and impact as of then."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from cmdb.changes.history import diff_versions, graph_as_of, impact_as_of
from cmdb.impact import ImpactRequest, Mode, analyze
from cmdb.model import ChangeContext, Origin, Status
from cmdb.store.base import CINotFoundError, GraphStore
from tests.conformance.factories import ci, rel

LATER = ChangeContext(actor="bob", origin=Origin.API, request_id="req-later")


def _instant_between_writes() -> datetime:
    """Return now, after a pause on both sides, so no write shares the instant."""
    time.sleep(0.01)
    instant = datetime.now(UTC)
    time.sleep(0.01)
    return instant


def _change_graph_after(store: GraphStore) -> datetime:
    """Note an instant, then retire app-pacs and make app-aims depend on app-ris; return the instant."""
    before = _instant_between_writes()
    store.retire_ci("app-pacs", expected_version=None, context=LATER)
    store.upsert_relationships([rel("app-aims", "DEPENDS_ON", "app-ris")], context=LATER, strict=True)
    return before


def test_versions_as_of_before_any_write(store: GraphStore, context: ChangeContext) -> None:
    before = _instant_between_writes()
    store.upsert_cis([ci("srv-1")], context=context)

    assert store.versions_as_of(before) == []
    assert [v.key for v in store.versions_as_of(datetime.now(UTC))] == ["srv-1"]


def test_versions_as_of_picks_version_in_force(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1", attributes={"os": "RHEL 8"})], context=context)
    between = _instant_between_writes()
    store.upsert_cis([ci("srv-1", attributes={"os": "RHEL 9"})], context=context)

    then = store.versions_as_of(between)
    now = store.versions_as_of(datetime.now(UTC) + timedelta(seconds=1))

    assert [(v.key, v.version, v.snapshot["attributes"]["os"]) for v in then] == [("srv-1", 1, "RHEL 8")]
    assert [(v.key, v.version, v.snapshot["attributes"]["os"]) for v in now] == [("srv-1", 2, "RHEL 9")]


def test_versions_as_of_boundaries_half_open(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1", attributes={"os": "a"})], context=context)
    store.upsert_cis([ci("srv-1", attributes={"os": "b"})], context=context)
    first, second = [v for v in store.versions("srv-1") if v.entity == "ci"]
    assert first.valid_to == second.valid_from

    at_change = store.versions_as_of(second.valid_from)
    at_start = store.versions_as_of(first.valid_from)

    assert [v.version for v in at_change] == [2]
    assert [v.version for v in at_start] == [1]


def test_versions_as_of_needs_time_zone(store: GraphStore) -> None:
    with pytest.raises(ValueError, match="time zone"):
        store.versions_as_of(datetime(2027, 1, 5, 8, 0))


def test_graph_as_of_keeps_retired_ci_with_status_then(hospital: GraphStore) -> None:
    before = _change_graph_after(hospital)

    then = graph_as_of(store=hospital, at=before)
    now = graph_as_of(store=hospital, at=datetime.now(UTC))

    assert then.cis["app-pacs"]["status"] == Status.IN_SERVICE.value
    assert now.cis["app-pacs"]["status"] == Status.RETIRED.value
    assert len(then.cis) == 72


def test_graph_as_of_leaves_out_later_relationship(hospital: GraphStore) -> None:
    before = _change_graph_after(hospital)
    added = ("app-aims", "DEPENDS_ON", "app-ris")

    then = {
        (r["source"], r["type"], r["target"]) for r in graph_as_of(store=hospital, at=before).relationships
    }
    now = {
        (r["source"], r["type"], r["target"])
        for r in graph_as_of(store=hospital, at=datetime.now(UTC)).relationships
    }

    assert added not in then
    assert added in now
    assert len(then) == 160


def test_impact_as_of_answers_from_graph_then(hospital: GraphStore) -> None:
    before = _change_graph_after(hospital)
    request = ImpactRequest(roots={"vm-ris": Mode.DOWN})

    then = impact_as_of(store=hospital, request=request, at=before)
    now = analyze(store=hospital, request=request)

    then_states = {ci.key: ci.state for ci in then.impacted}
    now_states = {ci.key: ci.state for ci in now.impacted}
    assert then_states == {
        "vm-ris": "DOWN",
        "app-ris": "DOWN",
        "app-pacs": "DEGRADED",
        "svc-imaging": "DOWN",
        "dept-ed": "DOWN",
        "dept-radiology": "DOWN",
    }
    assert "app-pacs" not in now_states
    assert now_states["app-aims"] == "DOWN"


def test_impact_as_of_now_matches_analyze(hospital: GraphStore) -> None:
    _change_graph_after(hospital)
    request = ImpactRequest(roots={"app-ehr": Mode.PLANNED_OUTAGE, "vm-ris": Mode.DOWN}, urgency=1)

    as_of_now = impact_as_of(store=hospital, request=request, at=datetime.now(UTC) + timedelta(seconds=1))
    current = analyze(store=hospital, request=request)

    assert as_of_now.to_expected_shape() == current.to_expected_shape()


def test_impact_as_of_unknown_then_raises(hospital: GraphStore, context: ChangeContext) -> None:
    before = _instant_between_writes()
    hospital.upsert_cis([ci("srv-new")], context=context)

    with pytest.raises(CINotFoundError) as raised:
        impact_as_of(store=hospital, request=ImpactRequest(roots={"srv-new": Mode.DOWN}), at=before)

    assert raised.value.key == "srv-new"


def test_diff_between_versions(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1", attributes={"os": "RHEL 8"}, tags=["a"])], context=context)
    store.upsert_cis([ci("srv-1", name="db host", attributes={"os": "RHEL 9", "cpu": 8})], context=context)

    changes = diff_versions(store=store, key="srv-1", before=1, after=2)

    assert [(c.field, c.before, c.after) for c in changes] == [
        ("attributes.cpu", None, 8),
        ("attributes.os", "RHEL 8", "RHEL 9"),
        ("name", "srv-1", "db host"),
        ("tags", ["a"], []),
    ]


def test_diff_unknown_version_raises(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1")], context=context)

    with pytest.raises(LookupError, match="has no version 3; its versions are 1"):
        diff_versions(store=store, key="srv-1", before=1, after=3)
