"""The reference change scenario through the change service, on every store loaded with the hospital."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from cmdb.changes.analysis import assess_change, assess_rollback
from cmdb.changes.apply import implement_change, rollback_change
from cmdb.changes.clock import resolve, zone
from cmdb.changes.errors import (
    ApprovalRejectedError,
    ChangeNotReadyError,
    ChangeValidationError,
    FreezeConflictError,
    RollbackBlockedError,
)
from cmdb.changes.models import ChangeState
from cmdb.changes.service import approve_change, load_changes, readiness, record_review, save_change
from cmdb.store.base import GraphStore
from tests.reference import HOSPITAL_DIR

SCENARIO: dict[str, Any] = json.loads((HOSPITAL_DIR / "changes.json").read_text())
EXPECTED = SCENARIO["expected"]
TZ = zone(SCENARIO["time_zone"])


def _local(text: str) -> datetime:
    return resolve(datetime.fromisoformat(text), TZ)


@pytest.fixture
def scenario(hospital: GraphStore) -> GraphStore:
    load_changes(store=hospital, document=SCENARIO)
    return hospital


def _approve_all(store: GraphStore, change_id: str) -> None:
    for role in assess_change(store=store, change_id=change_id).required_approvals:
        approve_change(
            store=store,
            change_id=change_id,
            role=role,
            actor=f"approver-{role}",
            caller_roles=frozenset({role}),
        )


def _implement(store: GraphStore, change_id: str, at: str, reason: str | None = None) -> None:
    _approve_all(store, change_id)
    implement_change(store=store, change_id=change_id, actor="u-impl", at=_local(at), reason=reason)


@pytest.mark.parametrize("change_id", ["CHG-1", "CHG-2", "CHG-3", "CHG-4", "CHG-5"])
def test_assessment_matches_scenario(scenario: GraphStore, change_id: str) -> None:
    expected = {key: value for key, value in EXPECTED[change_id].items() if key != "approval_by_implementer"}

    shape = assess_change(store=scenario, change_id=change_id).to_expected_shape()

    assert shape["conflicts"] == expected["conflicts"]
    assert shape["required_approvals"] == expected["required_approvals"]
    assert shape.get("next_free_slot") == expected.get("next_free_slot")
    assert shape.get("post_implementation_review") == expected.get("post_implementation_review")


def test_load_stores_every_entry(scenario: GraphStore) -> None:
    assert [w.id for w in scenario.list_freeze_windows()] == ["fw-rounds", "fw-survey", "fw-weekend"]
    assert sorted(c.id for c in scenario.list_changes()) == ["CHG-1", "CHG-2", "CHG-3", "CHG-4", "CHG-5"]


def test_implementer_approval_rejected(scenario: GraphStore) -> None:
    assert EXPECTED["CHG-1"]["approval_by_implementer"] == "rejected"

    with pytest.raises(ApprovalRejectedError, match="implementer cannot approve"):
        approve_change(
            store=scenario, change_id="CHG-1", role="cab", actor="u-impl", caller_roles=frozenset({"cab"})
        )

    assert scenario.approvals("CHG-1") == []


def test_approval_of_role_not_required_rejected(scenario: GraphStore) -> None:
    with pytest.raises(ApprovalRejectedError, match="'pharmacy' is not required"):
        approve_change(
            store=scenario,
            change_id="CHG-1",
            role="pharmacy",
            actor="p1",
            caller_roles=frozenset({"pharmacy"}),
        )

    assert scenario.approvals("CHG-1") == []


def test_approval_of_role_not_held_rejected(scenario: GraphStore) -> None:
    with pytest.raises(ApprovalRejectedError, match="does not hold role 'cab'"):
        approve_change(
            store=scenario, change_id="CHG-1", role="cab", actor="v1", caller_roles=frozenset({"viewer"})
        )

    assert scenario.approvals("CHG-1") == []


def test_readiness_lists_missing_approvals(scenario: GraphStore) -> None:
    approve_change(store=scenario, change_id="CHG-1", role="cab", actor="c1", caller_roles=frozenset({"cab"}))

    ready = readiness(store=scenario, change_id="CHG-1")

    assert not ready.ready
    assert ready.missing_approvals == ["clinical_informatics", "clinical_operations"]


def test_implement_without_approvals_rejected(scenario: GraphStore) -> None:
    with pytest.raises(ChangeNotReadyError) as raised:
        implement_change(store=scenario, change_id="CHG-2", actor="u-impl", at=_local("2027-01-05T13:00"))

    assert raised.value.missing_approvals == ["cab", "clinical_operations", "compliance"]
    assert scenario.get_ci("app-aims") is not None
    assert scenario.get_ci("app-aims").attributes["version"] == "3.9"  # type: ignore[union-attr]


def test_implement_tags_versions_with_change(scenario: GraphStore) -> None:
    _implement(scenario, "CHG-1", "2027-01-05T10:00")

    stored = scenario.get_change("CHG-1")
    last = scenario.versions("app-ehr")[-1]
    assert stored is not None
    assert stored.state == ChangeState.IMPLEMENTED.value
    assert (last.change_id, last.origin, last.actor) == ("CHG-1", "change", "u-impl")
    assert last.snapshot["attributes"]["version"] == "2025.3"
    assert stored.document["details"]["implementation"]["previous"] == {
        "app-ehr": {"version": "2025.2"},
        "cfg-sepsis": {"version": "14"},
    }


def test_implement_in_hard_freeze_rejected(scenario: GraphStore) -> None:
    _approve_all(scenario, "CHG-1")

    with pytest.raises(FreezeConflictError, match="hard freeze fw-rounds"):
        implement_change(store=scenario, change_id="CHG-1", actor="u-impl", at=_local("2027-01-05T08:00"))

    stored = scenario.get_change("CHG-1")
    assert stored is not None
    assert stored.state == ChangeState.SCHEDULED.value
    assert scenario.versions("app-ehr")[-1].change_id is None


def test_rollback_scope_after_chg1(scenario: GraphStore) -> None:
    _implement(scenario, "CHG-1", "2027-01-05T10:00")

    assessment = assess_rollback(store=scenario, change_id="CHG-1", at=_local("2027-01-05T12:00"))

    assert assessment.plan.to_dict() == EXPECTED["rollback_CHG-1_after_implementing_it"]
    assert assessment.window.as_pair(TZ) == ["2027-01-05T12:00-06:00", "2027-01-05T13:00-06:00"]


def test_rollback_blockers_after_chg4(scenario: GraphStore) -> None:
    _implement(scenario, "CHG-1", "2027-01-05T10:00")
    _implement(scenario, "CHG-4", "2027-01-07T10:00")

    plan = assess_rollback(store=scenario, change_id="CHG-1", at=_local("2027-01-07T12:00")).plan

    assert plan.to_dict()["blockers"] == EXPECTED["rollback_CHG-1_after_implementing_CHG-4_too"]["blockers"]


def test_rollback_conflicts_in_freeze(scenario: GraphStore) -> None:
    _implement(scenario, "CHG-1", "2027-01-05T10:00")

    assessment = assess_rollback(store=scenario, change_id="CHG-1", at=_local("2027-01-06T08:00"))

    conflicts = assessment.to_dict()["conflicts"]
    assert [(c["kind"], c["id"]) for c in conflicts] == [("freeze", "fw-rounds"), ("change", "CHG-5")]
    assert conflicts[0]["occurrence"] == ["2027-01-06T07:00-06:00", "2027-01-06T10:00-06:00"]


def test_blocked_rollback_needs_force_and_reason(scenario: GraphStore) -> None:
    _implement(scenario, "CHG-1", "2027-01-05T10:00")
    _implement(scenario, "CHG-4", "2027-01-07T10:00")

    with pytest.raises(RollbackBlockedError):
        rollback_change(store=scenario, change_id="CHG-1", actor="u-impl", at=_local("2027-01-07T12:00"))
    with pytest.raises(RollbackBlockedError):
        rollback_change(store=scenario, change_id="CHG-1", actor="u-impl", force=True, reason=" ")

    app = scenario.get_ci("app-ehr")
    assert app is not None
    assert app.attributes["version"] == "2025.3.1"


def test_forced_rollback_records_reason(scenario: GraphStore) -> None:
    _implement(scenario, "CHG-1", "2027-01-05T10:00")
    _implement(scenario, "CHG-4", "2027-01-07T10:00")

    rollback_change(
        store=scenario,
        change_id="CHG-1",
        actor="u-lead",
        at=_local("2027-01-07T12:00"),
        force=True,
        reason="sepsis alerts misfire",
    )

    stored = scenario.get_change("CHG-1")
    app, cfg = scenario.get_ci("app-ehr"), scenario.get_ci("cfg-sepsis")
    assert stored is not None and app is not None and cfg is not None
    assert stored.state == ChangeState.ROLLED_BACK.value
    assert stored.document["details"]["rollback"]["reason"] == "sepsis alerts misfire"
    assert stored.document["details"]["rollback"]["forced"] is True
    assert (app.attributes["version"], cfg.attributes["version"]) == ("2025.2", "14")
    assert [v.change_id for v in scenario.versions("cfg-sepsis") if v.entity == "ci"] == [
        None,
        "CHG-1",
        "CHG-1",
    ]


def test_rollback_in_order_tagged(scenario: GraphStore) -> None:
    _implement(scenario, "CHG-1", "2027-01-05T10:00")

    result = rollback_change(store=scenario, change_id="CHG-1", actor="u-impl", at=_local("2027-01-05T12:00"))

    assert not result.forced
    app = scenario.get_ci("app-ehr")
    assert app is not None
    assert app.attributes["version"] == "2025.2"
    last = scenario.versions("app-ehr")[-1]
    assert (last.change_id, last.origin) == ("CHG-1", "change")


def test_emergency_passes_freeze_only_with_reason(scenario: GraphStore) -> None:
    _approve_all(scenario, "CHG-5")

    with pytest.raises(FreezeConflictError, match="give the emergency reason"):
        implement_change(store=scenario, change_id="CHG-5", actor="u-biomed", at=_local("2027-01-06T08:15"))
    assert scenario.freeze_exceptions() == []

    implement_change(
        store=scenario,
        change_id="CHG-5",
        actor="u-biomed",
        at=_local("2027-01-06T08:15"),
        reason="heparin concentration error in the drug library",
    )

    exceptions = scenario.freeze_exceptions()
    assert [(e.change_id, e.window_id, e.reviewed_at) for e in exceptions] == [("CHG-5", "fw-rounds", None)]
    assert exceptions[0].occurrence_start == _local("2027-01-06T07:00")
    assert exceptions[0].reason == "heparin concentration error in the drug library"


def test_review_marks_exception_reviewed(scenario: GraphStore) -> None:
    _approve_all(scenario, "CHG-5")
    implement_change(
        store=scenario, change_id="CHG-5", actor="u-biomed", at=_local("2027-01-06T08:15"), reason="urgent"
    )

    record_review(store=scenario, change_id="CHG-5", actor="ecab-chair", outcome="successful")

    assert [r.outcome for r in scenario.reviews("CHG-5")] == ["successful"]
    assert scenario.freeze_exceptions(change_id="CHG-5")[0].reviewed_at is not None


def test_normal_change_cannot_pass_freeze(scenario: GraphStore) -> None:
    _approve_all(scenario, "CHG-1")

    with pytest.raises(FreezeConflictError, match="emergency change with a reason"):
        implement_change(
            store=scenario, change_id="CHG-1", actor="u-impl", at=_local("2027-01-05T08:00"), reason="urgent"
        )

    assert scenario.freeze_exceptions() == []


BAD_CHANGES = [
    ({"window": ["2027-01-05T09:00", "2027-01-05T08:00"]}, "not after its start"),
    ({"time_zone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"touches": [{"ci": "app-ghost", "set": {"version": "1"}}]}, "'app-ghost', which is not found"),
    ({"touches": []}, "touches no CI"),
    ({"type": "urgent"}, "invalid type of change CHG-9 'urgent'"),
]


@pytest.mark.parametrize(("override", "message"), BAD_CHANGES)
def test_bad_change_stores_nothing(scenario: GraphStore, override: dict[str, Any], message: str) -> None:
    document = {
        "id": "CHG-9",
        "type": "normal",
        "state": "scheduled",
        "window": ["2027-02-01T08:00", "2027-02-01T09:00"],
        "implementer": "u-impl",
        "touches": [{"ci": "app-ehr", "set": {"version": "2026.1"}}],
        **override,
    }
    before = len(scenario.list_changes())

    with pytest.raises(ChangeValidationError, match=message):
        save_change(store=scenario, document=document, time_zone="America/Chicago")

    assert len(scenario.list_changes()) == before
    assert scenario.get_change("CHG-9") is None


def test_bad_freeze_window_in_file_stores_nothing(hospital: GraphStore) -> None:
    document = json.loads(json.dumps(SCENARIO))
    document["freeze_windows"][2]["rrule"] = "FREQ=SOMETIMES"
    document["freeze_windows"][2]["duration_minutes"] = 60
    del document["freeze_windows"][2]["end"]

    with pytest.raises(ChangeValidationError, match="invalid RRULE 'FREQ=SOMETIMES'"):
        load_changes(store=hospital, document=document)

    assert hospital.list_freeze_windows() == []
    assert hospital.list_changes() == []


def test_change_on_missing_ci_in_file_stores_nothing(hospital: GraphStore) -> None:
    document = json.loads(json.dumps(SCENARIO))
    document["changes"][4]["touches"][0]["ci"] = "cfg-missing"

    with pytest.raises(ChangeValidationError, match="'cfg-missing', which is not found"):
        load_changes(store=hospital, document=document)

    assert hospital.list_freeze_windows() == []
    assert hospital.list_changes() == []


def test_invalid_attribute_value_rejected(scenario: GraphStore) -> None:
    document = {
        "id": "CHG-9",
        "window": ["2027-02-01T08:00", "2027-02-01T09:00"],
        "implementer": "u-impl",
        "touches": [{"ci": "grp-esx", "set": {"min_healthy": "many"}}],
    }

    with pytest.raises(ChangeValidationError, match="sets invalid values on 'grp-esx'"):
        save_change(store=scenario, document=document, time_zone="America/Chicago")

    assert scenario.get_change("CHG-9") is None
