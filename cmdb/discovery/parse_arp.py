"""IP-MIB neighbour parsing: IP to MAC bindings from ipNetToPhysicalTable, then ipNetToMediaTable."""

from __future__ import annotations

import ipaddress

from cmdb.discovery import tables as t
from cmdb.discovery.decode import (
    IPAddress,
    inet_address,
    int_of,
    mac_of,
    octets_from_index,
    split_length_prefixed,
)
from cmdb.discovery.models import RawWalk
from cmdb.discovery.records import ArpEntry


def _is_group_mac(mac: str) -> bool:
    """Return whether `mac` is a group (multicast or broadcast) address: the I/G bit of octet one is set."""
    return int(mac[:2], 16) & 1 == 1


def _physical_entries(walk: RawWalk) -> list[ArpEntry]:
    """Rows of ipNetToPhysicalTable: index ifIndex, InetAddressType, length-prefixed address."""
    types = walk.column("ipNetToPhysicalTable", t.IP_NET_TO_PHYSICAL_TYPE)
    entries = []
    for index, value in sorted(
        walk.column("ipNetToPhysicalTable", t.IP_NET_TO_PHYSICAL_PHYS_ADDRESS).items()
    ):
        if len(index) < 3:
            continue
        split = split_length_prefixed(index[2:])
        mac = mac_of(value)
        if split is None or mac is None:
            continue
        address = inet_address(index[1], split[0])
        if address is None or address.is_unspecified:
            continue
        entries.append(
            ArpEntry(
                if_index=index[0],
                ip=address,
                mac=mac,
                entry_type=int_of(types.get(index)),
                source="ipNetToPhysicalTable",
            )
        )
    return entries


def _media_entries(walk: RawWalk) -> list[ArpEntry]:
    """Rows of ipNetToMediaTable: index ifIndex then the four octets of the IPv4 address."""
    types = walk.column("ipNetToMediaTable", t.IP_NET_TO_MEDIA_TYPE)
    entries = []
    for index, value in sorted(walk.column("ipNetToMediaTable", t.IP_NET_TO_MEDIA_PHYS_ADDRESS).items()):
        if len(index) != 5:
            continue
        octets = octets_from_index(index[1:])
        mac = mac_of(value)
        if octets is None or mac is None or octets == b"\x00\x00\x00\x00":
            continue
        entries.append(
            ArpEntry(
                if_index=index[0],
                ip=ipaddress.IPv4Address(octets),
                mac=mac,
                entry_type=int_of(types.get(index)),
                source="ipNetToMediaTable",
            )
        )
    return entries


def parse_arp(walk: RawWalk) -> tuple[ArpEntry, ...]:
    """Return the IP to MAC bindings, ipNetToPhysicalTable first.

    A row of ipNetToMediaTable is added only when ipNetToPhysicalTable has no
    row for the same ifIndex and IP, since agents that serve both usually
    repeat the IPv4 rows. Entries with an empty, all-zero, broadcast or
    multicast MAC (Windows lists 224.0.0.0/4 and broadcast addresses), or with
    the address 0.0.0.0, are dropped.
    """
    entries = [entry for entry in _physical_entries(walk) if not _is_group_mac(entry.mac)]
    seen: set[tuple[int, IPAddress]] = {(entry.if_index, entry.ip) for entry in entries}
    for entry in _media_entries(walk):
        if _is_group_mac(entry.mac):
            continue
        if (entry.if_index, entry.ip) not in seen:
            seen.add((entry.if_index, entry.ip))
            entries.append(entry)
    return tuple(entries)
