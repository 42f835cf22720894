"""Mapping of FHIR R4 resources to CIs, relationships and device channels, as pure functions.

| resource | CI class | relationships |
|---|---|---|
| Device | MedicalDevice | ``parent`` → component DEPENDS_ON parent; ``location`` → LOCATED_IN |
| Location | Location | ``partOf`` → LOCATED_IN |
| Organization | Department | none |
| Endpoint | Integration | none |
| HealthcareService | Service | ``providedBy`` → OWNED_BY the Department; ``location`` → LOCATED_IN |
| DeviceMetric | no CI | an entry of the ``channels`` attribute of its ``source`` Device |

A component DEPENDS_ON its parent because a monitor that fails takes its
modules and channels with it: impact flows from the parent to the component.
References the table does not name (Device.owner, Device.patient,
Location.managingOrganization, Organization.partOf, Endpoint.managingOrganization)
become no relationship: none of the relationship types fits them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cmdb.model import Criticality, Status

KEY_PREFIX = "fhir"

# FHIR R4 Device.status. "inactive" means lost, expired or damaged (or explanted):
# the device is not coming back, so it is retired and takes no part in impact.
DEVICE_STATUS = {
    "active": Status.IN_SERVICE,
    "inactive": Status.RETIRED,
    "entered-in-error": Status.RETIRED,
    "unknown": Status.UNVERIFIED,
}
LOCATION_STATUS = {
    "active": Status.IN_SERVICE,
    "suspended": Status.MAINTENANCE,
    "inactive": Status.RETIRED,
}
# "test" endpoints carry no production traffic, so they are planned and take no part in impact.
ENDPOINT_STATUS = {
    "active": Status.IN_SERVICE,
    "suspended": Status.MAINTENANCE,
    "error": Status.MAINTENANCE,
    "off": Status.RETIRED,
    "entered-in-error": Status.RETIRED,
    "test": Status.PLANNED,
}

# Location.physicalType codes (terminology.hl7.org location-physical-type) for
# which the Location class has a kind; other codes leave ``kind`` empty.
LOCATION_KINDS = {
    "si": "site",
    "bu": "building",
    "lvl": "floor",
    "wa": "unit",
    "ro": "room",
    "bd": "bed",
    "area": "area",
}

# Device.deviceName types in the order a name is picked from them.
DEVICE_NAME_TYPES = (
    "user-friendly-name",
    "udi-label-name",
    "manufacturer-name",
    "model-name",
    "patient-reported-name",
    "other",
)

DEFAULT_CRITICALITY = {
    "Device": Criticality.PATIENT_CARE,
    "Location": Criticality.ADMINISTRATIVE,
    "Organization": Criticality.ADMINISTRATIVE,
    "Endpoint": Criticality.BUSINESS,
    "HealthcareService": Criticality.PATIENT_CARE,
}


def ci_key(resource_type: str, resource_id: str) -> str:
    """Return the CI key of a FHIR resource, e.g. ``fhir-device-f001`` for ``Device/f001``."""
    return f"{KEY_PREFIX}-{resource_type.lower()}-{resource_id}"


@dataclass(frozen=True, slots=True)
class Link:
    """A relationship from the mapped resource to the resource named by ``reference``.

    ``element`` is the FHIR element that holds the reference and
    ``target_types`` the resource types it may point to.
    """

    element: str
    type: str
    reference: str
    target_types: tuple[str, ...]


@dataclass(slots=True)
class Mapped:
    """The CI a resource maps to (keyword arguments of CIInput, without the key) and its links.

    ``defaults`` are fields the resource does not give, such as the criticality
    (FHIR has none): they apply only when the import creates the CI, so a
    re-import keeps a criticality set in the CMDB.
    """

    fields: dict[str, Any]
    defaults: dict[str, Any]
    links: list[Link] = field(default_factory=list)


def map_device(device: Any, resource_id: str) -> Mapped:
    attributes: dict[str, Any] = {"fhir_reference": f"Device/{resource_id}"}
    identifiers: dict[str, Any] = {}
    udi_di = _first(device.udiCarrier, "deviceIdentifier")
    if udi_di:
        attributes["udi_di"] = udi_di
        identifiers["udi_di"] = udi_di
    if device.serialNumber:
        identifiers["serial"] = device.serialNumber
    if device.manufacturer:
        attributes["manufacturer"] = device.manufacturer
    model = device.modelNumber or _device_name(device, ("model-name",))
    if model:
        attributes["model"] = model
    software_version = _first(device.version, "value")
    if software_version:
        attributes["software_version"] = software_version
    device_type = concept_text(device.type)
    if device_type:
        attributes["device_type"] = device_type
    if device.patient is not None:
        attributes["patient_connected"] = True

    name = _device_name(device, DEVICE_NAME_TYPES) or device_type or f"Device {resource_id}"
    mapped = Mapped(
        {
            "ci_class": "MedicalDevice",
            "name": name,
            "identifiers": identifiers,
            "attributes": attributes,
        },
        {"criticality": DEFAULT_CRITICALITY["Device"]},
    )
    _map_status(mapped, device.status, DEVICE_STATUS)
    _link(mapped, "parent", "DEPENDS_ON", device.parent, ("Device",))
    _link(mapped, "location", "LOCATED_IN", device.location, ("Location",))
    return mapped


def map_location(location: Any, resource_id: str) -> Mapped:
    attributes: dict[str, Any] = {"fhir_reference": f"Location/{resource_id}"}
    physical_code = _first_code(location.physicalType)
    if physical_code in LOCATION_KINDS:
        attributes["kind"] = LOCATION_KINDS[physical_code]
    physical_type = concept_text(location.physicalType)
    if physical_type:
        attributes["physical_type"] = physical_type
    location_types = [text for text in (concept_text(c) for c in location.type or []) if text]
    if location_types:
        attributes["location_types"] = location_types
    mapped = Mapped(
        {
            "ci_class": "Location",
            "name": location.name or f"Location {resource_id}",
            "attributes": attributes,
        },
        {"criticality": DEFAULT_CRITICALITY["Location"]},
    )
    _map_status(mapped, location.status, LOCATION_STATUS)
    _link(mapped, "partOf", "LOCATED_IN", location.partOf, ("Location",))
    return mapped


def map_organization(organization: Any, resource_id: str) -> Mapped:
    attributes: dict[str, Any] = {"fhir_reference": f"Organization/{resource_id}"}
    organization_types = [text for text in (concept_text(c) for c in organization.type or []) if text]
    if organization_types:
        attributes["organization_types"] = organization_types
    return Mapped(
        {
            "ci_class": "Department",
            "name": organization.name or f"Organization {resource_id}",
            # Organization.active: a missing value means active (FHIR R4 meaning when missing).
            "status": Status.RETIRED if organization.active is False else Status.IN_SERVICE,
            "attributes": attributes,
        },
        {"criticality": DEFAULT_CRITICALITY["Organization"]},
    )


def map_endpoint(endpoint: Any, resource_id: str) -> Mapped:
    # Endpoint.header is left out on purpose: it may hold credentials such as bearer tokens.
    attributes: dict[str, Any] = {"fhir_reference": f"Endpoint/{resource_id}"}
    if endpoint.connectionType is not None and endpoint.connectionType.code:
        attributes["protocol"] = endpoint.connectionType.code
    if endpoint.address:
        attributes["address"] = endpoint.address
    payload_types = [text for text in (concept_text(c) for c in endpoint.payloadType or []) if text]
    if payload_types:
        attributes["payload_types"] = payload_types
    mapped = Mapped(
        {
            "ci_class": "Integration",
            "name": endpoint.name or f"Endpoint {resource_id}",
            "attributes": attributes,
        },
        {"criticality": DEFAULT_CRITICALITY["Endpoint"]},
    )
    _map_status(mapped, endpoint.status, ENDPOINT_STATUS)
    return mapped


def map_healthcare_service(service: Any, resource_id: str) -> Mapped:
    attributes: dict[str, Any] = {"fhir_reference": f"HealthcareService/{resource_id}"}
    categories = [text for text in (concept_text(c) for c in service.category or []) if text]
    if categories:
        attributes["categories"] = categories
    service_types = [text for text in (concept_text(c) for c in service.type or []) if text]
    name = service.name or (service_types[0] if service_types else f"HealthcareService {resource_id}")
    mapped = Mapped(
        {
            "ci_class": "Service",
            "name": name,
            # HealthcareService.active: a missing value means active (FHIR R4 meaning when missing).
            "status": Status.RETIRED if service.active is False else Status.IN_SERVICE,
            "attributes": attributes,
        },
        {"criticality": DEFAULT_CRITICALITY["HealthcareService"]},
    )
    _link(mapped, "providedBy", "OWNED_BY", service.providedBy, ("Organization",))
    for reference in service.location or []:
        _link(mapped, "location", "LOCATED_IN", reference, ("Location",))
    return mapped


def _map_status(mapped: Mapped, code: str | None, statuses: dict[str, Status]) -> None:
    """Set the CI status from a resource's status ``code``; a missing code is unverified, on creation only."""
    if code is None:
        mapped.defaults["status"] = Status.UNVERIFIED
    else:
        mapped.fields["status"] = statuses.get(code, Status.UNVERIFIED)


MAPPERS = {
    "Device": map_device,
    "Location": map_location,
    "Organization": map_organization,
    "Endpoint": map_endpoint,
    "HealthcareService": map_healthcare_service,
}
SUPPORTED_TYPES = (*MAPPERS, "DeviceMetric")


def metric_channel(metric: Any, resource_id: str) -> dict[str, str]:
    """Return the ``channels`` entry that lists DeviceMetric ``metric`` on its source Device."""
    channel = {"metric_id": resource_id}
    coding = _first_coding(metric.type)
    if coding is not None and coding.code:
        channel["type_code"] = coding.code
    type_display = concept_text(metric.type)
    if type_display:
        channel["type_display"] = type_display
    unit = concept_text(metric.unit)
    if unit:
        channel["unit"] = unit
    if metric.category:
        channel["category"] = metric.category
    if metric.operationalStatus:
        channel["operational_status"] = metric.operationalStatus
    return channel


def merge_channels(existing: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    """Return ``existing`` channels with those of ``new`` added or replaced by metric id, sorted by it."""
    by_metric = {channel.get("metric_id", ""): channel for channel in existing}
    by_metric.update({channel["metric_id"]: channel for channel in new})
    return [by_metric[metric_id] for metric_id in sorted(by_metric)]


def concept_text(concept: Any) -> str | None:
    """Return a CodeableConcept's text, else its first coding's display, else that coding's code."""
    if concept is None:
        return None
    if concept.text:
        return str(concept.text)
    coding = _first_coding(concept)
    if coding is None:
        return None
    return str(coding.display or coding.code) if (coding.display or coding.code) else None


def _first_coding(concept: Any) -> Any:
    if concept is None or not concept.coding:
        return None
    return concept.coding[0]


def _first_code(concept: Any) -> str | None:
    coding = _first_coding(concept)
    return str(coding.code) if coding is not None and coding.code else None


def _first(items: list[Any] | None, attribute: str) -> str | None:
    for item in items or []:
        value = getattr(item, attribute, None)
        if value:
            return str(value)
    return None


def _device_name(device: Any, name_types: tuple[str, ...]) -> str | None:
    names = device.deviceName or []
    for name_type in name_types:
        for entry in names:
            if entry.type == name_type and entry.name:
                return str(entry.name)
    return None


def _link(mapped: Mapped, element: str, rel_type: str, reference: Any, target_types: tuple[str, ...]) -> None:
    if reference is not None and reference.reference:
        mapped.links.append(Link(element, rel_type, str(reference.reference), target_types))
