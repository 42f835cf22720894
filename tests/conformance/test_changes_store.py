"""Change records, freeze windows, approvals, freeze exceptions and reviews through the store protocol."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cmdb.model import ChangeContext, Origin
from cmdb.store.base import (
    ApprovalRecord,
    FreezeExceptionRecord,
    GraphStore,
    ReviewRecord,
    StoredChange,
    StoredFreezeWindow,
    StoreError,
    VersionConflictError,
)
from tests.conformance.factories import ci

START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)


def _change(change_id: str, state: str = "scheduled", hours: int = 0) -> StoredChange:
    start = START + timedelta(hours=hours)
    return StoredChange(
        id=change_id,
        state=state,
        window_start=start,
        window_end=start + timedelta(hours=1),
        document={"id": change_id, "state": state, "touches": [{"ci": "srv-1", "set": {"os": "b"}}]},
    )


def test_save_and_get_change(store: GraphStore) -> None:
    store.save_changes([_change("CHG-1")])

    stored = store.get_change("CHG-1")

    assert stored == _change("CHG-1")
    assert store.get_change("CHG-404") is None


def test_save_replaces_by_id(store: GraphStore) -> None:
    store.save_changes([_change("CHG-1")])
    store.save_changes([_change("CHG-1", state="cancelled")])

    assert [(c.id, c.state) for c in store.list_changes()] == [("CHG-1", "cancelled")]


def test_list_changes_by_state_and_window(store: GraphStore) -> None:
    store.save_changes([_change("CHG-2", hours=2), _change("CHG-1", hours=5), _change("CHG-3", "draft")])

    assert [c.id for c in store.list_changes()] == ["CHG-3", "CHG-2", "CHG-1"]
    assert [c.id for c in store.list_changes(states=["scheduled"])] == ["CHG-2", "CHG-1"]


def test_freeze_windows_by_id(store: GraphStore) -> None:
    rounds = StoredFreezeWindow(id="fw-rounds", document={"id": "fw-rounds", "scope": ["dept-icu"]})
    audit = StoredFreezeWindow(id="fw-audit", document={"id": "fw-audit", "scope": ["loc-main"]})

    store.save_changes([], freeze_windows=[rounds, audit])

    assert store.list_freeze_windows() == [audit, rounds]


def test_apply_change_writes_tagged_versions(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1", attributes={"os": "a"})], context=context)
    store.save_changes([_change("CHG-1")])
    tagged = ChangeContext(actor="impl", origin=Origin.CHANGE, request_id="req-9", change_id="CHG-1")

    result = store.apply_change(
        [ci("srv-1", attributes={"os": "b"}, version=1)],
        change=_change("CHG-1", "implemented"),
        context=tagged,
    )

    assert result.updated == 1
    last = store.versions("srv-1")[-1]
    assert (last.change_id, last.origin, last.actor, last.request_id) == ("CHG-1", "change", "impl", "req-9")
    stored = store.get_change("CHG-1")
    assert stored is not None
    assert stored.state == "implemented"


def test_apply_change_stale_version_writes_nothing(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1", attributes={"os": "a"}), ci("srv-2")], context=context)
    store.upsert_cis([ci("srv-1", attributes={"os": "c"})], context=context)
    store.save_changes([_change("CHG-1")])
    exception = FreezeExceptionRecord(
        change_id="CHG-1",
        window_id="fw-rounds",
        occurrence_start=START,
        occurrence_end=START + timedelta(hours=3),
        reason="urgent",
        actor="impl",
        recorded_at=START,
    )

    with pytest.raises(VersionConflictError):
        store.apply_change(
            [ci("srv-2", name="renamed", version=1), ci("srv-1", attributes={"os": "b"}, version=1)],
            change=_change("CHG-1", "implemented"),
            context=context,
            freeze_exceptions=[exception],
        )

    stored, srv2 = store.get_change("CHG-1"), store.get_ci("srv-2")
    assert stored is not None and srv2 is not None
    assert stored.state == "scheduled"
    assert srv2.name == "srv-2"
    assert store.freeze_exceptions() == []


def test_approvals_once_per_role(store: GraphStore) -> None:
    store.save_changes([_change("CHG-1")])
    cab = ApprovalRecord(change_id="CHG-1", role="cab", actor="c1", recorded_at=START, comment="ok")
    store.save_approval(cab)

    with pytest.raises(StoreError, match="already approved for role 'cab'"):
        store.save_approval(ApprovalRecord(change_id="CHG-1", role="cab", actor="c2", recorded_at=START))

    assert store.approvals("CHG-1") == [cab]


def test_approval_of_unknown_change_raises(store: GraphStore) -> None:
    with pytest.raises(StoreError, match="change 'CHG-404' not found"):
        store.save_approval(ApprovalRecord(change_id="CHG-404", role="cab", actor="c1", recorded_at=START))


def test_review_marks_freeze_exceptions(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1")], context=context)
    store.save_changes([_change("CHG-1"), _change("CHG-2")])
    exception = FreezeExceptionRecord(
        change_id="CHG-1",
        window_id="fw-rounds",
        occurrence_start=START,
        occurrence_end=START + timedelta(hours=3),
        reason="urgent",
        actor="impl",
        recorded_at=START,
    )
    store.apply_change(
        [], change=_change("CHG-1", "implemented"), context=context, freeze_exceptions=[exception]
    )
    review = ReviewRecord(change_id="CHG-1", actor="chair", outcome="successful", notes="", recorded_at=START)

    assert store.freeze_exceptions(change_id="CHG-1") == [exception]
    store.save_review(review)

    assert store.reviews("CHG-1") == [review]
    assert store.reviews("CHG-2") == []
    assert store.freeze_exceptions(change_id="CHG-1")[0].reviewed_at == START
    assert store.freeze_exceptions(change_id="CHG-2") == []
