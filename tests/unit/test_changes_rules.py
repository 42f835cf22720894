"""Change rules without a store: conflicts, next free slot, approvals, rollback and daylight saving."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from cmdb.changes.approvals import TouchedCI, needs_post_implementation_review, required_approvals
from cmdb.changes.clock import Interval, iso, local_window, resolve, zone
from cmdb.changes.conflicts import BlastRadius, ScheduledChange, find_conflicts, next_free_slot
from cmdb.changes.freeze import Enforcement, FreezeWindow
from cmdb.changes.models import ChangeRecord, ChangeState, parse_change, parse_freeze_window
from cmdb.changes.radius import blast_radius
from cmdb.changes.rollback import LaterChange, plan_rollback
from cmdb.impact import ImpactRequest, ImpactState, Mode, propagate
from cmdb.impact.summary import impact_level
from tests.reference import HOSPITAL_DIR, hospital_closure

SCENARIO = json.loads((HOSPITAL_DIR / "changes.json").read_text())
TZ_NAME = SCENARIO["time_zone"]
TZ = zone(TZ_NAME)
CHANGES = {doc["id"]: parse_change(doc, time_zone=TZ_NAME) for doc in SCENARIO["changes"]}
FREEZES = [parse_freeze_window(doc, time_zone=TZ_NAME) for doc in SCENARIO["freeze_windows"]]
EXPECTED = SCENARIO["expected"]
CLOSURE, CONTEXT = hospital_closure()


def _radius(change: ChangeRecord) -> tuple[BlastRadius, int]:
    request = ImpactRequest(roots=dict.fromkeys(change.touched_keys(), Mode.PLANNED_OUTAGE))
    result = propagate(CLOSURE, request)
    states = {key: result.states[key] for key in result.reached}
    level = impact_level(
        [(CLOSURE.nodes[k].ci_class, CLOSURE.nodes[k].criticality, s) for k, s in states.items()]
    )
    return blast_radius(states=states, nodes=CLOSURE.nodes, context=CONTEXT), level


def _scheduled() -> list[ScheduledChange]:
    return [
        ScheduledChange(change.id, change.window(), frozenset(_radius(change)[0].broken()))
        for change in CHANGES.values()
        if change.state is ChangeState.SCHEDULED
    ]


@pytest.mark.parametrize("change_id", ["CHG-1", "CHG-2", "CHG-3", "CHG-4", "CHG-5"])
def test_conflicts_match_scenario(change_id: str) -> None:
    change = CHANGES[change_id]
    radius, _ = _radius(change)

    conflicts = find_conflicts(
        change_id=change_id,
        window=change.window(),
        radius=radius,
        freezes=FREEZES,
        scheduled=_scheduled(),
        tz=TZ,
    )

    assert conflicts.to_list(TZ) == EXPECTED[change_id]["conflicts"]


@pytest.mark.parametrize("change_id", ["CHG-1", "CHG-3", "CHG-5"])
def test_next_free_slot_matches_scenario(change_id: str) -> None:
    change = CHANGES[change_id]
    radius, _ = _radius(change)

    slot = next_free_slot(
        change_id=change_id,
        window=change.window(),
        radius=radius,
        freezes=FREEZES,
        scheduled=_scheduled(),
        tz=TZ,
    )

    assert slot is not None
    assert slot.as_pair(TZ) == EXPECTED[change_id]["next_free_slot"]


@pytest.mark.parametrize("change_id", ["CHG-1", "CHG-2", "CHG-3", "CHG-4", "CHG-5"])
def test_required_approvals_match_scenario(change_id: str) -> None:
    change = CHANGES[change_id]
    _, level = _radius(change)
    touched = [
        TouchedCI(key, CLOSURE.nodes[key].ci_class, CLOSURE.nodes[key].attributes)
        for key in change.touched_keys()
    ]

    roles = required_approvals(change_type=change.type, touched=touched, impact_level=level)

    assert roles == EXPECTED[change_id]["required_approvals"]
    review = EXPECTED[change_id].get("post_implementation_review", False)
    assert needs_post_implementation_review(change.type) is review


def _after_chg1() -> dict[str, Any]:
    return {
        "set_values": {"app-ehr": {"version": "2025.3"}, "cfg-sepsis": {"version": "15"}},
        "previous_values": {"app-ehr": {"version": "2025.2"}, "cfg-sepsis": {"version": "14"}},
        "links": [("cfg-sepsis", "CONFIGURES", "app-ehr")],
    }


def test_rollback_plan_after_implementing_chg1() -> None:
    plan = plan_rollback(
        **_after_chg1(),
        current_values={"app-ehr": {"version": "2025.3"}, "cfg-sepsis": {"version": "15"}},
        later_changes=[],
    )

    assert plan.to_dict() == EXPECTED["rollback_CHG-1_after_implementing_it"]


def test_rollback_blockers_after_chg4() -> None:
    plan = plan_rollback(
        **_after_chg1(),
        current_values={"app-ehr": {"version": "2025.3.1"}, "cfg-sepsis": {"version": "15"}},
        later_changes=[LaterChange("CHG-4", "app-ehr")],
    )

    assert plan.to_dict()["blockers"] == EXPECTED["rollback_CHG-1_after_implementing_CHG-4_too"]["blockers"]
    assert plan.blocked


def test_rollback_order_sources_first() -> None:
    plan = plan_rollback(
        set_values={"vm": {"os": "b"}, "app": {"version": "2"}, "db": {"version": "9"}},
        previous_values={"vm": {"os": "a"}, "app": {"version": "1"}},
        current_values={"vm": {"os": "b"}, "app": {"version": "2"}, "db": {"version": "9"}},
        links=[("app", "RUNS_ON", "vm"), ("db", "RUNS_ON", "vm"), ("app", "DEPENDS_ON", "db")],
        later_changes=[],
    )

    assert plan.order == ["app", "db", "vm"]
    assert plan.items[1].to_dict() == {"ci": "db", "attribute": "version", "from": "9", "to": None}


CHICAGO = zone("America/Chicago")


def _window(rrule: str, start: str, minutes: int) -> FreezeWindow:
    return FreezeWindow(
        id="fw",
        name="fw",
        scope=("dept-icu",),
        enforcement=Enforcement.HARD,
        time_zone="America/Chicago",
        start=datetime.fromisoformat(start),
        rrule=rrule,
        duration=timedelta(minutes=minutes),
    )


def _occurrences(freeze: FreezeWindow, start: str, end: str) -> list[list[str]]:
    between = local_window(datetime.fromisoformat(start), datetime.fromisoformat(end), CHICAGO, "test")
    return [occurrence.as_pair(CHICAGO) for occurrence in freeze.occurrences(CHICAGO, between)]


def test_weekday_window_across_spring_forward() -> None:
    """Clocks go forward on Sunday 2027-03-14; Friday is CST and Monday CDT, both 07:00-10:00 local."""
    rounds = _window("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "2027-01-04T07:00", 180)

    found = _occurrences(rounds, "2027-03-12T00:00", "2027-03-16T00:00")

    assert found == [
        ["2027-03-12T07:00-06:00", "2027-03-12T10:00-06:00"],
        ["2027-03-15T07:00-05:00", "2027-03-15T10:00-05:00"],
    ]


def test_weekday_window_across_fall_back() -> None:
    rounds = _window("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "2027-01-04T07:00", 180)

    found = _occurrences(rounds, "2027-11-05T00:00", "2027-11-09T00:00")

    assert found == [
        ["2027-11-05T07:00-05:00", "2027-11-05T10:00-05:00"],
        ["2027-11-08T07:00-06:00", "2027-11-08T10:00-06:00"],
    ]


def test_weekend_window_spring_forward_ends_monday_midnight() -> None:
    """A 48-hour window from Saturday 00:00 ends Monday 00:00 local: 47 elapsed hours that weekend."""
    weekend = _window("FREQ=WEEKLY;BYDAY=SA", "2027-01-02T00:00", 2880)

    found = _occurrences(weekend, "2027-03-13T12:00", "2027-03-13T13:00")

    assert found == [["2027-03-13T00:00-06:00", "2027-03-15T00:00-05:00"]]
    between = local_window(datetime(2027, 3, 13, 12), datetime(2027, 3, 13, 13), CHICAGO, "test")
    occurrence = next(weekend.occurrences(CHICAGO, between))
    assert occurrence.duration == timedelta(hours=47)


def test_weekend_window_fall_back_is_49_hours() -> None:
    weekend = _window("FREQ=WEEKLY;BYDAY=SA", "2027-01-02T00:00", 2880)
    between = local_window(datetime(2027, 11, 7, 23), datetime(2027, 11, 7, 23, 30), CHICAGO, "test")

    occurrence = next(weekend.occurrences(CHICAGO, between))

    assert occurrence.as_pair(CHICAGO) == ["2027-11-06T00:00-05:00", "2027-11-08T00:00-06:00"]
    assert occurrence.duration == timedelta(hours=49)


def test_conflict_decided_on_instants_at_fall_back() -> None:
    """A change in the second 01:00-02:00 hour of fall-back night misses a window ending at the first."""
    night = FreezeWindow(
        id="fw-night",
        name="night",
        scope=("dept-icu",),
        enforcement=Enforcement.HARD,
        time_zone="America/Chicago",
        start=datetime(2027, 11, 7, 0, 0),
        end=datetime(2027, 11, 7, 1, 30),
    )
    radius = BlastRadius(
        states={"dept-icu": ImpactState.DOWN}, scope_tokens={"dept-icu": frozenset({"dept-icu"})}
    )
    # 01:30 local resolves to its first instant (CDT); this window starts in the repeated hour (CST).
    second_hour = Interval(
        resolve(datetime(2027, 11, 7, 1, 30), CHICAGO) + timedelta(hours=1),
        resolve(datetime(2027, 11, 7, 1, 45), CHICAGO) + timedelta(hours=1),
    )

    conflicts = find_conflicts(
        change_id="c", window=second_hour, radius=radius, freezes=[night], scheduled=[], tz=CHICAGO
    )

    assert conflicts.to_list(CHICAGO) == []
    assert iso(second_hour.start, CHICAGO) == "2027-11-07T01:30-06:00"


def test_next_free_slot_visits_both_repeated_hours() -> None:
    """On fall-back night the quarter hours 01:00-01:45 exist twice; the slot search tries both."""
    first_hour = FreezeWindow(
        id="fw-first",
        name="first",
        scope=("dept-icu",),
        enforcement=Enforcement.HARD,
        time_zone="America/Chicago",
        start=datetime(2027, 11, 7, 0, 0),
        end=datetime(2027, 11, 7, 1, 59),
    )
    radius = BlastRadius(
        states={"dept-icu": ImpactState.DOWN}, scope_tokens={"dept-icu": frozenset({"dept-icu"})}
    )
    request = local_window(datetime(2027, 11, 7, 0, 30), datetime(2027, 11, 7, 0, 45), CHICAGO, "test")

    slot = next_free_slot(
        change_id="c", window=request, radius=radius, freezes=[first_hour], scheduled=[], tz=CHICAGO
    )

    assert slot is not None
    assert slot.as_pair(CHICAGO) == ["2027-11-07T01:00-06:00", "2027-11-07T01:15-06:00"]


def test_spring_forward_gap_start_moves_forward() -> None:
    daily = _window("FREQ=DAILY", "2027-03-13T02:30", 60)

    found = _occurrences(daily, "2027-03-14T00:00", "2027-03-14T12:00")

    assert found == [["2027-03-14T03:30-05:00", "2027-03-14T04:30-05:00"]]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {
                "id": "x",
                "rrule": "FREQ=SOMETIMES",
                "start": "2027-01-01T07:00",
                "duration_minutes": 60,
                "scope": ["a"],
            },
            "invalid RRULE 'FREQ=SOMETIMES'",
        ),
        (
            {"id": "x", "start": "2027-01-02T07:00", "end": "2027-01-01T07:00", "scope": ["a"]},
            "not after its start",
        ),
        (
            {
                "id": "x",
                "start": "2027-01-02T07:00",
                "end": "2027-01-03T07:00",
                "scope": ["a"],
                "time_zone": "Mars/Olympus",
            },
            "unknown time zone 'Mars/Olympus'",
        ),
    ],
)
def test_bad_freeze_window_rejected(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_freeze_window(document, time_zone="America/Chicago")


def test_change_window_ending_before_start_rejected() -> None:
    with pytest.raises(ValueError, match="not after its start"):
        parse_change(
            {"id": "c", "window": ["2027-01-05T09:00", "2027-01-05T08:00"], "touches": []},
            time_zone="America/Chicago",
        )
