"""CISCO-CDP-MIB parsing: the neighbours in cdpCacheTable."""

from __future__ import annotations

from cmdb.discovery import tables as t
from cmdb.discovery.decode import int_of, ip_from_octets, text_of
from cmdb.discovery.models import Octets, RawWalk
from cmdb.discovery.records import CdpNeighbour

# CiscoNetworkProtocol value for IPv4 in cdpCacheAddressType.
_CDP_ADDRESS_IP = 1


def parse_cdp(walk: RawWalk) -> tuple[CdpNeighbour, ...]:
    """Return cdpCacheTable rows sorted by (local ifIndex, device index).

    The row index is (cdpCacheIfIndex, cdpCacheDeviceIndex). Only IPv4
    addresses (cdpCacheAddressType 1) are decoded; others give None.
    """
    address_types = walk.column("cdpCacheTable", t.CDP_CACHE_ADDRESS_TYPE)
    addresses = walk.column("cdpCacheTable", t.CDP_CACHE_ADDRESS)
    versions = walk.column("cdpCacheTable", t.CDP_CACHE_VERSION)
    device_ids = walk.column("cdpCacheTable", t.CDP_CACHE_DEVICE_ID)
    device_ports = walk.column("cdpCacheTable", t.CDP_CACHE_DEVICE_PORT)
    platforms = walk.column("cdpCacheTable", t.CDP_CACHE_PLATFORM)
    native_vlans = walk.column("cdpCacheTable", t.CDP_CACHE_NATIVE_VLAN)

    neighbours = []
    for index in sorted({*device_ids, *addresses}):
        if len(index) != 2:
            continue
        address = None
        raw_address = addresses.get(index)
        if int_of(address_types.get(index)) == _CDP_ADDRESS_IP and isinstance(raw_address, Octets):
            address = ip_from_octets(raw_address.value)
        neighbours.append(
            CdpNeighbour(
                local_if_index=index[0],
                device_index=index[1],
                device_id=text_of(device_ids.get(index)),
                address=address,
                platform=text_of(platforms.get(index)),
                device_port=text_of(device_ports.get(index)),
                version=text_of(versions.get(index)),
                native_vlan=int_of(native_vlans.get(index)),
            )
        )
    return tuple(neighbours)
