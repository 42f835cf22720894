"""CI classes as data: each class has a description and a pydantic model of its attributes.

Attributes that a class does not declare are kept as they are, so an import can
carry site-specific fields; the declared ones are type-checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class Attributes(BaseModel):
    """Base of every class's attribute model."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)


class MedicalDeviceAttributes(Attributes):
    manufacturer: str | None = None
    model: str | None = None
    udi_di: str | None = None
    fda_product_code: str | None = None
    fda_class: str | None = Field(default=None, pattern=r"^(I|II|III)$")
    fda_clearance: str | None = None
    software_version: str | None = None
    patient_connected: bool | None = None
    biomed_owner: str | None = None
    next_pm_due: date | None = None
    network_segment: str | None = None
    channels: list[dict[str, str]] | None = None


class WorkstationAttributes(Attributes):
    os: str | None = None
    installed_software: list[str] | None = None


class ServerAttributes(Attributes):
    os: str | None = None
    cpu: int | None = Field(default=None, ge=0)
    memory: int | None = Field(default=None, ge=0, description="memory in MiB")


class NetworkDeviceAttributes(Attributes):
    sys_object_id: str | None = None
    vendor: str | None = None
    model: str | None = None
    ports: int | None = Field(default=None, ge=0)


class PrinterAttributes(Attributes):
    model: str | None = None
    driver_version: str | None = None


class ApplicationAttributes(Attributes):
    version: str | None = None
    fda_regulated: bool | None = None


class DatabaseAttributes(Attributes):
    engine: str | None = None
    version: str | None = None


class IntegrationAttributes(Attributes):
    protocol: str | None = None
    sender: str | None = None
    receiver: str | None = None


class ClinicalConfigurationAttributes(Attributes):
    kind: str | None = None
    version: str | None = None


class RedundancyGroupAttributes(Attributes):
    min_healthy: int = Field(default=1, ge=1)


class ServiceAttributes(Attributes):
    sla_tier: str | None = None


class LocationAttributes(Attributes):
    kind: str | None = Field(default=None, pattern=r"^(site|building|floor|unit|room|bed|area)$")


class TeamAttributes(Attributes):
    on_call: str | None = None
    notify_for_tags: list[str] = Field(default_factory=list)


class NetworkEndpointAttributes(Attributes):
    mac: str | None = None
    ip: str | None = None
    vendor: str | None = None


@dataclass(frozen=True, slots=True)
class CIClass:
    """One CI class: its name, what it holds and the model of its attributes."""

    name: str
    description: str
    attributes: type[Attributes]


CI_CLASSES: dict[str, CIClass] = {
    c.name: c
    for c in (
        CIClass(
            "MedicalDevice",
            "Infusion pump, patient monitor, anesthesia machine, ventilator, CT.",
            MedicalDeviceAttributes,
        ),
        CIClass("Workstation", "Nursing station PC, workstation on wheels.", WorkstationAttributes),
        CIClass("Server", "Physical server: EHR node, interface engine, DB host.", ServerAttributes),
        CIClass("VirtualMachine", "A virtual machine on a hypervisor.", ServerAttributes),
        CIClass(
            "NetworkDevice",
            "Switch, router, firewall, wireless controller, access point.",
            NetworkDeviceAttributes,
        ),
        CIClass("Printer", "Wristband, label or prescription printer.", PrinterAttributes),
        CIClass("Application", "EHR, PACS, RIS, LIS, BCMA, CPOE.", ApplicationAttributes),
        CIClass("Database", "A database such as the EHR database.", DatabaseAttributes),
        CIClass("Integration", "HL7 feed, DICOM worklist, FHIR endpoint.", IntegrationAttributes),
        CIClass(
            "ClinicalConfiguration",
            "CDS rule set, order set, pump drug library, workflow build.",
            ClinicalConfigurationAttributes,
        ),
        CIClass(
            "RedundancyGroup",
            "Cluster or pair whose members back each other up.",
            RedundancyGroupAttributes,
        ),
        CIClass("Service", "A clinical or business service.", ServiceAttributes),
        CIClass("Location", "Site, building, floor, unit, room or bed.", LocationAttributes),
        CIClass("Department", "ICU, OR, ED, Pharmacy, Radiology.", Attributes),
        CIClass("Team", "A support team that is called or told.", TeamAttributes),
        CIClass(
            "NetworkEndpoint",
            "A MAC/IP seen on a switch port, not yet identified.",
            NetworkEndpointAttributes,
        ),
        CIClass("UPS", "Uninterruptible power supply.", Attributes),
    )
}
