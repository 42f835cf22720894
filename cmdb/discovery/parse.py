"""Pure parsers from a `RawWalk` to device facts, plus `parse_walk`, which runs every parser.

Neighbour, forwarding and ARP parsers live beside this module in
`parse_lldp`, `parse_cdp`, `parse_bridge` and `parse_arp`.
"""

from __future__ import annotations

import ipaddress
import logging

from cmdb.discovery import tables as t
from cmdb.discovery.decode import (
    int_of,
    ip_from_octets,
    ip_of,
    mac_of,
    oid_of,
    split_length_prefixed,
    text_of,
)
from cmdb.discovery.models import RawWalk
from cmdb.discovery.parse_arp import parse_arp
from cmdb.discovery.parse_bridge import parse_fdb
from cmdb.discovery.parse_cdp import parse_cdp
from cmdb.discovery.parse_lldp import parse_lldp, parse_local_chassis_mac
from cmdb.discovery.records import (
    DeviceFacts,
    HostDevice,
    InstalledSoftware,
    Interface,
    ManagementAddress,
    ParsedWalk,
    PhysicalEntity,
)

logger = logging.getLogger(__name__)

CHASSIS_CLASS = 3


def parse_interfaces(walk: RawWalk) -> tuple[Interface, ...]:
    """Join ifTable and ifXTable by ifIndex, sorted by ifIndex."""
    descr = walk.column("ifTable", t.IF_DESCR)
    if_type = walk.column("ifTable", t.IF_TYPE)
    speed = walk.column("ifTable", t.IF_SPEED)
    phys_address = walk.column("ifTable", t.IF_PHYS_ADDRESS)
    admin = walk.column("ifTable", t.IF_ADMIN_STATUS)
    oper = walk.column("ifTable", t.IF_OPER_STATUS)
    name = walk.column("ifXTable", t.IF_NAME)
    high_speed = walk.column("ifXTable", t.IF_HIGH_SPEED)
    alias = walk.column("ifXTable", t.IF_ALIAS)

    indexes = {index for column in (descr, if_type, oper, name) for index in column if len(index) == 1}
    interfaces = []
    for index in sorted(indexes):
        megabits = int_of(high_speed.get(index))
        bits = int_of(speed.get(index))
        speed_bps = megabits * 1_000_000 if megabits else bits
        interfaces.append(
            Interface(
                if_index=index[0],
                name=text_of(name.get(index)),
                descr=text_of(descr.get(index)),
                alias=text_of(alias.get(index)),
                if_type=int_of(if_type.get(index)),
                mac=mac_of(phys_address.get(index)),
                speed_bps=speed_bps,
                admin_status=int_of(admin.get(index)),
                oper_status=int_of(oper.get(index)),
            )
        )
    return tuple(interfaces)


def parse_entities(walk: RawWalk) -> tuple[PhysicalEntity, ...]:
    """Return entPhysicalTable rows sorted by entPhysicalIndex."""
    columns = {
        column: walk.column("entPhysicalTable", column)
        for column in (
            t.ENT_DESCR,
            t.ENT_CLASS,
            t.ENT_NAME,
            t.ENT_CONTAINED_IN,
            t.ENT_HARDWARE_REV,
            t.ENT_FIRMWARE_REV,
            t.ENT_SOFTWARE_REV,
            t.ENT_SERIAL_NUM,
            t.ENT_MFG_NAME,
            t.ENT_MODEL_NAME,
        )
    }
    indexes = {index for column in columns.values() for index in column if len(index) == 1}
    entities = []
    for index in sorted(indexes):
        entities.append(
            PhysicalEntity(
                index=index[0],
                descr=text_of(columns[t.ENT_DESCR].get(index)),
                entity_class=int_of(columns[t.ENT_CLASS].get(index)),
                name=text_of(columns[t.ENT_NAME].get(index)),
                contained_in=int_of(columns[t.ENT_CONTAINED_IN].get(index)),
                hardware_rev=text_of(columns[t.ENT_HARDWARE_REV].get(index)),
                firmware_rev=text_of(columns[t.ENT_FIRMWARE_REV].get(index)),
                software_rev=text_of(columns[t.ENT_SOFTWARE_REV].get(index)),
                serial=text_of(columns[t.ENT_SERIAL_NUM].get(index)),
                manufacturer=text_of(columns[t.ENT_MFG_NAME].get(index)),
                model=text_of(columns[t.ENT_MODEL_NAME].get(index)),
            )
        )
    return tuple(entities)


def parse_software(walk: RawWalk) -> tuple[InstalledSoftware, ...]:
    """Return hrSWInstalledTable rows with a name, sorted by hrSWInstalledIndex."""
    names = walk.column("hrSWInstalledTable", t.HR_SW_INSTALLED_NAME)
    types = walk.column("hrSWInstalledTable", t.HR_SW_INSTALLED_TYPE)
    software = []
    for index in sorted(names):
        name = text_of(names[index])
        if name is None or len(index) != 1:
            continue
        software.append(InstalledSoftware(index=index[0], name=name, software_type=int_of(types.get(index))))
    return tuple(software)


def parse_host_devices(walk: RawWalk) -> tuple[HostDevice, ...]:
    """Return hrDeviceTable rows sorted by hrDeviceIndex."""
    types = walk.column("hrDeviceTable", t.HR_DEVICE_TYPE)
    descrs = walk.column("hrDeviceTable", t.HR_DEVICE_DESCR)
    statuses = walk.column("hrDeviceTable", t.HR_DEVICE_STATUS)
    indexes = {index for column in (types, descrs) for index in column if len(index) == 1}
    return tuple(
        HostDevice(
            index=index[0],
            device_type=oid_of(types.get(index)),
            descr=text_of(descrs.get(index)),
            status=int_of(statuses.get(index)),
        )
        for index in sorted(indexes)
    )


def parse_management_addresses(walk: RawWalk) -> tuple[ManagementAddress, ...]:
    """Return the device's own addresses from ipAddrTable, then IPv6 and extra ones from ipAddressTable.

    Loopback, unspecified (0.0.0.0) and IPv6 link-local addresses are left
    out. IPv4 link-local ones stay, because some networks manage switches on
    169.254.0.0/16.

    The IPv4 address is read from ipAdEntAddr's value, not from the row index,
    because some agents put extra sub-identifiers into the index (an Ascom
    IPBS3 sends `1.10.253.1.36` for 10.253.1.36); the last four index
    sub-identifiers are the fallback when ipAdEntAddr is missing.
    """
    addresses: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, ManagementAddress] = {}
    entries = walk.column("ipAddrTable", t.IP_AD_ENT_ADDR)
    if_indexes = walk.column("ipAddrTable", t.IP_AD_ENT_IF_INDEX)
    masks = walk.column("ipAddrTable", t.IP_AD_ENT_NET_MASK)
    for index in sorted({*entries, *if_indexes}):
        address = ip_of(entries.get(index))
        if address is None and len(index) >= 4 and all(0 <= arc <= 255 for arc in index[-4:]):
            address = ipaddress.IPv4Address(bytes(index[-4:]))
        if address is None or address.is_loopback or address.is_unspecified:
            continue
        mask = ip_of(masks.get(index))
        addresses.setdefault(
            address,
            ManagementAddress(
                address=address,
                if_index=int_of(if_indexes.get(index)),
                netmask=str(mask) if mask is not None else None,
            ),
        )

    # ipAddressTable index: InetAddressType, then the address as a length-prefixed string.
    for index, value in sorted(walk.column("ipAddressTable", t.IP_ADDRESS_IF_INDEX).items()):
        if len(index) < 2 or index[0] not in (1, 2):
            continue
        split = split_length_prefixed(index[1:])
        if split is None:
            continue
        inet = ip_from_octets(split[0])
        if inet is None or inet.is_loopback or inet.is_unspecified:
            continue
        if inet.version == 6 and inet.is_link_local:
            continue
        addresses.setdefault(inet, ManagementAddress(address=inet, if_index=int_of(value)))
    return tuple(addresses.values())


def _enterprise(sys_object_id: tuple[int, ...] | None) -> int | None:
    if sys_object_id is None or len(sys_object_id) <= len(t.ENTERPRISES):
        return None
    if sys_object_id[: len(t.ENTERPRISES)] != t.ENTERPRISES:
        return None
    return sys_object_id[len(t.ENTERPRISES)]


def _summarise_entities(
    entities: tuple[PhysicalEntity, ...],
) -> tuple[tuple[str, ...], str | None, str | None, str | None]:
    """Return serial numbers (chassis first), model, manufacturer and firmware from the entities."""
    chassis = [entity for entity in entities if entity.entity_class == CHASSIS_CLASS]
    others = [entity for entity in entities if entity.entity_class != CHASSIS_CLASS]
    serials: list[str] = []
    for entity in [*chassis, *others]:
        if entity.serial and entity.serial not in serials:
            serials.append(entity.serial)
    ordered = [*chassis, *others]
    model = next((entity.model for entity in ordered if entity.model), None)
    manufacturer = next((entity.manufacturer for entity in ordered if entity.manufacturer), None)
    firmware = next(
        (
            entity.software_rev or entity.firmware_rev
            for entity in chassis
            if entity.software_rev or entity.firmware_rev
        ),
        None,
    )
    return tuple(serials), model, manufacturer, firmware


def parse_device_facts(walk: RawWalk) -> DeviceFacts:
    """Build the facts about the device itself from the system group, IF-MIB, ENTITY-MIB and the rest."""
    sys_object_id = oid_of(walk.scalar("system", t.SYS_OBJECT_ID))
    bridge_mac = mac_of(walk.scalar("dot1dBase", (*t.DOT1D_BASE_BRIDGE_ADDRESS, 0)))
    chassis_mac = parse_local_chassis_mac(walk) or bridge_mac
    entities = parse_entities(walk)
    serials, model, manufacturer, firmware = _summarise_entities(entities)
    return DeviceFacts(
        target=walk.target,
        sys_name=text_of(walk.scalar("system", t.SYS_NAME)),
        sys_descr=text_of(walk.scalar("system", t.SYS_DESCR)),
        sys_object_id=sys_object_id,
        enterprise=_enterprise(sys_object_id),
        sys_location=text_of(walk.scalar("system", t.SYS_LOCATION)),
        sys_contact=text_of(walk.scalar("system", t.SYS_CONTACT)),
        sys_uptime_ticks=int_of(walk.scalar("system", t.SYS_UPTIME)),
        chassis_mac=chassis_mac,
        bridge_mac=bridge_mac,
        interfaces=parse_interfaces(walk),
        entities=entities,
        serial_numbers=serials,
        model=model,
        manufacturer=manufacturer,
        firmware=firmware,
        software=parse_software(walk),
        devices=parse_host_devices(walk),
        management_addresses=parse_management_addresses(walk),
    )


def parse_walk(walk: RawWalk) -> ParsedWalk:
    """Run every parser on `walk`."""
    facts = parse_device_facts(walk)
    parsed = ParsedWalk(
        facts=facts,
        lldp=parse_lldp(walk, facts.interfaces),
        cdp=parse_cdp(walk),
        fdb=parse_fdb(walk, facts.interfaces),
        arp=parse_arp(walk),
        table_status={name: str(table.status) for name, table in walk.tables.items()},
        errors=tuple(error.message for error in walk.errors),
    )
    logger.debug(
        "parsed walk of %s: %d interfaces, %d LLDP, %d CDP, %d FDB, %d ARP",
        walk.target,
        len(facts.interfaces),
        len(parsed.lldp),
        len(parsed.cdp),
        len(parsed.fdb),
        len(parsed.arp),
    )
    return parsed
