"""The reference change scenario end to end through GraphQL over HTTP, with real tokens and roles.

Every request goes through the real app; the store is only read to check
that a rejected request wrote nothing. The scenario runs on SQLite and, when
NEO4J_URI names a server, on Neo4j.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from cmdb.app import create_app
from cmdb.auth import create_token
from cmdb.cli import app as cli_app
from cmdb.model import ChangeContext, Origin
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.base import GraphStore
from tests.conformance.conftest import STORE_FACTORIES, StoreFactory
from tests.reference import HOSPITAL_DIR, load_hospital

SCENARIO: dict[str, Any] = json.loads((HOSPITAL_DIR / "changes.json").read_text())
EXPECTED: dict[str, Any] = SCENARIO["expected"]
CHANGE_IDS = ["CHG-1", "CHG-2", "CHG-3", "CHG-4", "CHG-5"]

# One token per role; each token's actor is "<role>-actor".
ROLES = (
    "cab",
    "ecab",
    "biomed",
    "pharmacy",
    "clinical_informatics",
    "clinical_operations",
    "compliance",
    "change_manager",
    "editor",
    "viewer",
)

LOAD_CHANGES = """
mutation($document: JSON!) {
  loadChanges(document: $document) {
    __typename
    ... on ChangeLoad { freezeWindows changes }
    ... on ValidationFailed { message errors { field message value } }
  }
}
"""

SAVE_CHANGE = """
mutation($document: JSON!, $timeZone: String!) {
  saveChange(document: $document, timeZone: $timeZone) {
    __typename
    ... on Change { id state window }
    ... on ValidationFailed { message errors { field message value } }
  }
}
"""

CHANGE = """
query($id: String!) {
  change(id: $id) {
    __typename
    ... on ChangeAssessmentType {
      change { id type state window implementer touched }
      blastRadius { impactLevel }
      conflicts { kind id enforcement occurrence cis atRiskOnly }
      hasHardConflict
      nextFreeSlot
      requiredApprovals
      approvals { role actor }
      missingApprovals
      postImplementationReview
    }
    ... on ChangeNotFound { changeId message }
    ... on CINotFound { key message }
  }
}
"""

READY = """
query($id: String!) {
  readyToImplement(id: $id) {
    __typename
    ... on Readiness { changeId ready missingApprovals problems }
    ... on ChangeNotFound { changeId message }
  }
}
"""

APPROVE = """
mutation($id: String!, $role: String!) {
  approveChange(id: $id, role: $role, comment: "checked") {
    __typename
    ... on Approval { role actor comment }
    ... on ApprovalRejected { changeId role actor reason message }
    ... on ChangeNotFound { changeId message }
  }
}
"""

IMPLEMENT = """
mutation($id: String!, $at: DateTime, $reason: String) {
  implementChange(id: $id, at: $at, reason: $reason) {
    __typename
    ... on Change { id state window document }
    ... on FreezeConflict { changeId message conflicts { kind id enforcement occurrence cis } }
    ... on ChangeNotReady { changeId message problems missingApprovals }
    ... on ChangeNotFound { changeId message }
    ... on CINotFound { key message }
    ... on ValidationFailed { message errors { field message value } }
  }
}
"""

ROLLBACK_PLAN = """
query($id: String!, $at: DateTime) {
  rollbackPlan(id: $id, at: $at) {
    __typename
    ... on RollbackPlanType {
      changeId
      items { ci attribute from to }
      order
      coupled
      blockers
      blocked
      window
      conflicts { kind id }
    }
    ... on ChangeNotFound { changeId message }
  }
}
"""

ROLLBACK = """
mutation($id: String!, $force: Boolean!, $reason: String, $at: DateTime) {
  rollbackChange(id: $id, force: $force, reason: $reason, at: $at) {
    __typename
    ... on Change { id state document }
    ... on RollbackBlocked { changeId message blockers }
    ... on ChangeNotReady { changeId message problems }
  }
}
"""

FREEZE_EXCEPTIONS = """
query($pending: Boolean!) {
  freezeExceptions(pendingReview: $pending) {
    changeId windowId occurrenceStart occurrenceEnd reason actor reviewedAt
  }
}
"""

REVIEW = """
mutation($id: String!, $outcome: String!) {
  reviewChange(id: $id, outcome: $outcome, notes: "pump library restored in time") {
    __typename
    ... on Change { id state }
    ... on ValidationFailed { message errors { field message value } }
  }
}
"""


def load_reference_hospital(store: GraphStore) -> None:
    cis, relationships = load_hospital()
    context = ChangeContext(actor="test-loader", origin=Origin.IMPORT, request_id="load-hospital")
    store.upsert_cis(cis, context=context, strict=True)
    store.upsert_relationships(relationships, context=context, strict=True)


@dataclass
class Api:
    """The real app over the given store, and a token per role to call it with."""

    store: GraphStore
    app: FastAPI
    tokens: dict[str, str] = field(default_factory=dict)

    def add_token(self, name: str, *, actor: str, roles: list[str]) -> None:
        self.tokens[name] = create_token(store=self.store, name=name, actor=actor, roles=roles)

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one GraphQL request with the named token and return the whole response body."""
        sent = {**(headers or {}), "Authorization": f"Bearer {self.tokens[token]}"}
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cmdb.test") as client:
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request that must not fail with GraphQL errors and return its data."""
        body = await self.post(query, variables, token=token, headers=headers)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


def make_api(store: GraphStore) -> Api:
    api = Api(
        store=store, app=create_app(settings=Settings(store="sqlite:///unused", graphiql=False), store=store)
    )
    for role in ROLES:
        api.add_token(role, actor=f"{role}-actor", roles=[role])
    # The implementer of CHG-1 and CHG-2 sits on the CAB too.
    api.add_token("implementer", actor="u-impl", roles=["cab"])
    return api


@pytest.fixture(params=STORE_FACTORIES)
def hospital(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """A fresh store of each kind in turn, holding the reference hospital."""
    factory: StoreFactory = request.param
    with factory(tmp_path) as opened:
        load_reference_hospital(opened)
        yield opened


@pytest.fixture
def api(hospital: GraphStore) -> Api:
    return make_api(hospital)


async def load_scenario(api: Api) -> None:
    data = await api.data(LOAD_CHANGES, {"document": SCENARIO}, token="change_manager")
    assert data["loadChanges"] == {
        "__typename": "ChangeLoad",
        "freezeWindows": ["fw-rounds", "fw-weekend", "fw-survey"],
        "changes": CHANGE_IDS,
    }


def expected_shape(assessment: dict[str, Any]) -> dict[str, Any]:
    """Map a ChangeAssessmentType result into the shape of the scenario's ``expected`` entries.

    The file gives the next free slot only for a change that a hard conflict
    moves, and post_implementation_review only when it is needed.
    """
    conflicts: list[dict[str, Any]] = []
    for conflict in assessment["conflicts"]:
        if conflict["kind"] == "freeze":
            entry = {
                "kind": "freeze",
                "id": conflict["id"],
                "enforcement": conflict["enforcement"],
                "occurrence": conflict["occurrence"],
                "scope_hit": conflict["cis"],
            }
            if conflict["atRiskOnly"]:
                entry["at_risk_only"] = True
        else:
            entry = {"kind": conflict["kind"], "id": conflict["id"], "shared": conflict["cis"]}
        conflicts.append(entry)
    shape: dict[str, Any] = {"conflicts": conflicts, "required_approvals": assessment["requiredApprovals"]}
    if assessment["hasHardConflict"]:
        shape["next_free_slot"] = assessment["nextFreeSlot"]
    if assessment["postImplementationReview"]:
        shape["post_implementation_review"] = True
    return shape


def expected_for(change_id: str) -> dict[str, Any]:
    return {key: value for key, value in EXPECTED[change_id].items() if key != "approval_by_implementer"}


async def assess(api: Api, change_id: str) -> dict[str, Any]:
    data = await api.data(CHANGE, {"id": change_id}, token="viewer")
    assessment: dict[str, Any] = data["change"]
    assert assessment["__typename"] == "ChangeAssessmentType", assessment
    return assessment


async def approve_all(api: Api, change_id: str) -> None:
    """Approve ``change_id`` as each role it needs, each with the token of that role."""
    for role in (await assess(api, change_id))["requiredApprovals"]:
        data = await api.data(APPROVE, {"id": change_id, "role": role}, token=role)
        assert data["approveChange"]["__typename"] == "Approval", data


async def implement(api: Api, change_id: str, at: str, reason: str | None = None) -> dict[str, Any]:
    data = await api.data(IMPLEMENT, {"id": change_id, "at": at, "reason": reason}, token="change_manager")
    result: dict[str, Any] = data["implementChange"]
    return result


async def rejected_approval(api: Api, role: str, *, token: str) -> dict[str, Any]:
    """Approve CHG-1 as ``role``, check that the approval was rejected and not stored, and return it."""
    data = await api.data(APPROVE, {"id": "CHG-1", "role": role}, token=token)
    rejected: dict[str, Any] = data["approveChange"]
    assert rejected["__typename"] == "ApprovalRejected", rejected
    assert api.store.approvals("CHG-1") == []
    return rejected


def ci_version(store: GraphStore, key: str) -> Any:
    """Return the ``version`` attribute of a CI that must exist."""
    record = store.get_ci(key)
    assert record is not None, key
    return record.attributes["version"]


def change_state(store: GraphStore, change_id: str) -> str:
    """Return the state of a stored change that must exist."""
    stored = store.get_change(change_id)
    assert stored is not None, change_id
    return stored.state


@pytest.mark.anyio
async def test_load_changes_stores_scenario(api: Api) -> None:
    await load_scenario(api)

    data = await api.data("{ changes { id type state implementer } }", token="viewer")

    assert [c["id"] for c in data["changes"]] == ["CHG-1", "CHG-3", "CHG-2", "CHG-5", "CHG-4"]
    assert {c["state"] for c in data["changes"]} == {"scheduled"}
    assert sorted(w.id for w in api.store.list_freeze_windows()) == ["fw-rounds", "fw-survey", "fw-weekend"]


@pytest.mark.anyio
@pytest.mark.parametrize("change_id", CHANGE_IDS)
async def test_change_matches_expected(api: Api, change_id: str) -> None:
    await load_scenario(api)

    assessment = await assess(api, change_id)

    assert expected_shape(assessment) == expected_for(change_id)
    assert assessment["change"]["id"] == change_id
    assert assessment["missingApprovals"] == assessment["requiredApprovals"]
    assert assessment["approvals"] == []


@pytest.mark.anyio
async def test_change_unknown_id_not_found(api: Api) -> None:
    await load_scenario(api)

    data = await api.data(CHANGE, {"id": "CHG-404"}, token="viewer")

    assert data["change"]["__typename"] == "ChangeNotFound"
    assert data["change"]["changeId"] == "CHG-404"
    assert "'CHG-404'" in data["change"]["message"]


@pytest.mark.anyio
async def test_load_changes_needs_change_manager(api: Api) -> None:
    body = await api.post(LOAD_CHANGES, {"document": SCENARIO}, token="editor")

    assert body["data"] is None
    assert "loadChanges needs role" in body["errors"][0]["message"]
    assert api.store.list_changes() == []
    assert api.store.list_freeze_windows() == []


@pytest.mark.anyio
async def test_implementer_approval_rejected(api: Api) -> None:
    await load_scenario(api)
    assert EXPECTED["CHG-1"]["approval_by_implementer"] == "rejected"

    rejected = await rejected_approval(api, "cab", token="implementer")

    assert (rejected["changeId"], rejected["role"], rejected["actor"]) == ("CHG-1", "cab", "u-impl")
    assert "implementer cannot approve" in rejected["reason"]


@pytest.mark.anyio
async def test_approval_of_role_not_required_rejected(api: Api) -> None:
    await load_scenario(api)

    rejected = await rejected_approval(api, "pharmacy", token="pharmacy")

    assert "'pharmacy' is not required" in rejected["reason"]
    assert "cab, clinical_informatics, clinical_operations" in rejected["reason"]


@pytest.mark.anyio
async def test_approval_without_role_in_token_rejected(api: Api) -> None:
    await load_scenario(api)

    rejected = await rejected_approval(api, "cab", token="viewer")

    assert rejected["actor"] == "viewer-actor"
    assert "does not hold role 'cab'" in rejected["reason"]


@pytest.mark.anyio
async def test_repeated_approval_rejected(api: Api) -> None:
    await load_scenario(api)
    first = await api.data(APPROVE, {"id": "CHG-1", "role": "cab"}, token="cab")

    second = await api.data(APPROVE, {"id": "CHG-1", "role": "cab"}, token="cab")

    assert first["approveChange"] == {
        "__typename": "Approval",
        "role": "cab",
        "actor": "cab-actor",
        "comment": "checked",
    }
    assert second["approveChange"]["__typename"] == "ApprovalRejected"
    assert "already approved" in second["approveChange"]["reason"]
    assert len(api.store.approvals("CHG-1")) == 1


@pytest.mark.anyio
async def test_ready_to_implement_after_approvals(api: Api) -> None:
    await load_scenario(api)
    await api.data(APPROVE, {"id": "CHG-1", "role": "cab"}, token="cab")

    before = (await api.data(READY, {"id": "CHG-1"}, token="viewer"))["readyToImplement"]
    for role in ("clinical_informatics", "clinical_operations"):
        await api.data(APPROVE, {"id": "CHG-1", "role": role}, token=role)
    after = (await api.data(READY, {"id": "CHG-1"}, token="viewer"))["readyToImplement"]

    assert before == {
        "__typename": "Readiness",
        "changeId": "CHG-1",
        "ready": False,
        "missingApprovals": ["clinical_informatics", "clinical_operations"],
        "problems": ["approvals missing from: clinical_informatics, clinical_operations"],
    }
    assert after == {
        "__typename": "Readiness",
        "changeId": "CHG-1",
        "ready": True,
        "missingApprovals": [],
        "problems": [],
    }
    assessment = await assess(api, "CHG-1")
    assert assessment["missingApprovals"] == []
    assert {(a["role"], a["actor"]) for a in assessment["approvals"]} == {
        ("cab", "cab-actor"),
        ("clinical_informatics", "clinical_informatics-actor"),
        ("clinical_operations", "clinical_operations-actor"),
    }


@pytest.mark.anyio
async def test_ready_to_implement_unknown_change(api: Api) -> None:
    data = await api.data(READY, {"id": "CHG-404"}, token="viewer")

    assert data["readyToImplement"]["__typename"] == "ChangeNotFound"
    assert data["readyToImplement"]["changeId"] == "CHG-404"


@pytest.mark.anyio
async def test_implement_without_approvals_not_ready(api: Api) -> None:
    await load_scenario(api)

    result = await implement(api, "CHG-2", "2027-01-05T13:00:00-06:00")

    assert result["__typename"] == "ChangeNotReady"
    assert result["missingApprovals"] == ["cab", "clinical_operations", "compliance"]
    assert ci_version(api.store, "app-aims") == "3.9"


@pytest.mark.anyio
async def test_implement_in_hard_freeze_rejected(api: Api) -> None:
    await load_scenario(api)
    await approve_all(api, "CHG-1")

    result = await implement(api, "CHG-1", "2027-01-05T08:00:00-06:00", reason="urgent")

    assert result["__typename"] == "FreezeConflict"
    assert [c["id"] for c in result["conflicts"] if c["kind"] == "freeze"] == ["fw-rounds"]
    assert "fw-rounds" in result["message"]
    assert change_state(api.store, "CHG-1") == "scheduled"


@pytest.mark.anyio
async def test_implement_needs_utc_offset(api: Api) -> None:
    await load_scenario(api)
    await approve_all(api, "CHG-1")

    result = await implement(api, "CHG-1", "2027-01-05T10:00:00")

    assert result["__typename"] == "ValidationFailed"
    assert result["errors"][0]["field"] == "at"
    assert result["errors"][0]["value"] == "2027-01-05T10:00:00"


@pytest.mark.anyio
async def test_rollback_plan_after_implementing(api: Api) -> None:
    await load_scenario(api)
    await approve_all(api, "CHG-1")
    slot = (await assess(api, "CHG-1"))["nextFreeSlot"]

    implemented = await implement(api, "CHG-1", slot[0])
    data = await api.data(ROLLBACK_PLAN, {"id": "CHG-1", "at": "2027-01-05T12:00:00-06:00"}, token="viewer")

    assert implemented["__typename"] == "Change"
    assert implemented["state"] == "implemented"
    assert implemented["document"]["details"]["implementation"]["at"] == "2027-01-05T16:00:00+00:00"
    plan = data["rollbackPlan"]
    assert plan["__typename"] == "RollbackPlanType"
    expected = EXPECTED["rollback_CHG-1_after_implementing_it"]
    assert {key: plan[key] for key in expected} == expected
    assert plan["blocked"] is False
    assert plan["window"] == ["2027-01-05T12:00-06:00", "2027-01-05T13:00-06:00"]


@pytest.mark.anyio
async def test_rollback_blocked_by_later_change(api: Api) -> None:
    await load_scenario(api)
    await approve_all(api, "CHG-1")
    await approve_all(api, "CHG-4")
    assert (await implement(api, "CHG-1", "2027-01-05T10:00:00-06:00"))["state"] == "implemented"
    assert (await implement(api, "CHG-4", "2027-01-07T10:00:00-06:00"))["state"] == "implemented"

    plan = (
        await api.data(ROLLBACK_PLAN, {"id": "CHG-1", "at": "2027-01-08T12:00:00-06:00"}, token="viewer")
    )["rollbackPlan"]
    unforced = (
        await api.data(
            ROLLBACK, {"id": "CHG-1", "force": False, "reason": "bad build"}, token="change_manager"
        )
    )["rollbackChange"]
    no_reason = (await api.data(ROLLBACK, {"id": "CHG-1", "force": True}, token="change_manager"))[
        "rollbackChange"
    ]

    expected_blockers = EXPECTED["rollback_CHG-1_after_implementing_CHG-4_too"]["blockers"]
    assert plan["blockers"] == expected_blockers
    assert plan["blocked"] is True
    assert unforced["__typename"] == "RollbackBlocked"
    assert unforced["blockers"] == expected_blockers
    assert "later_change" in unforced["message"]
    assert no_reason["__typename"] == "RollbackBlocked"
    assert ci_version(api.store, "app-ehr") == "2025.3.1"
    assert change_state(api.store, "CHG-1") == "implemented"


@pytest.mark.anyio
async def test_forced_rollback_records_reason(api: Api) -> None:
    await load_scenario(api)
    await approve_all(api, "CHG-1")
    await approve_all(api, "CHG-4")
    await implement(api, "CHG-1", "2027-01-05T10:00:00-06:00")
    await implement(api, "CHG-4", "2027-01-07T10:00:00-06:00")

    data = await api.data(
        ROLLBACK,
        {"id": "CHG-1", "force": True, "reason": "sepsis rules misfire", "at": "2027-01-08T12:00:00-06:00"},
        token="change_manager",
    )

    result = data["rollbackChange"]
    assert result["__typename"] == "Change"
    assert result["state"] == "rolled_back"
    rollback = result["document"]["details"]["rollback"]
    assert rollback["forced"] is True
    assert rollback["reason"] == "sepsis rules misfire"
    assert rollback["actor"] == "change_manager-actor"
    assert rollback["blockers"] == EXPECTED["rollback_CHG-1_after_implementing_CHG-4_too"]["blockers"]
    assert ci_version(api.store, "app-ehr") == "2025.2"
    assert ci_version(api.store, "cfg-sepsis") == "14"


@pytest.mark.anyio
async def test_unblocked_rollback_needs_no_force(api: Api) -> None:
    await load_scenario(api)
    await approve_all(api, "CHG-1")
    await implement(api, "CHG-1", "2027-01-05T10:00:00-06:00")

    data = await api.data(
        ROLLBACK, {"id": "CHG-1", "force": False, "at": "2027-01-05T12:00:00-06:00"}, token="change_manager"
    )

    result = data["rollbackChange"]
    assert result["__typename"] == "Change"
    assert result["state"] == "rolled_back"
    assert result["document"]["details"]["rollback"]["forced"] is False
    assert ci_version(api.store, "app-ehr") == "2025.2"


@pytest.mark.anyio
async def test_emergency_in_freeze_needs_reason(api: Api) -> None:
    await load_scenario(api)
    await approve_all(api, "CHG-5")
    assert EXPECTED["CHG-5_implemented_during_fw-rounds"].startswith("allowed only with a recorded")

    without = await implement(api, "CHG-5", "2027-01-06T08:15:00-06:00")
    blank = await implement(api, "CHG-5", "2027-01-06T08:15:00-06:00", reason="  ")
    exceptions_before = (await api.data(FREEZE_EXCEPTIONS, {"pending": False}, token="viewer"))[
        "freezeExceptions"
    ]
    allowed = await implement(api, "CHG-5", "2027-01-06T08:15:00-06:00", reason="recalled drug concentration")

    assert without["__typename"] == "FreezeConflict"
    assert without["changeId"] == "CHG-5"
    assert "reason" in without["message"]
    assert without["conflicts"] == [
        {
            "kind": "freeze",
            "id": "fw-rounds",
            "enforcement": "hard",
            "occurrence": ["2027-01-06T07:00-06:00", "2027-01-06T10:00-06:00"],
            "cis": ["dept-ed", "dept-icu"],
        }
    ]
    assert blank["__typename"] == "FreezeConflict"
    assert exceptions_before == []
    assert allowed["__typename"] == "Change"
    assert allowed["state"] == "implemented"
    assert ci_version(api.store, "cfg-druglib") == "2026-12"


@pytest.mark.anyio
async def test_freeze_exception_pending_until_review(api: Api) -> None:
    await load_scenario(api)
    await approve_all(api, "CHG-5")
    await implement(api, "CHG-5", "2027-01-06T08:15:00-06:00", reason="recalled drug concentration")

    pending = (await api.data(FREEZE_EXCEPTIONS, {"pending": True}, token="viewer"))["freezeExceptions"]
    review = (await api.data(REVIEW, {"id": "CHG-5", "outcome": "successful"}, token="ecab"))["reviewChange"]
    pending_after = (await api.data(FREEZE_EXCEPTIONS, {"pending": True}, token="viewer"))["freezeExceptions"]
    every = (await api.data(FREEZE_EXCEPTIONS, {"pending": False}, token="viewer"))["freezeExceptions"]

    assert len(pending) == 1
    exception = pending[0]
    assert (exception["changeId"], exception["windowId"]) == ("CHG-5", "fw-rounds")
    assert exception["reason"] == "recalled drug concentration"
    assert exception["actor"] == "change_manager-actor"
    assert exception["reviewedAt"] is None
    assert exception["occurrenceStart"].startswith("2027-01-06T13:00:00")
    assert exception["occurrenceEnd"].startswith("2027-01-06T16:00:00")
    assert review == {"__typename": "Change", "id": "CHG-5", "state": "implemented"}
    assert pending_after == []
    assert len(every) == 1
    assert every[0]["reviewedAt"] is not None


@pytest.mark.anyio
async def test_review_before_implementing_rejected(api: Api) -> None:
    await load_scenario(api)

    data = await api.data(REVIEW, {"id": "CHG-5", "outcome": "successful"}, token="ecab")

    result = data["reviewChange"]
    assert result["__typename"] == "ValidationFailed"
    assert result["errors"][0]["value"] == "CHG-5"
    assert api.store.freeze_exceptions() == []


def snapshot(store: GraphStore) -> tuple[list[Any], list[Any]]:
    return store.list_changes(), store.list_freeze_windows()


async def invalid_write(api: Api, mutation: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Send ``mutation`` as the change manager and check that it failed validation and stored nothing.

    Return the mutation's result.
    """
    before = snapshot(api.store)
    data = await api.data(mutation, variables, token="change_manager")
    (result,) = data.values()
    assert result["__typename"] == "ValidationFailed", result
    assert snapshot(api.store) == before
    return dict(result)


def scenario_with(*, freeze_windows: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(SCENARIO)
    if freeze_windows is not None:
        document["freeze_windows"] = freeze_windows
    document.update(overrides)
    return document


def change_document(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "CHG-9",
        "state": "scheduled",
        "type": "normal",
        "window": ["2027-02-01T13:00", "2027-02-01T14:00"],
        "implementer": "u-impl",
        "touches": [{"ci": "app-ehr", "set": {"version": "2025.4"}}],
    }
    document.update(overrides)
    return document


@pytest.mark.anyio
async def test_load_unparsable_rrule_stores_nothing(api: Api) -> None:
    bad_window = {**SCENARIO["freeze_windows"][0], "rrule": "FREQ=SOMETIMES;BYDAY=XX"}
    document = scenario_with(freeze_windows=[bad_window, *SCENARIO["freeze_windows"][1:]])

    result = await invalid_write(api, LOAD_CHANGES, {"document": document})

    assert "FREQ=SOMETIMES;BYDAY=XX" in result["message"]
    assert result["errors"][0]["value"] == "FREQ=SOMETIMES;BYDAY=XX"
    assert result["errors"][0]["field"] == "document.freeze_windows.0.rrule"


@pytest.mark.anyio
async def test_load_unknown_time_zone_stores_nothing(api: Api) -> None:
    result = await invalid_write(
        api, LOAD_CHANGES, {"document": scenario_with(time_zone="Mars/Olympus_Mons")}
    )

    assert "Mars/Olympus_Mons" in result["message"]
    assert result["errors"][0]["value"] == "Mars/Olympus_Mons"
    assert result["errors"][0]["field"] == "document.time_zone"


@pytest.mark.anyio
async def test_save_unknown_time_zone_stores_nothing(api: Api) -> None:
    await load_scenario(api)

    result = await invalid_write(
        api, SAVE_CHANGE, {"document": change_document(), "timeZone": "Mars/Olympus_Mons"}
    )

    assert result["errors"][0]["value"] == "Mars/Olympus_Mons"
    assert result["errors"][0]["field"] == "timeZone"


@pytest.mark.anyio
async def test_save_window_ending_before_start(api: Api) -> None:
    await load_scenario(api)
    document = change_document(window=["2027-02-01T14:00", "2027-02-01T13:00"])

    result = await invalid_write(api, SAVE_CHANGE, {"document": document, "timeZone": "America/Chicago"})

    assert "2027-02-01T13:00" in result["message"]
    assert result["errors"][0]["field"] == "document.window"
    assert result["errors"][0]["value"] == "2027-02-01T13:00"


@pytest.mark.anyio
async def test_save_change_touching_missing_ci(api: Api) -> None:
    await load_scenario(api)
    document = change_document(touches=[{"ci": "app-missing", "set": {"version": "1"}}])

    result = await invalid_write(api, SAVE_CHANGE, {"document": document, "timeZone": "America/Chicago"})

    assert result["errors"][0] == {
        "field": "document.touches.0.ci",
        "message": result["errors"][0]["message"],
        "value": "app-missing",
    }
    assert "'app-missing'" in result["errors"][0]["message"]


@pytest.mark.anyio
async def test_load_one_bad_change_stores_nothing(api: Api) -> None:
    bad = change_document(touches=[{"ci": "app-missing", "set": {"version": "1"}}])
    document = scenario_with(changes=[*SCENARIO["changes"], bad])

    result = await invalid_write(api, LOAD_CHANGES, {"document": document})

    assert result["errors"][0]["value"] == "app-missing"


@pytest.mark.anyio
async def test_save_change_in_time_zone(api: Api) -> None:
    await load_scenario(api)

    data = await api.data(
        SAVE_CHANGE, {"document": change_document(), "timeZone": "America/Chicago"}, token="change_manager"
    )

    assert data["saveChange"] == {
        "__typename": "Change",
        "id": "CHG-9",
        "state": "scheduled",
        "window": ["2027-02-01T13:00-06:00", "2027-02-01T14:00-06:00"],
    }
    assert "CHG-9" in {change.id for change in api.store.list_changes()}


@pytest.mark.anyio
async def test_cli_show_json_equals_graphql(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    store = open_store(url)
    try:
        load_reference_hospital(store)
        api = make_api(store)
        await load_scenario(api)
        assessment = await assess(api, "CHG-1")

        result = CliRunner().invoke(cli_app, ["change", "show", "CHG-1", "--json", "--store", url])
    finally:
        store.close()

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected_shape(assessment)
