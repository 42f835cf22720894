"""BRIDGE-MIB and Q-BRIDGE-MIB parsing: forwarding table entries with their VLAN and ifIndex."""

from __future__ import annotations

import re
from collections.abc import Sequence

from cmdb.discovery import tables as t
from cmdb.discovery.decode import format_mac, int_of, octets_from_index
from cmdb.discovery.models import Oid, RawWalk
from cmdb.discovery.records import FdbEntry, FdbStatus, Interface, PortResolution

_STATUSES = {
    1: FdbStatus.OTHER,
    2: FdbStatus.INVALID,
    3: FdbStatus.LEARNED,
    4: FdbStatus.SELF,
    5: FdbStatus.MGMT,
}
_TRAILING_NUMBER = re.compile(r"[/\s](\d+)$")


class BridgePortResolver:
    """Maps bridge port numbers to ifIndex values for one walk.

    The order of attempts, each used only when the one before finds nothing:
    the dot1dBasePortIfIndex row for the port; the port number itself when it
    is the ifIndex of a bridge-port interface (any interface when
    dot1dBasePortTable is empty); the single bridge-port interface whose ifName or ifDescr
    ends in `/PORT`. The last case covers agents such as the TP-Link
    JetStream SG2218P, which index dot1dBasePortTable by ifIndex (49153...)
    but report forwarding entries on port numbers 1..18, so port 18 is the
    interface `gigabitEthernet 1/0/18`, ifIndex 49170.
    """

    def __init__(self, walk: RawWalk, interfaces: Sequence[Interface]) -> None:
        self.base_ports: dict[int, int] = {}
        for index, value in walk.column("dot1dBase", t.DOT1D_BASE_PORT_IF_INDEX).items():
            if_index = int_of(value)
            if len(index) == 1 and if_index is not None:
                self.base_ports[index[0]] = if_index
        bridge_if_indexes = set(self.base_ports.values())
        # With a dot1dBasePortTable, only its interfaces are bridge ports: port 1
        # must not become ifIndex 1 when that is a VLAN interface.
        self.if_indexes = {
            interface.if_index
            for interface in interfaces
            if not bridge_if_indexes or interface.if_index in bridge_if_indexes
        }
        candidates = [
            interface
            for interface in interfaces
            if not bridge_if_indexes or interface.if_index in bridge_if_indexes
        ]
        self.by_number: dict[int, list[int]] = {}
        for interface in candidates:
            numbers = set()
            for text in (interface.name, interface.descr):
                if text and (match := _TRAILING_NUMBER.search(text)):
                    numbers.add(int(match.group(1)))
            for number in numbers:
                self.by_number.setdefault(number, []).append(interface.if_index)

    def resolve(self, port: int) -> tuple[int | None, PortResolution]:
        """Return the ifIndex of bridge port `port` and how it was found."""
        if port in self.base_ports:
            return self.base_ports[port], PortResolution.BASE_PORT_TABLE
        if port in self.if_indexes:
            return port, PortResolution.PORT_IS_IF_INDEX
        matches = self.by_number.get(port, [])
        if len(matches) == 1:
            return matches[0], PortResolution.INTERFACE_NAME
        return None, PortResolution.UNRESOLVED


def fdb_vlans(walk: RawWalk) -> dict[int, int | None]:
    """Map dot1qFdbId to its VLAN ID from dot1qVlanFdbId; None for an FDB shared by several VLANs."""
    vlans_by_fdb: dict[int, set[int]] = {}
    for index, value in walk.column("dot1qVlanCurrentTable", t.DOT1Q_VLAN_FDB_ID).items():
        fdb_id = int_of(value)
        if len(index) == 2 and fdb_id is not None:
            vlans_by_fdb.setdefault(fdb_id, set()).add(index[1])
    return {fdb_id: next(iter(vlans)) if len(vlans) == 1 else None for fdb_id, vlans in vlans_by_fdb.items()}


def _mac_from_index(arcs: Oid) -> str | None:
    octets = octets_from_index(arcs)
    return format_mac(octets) if octets is not None else None


def parse_fdb(walk: RawWalk, interfaces: Sequence[Interface]) -> tuple[FdbEntry, ...]:
    """Return forwarding entries from dot1qTpFdbTable, then from dot1dTpFdbTable.

    The Q-BRIDGE index is (dot1qFdbId, MAC). The FDB ID becomes a VLAN ID
    through dot1qVlanCurrentTable; when that table has no row for it, the FDB
    ID is taken as the VLAN ID, which is what agents with independent VLAN
    learning report. BRIDGE-MIB entries carry no VLAN. Bridge port 0 means
    the port was not learned, so such entries stay unresolved.
    """
    resolver = BridgePortResolver(walk, interfaces)
    vlans = fdb_vlans(walk)
    entries = []

    q_statuses = walk.column("dot1qTpFdbTable", t.DOT1Q_TP_FDB_STATUS)
    for index, value in sorted(walk.column("dot1qTpFdbTable", t.DOT1Q_TP_FDB_PORT).items()):
        port = int_of(value)
        mac = _mac_from_index(index[1:]) if len(index) == 7 else None
        if port is None or mac is None:
            continue
        fdb_id = index[0]
        if_index, resolution = resolver.resolve(port) if port else (None, PortResolution.UNRESOLVED)
        entries.append(
            FdbEntry(
                mac=mac,
                vlan=vlans.get(fdb_id, fdb_id),
                bridge_port=port,
                if_index=if_index,
                resolution=resolution,
                status=_STATUSES.get(int_of(q_statuses.get(index)) or 0, FdbStatus.UNKNOWN),
                source="dot1qTpFdbTable",
            )
        )

    d_statuses = walk.column("dot1dTpFdbTable", t.DOT1D_TP_FDB_STATUS)
    for index, value in sorted(walk.column("dot1dTpFdbTable", t.DOT1D_TP_FDB_PORT).items()):
        port = int_of(value)
        mac = _mac_from_index(index) if len(index) == 6 else None
        if port is None or mac is None:
            continue
        if_index, resolution = resolver.resolve(port) if port else (None, PortResolution.UNRESOLVED)
        entries.append(
            FdbEntry(
                mac=mac,
                vlan=None,
                bridge_port=port,
                if_index=if_index,
                resolution=resolution,
                status=_STATUSES.get(int_of(d_statuses.get(index)) or 0, FdbStatus.UNKNOWN),
                source="dot1dTpFdbTable",
            )
        )
    return tuple(entries)
