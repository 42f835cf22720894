"""``cmdb copy`` between SQLite stores and through a real Neo4j: exact rows, resume, refusal.

The Neo4j tests use the server at NEO4J_URI, emptied first; they fail on CI and are skipped
elsewhere without one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cmdb.auth import create_token
from cmdb.changes.analysis import assess_change
from cmdb.changes.apply import implement_change
from cmdb.changes.service import approve_change, load_changes, record_review
from cmdb.cli import app
from cmdb.copy import CopyError, CopyStep, copy_graph, normalize_url
from cmdb.discovery import load_snmprec
from cmdb.discovery.service import apply_walks, start_run
from cmdb.imports import import_file
from cmdb.model import ChangeContext, CIInput, Direction, Origin, RelationshipInput
from cmdb.store.export import PHASES, ExportableStore
from cmdb.store.export_checksum import (
    canonical_approval,
    canonical_change,
    canonical_ci,
    canonical_discovery_run,
    canonical_freeze_exception,
    canonical_freeze_window,
    canonical_relationship,
    canonical_review,
    canonical_token,
    canonical_version,
    checksum_store,
)
from cmdb.store.neo4j_export import Neo4jExportStore, open_neo4j_export_store
from cmdb.store.sqlite_export import SQLiteExportStore
from tests.conftest import HOSPITAL_DIR

SNMP_WALK = Path(__file__).parents[1] / "data" / "snmp" / "ios_2960x.snmprec"
ENDED = ("app-ehr", "FEEDS", "app-ie")


class Interrupted(Exception):
    """Raised by a batch hook to stop a copy part-way, as a crash would."""


@pytest.fixture
def neo4j_uri() -> Iterator[str]:
    """Return NEO4J_URI with the database emptied; fail on CI and skip elsewhere without one."""
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        reason = "NEO4J_URI is not set; start a server with scripts/neo4j/start"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    _empty_neo4j(uri)
    yield uri
    _empty_neo4j(uri)


def _empty_neo4j(uri: str) -> None:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(uri) as driver, driver.session(database="neo4j") as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()


def _history_store(path: Path) -> SQLiteExportStore:
    """Return a SQLite store with the reference hospital, updates, a retirement and a token."""
    store = SQLiteExportStore(path)
    load = ChangeContext(actor="loader", origin=Origin.IMPORT, request_id="load-1")
    report = import_file(store=store, path=HOSPITAL_DIR / "hospital.json", context=load)
    assert not report.rejected

    change = ChangeContext(actor="alice", origin=Origin.API, request_id="req-7", change_id="CHG0042")
    pump = store.get_ci("pump-icu-1")
    assert pump is not None
    updated = CIInput(
        key=pump.key,
        ci_class=pump.ci_class,
        name=pump.name,
        status=pump.status,
        criticality=pump.criticality,
        identifiers=pump.identifiers,
        attributes={**pump.attributes, "software_version": "9.9.1"},
        tags=pump.tags,
        version=pump.version,
    )
    assert store.upsert_cis([updated], context=change, strict=True).updated == 1
    link = RelationshipInput(
        source="app-ehr", type="FEEDS", target="app-ie", properties={"protocol": "HL7v2 ADT", "port": 6661}
    )
    assert store.upsert_relationships([link], context=change, strict=True).updated == 1
    retire = ChangeContext(actor="bob", origin=Origin.CLI, request_id="req-8")
    store.retire_ci("prn-icu-label", expected_version=None, context=retire)
    create_token(store=store, name="monitoring", actor="monitoring", roles=["viewer"])
    return store


def _approve_all(store: SQLiteExportStore, change_id: str) -> None:
    """Approve ``change_id`` as each role it needs, each by an actor holding only that role."""
    for role in assess_change(store=store, change_id=change_id).required_approvals:
        approve_change(
            store=store,
            change_id=change_id,
            role=role,
            actor=f"{role}-approver",
            caller_roles=frozenset({role}),
            comment=f"checked for {role}",
        )


def _whole_store(path: Path) -> SQLiteExportStore:
    """Return ``_history_store`` with the change scenario worked through, an ended link and a run.

    CHG-1 is approved and implemented, CHG-5 (an emergency) is implemented inside a hard freeze
    with a reason and then reviewed, the rest stay scheduled. One discovery run loads a switch.
    """
    store = _history_store(path)
    load_changes(store=store, document=json.loads((HOSPITAL_DIR / "changes.json").read_text()))

    _approve_all(store, "CHG-1")
    implement_change(
        store=store, change_id="CHG-1", actor="u-impl", at=datetime.fromisoformat("2027-01-05T10:00:00-06:00")
    )
    _approve_all(store, "CHG-5")
    implemented = implement_change(
        store=store,
        change_id="CHG-5",
        actor="u-biomed",
        at=datetime.fromisoformat("2027-01-06T08:15:00-06:00"),
        reason="recalled drug concentration",
    )
    assert implemented.freeze_exceptions
    record_review(store=store, change_id="CHG-5", actor="cab-chair", outcome="successful", notes="in time")

    ending = ChangeContext(actor="carol", origin=Origin.API, request_id="req-9")
    assert store.end_relationships([ENDED], context=ending) == 1

    walk = load_snmprec(SNMP_WALK)
    walk.target = "127.0.1.1:161"
    run = start_run(store, ["127.0.1.1"])
    apply_walks(store=store, run=run, walks=[walk], scope=[walk.target])
    return store


def _rows(store: ExportableStore) -> dict[str, list[dict[str, Any]]]:
    """Return every row of ``store`` in canonical form, sorted, versions in stored order per key."""
    keys = store.export_ci_keys(after=None, limit=10_000)
    versions = [canonical_version(v) for v in store.export_versions(keys)]
    return {
        "cis": [canonical_ci(ci) for ci in store.export_cis(after=None, limit=10_000)],
        "relationships": sorted(
            (canonical_relationship(r) for r in store.export_relationships(keys)),
            key=lambda r: (r["source"], r["type"], r["target"]),
        ),
        "versions": sorted(versions, key=lambda v: (v["entity"], v["key"], v["version"])),
        "tokens": [canonical_token(t) for t in store.export_tokens()],
        **_change_rows(store),
    }


def _change_rows(store: ExportableStore) -> dict[str, list[dict[str, Any]]]:
    """Return the change management and discovery run rows of ``store``, in export order."""
    changes = store.export_changes(after=None, limit=10_000)
    ids = [change.id for change in changes]
    return {
        "changes": [canonical_change(c) for c in changes],
        "approvals": [canonical_approval(a) for a in store.export_approvals(ids)],
        "reviews": [canonical_review(r) for r in store.export_reviews(ids)],
        "freeze_windows": [
            canonical_freeze_window(w) for w in store.export_freeze_windows(after=None, limit=10_000)
        ],
        "freeze_exceptions": [
            canonical_freeze_exception(e) for e in store.export_freeze_exceptions(after=None, limit=10_000)
        ],
        "discovery_runs": [
            canonical_discovery_run(r) for r in store.export_discovery_runs(after=None, limit=10_000)
        ],
    }


def _protocol_view(store: SQLiteExportStore | Neo4jExportStore) -> dict[str, Any]:
    """Return what the GraphStore protocol reads of changes, runs, relationships and history."""
    changes = store.list_changes()
    keys = store.export_ci_keys(after=None, limit=10_000)
    return {
        "changes": changes,
        "freeze_windows": store.list_freeze_windows(),
        "approvals": {change.id: store.approvals(change.id) for change in changes},
        "reviews": {change.id: store.reviews(change.id) for change in changes},
        "freeze_exceptions": store.freeze_exceptions(),
        "discovery_runs": store.list_discovery_runs(first=500, after=None),
        "relationships": {key: store.relationships(key, direction=Direction.OUTGOING) for key in keys},
        "versions": {key: store.versions(key) for key in keys},
    }


def _copy(source: ExportableStore, target: ExportableStore, url: str, **options: Any) -> None:
    report = copy_graph(source, target, source_url=url, **options)
    assert report.source.checksums == report.target.checksums


def test_round_trip_through_neo4j(tmp_path: Path, neo4j_uri: str) -> None:
    source = _history_store(tmp_path / "source.sqlite3")
    neo4j = open_neo4j_export_store(neo4j_uri)
    back = SQLiteExportStore(tmp_path / "back.sqlite3")
    try:
        copy_graph(source, neo4j, source_url="sqlite:///source", batch_size=20)
        copy_graph(neo4j, back, source_url=neo4j_uri, batch_size=17)

        expected = _rows(source)
        assert _rows(neo4j) == expected
        assert _rows(back) == expected
        assert checksum_store(back) == checksum_store(source)
        assert checksum_store(neo4j) == checksum_store(source)
        assert len(expected["versions"]) == 72 + 160 + 3

        for key in ("pump-icu-1", "app-ehr", "prn-icu-label"):
            assert neo4j.versions(key) == source.versions(key)
            assert back.versions(key) == source.versions(key)
            assert back.get_ci(key) == source.get_ci(key)
        assert back.counts() == source.counts()
        assert neo4j.counts() == source.counts()
    finally:
        source.close()
        neo4j.close()
        back.close()


def test_whole_store_round_trip(tmp_path: Path, neo4j_uri: str) -> None:
    source = _whole_store(tmp_path / "source.sqlite3")
    neo4j = open_neo4j_export_store(neo4j_uri)
    back = SQLiteExportStore(tmp_path / "back.sqlite3")
    stores = {"neo4j": neo4j, "back": back}
    try:
        copy_graph(source, neo4j, source_url="sqlite:///source", batch_size=2)
        copy_graph(neo4j, back, source_url=neo4j_uri, batch_size=3)

        expected = _protocol_view(source)
        views = {name: _protocol_view(store) for name, store in stores.items()}
        expected_rows = _rows(source)
        rows = {name: _rows(store) for name, store in stores.items()}
        expected_checksum = checksum_store(source)
        checksums = {name: checksum_store(store) for name, store in stores.items()}
        expected_closure = source.impact_closure(["app-ehr"])
        closures = {name: store.impact_closure(["app-ehr"]) for name, store in stores.items()}
    finally:
        source.close()
        neo4j.close()
        back.close()

    counts = expected_checksum.counts
    assert (counts["changes"], counts["freeze_windows"], counts["reviews"]) == (5, 3, 1)
    assert counts["approvals"] == len(expected["approvals"]["CHG-1"]) + len(expected["approvals"]["CHG-5"])
    assert counts["freeze_exceptions"] == len(expected["freeze_exceptions"]) >= 1
    assert counts["discovery_runs"] == 1
    ended = [r for r in expected_rows["relationships"] if (r["source"], r["type"], r["target"]) == ENDED]
    assert ended[0]["ended_at"] is not None
    assert ENDED[2] not in {r.target for r in expected["relationships"]["app-ehr"] if r.type == "FEEDS"}
    for name in stores:
        for part, value in expected.items():
            assert views[name][part] == value, f"{name}: {part}"
        for kind, value in expected_rows.items():
            assert rows[name][kind] == value, f"{name}: {kind}"
        assert checksums[name] == expected_checksum, name
        assert set(closures[name].nodes) == set(expected_closure.nodes), name
        assert sorted(map(repr, closures[name].edges)) == sorted(map(repr, expected_closure.edges)), name


def test_reviews_continue_after_copy(tmp_path: Path, neo4j_uri: str) -> None:
    source = _whole_store(tmp_path / "source.sqlite3")
    neo4j = open_neo4j_export_store(neo4j_uri)
    try:
        copy_graph(source, neo4j, source_url="sqlite:///source")
        record_review(store=neo4j, change_id="CHG-5", actor="cab-chair", outcome="closed", notes="follow-up")
        copied = neo4j.reviews("CHG-5")
    finally:
        source.close()
        neo4j.close()
    assert [review.outcome for review in copied] == ["successful", "closed"]


def test_round_trip_keeps_history_fields(tmp_path: Path, neo4j_uri: str) -> None:
    source = _history_store(tmp_path / "source.sqlite3")
    neo4j = open_neo4j_export_store(neo4j_uri)
    try:
        copy_graph(source, neo4j, source_url="sqlite:///source")
        pump = [v for v in neo4j.versions("pump-icu-1") if v.entity == "ci"]
    finally:
        source.close()
        neo4j.close()
    assert [v.operation for v in pump] == ["create", "update"]
    assert pump[0].valid_to == pump[1].valid_from
    assert pump[1].valid_to is None
    assert (pump[1].actor, pump[1].origin) == ("alice", "api")
    assert (pump[1].request_id, pump[1].change_id) == ("req-7", "CHG0042")
    assert pump[1].snapshot["attributes"]["software_version"] == "9.9.1"


def test_impact_closure_same_after_copy(tmp_path: Path, neo4j_uri: str) -> None:
    source = _history_store(tmp_path / "source.sqlite3")
    neo4j = open_neo4j_export_store(neo4j_uri)
    try:
        copy_graph(source, neo4j, source_url="sqlite:///source")
        expected = source.impact_closure(["sw-core-1", "sw-acc-icu"])
        actual = neo4j.impact_closure(["sw-core-1", "sw-acc-icu"])
    finally:
        source.close()
        neo4j.close()
    assert set(actual.nodes) == set(expected.nodes)
    assert sorted(map(repr, actual.edges)) == sorted(map(repr, expected.edges))


def _interrupt_after_first_batch(step: CopyStep) -> None:
    raise Interrupted(f"stopped after a batch of {step.rows} {step.phase} rows")


@pytest.mark.parametrize("target_kind", ["sqlite", "neo4j"])
def test_interrupted_copy_resumes(tmp_path: Path, target_kind: str, request: pytest.FixtureRequest) -> None:
    source = _history_store(tmp_path / "source.sqlite3")
    if target_kind == "neo4j":
        target: SQLiteExportStore | Neo4jExportStore = open_neo4j_export_store(
            request.getfixturevalue("neo4j_uri")
        )
    else:
        target = SQLiteExportStore(tmp_path / "target.sqlite3")
    url = normalize_url(f"sqlite:///{tmp_path / 'source.sqlite3'}")
    try:
        with pytest.raises(Interrupted):
            copy_graph(source, target, source_url=url, batch_size=10, on_batch=_interrupt_after_first_batch)
        partial = target.export_summary()
        assert (partial.cis, partial.versions) == (10, 0)
        progress = target.copy_progress()
        assert progress is not None
        assert (progress.phase, progress.cursor) == ("cis", source.export_ci_keys(after=None, limit=10)[-1])

        steps: list[CopyStep] = []
        report = copy_graph(source, target, source_url=url, batch_size=10, on_batch=steps.append)
        assert report.resumed
        assert report.written == source.export_summary().total - 10
        assert steps[0].phase == "cis"
        assert _rows(target) == _rows(source)
        assert target.export_summary() == source.export_summary()
    finally:
        source.close()
        target.close()


@pytest.mark.parametrize("target_kind", ["sqlite", "neo4j"])
def test_interrupt_in_each_phase(tmp_path: Path, target_kind: str, request: pytest.FixtureRequest) -> None:
    source = _whole_store(tmp_path / "source.sqlite3")
    if target_kind == "neo4j":
        target: SQLiteExportStore | Neo4jExportStore = open_neo4j_export_store(
            request.getfixturevalue("neo4j_uri")
        )
    else:
        target = SQLiteExportStore(tmp_path / "target.sqlite3")
    url = "sqlite:///source"
    phases_seen: list[str] = []

    def stop_on_new_phase(step: CopyStep) -> None:
        if step.phase not in phases_seen:
            phases_seen.append(step.phase)
            raise Interrupted(step.phase)

    try:
        for _ in PHASES[:-1]:
            with pytest.raises(Interrupted):
                copy_graph(source, target, source_url=url, batch_size=2, on_batch=stop_on_new_phase)
        report = copy_graph(source, target, source_url=url, batch_size=2, on_batch=stop_on_new_phase)
        assert phases_seen == list(PHASES[:-1])
        assert report.written == 0
        assert _rows(target) == _rows(source)
        assert target.export_summary() == source.export_summary()
    finally:
        source.close()
        target.close()


def test_finished_copy_runs_again_as_check(tmp_path: Path) -> None:
    source = _history_store(tmp_path / "source.sqlite3")
    target = SQLiteExportStore(tmp_path / "target.sqlite3")
    try:
        first = copy_graph(source, target, source_url="sqlite:///source")
        again = copy_graph(source, target, source_url="sqlite:///source")
    finally:
        source.close()
        target.close()
    assert first.written == first.source.counts["cis"] + 160 + 235 + 1
    assert (again.written, again.resumed) == (0, True)


def test_non_empty_target_rejected(tmp_path: Path) -> None:
    source = _history_store(tmp_path / "source.sqlite3")
    target = _history_store(tmp_path / "target.sqlite3")
    try:
        with pytest.raises(CopyError, match="the target is not empty: it contains 72 CIs"):
            copy_graph(source, target, source_url="sqlite:///source")
        assert target.copy_progress() is None
    finally:
        source.close()
        target.close()


def test_non_empty_neo4j_target_rejected(tmp_path: Path, neo4j_uri: str) -> None:
    source = _history_store(tmp_path / "source.sqlite3")
    neo4j = open_neo4j_export_store(neo4j_uri)
    try:
        neo4j.upsert_cis(
            [CIInput(key="x-1", ci_class="Server", name="x", status="in_service", criticality="business")],
            context=ChangeContext(actor="t", origin=Origin.API),
        )
        with pytest.raises(CopyError, match="the target is not empty: it contains 1 CIs"):
            copy_graph(source, neo4j, source_url="sqlite:///source")
    finally:
        source.close()
        neo4j.close()


def test_copy_of_other_source_rejected(tmp_path: Path) -> None:
    source = _history_store(tmp_path / "source.sqlite3")
    target = SQLiteExportStore(tmp_path / "target.sqlite3")
    try:
        with pytest.raises(Interrupted):
            copy_graph(source, target, source_url="sqlite:///a", on_batch=_interrupt_after_first_batch)
        with pytest.raises(CopyError, match="contains a copy from sqlite:///a, not from sqlite:///b"):
            copy_graph(source, target, source_url="sqlite:///b")
    finally:
        source.close()
        target.close()


def test_changed_source_rejected_on_resume(tmp_path: Path) -> None:
    source = _history_store(tmp_path / "source.sqlite3")
    target = SQLiteExportStore(tmp_path / "target.sqlite3")
    try:
        with pytest.raises(Interrupted):
            copy_graph(source, target, source_url="sqlite:///a", on_batch=_interrupt_after_first_batch)
        source.retire_ci(
            "ws-icu-1", expected_version=None, context=ChangeContext(actor="c", origin=Origin.API)
        )
        with pytest.raises(CopyError, match="changed since the copy into this target began"):
            copy_graph(source, target, source_url="sqlite:///a")
    finally:
        source.close()
        target.close()


def test_cli_copy_and_refusal(tmp_path: Path) -> None:
    _history_store(tmp_path / "source.sqlite3").close()
    source_url = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    target_url = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    runner = CliRunner()

    result = runner.invoke(app, ["copy", "--from", source_url, "--to", target_url, "--batch-size", "16"])
    assert result.exit_code == 0, result.output
    assert "copied 468 rows" in result.stdout
    assert "cis sha256 " in result.stdout

    refused = runner.invoke(app, ["copy", "--from", target_url, "--to", source_url])
    assert refused.exit_code == 1
    assert "the target is not empty" in refused.output

    same = runner.invoke(app, ["copy", "--from", source_url, "--to", source_url])
    assert same.exit_code == 1
    assert "--from and --to name the same store" in same.output
