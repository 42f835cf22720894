"""Identification: what each walked device and attached endpoint is, and the identities to match it by.

Pure functions from parsed walks and the run's topology to `DiscoveredCI`s.
A `DiscoveredCI` carries its identities strongest first (serial, chassis MAC,
interface MAC, hostname plus IP); reconciliation looks them up in that order.
sysName alone and the agent's address alone are never identities, because
agents that anonymise sysName (`<private>`) or sit behind one address would
otherwise merge into one CI.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cmdb.discovery.records import DeviceFacts
from cmdb.discovery.topology import Attachment, Device, Neighbour, Topology, is_placeholder, is_usable_mac
from cmdb.discovery.vendors import enterprise_vendor, is_medical_vendor, oui_vendor
from cmdb.model import Criticality, Identifiers

# HOST-RESOURCES-TYPES hrDevicePrinter.
_HR_DEVICE_PRINTER = (1, 3, 6, 1, 2, 1, 25, 3, 1, 5)
# Microsoft LAN Manager sysObjectIDs 1.3.6.1.4.1.311.1.1.3.1.N:
# N = 1 workstation, 2 server, 3 domain controller.
_WINDOWS_PREFIX = (1, 3, 6, 1, 4, 1, 311, 1, 1, 3, 1)
_UPS_ENTERPRISES = frozenset({318, 534})
_VIRTUAL_ROUTER_PREFIXES = ("00:00:5e:00:01:", "00:00:5e:00:02:", "00:00:0c:07:ac:", "00:00:0c:9f:f")
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._:/@+-]")


@dataclass(frozen=True, slots=True)
class Identity:
    """One way to find a stored CI: `kind` is serial, chassis_mac, mac or hostname_ip."""

    kind: str
    value: str
    ip: str | None = None
    """The IP that must come with a hostname (kind hostname_ip)."""


@dataclass(slots=True)
class DiscoveredCI:
    """A CI as one run saw it, before it is matched to the store.

    `ref` names it within the run: the target for a walked device, `mac:MAC`
    for an endpoint. `scope` is the target whose walk covers it, for ageing out.
    """

    ref: str
    key: str
    ci_class: str
    name: str
    identities: list[Identity]
    identifiers: Identifiers
    attributes: dict[str, Any]
    scope: str
    criticality: Criticality = Criticality.ADMINISTRATIVE


def identity_macs(macs: Iterable[str | None]) -> list[str]:
    """Return the MACs fit to identify a device: usable, universally administered, not a virtual router's."""
    kept: list[str] = []
    for mac in macs:
        if not is_usable_mac(mac):
            continue
        assert mac is not None
        if int(mac[:2], 16) & 0x02 or mac.startswith(_VIRTUAL_ROUTER_PREFIXES):
            continue
        if mac not in kept:
            kept.append(mac)
    return kept


def generated_key(prefix: str, value: str) -> str:
    """Return a key `PREFIX:VALUE` for a CI that discovery creates; odd characters become a hash."""
    cleaned = _KEY_UNSAFE.sub("-", value.strip())
    if not cleaned or cleaned != value.strip() or len(cleaned) > 150:
        digest = hashlib.sha256(value.encode()).hexdigest()[:16]
        cleaned = f"{cleaned[:100]}-{digest}" if cleaned.strip("-") else digest
    return f"{prefix}:{cleaned}"


def classify(facts: DeviceFacts, *, is_bridge: bool) -> str:
    """Return the CI class of a walked device from its sysObjectID, sysDescr and host resources."""
    oid = facts.sys_object_id or ()
    descr = (facts.sys_descr or "").lower()
    if oid[: len(_WINDOWS_PREFIX)] == _WINDOWS_PREFIX and len(oid) > len(_WINDOWS_PREFIX):
        return "Workstation" if oid[len(_WINDOWS_PREFIX)] == 1 else "Server"
    if descr.startswith(("linux", "freebsd", "sunos")) or (facts.software and not is_bridge):
        return "Server"
    if facts.enterprise in _UPS_ENTERPRISES or " ups" in f" {descr}":
        return "UPS"
    if not is_bridge and any(device.device_type == _HR_DEVICE_PRINTER for device in facts.devices):
        return "Printer"
    return "NetworkDevice"


def _text(value: str | None) -> str | None:
    return None if is_placeholder(value) else value


def _ports(facts: DeviceFacts) -> int:
    # IANAifType ethernetCsmacd (6) and gigabitEthernet (117) are the physical ports.
    return sum(1 for interface in facts.interfaces if interface.if_type in (6, 117))


def _device_attributes(
    device: Device, ci_class: str, vendor: str | None, neighbours: list[Neighbour]
) -> dict[str, Any]:
    facts = device.walk.facts
    attributes: dict[str, Any] = {
        "snmp_target": device.target,
        "vendor": vendor,
        "sys_object_id": ".".join(str(arc) for arc in facts.sys_object_id) if facts.sys_object_id else None,
        "sys_descr": _text(facts.sys_descr),
        "sys_location": _text(facts.sys_location),
        "sys_contact": _text(facts.sys_contact),
        "model": _text(facts.model),
        "firmware": _text(facts.firmware),
    }
    serials = [serial for serial in facts.serial_numbers if not is_placeholder(serial)]
    if serials:
        attributes["serial_numbers"] = serials
    if ci_class == "NetworkDevice":
        attributes["ports"] = _ports(facts)
    if ci_class in ("Workstation", "Server"):
        attributes["os"] = _text(facts.sys_descr)
    if facts.software:
        attributes["installed_software"] = [software.name for software in facts.software]
    if neighbours:
        attributes["neighbours"] = [neighbour.as_attribute() for neighbour in neighbours]
    addresses = sorted(str(entry.address) for entry in facts.management_addresses)
    if addresses:
        attributes["management_addresses"] = addresses
    return {name: value for name, value in attributes.items() if value is not None}


def identify_device(device: Device, topology: Topology) -> DiscoveredCI:
    """Return the CI that one walked device is, with its identities strongest first."""
    facts = device.walk.facts
    macs = identity_macs([facts.chassis_mac, facts.bridge_mac, *(i.mac for i in facts.interfaces)])
    serials = [serial for serial in facts.serial_numbers if not is_placeholder(serial)]
    hostname = _text(facts.sys_name)
    identities = [Identity("serial", serial) for serial in serials]
    chassis = [mac for mac in identity_macs([facts.chassis_mac, facts.bridge_mac])]
    identities.extend(Identity("chassis_mac", mac) for mac in chassis)
    identities.extend(Identity("mac", mac) for mac in macs if mac not in chassis)
    if hostname is not None:
        identities.append(Identity("hostname_ip", hostname.lower(), device.address))

    ci_class = classify(facts, is_bridge=device.is_bridge)
    vendor = enterprise_vendor(facts.enterprise) or _text(facts.manufacturer)
    if vendor is None and macs:
        vendor = oui_vendor(macs[0])
    neighbours = [neighbour for neighbour in topology.neighbours if neighbour.device == device.target]

    if serials:
        key = generated_key("snmp:serial", serials[0])
    elif macs:
        key = generated_key("snmp:mac", macs[0])
    else:
        key = generated_key("snmp:host", f"{hostname or 'device'}@{device.address}")
    label = hostname or _text(facts.model) or vendor or ci_class
    name = hostname if hostname is not None else f"{label} {device.address}"
    ips = sorted({device.address, *(str(entry.address) for entry in facts.management_addresses)})
    identifiers = Identifiers(serial=serials[0] if serials else None, macs=macs, ips=ips, hostname=hostname)
    return DiscoveredCI(
        ref=device.target,
        key=key,
        ci_class=ci_class,
        name=name[:300],
        identities=identities,
        identifiers=identifiers,
        attributes=_device_attributes(device, ci_class, vendor, neighbours),
        scope=device.target,
    )


def identify_endpoint(attachment: Attachment, medical_vendors: Iterable[str]) -> DiscoveredCI:
    """Return the CI of an attached MAC that no walked device owns.

    A MAC whose OUI belongs to one of `medical_vendors` becomes a MedicalDevice,
    any other a NetworkEndpoint; both are unverified until someone confirms them.
    """
    vendor = oui_vendor(attachment.mac)
    medical = is_medical_vendor(vendor, medical_vendors)
    attributes: dict[str, Any] = {
        "mac": attachment.mac,
        "ip": attachment.ips[0] if attachment.ips else None,
        "vendor": vendor,
        "learned_on": attachment.port.device,
    }
    if medical:
        attributes["manufacturer"] = vendor
    label = vendor or "endpoint"
    return DiscoveredCI(
        ref=f"mac:{attachment.mac}",
        key=generated_key("endpoint:mac", attachment.mac),
        ci_class="MedicalDevice" if medical else "NetworkEndpoint",
        name=f"{label} {attachment.mac}",
        identities=[Identity("mac", attachment.mac)],
        identifiers=Identifiers(macs=[attachment.mac], ips=list(attachment.ips)),
        attributes={name: value for name, value in attributes.items() if value is not None},
        scope=attachment.port.device,
        criticality=Criticality.PATIENT_CARE if medical else Criticality.ADMINISTRATIVE,
    )
