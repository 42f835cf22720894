"""Health-system-wide parts of the demo: teams, services, the data center and its applications."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cmdb.demo.builder import GraphBuilder, SubnetPool
from cmdb.demo.campus import Campus
from cmdb.demo.devices import CISCO, DELL, VMWARE
from cmdb.demo.organization import SERVICES, TEAMS
from cmdb.model import Criticality, Identifiers


@dataclass(frozen=True, slots=True)
class _App:
    key: str
    name: str
    version: str
    service: str
    vms: int
    min_healthy: int = 1
    fda_regulated: bool = False
    criticality: Criticality = Criticality.PATIENT_CARE
    tags: tuple[str, ...] = ()


_APPS: tuple[_App, ...] = (
    _App("app-ie", "Interface engine", "2024.1", "svc-clindoc", vms=2),
    _App("app-pacs", "PACS", "7.2", "svc-imaging", vms=3, min_healthy=2, fda_regulated=True),
    _App("app-ris", "Radiology information system", "8.1", "svc-imaging", vms=1),
    _App("app-lis", "Laboratory information system", "6.4", "svc-lab", vms=2),
    _App(
        "app-bcma", "Bar-code medication administration", "5.3", "svc-medadmin", vms=1, tags=("medication",)
    ),
    _App("app-pharm", "Pharmacy information system", "12.4", "svc-medadmin", vms=2, tags=("medication",)),
    _App("app-aims", "Anesthesia information system", "3.9", "svc-periop", vms=1, fda_regulated=True),
    _App("app-billing", "Patient accounting", "4.0", "svc-billing", vms=1, criticality=Criticality.BUSINESS),
)

# (source, target, protocol): application data flows.
_FEEDS: tuple[tuple[str, str, str], ...] = (
    ("app-ehr", "app-ie", "HL7v2 ADT"),
    ("app-ie", "app-pharm", "HL7v2 RDE"),
    ("app-ie", "app-ris", "HL7v2 ORM"),
    ("app-ie", "app-lis", "HL7v2 ORM"),
    ("app-lis", "app-ie", "HL7v2 ORU"),
    ("app-ie", "app-ehr", "HL7v2 ORU"),
    ("app-ris", "app-pacs", "DICOM MWL"),
    ("app-pacs", "app-ris", "HL7v2 ORU"),
    ("app-aims", "app-ehr", "HL7v2 MDM"),
    ("app-ie", "app-billing", "HL7v2 DFT"),
)

# (key, name, protocol, sender, receiver, depends on, service)
_INTEGRATIONS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("int-adt", "ADT feed", "HL7v2 ADT", "app-ehr", "app-ie", "app-ie", "svc-clindoc"),
    ("int-pharm-orders", "Pharmacy orders", "HL7v2 RDE", "app-ie", "app-pharm", "app-ie", "svc-medadmin"),
    ("int-lab-results", "Lab results", "HL7v2 ORU", "app-lis", "app-ie", "app-ie", "svc-lab"),
    ("int-mwl", "DICOM modality worklist", "DICOM MWL", "app-ris", "app-pacs", "app-ris", "svc-imaging"),
    ("int-charges", "Charge feed", "HL7v2 DFT", "app-ie", "app-billing", "app-ie", "svc-billing"),
    ("int-fhir", "FHIR R4 endpoint", "FHIR R4", "app-ehr", "external", "app-ehr", "svc-clindoc"),
)

_CDS_RULES: tuple[tuple[str, str], ...] = (
    ("cfg-cds-sepsis", "Sepsis alert CDS rules"),
    ("cfg-cds-vte", "VTE prophylaxis CDS rules"),
    ("cfg-cds-aki", "Acute kidney injury CDS rules"),
    ("cfg-cds-ddi", "Drug interaction CDS rules"),
)


class SystemBuilder:
    """Builds what the whole health system shares. The data center sits on the first campus."""

    def __init__(self, builder: GraphBuilder, *, scale: int, addresses: SubnetPool) -> None:
        self.graph = builder
        self.scale = scale
        self.hosts = addresses.next_subnet()
        self.addresses = addresses

    def teams_and_services(self) -> None:
        graph = self.graph
        for team in TEAMS:
            attributes: dict[str, object] = {"on_call": team.on_call}
            if team.notify_for_tags:
                attributes["notify_for_tags"] = list(team.notify_for_tags)
            graph.add_ci(team.key, "Team", team.name, attributes=attributes)
        for service in SERVICES:
            graph.add_ci(
                service.key,
                "Service",
                service.name,
                criticality=service.criticality,
                attributes={"sla_tier": service.sla_tier},
                tags=service.tags,
            )

    def link_services(self, campuses: list[Campus]) -> None:
        """Link services to the departments that use them and to an owner on the first campus."""
        for service in SERVICES:
            for campus in campuses:
                for code in service.used_by:
                    self.graph.relate(service.key, "USED_BY", campus.departments[code])
            self.graph.relate(service.key, "OWNED_BY", campuses[0].departments[service.owner])

    def data_center(self, campus: Campus) -> None:
        graph = self.graph
        building = graph.add_ci(
            f"{campus.code}-bldg-dc", "Location", "Data Center", attributes={"kind": "building"}
        )
        graph.relate(building, "LOCATED_IN", campus.site)
        floor = graph.add_ci(
            f"{building}-f01", "Location", "Data Center floor 1", attributes={"kind": "floor"}
        )
        graph.relate(floor, "LOCATED_IN", building)
        hall = graph.add_ci("dc-hall-1", "Location", "Data hall 1", attributes={"kind": "room"})
        graph.relate(hall, "LOCATED_IN", floor)
        self.hall = hall

        switches = self._group("dc-sw-pair", "Data center switch pair", 1)
        for n in (1, 2):
            switch = self._hardware(
                f"dc-sw-{n}", "NetworkDevice", {"vendor": "Cisco", "model": "N9K-C93180YC-FX"}
            )
            graph.relate(switch, "CONNECTS_TO", campus.core_group, port=f"Hu1/0/{n}", vlan=10)
            graph.relate(switch, "MEMBER_OF", switches)
            graph.relate(switch, "MANAGED_BY", "team-netops")

        host_count = 6 + self.scale // 4
        cluster = self._group("esx-cluster", "Virtualization cluster", host_count - 1)
        for n in range(1, host_count + 1):
            host = self._hardware(
                f"esx-{n:02d}", "Server", {"os": "VMware ESXi 8.0", "cpu": 64, "memory": 1048576}
            )
            graph.relate(host, "CONNECTS_TO", switches, port=f"Eth1/{n}", vlan=20)
            graph.relate(host, "MEMBER_OF", cluster)
            graph.relate(host, "MANAGED_BY", "team-infra")
        self.cluster = cluster

        db_group = self._group("ehr-db-cluster", "EHR database cluster", 1)
        for n in (1, 2):
            server = self._hardware(
                f"srv-ehr-db-{n}", "Server", {"os": "Red Hat Enterprise Linux 9", "cpu": 96}
            )
            graph.relate(server, "CONNECTS_TO", switches, port=f"Eth1/{40 + n}", vlan=20)
            graph.relate(server, "MEMBER_OF", db_group)
            graph.relate(server, "MANAGED_BY", "team-infra")
        database = graph.add_ci(
            "db-ehr",
            "Database",
            "EHR production database",
            criticality=Criticality.PATIENT_CARE,
            attributes={"engine": "Oracle", "version": "19c"},
        )
        graph.relate(database, "RUNS_ON", db_group)
        graph.relate(database, "MANAGED_BY", "team-ehr")

    def applications(self, campuses: list[Campus]) -> None:
        graph = self.graph
        ehr_nodes = 4 + self.scale // 8
        ehr = self._app(
            _App("app-ehr", "EHR", "2025.2", "svc-clindoc", vms=ehr_nodes, min_healthy=ehr_nodes - 1)
        )
        graph.relate(ehr, "DEPENDS_ON", "db-ehr")
        for app in _APPS:
            self._app(app)
        graph.relate("app-bcma", "DEPENDS_ON", "app-ehr")
        for source, target, protocol in _FEEDS:
            graph.relate(source, "FEEDS", target, protocol=protocol)
        for key, name, protocol, sender, receiver, depends_on, service in _INTEGRATIONS:
            graph.add_ci(
                key,
                "Integration",
                name,
                criticality=Criticality.PATIENT_CARE,
                attributes={"protocol": protocol, "sender": sender, "receiver": receiver},
            )
            graph.relate(key, "DEPENDS_ON", depends_on)
            graph.relate(key, "SUPPORTS", service)
            graph.relate(key, "MANAGED_BY", "team-ehr")
        for key, name in _CDS_RULES:
            graph.add_ci(
                key,
                "ClinicalConfiguration",
                name,
                criticality=Criticality.PATIENT_CARE,
                attributes={"kind": "cds_rules", "version": str(graph.rng.randrange(3, 30))},
            )
            graph.relate(key, "CONFIGURES", "app-ehr")
            graph.relate(key, "MANAGED_BY", "team-clininf")
        self._drug_libraries(campuses)

    def _drug_libraries(self, campuses: list[Campus]) -> None:
        """Create one drug library per pump model in use, configuring every pump of that model."""
        graph = self.graph
        pumps_by_model: dict[str, list[str]] = {}
        for campus in campuses:
            for model, pumps in campus.pumps_by_model.items():
                pumps_by_model.setdefault(model, []).extend(pumps)
        for model in sorted(pumps_by_model):
            key = "cfg-druglib-" + re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")
            graph.add_ci(
                key,
                "ClinicalConfiguration",
                f"{model} drug library",
                criticality=Criticality.LIFE_CRITICAL,
                attributes={"kind": "drug_library", "version": f"2026-{graph.rng.randrange(1, 13):02d}"},
                tags=("medication",),
            )
            graph.relate(key, "MANAGED_BY", "team-clininf")
            for pump in pumps_by_model[model]:
                graph.relate(key, "CONFIGURES", pump)

    def _app(self, app: _App) -> str:
        graph = self.graph
        graph.add_ci(
            app.key,
            "Application",
            app.name,
            criticality=app.criticality,
            attributes={"version": app.version, "fda_regulated": app.fda_regulated},
            tags=app.tags,
        )
        graph.relate(app.key, "SUPPORTS", app.service, strength="hard")
        graph.relate(app.key, "MANAGED_BY", "team-ehr")
        slug = app.key.removeprefix("app-")
        vms = [self._vm(f"vm-{slug}-{n:02d}") for n in range(1, app.vms + 1)]
        if len(vms) == 1:
            graph.relate(app.key, "RUNS_ON", vms[0])
            return app.key
        group = self._group(f"{slug}-cluster", f"{app.name} application nodes", app.min_healthy)
        for vm in vms:
            graph.relate(vm, "MEMBER_OF", group)
        graph.relate(app.key, "RUNS_ON", group)
        return app.key

    def _vm(self, key: str) -> str:
        graph = self.graph
        graph.add_ci(
            key,
            "VirtualMachine",
            key,
            criticality=Criticality.PATIENT_CARE,
            identifiers=Identifiers(
                macs=[graph.mac(VMWARE)], ips=[self._ip()], hostname=f"{key}.dc.example.org"
            ),
            attributes={"os": "Red Hat Enterprise Linux 9", "cpu": 16, "memory": 65536},
        )
        graph.relate(key, "HOSTED_ON", self.cluster)
        graph.relate(key, "MANAGED_BY", "team-infra")
        return key

    def _group(self, key: str, name: str, min_healthy: int) -> str:
        self.graph.add_ci(
            key,
            "RedundancyGroup",
            name,
            criticality=Criticality.PATIENT_CARE,
            attributes={"min_healthy": min_healthy},
        )
        self.graph.relate(key, "MANAGED_BY", "team-infra")
        return key

    def _hardware(self, key: str, ci_class: str, attributes: dict[str, object]) -> str:
        graph = self.graph
        prefix = "FDO" if ci_class == "NetworkDevice" else "CZ"
        graph.add_ci(
            key,
            ci_class,
            key,
            criticality=Criticality.PATIENT_CARE,
            identifiers=Identifiers(
                serial=graph.serial(prefix, 7),
                macs=[graph.mac(CISCO if ci_class == "NetworkDevice" else DELL)],
                ips=[self._ip()],
                hostname=f"{key}.dc.example.org",
            ),
            attributes=attributes,
        )
        graph.relate(key, "LOCATED_IN", self.hall)
        return key

    def _ip(self) -> str:
        ip = next(self.hosts, None)
        if ip is None:
            self.hosts = self.addresses.next_subnet()
            ip = next(self.hosts)
        return ip
