"""Topology from parsed walks, as pure functions: device-to-device links and endpoint attachments.

Devices are the walks of one run, each named by its target (`address:port`).

Links come from LLDP and CDP. A neighbour is matched to a walked device by
chassis MAC (bridge address or any interface MAC), then management address,
then name. A neighbour that matches none is kept as an unmatched neighbour of
its port. Both ends of a link usually report it, so reports are merged into
one link per pair of ports.

Link direction: the device that learns more MAC addresses on its end of the
link is the lower (access) side, because the rest of the network lies behind
that port, and it is the source of CONNECTS_TO. Ties go to the device with
fewer forwarding entries in total, then to the smaller target.

An endpoint MAC is attached to the port where it is learned, unless that port
is an uplink for it: a port with an LLDP or CDP neighbour other than the
endpoint itself, a port on which a walked switch's MAC is learned, or a port
with more MACs than `max_macs_per_port`. A MAC learned on several access ports
goes to the one with the fewest MACs. A MAC learned only on uplinks stays
unattached and is reported with the ports where it was seen.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cmdb.discovery.interfaces import find_if_index, normalise_port_name
from cmdb.discovery.records import (
    ChassisIdSubtype,
    FdbStatus,
    Interface,
    ParsedWalk,
    PortIdSubtype,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_MACS_PER_PORT = 8
"""Default limit of MACs on an access port; a port with more is treated as an uplink."""

PLACEHOLDER_VALUES = frozenset({"", "<private>", "unknown", "none", "n/a", "na", "null", "0", "-"})
"""Text that agents send in place of a real value (lower-cased); it never identifies anything."""

_IGNORED_FDB_STATUSES = frozenset({FdbStatus.SELF, FdbStatus.MGMT, FdbStatus.INVALID})


def is_placeholder(value: str | None) -> bool:
    """Return whether `value` is empty or a stand-in such as `<private>`."""
    return value is None or value.strip().lower() in PLACEHOLDER_VALUES


def is_usable_mac(mac: str | None) -> bool:
    """Return whether `mac` can identify a device: not all-zero, not a group (multicast) address."""
    if mac is None or mac == "00:00:00:00:00:00" or mac == "ff:ff:ff:ff:ff:ff":
        return False
    return int(mac[:2], 16) & 1 == 0


@dataclass(frozen=True, slots=True)
class Device:
    """One walked device of a run: its target, agent address and parsed walk."""

    target: str
    address: str
    walk: ParsedWalk

    @property
    def is_bridge(self) -> bool:
        """Whether the device forwards frames: it has a bridge address or forwarding entries."""
        return self.walk.facts.bridge_mac is not None or bool(self.walk.fdb)

    def own_macs(self) -> set[str]:
        """Return the bridge, chassis and interface MACs of the device that can identify it."""
        facts = self.walk.facts
        macs = {facts.bridge_mac, facts.chassis_mac, *(interface.mac for interface in facts.interfaces)}
        return {mac for mac in macs if mac is not None and is_usable_mac(mac)}

    def own_addresses(self) -> set[str]:
        """Return the agent address and the device's own management addresses."""
        addresses = {self.address}
        addresses.update(str(entry.address) for entry in self.walk.facts.management_addresses)
        return addresses

    def port_name(self, if_index: int | None) -> str | None:
        """Return ifName, else ifDescr, of `if_index`; None when the device has no such interface."""
        if if_index is None:
            return None
        interface = self.walk.facts.interface(if_index)
        if interface is None:
            return None
        return interface.name or interface.descr


@dataclass(frozen=True, slots=True)
class PortRef:
    """One port of a walked device; `if_index` is None when the port could not be resolved."""

    device: str
    if_index: int | None
    name: str | None


@dataclass(frozen=True, slots=True)
class Link:
    """A device-to-device link: `source` is the lower (access) side, `target` the upper."""

    source: PortRef
    target: PortRef
    protocols: tuple[str, ...]
    vlan: int | None = None


@dataclass(frozen=True, slots=True)
class Neighbour:
    """An LLDP or CDP neighbour that matches no walked device, as its port reported it."""

    device: str
    protocol: str
    if_index: int | None
    port: str | None
    remote_name: str | None
    remote_port: str | None
    remote_chassis_id: str | None
    remote_address: str | None
    platform: str | None

    def as_attribute(self) -> dict[str, object]:
        """Return the neighbour as a JSON object without empty fields, for a CI attribute."""
        values = {
            "protocol": self.protocol,
            "if_index": self.if_index,
            "port": self.port,
            "remote_name": self.remote_name,
            "remote_port": self.remote_port,
            "remote_chassis_id": self.remote_chassis_id,
            "remote_address": self.remote_address,
            "platform": self.platform,
        }
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class Attachment:
    """An endpoint MAC attached to an access port of a walked switch."""

    mac: str
    port: PortRef
    vlan: int | None
    ips: tuple[str, ...]
    device: str | None = None
    """The target of the walked device that owns the MAC, or None for an unknown endpoint."""


@dataclass(frozen=True, slots=True)
class Unattached:
    """A MAC learned only on uplinks, with every port where it was learned."""

    mac: str
    seen_on: tuple[PortRef, ...]
    ips: tuple[str, ...]
    device: str | None = None


@dataclass(slots=True)
class Topology:
    """Links, unmatched neighbours, attachments and unattached MACs of one run."""

    links: list[Link] = field(default_factory=list)
    neighbours: list[Neighbour] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    unattached: list[Unattached] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Report:
    """One side's report of a link: its own port and the remote port it reported."""

    local: str
    local_if_index: int | None
    remote: str
    remote_if_index: int | None
    remote_port_text: str | None
    protocol: str
    vlan: int | None


class DeviceIndex:
    """Walked devices by MAC, address and name, each kept only when it names a single device."""

    def __init__(self, devices: Sequence[Device]) -> None:
        self.devices = {device.target: device for device in devices}
        self.by_mac = _unique((mac, device.target) for device in devices for mac in device.own_macs())
        self.by_address = _unique(
            (address, device.target) for device in devices for address in device.own_addresses()
        )
        names: list[tuple[str, str]] = []
        for device in devices:
            name = device.walk.facts.sys_name
            if not is_placeholder(name):
                assert name is not None
                names.append((name.lower(), device.target))
                names.append((name.lower().split(".")[0], device.target))
        self.by_name = _unique(names)
        self.switch_macs = {mac for device in devices if device.is_bridge for mac in device.own_macs()}

    def match(
        self, macs: Iterable[str | None], addresses: Iterable[str | None], names: Iterable[str | None]
    ) -> str | None:
        """Return the target matched by MAC first, then address, then name; None when nothing matches.

        Addresses and names are tried only when no MAC is given. Every device
        here was walked, so its MACs are all known, and a neighbour presenting a
        MAC that no walked device has is another device, even when it reports
        a known address or name (stale or copied configuration does that).
        """
        given = [mac for mac in macs if mac is not None]
        for mac in given:
            if mac in self.by_mac:
                return self.by_mac[mac]
        if given:
            return None
        for address in addresses:
            if address is not None and address in self.by_address:
                return self.by_address[address]
        for name in names:
            if is_placeholder(name):
                continue
            assert name is not None
            folded = name.lower()
            for candidate in (folded, folded.split(".")[0]):
                if candidate in self.by_name:
                    return self.by_name[candidate]
        return None


def _unique(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Map each value to its target, leaving out values that more than one target has."""
    owners: dict[str, set[str]] = defaultdict(set)
    for value, target in pairs:
        owners[value].add(target)
    return {value: next(iter(targets)) for value, targets in owners.items() if len(targets) == 1}


def _interface_by_mac(interfaces: Sequence[Interface], mac: str) -> int | None:
    matches = [interface.if_index for interface in interfaces if interface.mac == mac]
    return matches[0] if len(matches) == 1 else None


def _remote_if_index(remote: Device, port_text: str | None, port_descr: str | None) -> int | None:
    interfaces = remote.walk.facts.interfaces
    for text in (port_text, port_descr):
        if text:
            found = find_if_index(interfaces, text)
            if found is not None:
                return found
    return None


def _lldp_reports(device: Device, index: DeviceIndex, topology: Topology) -> list[_Report]:
    reports: list[_Report] = []
    seen_unmatched: set[Neighbour] = set()
    for neighbour in device.walk.lldp:
        macs: list[str | None] = []
        addresses: list[str | None] = [str(address) for address in neighbour.management_addresses]
        if neighbour.chassis_id_subtype is ChassisIdSubtype.MAC_ADDRESS:
            macs.append(neighbour.chassis_id)
        if neighbour.chassis_id_subtype is ChassisIdSubtype.NETWORK_ADDRESS:
            addresses.insert(0, neighbour.chassis_id)
        if neighbour.port_id_subtype is PortIdSubtype.MAC_ADDRESS:
            macs.append(neighbour.port_id)
        remote = index.match(macs, addresses, [neighbour.sys_name])
        if remote is None or remote == device.target:
            unmatched = Neighbour(
                device=device.target,
                protocol="lldp",
                if_index=neighbour.local_if_index,
                port=device.port_name(neighbour.local_if_index),
                remote_name=None if is_placeholder(neighbour.sys_name) else neighbour.sys_name,
                remote_port=neighbour.port_id,
                remote_chassis_id=neighbour.chassis_id,
                remote_address=str(addresses[0]) if addresses else None,
                platform=None,
            )
            if unmatched not in seen_unmatched:
                seen_unmatched.add(unmatched)
                topology.neighbours.append(unmatched)
            continue
        remote_device = index.devices[remote]
        if neighbour.port_id_subtype is PortIdSubtype.MAC_ADDRESS:
            remote_if_index = _interface_by_mac(remote_device.walk.facts.interfaces, neighbour.port_id)
        else:
            remote_if_index = _remote_if_index(remote_device, neighbour.port_id, neighbour.port_descr)
        reports.append(
            _Report(
                local=device.target,
                local_if_index=neighbour.local_if_index,
                remote=remote,
                remote_if_index=remote_if_index,
                remote_port_text=neighbour.port_id,
                protocol="lldp",
                vlan=None,
            )
        )
    return reports


def _cdp_reports(device: Device, index: DeviceIndex, topology: Topology) -> list[_Report]:
    reports: list[_Report] = []
    for neighbour in device.walk.cdp:
        address = str(neighbour.address) if neighbour.address is not None else None
        remote = index.match([], [address], [neighbour.device_id])
        vlan = neighbour.native_vlan or None
        if remote is None or remote == device.target:
            topology.neighbours.append(
                Neighbour(
                    device=device.target,
                    protocol="cdp",
                    if_index=neighbour.local_if_index,
                    port=device.port_name(neighbour.local_if_index),
                    remote_name=neighbour.device_id,
                    remote_port=neighbour.device_port,
                    remote_chassis_id=None,
                    remote_address=address,
                    platform=neighbour.platform,
                )
            )
            continue
        reports.append(
            _Report(
                local=device.target,
                local_if_index=neighbour.local_if_index,
                remote=remote,
                remote_if_index=_remote_if_index(index.devices[remote], neighbour.device_port, None),
                remote_port_text=neighbour.device_port,
                protocol="cdp",
                vlan=vlan,
            )
        )
    return reports


def _macs_per_port(device: Device) -> dict[int, set[str]]:
    ports: dict[int, set[str]] = defaultdict(set)
    for entry in device.walk.fdb:
        if entry.if_index is not None and entry.status not in _IGNORED_FDB_STATUSES:
            ports[entry.if_index].add(entry.mac)
    return ports


def _merge_reports(
    reports: Sequence[_Report], devices: Mapping[str, Device], mac_counts: Mapping[str, dict[int, set[str]]]
) -> list[Link]:
    """Merge the reports of both ends into one link per pair of ports, oriented lower to upper."""
    # A side that could not resolve its remote port takes the port from the other side's report.
    by_local = {(r.local, r.local_if_index, r.remote): r for r in reports if r.local_if_index is not None}
    merged: dict[frozenset[tuple[str, int | str | None]], list[_Report]] = defaultdict(list)
    for report in reports:
        remote_if_index = report.remote_if_index
        if remote_if_index is None:
            for (local, local_if_index, remote), other in by_local.items():
                answers = other.remote_if_index in (report.local_if_index, None)
                if local == report.remote and remote == report.local and answers:
                    remote_if_index = local_if_index
                    break
        local_end: tuple[str, int | str | None] = (report.local, report.local_if_index)
        remote_end: tuple[str, int | str | None] = (
            report.remote,
            remote_if_index
            if remote_if_index is not None
            else normalise_port_name(report.remote_port_text or ""),
        )
        merged[frozenset({local_end, remote_end})].append(report)

    links: list[Link] = []
    for ends, group in merged.items():
        if len(ends) != 2:
            continue
        (a_device, a_port), (b_device, b_port) = sorted(ends, key=lambda end: (end[0], str(end[1])))
        a = _port_ref(devices[a_device], a_port, group)
        b = _port_ref(devices[b_device], b_port, group)
        lower, upper = _orient(a, b, mac_counts)
        protocols = tuple(sorted({report.protocol for report in group}))
        vlans = sorted({report.vlan for report in group if report.vlan is not None})
        links.append(Link(source=lower, target=upper, protocols=protocols, vlan=vlans[0] if vlans else None))
    links.sort(key=lambda link: (link.source.device, link.target.device, str(link.source.if_index)))
    return links


def _port_ref(device: Device, port: int | str | None, group: Sequence[_Report]) -> PortRef:
    if isinstance(port, int):
        return PortRef(device.target, port, device.port_name(port))
    texts = [r.remote_port_text for r in group if r.remote == device.target and r.remote_port_text]
    return PortRef(device.target, None, texts[0] if texts else None)


def _orient(a: PortRef, b: PortRef, mac_counts: Mapping[str, dict[int, set[str]]]) -> tuple[PortRef, PortRef]:
    def behind(port: PortRef) -> int:
        if port.if_index is None:
            return 0
        return len(mac_counts.get(port.device, {}).get(port.if_index, ()))

    def total(port: PortRef) -> int:
        return sum(len(macs) for macs in mac_counts.get(port.device, {}).values())

    if behind(a) != behind(b):
        return (a, b) if behind(a) > behind(b) else (b, a)
    if total(a) != total(b):
        return (a, b) if total(a) < total(b) else (b, a)
    return a, b


def _arp_ips(devices: Sequence[Device]) -> dict[str, set[str]]:
    ips: dict[str, set[str]] = defaultdict(set)
    for device in devices:
        for entry in device.walk.arp:
            address = entry.ip
            if address.is_loopback or address.is_multicast or address.is_unspecified:
                continue
            if isinstance(address, ipaddress.IPv6Address) and address.is_link_local:
                continue
            ips[entry.mac].add(str(address))
    return ips


def _neighbour_ports(devices: Sequence[Device]) -> dict[tuple[str, int], set[str | None]]:
    """Map each port with an LLDP or CDP neighbour to the MACs naming its neighbours (None: no MAC)."""
    ports: dict[tuple[str, int], set[str | None]] = defaultdict(set)
    for device in devices:
        for lldp in device.walk.lldp:
            if lldp.local_if_index is None:
                continue
            mac = None
            if lldp.chassis_id_subtype is ChassisIdSubtype.MAC_ADDRESS:
                mac = lldp.chassis_id
            elif lldp.port_id_subtype is PortIdSubtype.MAC_ADDRESS:
                mac = lldp.port_id
            ports[(device.target, lldp.local_if_index)].add(mac)
        for cdp in device.walk.cdp:
            ports[(device.target, cdp.local_if_index)].add(None)
    return ports


def _attach(
    devices: Sequence[Device],
    index: DeviceIndex,
    mac_counts: Mapping[str, dict[int, set[str]]],
    link_ports: set[tuple[str, int]],
    max_macs_per_port: int,
    topology: Topology,
) -> None:
    neighbour_ports = _neighbour_ports(devices)
    arp = _arp_ips(devices)
    learned: dict[str, dict[tuple[str, int], int | None]] = defaultdict(dict)
    for device in devices:
        own = device.own_macs()
        for entry in device.walk.fdb:
            if entry.if_index is None or entry.status in _IGNORED_FDB_STATUSES:
                continue
            if entry.mac in own or not is_usable_mac(entry.mac):
                continue
            learned[entry.mac].setdefault((device.target, entry.if_index), entry.vlan)

    uplinks: set[tuple[str, int]] = set(link_ports)
    for device in devices:
        for if_index, macs in mac_counts.get(device.target, {}).items():
            if len(macs) > max_macs_per_port or macs & (index.switch_macs - device.own_macs()):
                uplinks.add((device.target, if_index))

    for mac in sorted(learned):
        if mac in index.switch_macs:
            continue
        owner = index.by_mac.get(mac)
        ports = learned[mac]
        access = [port for port in ports if port not in uplinks and neighbour_ports.get(port, {mac}) <= {mac}]
        ips = tuple(sorted(arp.get(mac, ())))
        if not access:
            seen_on = tuple(
                PortRef(target, if_index, index.devices[target].port_name(if_index))
                for target, if_index in sorted(ports)
            )
            topology.unattached.append(Unattached(mac=mac, seen_on=seen_on, ips=ips, device=owner))
            continue
        target, if_index = min(access, key=lambda port: (len(mac_counts[port[0]][port[1]]), port))
        topology.attachments.append(
            Attachment(
                mac=mac,
                port=PortRef(target, if_index, index.devices[target].port_name(if_index)),
                vlan=ports[(target, if_index)],
                ips=ips,
                device=owner,
            )
        )


def build_topology(
    devices: Sequence[Device], *, max_macs_per_port: int = DEFAULT_MAX_MACS_PER_PORT
) -> Topology:
    """Return the links, unmatched neighbours, attachments and unattached MACs of `devices`."""
    index = DeviceIndex(devices)
    topology = Topology()
    reports: list[_Report] = []
    for device in devices:
        reports.extend(_lldp_reports(device, index, topology))
        reports.extend(_cdp_reports(device, index, topology))
    mac_counts = {device.target: _macs_per_port(device) for device in devices}
    topology.links = _merge_reports(reports, index.devices, mac_counts)
    link_ports = {
        (port.device, port.if_index)
        for link in topology.links
        for port in (link.source, link.target)
        if port.if_index is not None
    }
    _attach(devices, index, mac_counts, link_ports, max_macs_per_port, topology)
    logger.debug(
        "topology of %d devices: %d links, %d unmatched neighbours, %d attached, %d unattached",
        len(devices),
        len(topology.links),
        len(topology.neighbours),
        len(topology.attachments),
        len(topology.unattached),
    )
    return topology
