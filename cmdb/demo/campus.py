"""One hospital campus: locations, the switched and wireless network, and the devices in each unit."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from cmdb.demo.builder import GraphBuilder, SubnetPool
from cmdb.demo.devices import CENTRAL_STATION, CISCO, INFUSION_PUMP, DeviceKind, DeviceModel
from cmdb.demo.organization import DEPARTMENTS, DepartmentSpec
from cmdb.model import Criticality, Identifiers

UNITS_PER_FLOOR = 3
FLOORS_PER_BUILDING = 8
# Endpoints per 48-port access switch, leaving four ports free as spares.
ACCESS_PORTS_PER_SWITCH = 44
# Catalyst 2960-X, as recorded in the SNMP walks under tests/data/snmp.
ACCESS_SWITCH_OID = "1.3.6.1.4.1.9.1.1208"


@dataclass(slots=True)
class Campus:
    """Keys a campus exposes to the rest of the health system."""

    code: str
    site: str
    core_group: str
    wlc_group: str
    departments: dict[str, str] = field(default_factory=dict)
    pumps_by_model: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class _Unit:
    spec: DepartmentSpec
    key: str
    name: str
    department: str
    rooms: list[str]
    beds: list[str]


class CampusBuilder:
    """Builds one hospital. Its ``index`` (1, 2, ...) sets the key prefix and the wireless address block."""

    def __init__(
        self, builder: GraphBuilder, *, index: int, name: str, scale: int, addresses: SubnetPool
    ) -> None:
        self.graph = builder
        self.code = f"h{index}"
        self.name = name
        self.scale = scale
        self.addresses = addresses
        self.management = addresses.next_subnet()
        self.wireless = SubnetPool(f"10.{100 + index}.0.0/16")
        self.wireless_hosts = self.wireless.next_subnet()
        self.fleet: dict[str, DeviceModel] = {}
        self._clearances: dict[str, str] = {}
        self._buildings: dict[int, tuple[str, str]] = {}
        self.campus = Campus(
            code=self.code,
            site=f"{self.code}-site",
            core_group=f"{self.code}-core-pair",
            wlc_group=f"{self.code}-wlc-pair",
        )

    def build(self) -> Campus:
        graph = self.graph
        graph.add_ci(self.campus.site, "Location", self.name, attributes={"kind": "site"})
        self._core_and_wireless()
        for spec in DEPARTMENTS:
            self.campus.departments[spec.code] = graph.add_ci(
                f"{self.code}-dept-{spec.code}", "Department", f"{self.name} {spec.name}"
            )
        units = self._units()
        for floor_index, floor_units in enumerate(_chunks(units, UNITS_PER_FLOOR)):
            building_index = floor_index // FLOORS_PER_BUILDING
            building, dist_group = self._building(building_index)
            floor_number = floor_index % FLOORS_PER_BUILDING + 1
            floor = f"{building}-f{floor_number:02d}"
            graph.add_ci(
                floor,
                "Location",
                f"{self.name} Tower {_building_letter(building_index).upper()} floor {floor_number}",
                attributes={"kind": "floor"},
            )
            graph.relate(floor, "LOCATED_IN", building)
            for unit in floor_units:
                self._unit(unit, floor, dist_group)
        return self.campus

    def _core_and_wireless(self) -> None:
        graph, code = self.graph, self.code
        graph.add_ci(
            self.campus.core_group,
            "RedundancyGroup",
            f"{self.name} core switch pair",
            criticality=Criticality.PATIENT_CARE,
            attributes={"min_healthy": 1},
        )
        graph.relate(self.campus.core_group, "MANAGED_BY", "team-netops")
        for n in (1, 2):
            switch = self._network_device(f"{code}-core-sw-{n}", "Cisco", "C9500-48Y4C", "FDO")
            graph.relate(switch, "MEMBER_OF", self.campus.core_group)
            graph.relate(switch, "LOCATED_IN", self.campus.site)
        graph.add_ci(
            self.campus.wlc_group,
            "RedundancyGroup",
            f"{self.name} wireless controller pair",
            criticality=Criticality.PATIENT_CARE,
            attributes={"min_healthy": 1},
        )
        graph.relate(self.campus.wlc_group, "MANAGED_BY", "team-netops")
        for n in (1, 2):
            wlc = self._network_device(f"{code}-wlc-{n}", "Cisco", "C9800-40", "TTM")
            graph.relate(wlc, "CONNECTS_TO", self.campus.core_group, port="Te1/0/1", vlan=10)
            graph.relate(wlc, "MEMBER_OF", self.campus.wlc_group)
            graph.relate(wlc, "LOCATED_IN", self.campus.site)

    def _network_device(self, key: str, vendor: str, model: str, serial_prefix: str) -> str:
        graph = self.graph
        graph.add_ci(
            key,
            "NetworkDevice",
            key,
            criticality=Criticality.PATIENT_CARE,
            identifiers=Identifiers(
                serial=graph.serial(serial_prefix, 7),
                macs=[graph.mac(CISCO)],
                ips=[self._management_ip()],
                hostname=f"{key}.{self.code}.example.org",
            ),
            attributes={"vendor": vendor, "model": model, "ports": 48},
        )
        graph.relate(key, "MANAGED_BY", "team-netops")
        return key

    def _building(self, index: int) -> tuple[str, str]:
        """Return the building's key and its distribution pair, creating them on first use."""
        if index in self._buildings:
            return self._buildings[index]
        graph = self.graph
        letter = _building_letter(index)
        building = f"{self.code}-bldg-{letter}"
        graph.add_ci(
            building, "Location", f"{self.name} Tower {letter.upper()}", attributes={"kind": "building"}
        )
        graph.relate(building, "LOCATED_IN", self.campus.site)
        group = f"{building}-dist-pair"
        graph.add_ci(
            group,
            "RedundancyGroup",
            f"Tower {letter.upper()} distribution pair",
            criticality=Criticality.PATIENT_CARE,
            attributes={"min_healthy": 1},
        )
        graph.relate(group, "MANAGED_BY", "team-netops")
        for n in (1, 2):
            switch = self._network_device(f"{building}-dist-sw-{n}", "Cisco", "C9500-24Y4C", "FCW")
            graph.relate(switch, "CONNECTS_TO", self.campus.core_group, port=f"Te1/0/{n}", vlan=10)
            graph.relate(switch, "MEMBER_OF", group)
            graph.relate(switch, "LOCATED_IN", building)
        self._buildings[index] = (building, group)
        return building, group

    def _units(self) -> list[_Unit]:
        units: list[_Unit] = []
        for spec in DEPARTMENTS:
            for n in range(1, spec.units * self.scale + 1):
                key = f"{self.code}-{spec.code}{n}"
                name = f"{self.name} {spec.unit_name} {n}"
                units.append(_Unit(spec, key, name, self.campus.departments[spec.code], [], []))
        return units

    def _unit(self, unit: _Unit, floor: str, dist_group: str) -> None:
        graph = self.graph
        graph.add_ci(unit.key, "Location", unit.name, attributes={"kind": "unit"})
        graph.relate(unit.key, "LOCATED_IN", floor)
        for r in range(1, unit.spec.rooms + 1):
            room = f"{unit.key}-r{r:02d}"
            graph.add_ci(
                room, "Location", f"{unit.name} {unit.spec.room_label} {r}", attributes={"kind": "room"}
            )
            graph.relate(room, "LOCATED_IN", unit.key)
            unit.rooms.append(room)
            if unit.spec.beds_per_room < 2:
                continue  # a single-patient room is its own bed location
            for bed_number in range(1, unit.spec.beds_per_room + 1):
                bed = f"{room}-b{bed_number}"
                graph.add_ci(
                    bed,
                    "Location",
                    f"{unit.name} {unit.spec.room_label} {r} bed {bed_number}",
                    attributes={"kind": "bed"},
                )
                graph.relate(bed, "LOCATED_IN", room)
                unit.beds.append(bed)
        self._devices(unit, dist_group)

    def _devices(self, unit: _Unit, dist_group: str) -> None:
        """Create the unit's devices and as many access switches as its wired devices fill."""
        plan: list[tuple[DeviceKind, int, str]] = []
        if unit.spec.central_station:
            plan.append((CENTRAL_STATION, 1, unit.key))
        for kind, quantity in unit.spec.devices:
            total = quantity.count(rooms=len(unit.rooms), beds=len(unit.rooms) * unit.spec.beds_per_room)
            spots = unit.beds if kind.at_bed and unit.beds else unit.rooms
            for n in range(1, total + 1):
                at_unit = n <= quantity.per_unit or not spots
                plan.append((kind, n, unit.key if at_unit else spots[(n - 1) % len(spots)]))

        wired_count = sum(1 for kind, _, _ in plan if not kind.wireless)
        switches = self._access_switches(unit, wired_count, dist_group)
        central_station = f"{unit.key}-{CENTRAL_STATION.code}-01" if unit.spec.central_station else None
        position = 0
        for kind, n, location in plan:
            if kind.wireless:
                key = self._device(unit, kind, n, location, self._wireless_ip())
                self.graph.relate(
                    key, "CONNECTS_TO", self.campus.wlc_group, strength=kind.link_strength, vlan=kind.vlan
                )
            else:
                switch, hosts = switches[position // ACCESS_PORTS_PER_SWITCH]
                key = self._device(unit, kind, n, location, next(hosts))
                properties: dict[str, object] = {
                    "port": f"Gi1/0/{position % ACCESS_PORTS_PER_SWITCH + 1}",
                    "vlan": kind.vlan,
                }
                if kind.link_strength == "soft":
                    properties["strength"] = "soft"
                self.graph.relate(key, "CONNECTS_TO", switch, **properties)
                position += 1
            if kind.feeds == "central-station":
                if central_station is not None:
                    self.graph.relate(key, "FEEDS", central_station, protocol=kind.feed_protocol)
            elif kind.feeds is not None:
                self.graph.relate(key, "FEEDS", kind.feeds, protocol=kind.feed_protocol)

    def _wireless_ip(self) -> str:
        ip = next(self.wireless_hosts, None)
        if ip is None:
            self.wireless_hosts = self.wireless.next_subnet()
            ip = next(self.wireless_hosts)
        return ip

    def _device(self, unit: _Unit, kind: DeviceKind, n: int, location: str, ip: str) -> str:
        graph = self.graph
        model = self._model(kind)
        key = f"{unit.key}-{kind.code}-{n:02d}"
        name = f"{unit.name} {kind.label} {n}"
        identifiers = Identifiers(
            serial=graph.serial(model.serial_prefix or "SN"),
            macs=[graph.mac(model.oui)],
            ips=[ip],
            hostname=key if kind.ci_class in {"Workstation", "Printer", "NetworkDevice"} else None,
            asset_tag=f"{self.code.upper()}-{graph.rng.randrange(100000, 999999)}",
        )
        attributes, team = self._attributes(kind, model)

        graph.add_ci(
            key,
            kind.ci_class,
            name,
            criticality=kind.criticality,
            identifiers=identifiers,
            attributes=attributes,
        )
        graph.relate(key, "LOCATED_IN", location)
        graph.relate(key, "MANAGED_BY", team)

        if kind.service is not None and kind.service_strength == "hard":
            graph.relate(key, "SUPPORTS", kind.service, strength="hard")
        elif kind.service is not None:
            graph.relate(key, "SUPPORTS", kind.service)
        if kind.used_by_department:
            graph.relate(key, "USED_BY", unit.department, strength="soft")
        if kind is INFUSION_PUMP:
            self.campus.pumps_by_model.setdefault(model.model, []).append(key)
        return key

    def _attributes(self, kind: DeviceKind, model: DeviceModel) -> tuple[dict[str, object], str]:
        """Return the class attributes of a new device of ``model`` and the team that manages it."""
        graph = self.graph
        attributes: dict[str, object]
        if kind.ci_class == "MedicalDevice":
            attributes = {
                "manufacturer": model.manufacturer,
                "model": model.model,
                "software_version": graph.rng.choice(model.software_versions),
                "fda_product_code": model.fda_product_code,
                "fda_class": model.fda_class,
                "fda_clearance": self._clearances.setdefault(model.model, graph.clearance()),
                "patient_connected": kind.patient_connected,
                "biomed_owner": "team-biomed",
                "next_pm_due": f"2026-{graph.rng.randrange(1, 13):02d}-{graph.rng.randrange(1, 29):02d}",
                "network_segment": f"{self.code}-vlan{kind.vlan}",
            }
            team = "team-biomed"
        elif kind.ci_class == "NetworkDevice":
            attributes = {"vendor": model.manufacturer, "model": model.model}
            team = "team-netops"
        elif kind.ci_class == "Printer":
            attributes = {
                "model": f"{model.manufacturer} {model.model}",
                "driver_version": model.software_versions[0],
            }
            team = "team-euc"
        else:
            attributes = {
                "os": model.software_versions[0],
                "installed_software": ["EHR client", "Imprivata OneSign"],
            }
            team = "team-euc"
        return attributes, team

    def _model(self, kind: DeviceKind) -> DeviceModel:
        """Return the hospital's standard model of ``kind``, or about one time in ten another model."""
        standard = self.fleet.get(kind.code)
        if standard is None:
            standard = self.fleet[kind.code] = self.graph.rng.choice(kind.models)
        if len(kind.models) > 1 and self.graph.rng.random() < 0.1:
            return self.graph.rng.choice(kind.models)
        return standard

    def _access_switches(
        self, unit: _Unit, wired_count: int, dist_group: str
    ) -> list[tuple[str, Iterator[str]]]:
        """Create the unit's access switches, each with the /24 subnet its endpoints take addresses from."""
        graph = self.graph
        switches: list[tuple[str, Iterator[str]]] = []
        for n in range(1, max(1, math.ceil(wired_count / ACCESS_PORTS_PER_SWITCH)) + 1):
            switch = f"{unit.key}-acc-sw-{n}"
            graph.add_ci(
                switch,
                "NetworkDevice",
                switch,
                criticality=Criticality.PATIENT_CARE,
                identifiers=Identifiers(
                    serial=graph.serial("FOC", 7),
                    macs=[graph.mac(CISCO)],
                    ips=[self._management_ip()],
                    hostname=f"{switch}.{self.code}.example.org",
                ),
                attributes={
                    "vendor": "Cisco",
                    "model": "WS-C2960X-48FPD-L",
                    "sys_object_id": ACCESS_SWITCH_OID,
                    "ports": 50,
                },
            )
            graph.relate(switch, "CONNECTS_TO", dist_group, port="Te1/0/1", vlan=10)
            graph.relate(switch, "LOCATED_IN", unit.key)
            graph.relate(switch, "MANAGED_BY", "team-netops")
            switches.append((switch, self.addresses.next_subnet()))
        return switches

    def _management_ip(self) -> str:
        ip = next(self.management, None)
        if ip is None:
            self.management = self.addresses.next_subnet()
            ip = next(self.management)
        return ip


def _chunks(items: list[_Unit], size: int) -> Iterator[list[_Unit]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _building_letter(index: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return letters[index] if index < 26 else f"{letters[index // 26 - 1]}{letters[index % 26]}"
