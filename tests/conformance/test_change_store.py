"""More change and history cases through the store protocol: order, failed writes, time zones."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cmdb.model import ChangeContext, Origin
from cmdb.store.base import (
    ApprovalRecord,
    FreezeExceptionRecord,
    GraphStore,
    RejectedRowsError,
    ReviewRecord,
    StoredChange,
    StoredFreezeWindow,
    StoreError,
)
from tests.conformance.factories import ci, rel

START = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
CENTRAL = timezone(timedelta(hours=-6))
IMPLEMENTER = ChangeContext(actor="impl", origin=Origin.CHANGE, request_id="req-7", change_id="CHG-1")


def _change(change_id: str, state: str = "scheduled", *, start: datetime = START) -> StoredChange:
    return StoredChange(
        id=change_id,
        state=state,
        window_start=start,
        window_end=start + timedelta(hours=2),
        document={"id": change_id, "state": state},
    )


def _exception(change_id: str, reason: str = "urgent") -> FreezeExceptionRecord:
    return FreezeExceptionRecord(
        change_id=change_id,
        window_id="fw-rounds",
        occurrence_start=START,
        occurrence_end=START + timedelta(hours=3),
        reason=reason,
        actor="impl",
        recorded_at=START,
    )


def test_list_changes_several_states(store: GraphStore) -> None:
    store.save_changes(
        [
            _change("CHG-3", "draft", start=START + timedelta(days=1)),
            _change("CHG-1", "closed"),
            _change("CHG-2", "scheduled", start=START - timedelta(days=1)),
        ]
    )

    assert [c.id for c in store.list_changes(states=["draft", "scheduled"])] == ["CHG-2", "CHG-3"]
    assert store.list_changes(states=["failed"]) == []


def test_list_changes_same_start_by_id(store: GraphStore) -> None:
    store.save_changes([_change("CHG-b"), _change("CHG-a"), _change("CHG-B")])

    assert [c.id for c in store.list_changes()] == ["CHG-B", "CHG-a", "CHG-b"]


def test_change_instants_returned_in_utc(store: GraphStore) -> None:
    local_start = datetime(2027, 3, 2, 3, 0, tzinfo=CENTRAL)
    store.save_changes([_change("CHG-1", start=local_start)])

    stored = store.get_change("CHG-1")

    assert stored is not None
    assert stored.window_start == START
    assert stored.window_start.utcoffset() == timedelta(0)
    assert stored.window_end == START + timedelta(hours=2)


def test_change_without_time_zone_raises(store: GraphStore) -> None:
    naive = _change("CHG-1", start=datetime(2027, 3, 2, 9, 0))

    with pytest.raises(ValueError, match="give a time zone"):
        store.save_changes([naive])

    assert store.list_changes() == []


def test_change_document_round_trip(store: GraphStore) -> None:
    document = {
        "id": "CHG-1",
        "touches": [{"ci": "pump-1", "set": {"drug_library": "v2", "limits": [1.5, None, True]}}],
        "note": "Änderung der Medikamentenbibliothek",
    }
    change = StoredChange(
        id="CHG-1",
        state="draft",
        window_start=START,
        window_end=START + timedelta(hours=1),
        document=document,
    )
    store.save_changes([change])

    stored = store.get_change("CHG-1")

    assert stored is not None
    assert stored.document == document


def test_freeze_window_replaced_by_id(store: GraphStore) -> None:
    first = StoredFreezeWindow(id="fw-rounds", document={"id": "fw-rounds", "enforcement": "hard"})
    second = StoredFreezeWindow(id="fw-rounds", document={"id": "fw-rounds", "enforcement": "advisory"})
    store.save_changes([], freeze_windows=[first])
    store.save_changes([], freeze_windows=[second])

    assert store.list_freeze_windows() == [second]


def test_apply_change_rejected_row_writes_nothing(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1", attributes={"os": "a"})], context=context)
    store.save_changes([_change("CHG-1")])

    with pytest.raises(RejectedRowsError) as raised:
        store.apply_change(
            [ci("srv-1", attributes={"os": "b"}, version=1), ci("srv-1", attributes={"os": "c"}, version=1)],
            change=_change("CHG-1", "implemented"),
            context=IMPLEMENTER,
        )

    assert [(row.index, row.key) for row in raised.value.rejected] == [(1, "srv-1")]
    stored, srv1 = store.get_change("CHG-1"), store.get_ci("srv-1")
    assert stored is not None and srv1 is not None
    assert stored.state == "scheduled"
    assert srv1.attributes == {"os": "a"}
    assert [v.version for v in store.versions("srv-1")] == [1]


def test_apply_change_unknown_exception_rolls_back(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1", attributes={"os": "a"})], context=context)
    store.save_changes([_change("CHG-1")])

    with pytest.raises(StoreError, match="change 'CHG-404' not found"):
        store.apply_change(
            [ci("srv-1", attributes={"os": "b"}, version=1)],
            change=_change("CHG-1", "implemented"),
            context=IMPLEMENTER,
            freeze_exceptions=[_exception("CHG-404")],
        )

    srv1 = store.get_ci("srv-1")
    assert srv1 is not None
    assert srv1.version == 1
    stored = store.get_change("CHG-1")
    assert stored is not None
    assert stored.state == "scheduled"
    assert store.freeze_exceptions() == []


def test_apply_change_creates_and_counts(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1", attributes={"os": "a"}), ci("srv-2")], context=context)

    result = store.apply_change(
        [ci("srv-1", attributes={"os": "b"}, version=1), ci("srv-2", version=1), ci("srv-3")],
        change=_change("CHG-1", "implemented"),
        context=IMPLEMENTER,
    )

    assert (result.added, result.updated, result.unchanged, result.rejected) == (1, 1, 1, [])
    assert [v.change_id for v in store.versions("srv-2")] == [None]
    assert [v.change_id for v in store.versions("srv-3")] == ["CHG-1"]
    stored = store.get_change("CHG-1")
    assert stored is not None
    assert stored.state == "implemented"


def test_versions_as_of_after_change(store: GraphStore, context: ChangeContext) -> None:
    store.upsert_cis([ci("srv-1", attributes={"os": "a"}), ci("app-1", "Application")], context=context)
    store.upsert_relationships([rel("app-1", "RUNS_ON", "srv-1")], context=context, strict=True)
    store.apply_change(
        [ci("srv-1", attributes={"os": "b"}, version=1)],
        change=_change("CHG-1", "implemented"),
        context=IMPLEMENTER,
    )
    applied = [v for v in store.versions("srv-1") if v.entity == "ci"][-1]

    before = store.versions_as_of(applied.valid_from - timedelta(microseconds=1))
    after = store.versions_as_of(applied.valid_from.astimezone(CENTRAL))

    assert [(v.entity, v.key, v.version, v.change_id) for v in before] == [
        ("ci", "app-1", 1, None),
        ("ci", "srv-1", 1, None),
        ("relationship", "app-1|RUNS_ON|srv-1", 1, None),
    ]
    assert [(v.entity, v.key, v.version, v.change_id) for v in after] == [
        ("ci", "app-1", 1, None),
        ("ci", "srv-1", 2, "CHG-1"),
        ("relationship", "app-1|RUNS_ON|srv-1", 1, None),
    ]


def test_approvals_sorted_by_role(store: GraphStore) -> None:
    store.save_changes([_change("CHG-1"), _change("CHG-2")])
    for role in ("pharmacy", "biomed", "cab"):
        store.save_approval(
            ApprovalRecord(change_id="CHG-1", role=role, actor=f"a-{role}", recorded_at=START)
        )

    assert [a.role for a in store.approvals("CHG-1")] == ["biomed", "cab", "pharmacy"]
    assert store.approvals("CHG-2") == []


def test_concurrent_approvals_one_wins(store: GraphStore) -> None:
    store.save_changes([_change("CHG-1")])
    errors: list[StoreError] = []
    barrier = threading.Barrier(4)

    def approve(actor: str) -> None:
        barrier.wait()
        try:
            store.save_approval(ApprovalRecord(change_id="CHG-1", role="cab", actor=actor, recorded_at=START))
        except StoreError as error:
            errors.append(error)

    threads = [threading.Thread(target=approve, args=(f"c{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(store.approvals("CHG-1")) == 1
    assert len(errors) == 3
    assert all("already approved for role 'cab'" in str(error) for error in errors)


def test_freeze_exceptions_oldest_first(store: GraphStore, context: ChangeContext) -> None:
    store.save_changes([_change("CHG-1"), _change("CHG-2")])
    store.apply_change([], change=_change("CHG-2"), context=context, freeze_exceptions=[_exception("CHG-2")])
    store.apply_change(
        [],
        change=_change("CHG-1"),
        context=context,
        freeze_exceptions=[_exception("CHG-1", "first"), _exception("CHG-1", "second")],
    )

    assert [(e.change_id, e.reason) for e in store.freeze_exceptions()] == [
        ("CHG-2", "urgent"),
        ("CHG-1", "first"),
        ("CHG-1", "second"),
    ]
    assert [e.reason for e in store.freeze_exceptions(change_id="CHG-1")] == ["first", "second"]


def test_second_review_keeps_first_reviewed_at(store: GraphStore, context: ChangeContext) -> None:
    store.save_changes([_change("CHG-1")])
    store.apply_change([], change=_change("CHG-1"), context=context, freeze_exceptions=[_exception("CHG-1")])
    first = ReviewRecord(change_id="CHG-1", actor="chair", outcome="successful", notes="", recorded_at=START)
    later = START + timedelta(days=2)
    second = ReviewRecord(
        change_id="CHG-1", actor="chair", outcome="successful", notes="addendum", recorded_at=later
    )

    store.save_review(first)
    store.save_review(second)

    assert store.reviews("CHG-1") == [first, second]
    assert [e.reviewed_at for e in store.freeze_exceptions(change_id="CHG-1")] == [START]


def test_review_of_unknown_change_raises(store: GraphStore) -> None:
    review = ReviewRecord(change_id="CHG-404", actor="chair", outcome="failed", notes="", recorded_at=START)

    with pytest.raises(StoreError, match="change 'CHG-404' not found"):
        store.save_review(review)

    assert store.reviews("CHG-404") == []
