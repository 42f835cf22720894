"""Departments, their units and devices, services and teams of the demo health system."""

from __future__ import annotations

from dataclasses import dataclass

from cmdb.demo.devices import (
    ACCESS_POINT,
    ANESTHESIA_MACHINE,
    CT_SCANNER,
    DIALYSIS_MACHINE,
    INFUSION_PUMP,
    LAB_ANALYZER,
    LABEL_PRINTER,
    MONITOR,
    MR_SCANNER,
    VENTILATOR,
    WORKSTATION,
    DeviceKind,
)
from cmdb.model import Criticality


@dataclass(frozen=True, slots=True)
class Quantity:
    """How many devices of one kind a unit holds: per bed, per room and per unit, rounded."""

    per_bed: float = 0.0
    per_room: float = 0.0
    per_unit: int = 0

    def count(self, *, rooms: int, beds: int) -> int:
        return round(self.per_bed * beds + self.per_room * rooms) + self.per_unit


@dataclass(frozen=True, slots=True)
class DepartmentSpec:
    """A department, the shape of each of its units at scale 1, and the devices in a unit.

    Rooms with more than one bed get a bed Location per bed. A single-patient
    room is itself the bed location.
    """

    code: str
    name: str
    unit_name: str
    units: int
    rooms: int
    beds_per_room: int
    room_label: str
    devices: tuple[tuple[DeviceKind, Quantity], ...]
    central_station: bool = False


_USER_DEVICES: tuple[tuple[DeviceKind, Quantity], ...] = (
    (WORKSTATION, Quantity(per_room=0.25, per_unit=3)),
    (LABEL_PRINTER, Quantity(per_room=0.05, per_unit=1)),
    (ACCESS_POINT, Quantity(per_room=0.2, per_unit=1)),
)

DEPARTMENTS: tuple[DepartmentSpec, ...] = (
    DepartmentSpec(
        code="ed",
        name="Emergency Department",
        unit_name="Emergency",
        units=1,
        rooms=28,
        beds_per_room=1,
        room_label="Bay",
        devices=(
            (MONITOR, Quantity(per_bed=1.0)),
            (INFUSION_PUMP, Quantity(per_bed=1.0)),
            (VENTILATOR, Quantity(per_unit=3)),
            (CT_SCANNER, Quantity(per_unit=1)),
            *_USER_DEVICES,
        ),
        central_station=True,
    ),
    DepartmentSpec(
        code="icu",
        name="Intensive Care",
        unit_name="ICU",
        units=2,
        rooms=16,
        beds_per_room=1,
        room_label="Room",
        devices=(
            (MONITOR, Quantity(per_bed=1.0)),
            (INFUSION_PUMP, Quantity(per_bed=3.0)),
            (VENTILATOR, Quantity(per_bed=0.5)),
            *_USER_DEVICES,
        ),
        central_station=True,
    ),
    DepartmentSpec(
        code="or",
        name="Surgery",
        unit_name="Operating Suite",
        units=1,
        rooms=10,
        beds_per_room=0,
        room_label="OR",
        devices=(
            (MONITOR, Quantity(per_room=1.0)),
            (ANESTHESIA_MACHINE, Quantity(per_room=1.0)),
            (INFUSION_PUMP, Quantity(per_room=2.0)),
            *_USER_DEVICES,
        ),
        central_station=True,
    ),
    DepartmentSpec(
        code="medsurg",
        name="Medical-Surgical",
        unit_name="Med-Surg",
        units=4,
        rooms=16,
        beds_per_room=2,
        room_label="Room",
        devices=(
            (MONITOR, Quantity(per_bed=0.25)),
            (INFUSION_PUMP, Quantity(per_bed=1.0)),
            *_USER_DEVICES,
        ),
        central_station=True,
    ),
    DepartmentSpec(
        code="ld",
        name="Labor and Delivery",
        unit_name="L&D",
        units=1,
        rooms=12,
        beds_per_room=1,
        room_label="Suite",
        devices=(
            (MONITOR, Quantity(per_bed=1.0)),
            (INFUSION_PUMP, Quantity(per_bed=2.0)),
            (ANESTHESIA_MACHINE, Quantity(per_unit=1)),
            *_USER_DEVICES,
        ),
        central_station=True,
    ),
    DepartmentSpec(
        code="nicu",
        name="Neonatal Intensive Care",
        unit_name="NICU",
        units=1,
        rooms=5,
        beds_per_room=4,
        room_label="Pod",
        devices=(
            (MONITOR, Quantity(per_bed=1.0)),
            (INFUSION_PUMP, Quantity(per_bed=2.0)),
            (VENTILATOR, Quantity(per_bed=0.4)),
            *_USER_DEVICES,
        ),
        central_station=True,
    ),
    DepartmentSpec(
        code="rad",
        name="Radiology",
        unit_name="Imaging",
        units=1,
        rooms=8,
        beds_per_room=0,
        room_label="Suite",
        devices=(
            (CT_SCANNER, Quantity(per_unit=2)),
            (MR_SCANNER, Quantity(per_unit=1)),
            (MONITOR, Quantity(per_unit=2)),
            (INFUSION_PUMP, Quantity(per_unit=2)),
            *_USER_DEVICES,
        ),
    ),
    DepartmentSpec(
        code="lab",
        name="Laboratory",
        unit_name="Core Lab",
        units=1,
        rooms=4,
        beds_per_room=0,
        room_label="Lab",
        devices=((LAB_ANALYZER, Quantity(per_room=1.0)), *_USER_DEVICES),
    ),
    DepartmentSpec(
        code="pharm",
        name="Pharmacy",
        unit_name="Pharmacy",
        units=1,
        rooms=3,
        beds_per_room=0,
        room_label="Room",
        devices=_USER_DEVICES,
    ),
    DepartmentSpec(
        code="onc",
        name="Oncology Infusion",
        unit_name="Infusion Center",
        units=1,
        rooms=6,
        beds_per_room=4,
        room_label="Bay",
        devices=(
            (INFUSION_PUMP, Quantity(per_bed=1.0)),
            (MONITOR, Quantity(per_bed=0.25)),
            *_USER_DEVICES,
        ),
    ),
    DepartmentSpec(
        code="dialysis",
        name="Dialysis",
        unit_name="Dialysis",
        units=1,
        rooms=4,
        beds_per_room=3,
        room_label="Bay",
        devices=(
            (DIALYSIS_MACHINE, Quantity(per_bed=1.0)),
            (MONITOR, Quantity(per_bed=0.5)),
            (INFUSION_PUMP, Quantity(per_bed=0.5)),
            *_USER_DEVICES,
        ),
    ),
    DepartmentSpec(
        code="billing",
        name="Patient Financial Services",
        unit_name="Billing Office",
        units=1,
        rooms=4,
        beds_per_room=0,
        room_label="Office",
        devices=(
            (WORKSTATION, Quantity(per_room=3.0)),
            (ACCESS_POINT, Quantity(per_unit=1)),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A service, the departments (by code) that use it and the one that owns it."""

    key: str
    name: str
    criticality: Criticality
    sla_tier: str
    used_by: tuple[str, ...]
    owner: str
    tags: tuple[str, ...] = ()


_BEDSIDE = ("ed", "icu", "or", "medsurg", "ld", "nicu", "onc", "dialysis")

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "svc-medadmin",
        "Medication Administration",
        Criticality.PATIENT_CARE,
        "gold",
        (*_BEDSIDE, "pharm"),
        "pharm",
        ("medication",),
    ),
    ServiceSpec(
        "svc-monitoring",
        "Patient Monitoring",
        Criticality.LIFE_CRITICAL,
        "platinum",
        ("ed", "icu", "or", "medsurg", "ld", "nicu"),
        "icu",
    ),
    ServiceSpec(
        "svc-imaging", "Imaging", Criticality.PATIENT_CARE, "gold", ("ed", "icu", "or", "rad", "onc"), "rad"
    ),
    ServiceSpec("svc-lab", "Lab Results", Criticality.PATIENT_CARE, "gold", (*_BEDSIDE, "lab"), "lab"),
    ServiceSpec(
        "svc-clindoc",
        "Clinical Documentation",
        Criticality.PATIENT_CARE,
        "gold",
        (*_BEDSIDE, "rad", "lab", "pharm"),
        "medsurg",
    ),
    ServiceSpec("svc-periop", "Perioperative", Criticality.PATIENT_CARE, "gold", ("or", "ld"), "or"),
    ServiceSpec("svc-billing", "Billing", Criticality.BUSINESS, "bronze", ("billing",), "billing"),
)


@dataclass(frozen=True, slots=True)
class TeamSpec:
    """A support team."""

    key: str
    name: str
    on_call: str
    notify_for_tags: tuple[str, ...] = ()


TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec("team-biomed", "Biomedical Engineering", "biomed-oncall"),
    TeamSpec("team-clininf", "Clinical Informatics", "clininf-oncall", ("medication",)),
    TeamSpec("team-netops", "Network Operations", "netops-oncall"),
    TeamSpec("team-ehr", "EHR Applications", "ehr-oncall"),
    TeamSpec("team-infra", "Server Infrastructure", "infra-oncall"),
    TeamSpec("team-euc", "End User Computing", "euc-oncall"),
)
