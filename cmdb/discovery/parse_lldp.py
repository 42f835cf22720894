"""LLDP-MIB parsing: the local chassis MAC and the remote systems seen on each local port."""

from __future__ import annotations

from collections.abc import Sequence

from cmdb.discovery import tables as t
from cmdb.discovery.decode import (
    IPAddress,
    decode_text,
    format_mac,
    inet_address,
    int_of,
    ip_from_octets,
    split_length_prefixed,
    text_of,
)
from cmdb.discovery.interfaces import find_if_index
from cmdb.discovery.models import Octets, RawWalk, SnmpValue
from cmdb.discovery.records import ChassisIdSubtype, Interface, LldpNeighbour, PortIdSubtype

_CHASSIS_SUBTYPES = {
    1: ChassisIdSubtype.CHASSIS_COMPONENT,
    2: ChassisIdSubtype.INTERFACE_ALIAS,
    3: ChassisIdSubtype.PORT_COMPONENT,
    4: ChassisIdSubtype.MAC_ADDRESS,
    5: ChassisIdSubtype.NETWORK_ADDRESS,
    6: ChassisIdSubtype.INTERFACE_NAME,
    7: ChassisIdSubtype.LOCAL,
}
_PORT_SUBTYPES = {
    1: PortIdSubtype.INTERFACE_ALIAS,
    2: PortIdSubtype.PORT_COMPONENT,
    3: PortIdSubtype.MAC_ADDRESS,
    4: PortIdSubtype.NETWORK_ADDRESS,
    5: PortIdSubtype.INTERFACE_NAME,
    6: PortIdSubtype.AGENT_CIRCUIT_ID,
    7: PortIdSubtype.LOCAL,
}
# IANA address family numbers that start an LLDP network-address identifier.
_FAMILY_IPV4 = 1
_FAMILY_IPV6 = 2


def _raw(value: SnmpValue | None) -> bytes:
    return value.value if isinstance(value, Octets) else b""


def _is_printable(raw: bytes) -> bool:
    text = decode_text(raw)
    return bool(text) and "\ufffd" not in text and all(ch.isprintable() for ch in text)


def _text_or_hex(raw: bytes) -> str:
    """Decode `raw` as text when it is printable, else return it as lower-case hex."""
    return decode_text(raw) if _is_printable(raw) else raw.hex()


def decode_network_address(raw: bytes) -> IPAddress | None:
    """Decode an LLDP network-address identifier: an IANA address family octet, then the address."""
    if len(raw) < 2:
        return None
    if raw[0] == _FAMILY_IPV4 and len(raw) == 5:
        return ip_from_octets(raw[1:])
    if raw[0] == _FAMILY_IPV6 and len(raw) == 17:
        return ip_from_octets(raw[1:])
    return None


def decode_chassis_id(subtype: ChassisIdSubtype, raw: bytes) -> str:
    """Decode an lldpRemChassisId or lldpLocChassisId by its subtype."""
    if subtype is ChassisIdSubtype.MAC_ADDRESS:
        mac = format_mac(raw)
        return mac if mac is not None else raw.hex()
    if subtype is ChassisIdSubtype.NETWORK_ADDRESS:
        address = decode_network_address(raw)
        return str(address) if address is not None else raw.hex()
    return _text_or_hex(raw)


def decode_port_id(subtype: PortIdSubtype, raw: bytes) -> str:
    """Decode an lldpRemPortId or lldpLocPortId by its subtype."""
    if subtype is PortIdSubtype.MAC_ADDRESS:
        mac = format_mac(raw)
        return mac if mac is not None else raw.hex()
    if subtype is PortIdSubtype.NETWORK_ADDRESS:
        address = decode_network_address(raw)
        return str(address) if address is not None else raw.hex()
    return _text_or_hex(raw)


def parse_local_chassis_mac(walk: RawWalk) -> str | None:
    """Return lldpLocChassisId as a MAC address when its subtype is macAddress, else None."""
    subtype = int_of(walk.scalar("lldpLocal", (*t.LLDP_LOC_CHASSIS_ID_SUBTYPE, 0)))
    if subtype != 4:
        return None
    return format_mac(_raw(walk.scalar("lldpLocal", (*t.LLDP_LOC_CHASSIS_ID, 0))))


def resolve_local_ports(walk: RawWalk, interfaces: Sequence[Interface]) -> dict[int, int]:
    """Map lldpLocPortNum to ifIndex.

    The port ID (or, failing that, the port description) in lldpLocPortTable
    is matched against ifName, ifDescr and ifAlias. When that finds nothing,
    a port number that is itself an ifIndex is taken as one, which is what
    most agents do.
    """
    port_ids = walk.column("lldpLocPortTable", t.LLDP_LOC_PORT_ID)
    port_descrs = walk.column("lldpLocPortTable", t.LLDP_LOC_PORT_DESC)
    subtypes = walk.column("lldpLocPortTable", t.LLDP_LOC_PORT_ID_SUBTYPE)
    known = {interface.if_index for interface in interfaces}
    resolved: dict[int, int] = {}
    for index in {*port_ids, *port_descrs}:
        if len(index) != 1:
            continue
        port_num = index[0]
        subtype = _PORT_SUBTYPES.get(int_of(subtypes.get(index)) or 0, PortIdSubtype.UNKNOWN)
        if_index = None
        if subtype not in (PortIdSubtype.MAC_ADDRESS, PortIdSubtype.NETWORK_ADDRESS):
            name = text_of(port_ids.get(index))
            if name is not None:
                if_index = find_if_index(interfaces, name)
        if if_index is None and (descr := text_of(port_descrs.get(index))) is not None:
            if_index = find_if_index(interfaces, descr)
        if if_index is not None:
            resolved[port_num] = if_index
        elif port_num in known:
            resolved[port_num] = port_num
    return resolved


def _management_addresses(walk: RawWalk) -> dict[tuple[int, int, int], list[IPAddress]]:
    """Return remote management addresses keyed by (time mark, local port, remote index)."""
    addresses: dict[tuple[int, int, int], list[IPAddress]] = {}
    for index in walk.column("lldpRemManAddrTable", t.LLDP_REM_MAN_ADDR_IF_SUBTYPE):
        if len(index) < 5:
            continue
        key = (index[0], index[1], index[2])
        split = split_length_prefixed(index[4:])
        if split is None:
            continue
        address = inet_address(index[3], split[0])
        if address is None or address.is_unspecified:
            continue
        if address not in addresses.setdefault(key, []):
            addresses[key].append(address)
    return addresses


def parse_lldp(walk: RawWalk, interfaces: Sequence[Interface]) -> tuple[LldpNeighbour, ...]:
    """Return the LLDP remote systems, sorted by local port number and remote index."""
    chassis_subtypes = walk.column("lldpRemTable", t.LLDP_REM_CHASSIS_ID_SUBTYPE)
    chassis_ids = walk.column("lldpRemTable", t.LLDP_REM_CHASSIS_ID)
    port_subtypes = walk.column("lldpRemTable", t.LLDP_REM_PORT_ID_SUBTYPE)
    port_ids = walk.column("lldpRemTable", t.LLDP_REM_PORT_ID)
    port_descrs = walk.column("lldpRemTable", t.LLDP_REM_PORT_DESC)
    sys_names = walk.column("lldpRemTable", t.LLDP_REM_SYS_NAME)
    sys_descrs = walk.column("lldpRemTable", t.LLDP_REM_SYS_DESC)
    local_ports = resolve_local_ports(walk, interfaces)
    management = _management_addresses(walk)

    neighbours = []
    for index in sorted({*chassis_ids, *port_ids}, key=lambda key: (key[1:], key[0])):
        if len(index) != 3:
            continue
        time_mark, port_num, remote_index = index
        chassis_subtype = _CHASSIS_SUBTYPES.get(
            int_of(chassis_subtypes.get(index)) or 0, ChassisIdSubtype.UNKNOWN
        )
        port_subtype = _PORT_SUBTYPES.get(int_of(port_subtypes.get(index)) or 0, PortIdSubtype.UNKNOWN)
        neighbours.append(
            LldpNeighbour(
                local_port_num=port_num,
                local_if_index=local_ports.get(port_num),
                remote_index=remote_index,
                time_mark=time_mark,
                chassis_id_subtype=chassis_subtype,
                chassis_id=decode_chassis_id(chassis_subtype, _raw(chassis_ids.get(index))),
                port_id_subtype=port_subtype,
                port_id=decode_port_id(port_subtype, _raw(port_ids.get(index))),
                port_descr=text_of(port_descrs.get(index)),
                sys_name=text_of(sys_names.get(index)),
                sys_descr=text_of(sys_descrs.get(index)),
                management_addresses=tuple(management.get(index, ())),
            )
        )
    return tuple(neighbours)
