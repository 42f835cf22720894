"""Retirement, version history, counts, API tokens and health checks."""

from __future__ import annotations

import pytest

from cmdb.model import ChangeContext, Origin, Status
from cmdb.store.base import ApiToken, CINotFoundError, GraphStore, VersionConflictError
from tests.conformance.factories import ci, rel


def test_retire_sets_status_and_version(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1")], context=context)
    retirer = ChangeContext(actor="carol", origin=Origin.CHANGE, request_id="req-r", change_id="CHG-9")

    retired = store.retire_ci("srv-1", expected_version=1, context=retirer)

    assert retired.status is Status.RETIRED
    assert retired.version == 2
    stored = store.get_ci("srv-1")
    assert stored is not None
    assert stored.status is Status.RETIRED
    last = store.versions("srv-1")[-1]
    assert (last.operation, last.version, last.actor, last.origin) == ("retire", 2, "carol", "change")
    assert (last.request_id, last.change_id) == ("req-r", "CHG-9")
    assert last.snapshot["status"] == "retired"


def test_retire_keeps_the_ci(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1")], context=context)

    store.retire_ci("srv-1", expected_version=None, context=context)

    assert store.counts()["cis"] == 1
    assert [r.key for r in store.find_cis("srv-1")] == ["srv-1"]


def test_retire_unknown_ci_raises(store: GraphStore, context: ChangeContext) -> None:
    with pytest.raises(CINotFoundError) as raised:
        store.retire_ci("ghost", expected_version=None, context=context)

    assert raised.value.key == "ghost"


def test_retire_stale_version_raises(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1")], context=context)
    store.upsert_cis([ci("srv-1", name="renamed")], context=context)

    with pytest.raises(VersionConflictError) as raised:
        store.retire_ci("srv-1", expected_version=1, context=context)

    assert (raised.value.expected, raised.value.actual) == (1, 2)
    stored = store.get_ci("srv-1")
    assert stored is not None
    assert stored.status is Status.IN_SERVICE


def test_versions_include_outgoing_relationships(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("app", "Application"), ci("srv")], context=context)
    store.upsert_relationships([rel("app", "RUNS_ON", "srv")], context=context)

    app_history = store.versions("app")
    srv_history = store.versions("srv")

    assert [(v.entity, v.key) for v in app_history] == [("ci", "app"), ("relationship", "app|RUNS_ON|srv")]
    assert [(v.entity, v.key) for v in srv_history] == [("ci", "srv")]


def test_versions_of_unknown_ci_raise(store: GraphStore) -> None:
    with pytest.raises(CINotFoundError):
        store.versions("ghost")


def test_counts(hospital: GraphStore) -> None:
    counts = hospital.counts()

    assert counts["cis"] == 72
    assert counts["relationships"] == 160
    assert counts["versions"] == 72 + 160


def test_token_round_trip(store: GraphStore) -> None:
    token = ApiToken(name="ci-bot", token_hash="h1", actor="bot", roles=("viewer", "editor"))

    store.save_token(token)

    assert store.find_token("h1") == token
    assert store.find_token("h2") is None


def test_token_saved_again_is_replaced(store: GraphStore) -> None:
    store.save_token(ApiToken(name="ci-bot", token_hash="h1", actor="bot", roles=("viewer",)))

    store.save_token(ApiToken(name="ci-bot", token_hash="h2", actor="bot", roles=("admin",)))

    assert store.find_token("h1") is None
    found = store.find_token("h2")
    assert found is not None
    assert found.roles == ("admin",)


def test_ping_answers(store: GraphStore) -> None:
    store.ping()
