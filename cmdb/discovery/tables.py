"""The MIB objects discovery walks, grouped into named tables.

Each table is walked one subtree at a time, and a subtree is one column (or a
scalar group) so that counters and other unused columns never cross the wire.
Column numbers come from the MIB modules named beside each table.
"""

from __future__ import annotations

from dataclasses import dataclass

from cmdb.discovery.models import Oid


def oid(dotted: str) -> Oid:
    """Return the dotted OID text `dotted` as a tuple of integers."""
    return tuple(int(arc) for arc in dotted.strip(".").split("."))


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A named table and the subtrees its walk covers."""

    name: str
    subtrees: tuple[Oid, ...]
    description: str


def _columns(entry: str, *numbers: int) -> tuple[Oid, ...]:
    base = oid(entry)
    return tuple((*base, number) for number in numbers)


# SNMPv2-MIB system group
SYSTEM = oid("1.3.6.1.2.1.1")
SYS_DESCR = (*SYSTEM, 1, 0)
SYS_OBJECT_ID = (*SYSTEM, 2, 0)
SYS_UPTIME = (*SYSTEM, 3, 0)
SYS_CONTACT = (*SYSTEM, 4, 0)
SYS_NAME = (*SYSTEM, 5, 0)
SYS_LOCATION = (*SYSTEM, 6, 0)
ENTERPRISES = oid("1.3.6.1.4.1")

# IF-MIB ifTable and ifXTable
IF_ENTRY = oid("1.3.6.1.2.1.2.2.1")
IF_TABLE_COLUMNS = _columns("1.3.6.1.2.1.2.2.1", 2, 3, 5, 6, 7, 8)
IF_DESCR, IF_TYPE, IF_SPEED, IF_PHYS_ADDRESS, IF_ADMIN_STATUS, IF_OPER_STATUS = IF_TABLE_COLUMNS
IFX_ENTRY = oid("1.3.6.1.2.1.31.1.1.1")
IFX_TABLE_COLUMNS = _columns("1.3.6.1.2.1.31.1.1.1", 1, 15, 18)
IF_NAME, IF_HIGH_SPEED, IF_ALIAS = IFX_TABLE_COLUMNS

# ENTITY-MIB entPhysicalTable
ENT_PHYSICAL_ENTRY = "1.3.6.1.2.1.47.1.1.1.1"
ENT_PHYSICAL_TABLE_COLUMNS = _columns(ENT_PHYSICAL_ENTRY, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13)
(
    ENT_DESCR,
    ENT_VENDOR_TYPE,
    ENT_CONTAINED_IN,
    ENT_CLASS,
    ENT_NAME,
    ENT_HARDWARE_REV,
    ENT_FIRMWARE_REV,
    ENT_SOFTWARE_REV,
    ENT_SERIAL_NUM,
    ENT_MFG_NAME,
    ENT_MODEL_NAME,
) = ENT_PHYSICAL_TABLE_COLUMNS

# HOST-RESOURCES-MIB hrSWInstalledTable and hrDeviceTable
HR_SW_INSTALLED_TABLE_COLUMNS = _columns("1.3.6.1.2.1.25.6.3.1", 2, 4, 5)
HR_SW_INSTALLED_NAME, HR_SW_INSTALLED_TYPE, HR_SW_INSTALLED_DATE = HR_SW_INSTALLED_TABLE_COLUMNS
HR_DEVICE_TABLE_COLUMNS = _columns("1.3.6.1.2.1.25.3.2.1", 2, 3, 5)
HR_DEVICE_TYPE, HR_DEVICE_DESCR, HR_DEVICE_STATUS = HR_DEVICE_TABLE_COLUMNS

# LLDP-MIB (IEEE 802.1AB-2005)
LLDP_LOC_CHASSIS_ID_SUBTYPE = oid("1.0.8802.1.1.2.1.3.1")
LLDP_LOC_CHASSIS_ID = oid("1.0.8802.1.1.2.1.3.2")
LLDP_LOC_SYS_NAME = oid("1.0.8802.1.1.2.1.3.3")
LLDP_LOC_PORT_TABLE_COLUMNS = _columns("1.0.8802.1.1.2.1.3.7.1", 2, 3, 4)
LLDP_LOC_PORT_ID_SUBTYPE, LLDP_LOC_PORT_ID, LLDP_LOC_PORT_DESC = LLDP_LOC_PORT_TABLE_COLUMNS
LLDP_REM_TABLE_COLUMNS = _columns("1.0.8802.1.1.2.1.4.1.1", 4, 5, 6, 7, 8, 9, 10, 12)
(
    LLDP_REM_CHASSIS_ID_SUBTYPE,
    LLDP_REM_CHASSIS_ID,
    LLDP_REM_PORT_ID_SUBTYPE,
    LLDP_REM_PORT_ID,
    LLDP_REM_PORT_DESC,
    LLDP_REM_SYS_NAME,
    LLDP_REM_SYS_DESC,
    LLDP_REM_SYS_CAP_ENABLED,
) = LLDP_REM_TABLE_COLUMNS
LLDP_REM_MAN_ADDR_IF_SUBTYPE = oid("1.0.8802.1.1.2.1.4.2.1.3")

# CISCO-CDP-MIB cdpCacheTable
CDP_CACHE_TABLE_COLUMNS = _columns("1.3.6.1.4.1.9.9.23.1.2.1.1", 3, 4, 5, 6, 7, 8, 11)
(
    CDP_CACHE_ADDRESS_TYPE,
    CDP_CACHE_ADDRESS,
    CDP_CACHE_VERSION,
    CDP_CACHE_DEVICE_ID,
    CDP_CACHE_DEVICE_PORT,
    CDP_CACHE_PLATFORM,
    CDP_CACHE_NATIVE_VLAN,
) = CDP_CACHE_TABLE_COLUMNS

# BRIDGE-MIB and Q-BRIDGE-MIB
DOT1D_BASE_BRIDGE_ADDRESS = oid("1.3.6.1.2.1.17.1.1")
DOT1D_BASE_PORT_IF_INDEX = oid("1.3.6.1.2.1.17.1.4.1.2")
DOT1D_TP_FDB_TABLE_COLUMNS = _columns("1.3.6.1.2.1.17.4.3.1", 1, 2, 3)
DOT1D_TP_FDB_ADDRESS, DOT1D_TP_FDB_PORT, DOT1D_TP_FDB_STATUS = DOT1D_TP_FDB_TABLE_COLUMNS
DOT1Q_TP_FDB_TABLE_COLUMNS = _columns("1.3.6.1.2.1.17.7.1.2.2.1", 2, 3)
DOT1Q_TP_FDB_PORT, DOT1Q_TP_FDB_STATUS = DOT1Q_TP_FDB_TABLE_COLUMNS
DOT1Q_VLAN_FDB_ID = oid("1.3.6.1.2.1.17.7.1.4.2.1.3")

# IP-MIB: neighbour (ARP) tables and the device's own addresses
IP_NET_TO_PHYSICAL_TABLE_COLUMNS = _columns("1.3.6.1.2.1.4.35.1", 4, 6)
IP_NET_TO_PHYSICAL_PHYS_ADDRESS, IP_NET_TO_PHYSICAL_TYPE = IP_NET_TO_PHYSICAL_TABLE_COLUMNS
IP_NET_TO_MEDIA_TABLE_COLUMNS = _columns("1.3.6.1.2.1.4.22.1", 2, 4)
IP_NET_TO_MEDIA_PHYS_ADDRESS, IP_NET_TO_MEDIA_TYPE = IP_NET_TO_MEDIA_TABLE_COLUMNS
IP_ADDR_TABLE_COLUMNS = _columns("1.3.6.1.2.1.4.20.1", 1, 2, 3)
IP_AD_ENT_ADDR, IP_AD_ENT_IF_INDEX, IP_AD_ENT_NET_MASK = IP_ADDR_TABLE_COLUMNS
IP_ADDRESS_IF_INDEX = oid("1.3.6.1.2.1.4.34.1.3")

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("system", (SYSTEM,), "SNMPv2-MIB system group"),
        TableSpec("ifTable", IF_TABLE_COLUMNS, "IF-MIB interfaces"),
        TableSpec("ifXTable", IFX_TABLE_COLUMNS, "IF-MIB interface names and speeds"),
        TableSpec(
            "entPhysicalTable",
            ENT_PHYSICAL_TABLE_COLUMNS,
            "ENTITY-MIB physical entities (chassis, modules, serials)",
        ),
        TableSpec(
            "hrSWInstalledTable", HR_SW_INSTALLED_TABLE_COLUMNS, "HOST-RESOURCES-MIB installed software"
        ),
        TableSpec("hrDeviceTable", HR_DEVICE_TABLE_COLUMNS, "HOST-RESOURCES-MIB devices"),
        TableSpec(
            "lldpLocal",
            (LLDP_LOC_CHASSIS_ID_SUBTYPE, LLDP_LOC_CHASSIS_ID, LLDP_LOC_SYS_NAME),
            "LLDP-MIB local chassis",
        ),
        TableSpec("lldpLocPortTable", LLDP_LOC_PORT_TABLE_COLUMNS, "LLDP-MIB local ports"),
        TableSpec("lldpRemTable", LLDP_REM_TABLE_COLUMNS, "LLDP-MIB remote systems"),
        TableSpec(
            "lldpRemManAddrTable", (LLDP_REM_MAN_ADDR_IF_SUBTYPE,), "LLDP-MIB remote management addresses"
        ),
        TableSpec("cdpCacheTable", CDP_CACHE_TABLE_COLUMNS, "CISCO-CDP-MIB neighbour cache"),
        TableSpec(
            "dot1dBase",
            (DOT1D_BASE_BRIDGE_ADDRESS, DOT1D_BASE_PORT_IF_INDEX),
            "BRIDGE-MIB bridge address and bridge port to ifIndex",
        ),
        TableSpec("dot1dTpFdbTable", DOT1D_TP_FDB_TABLE_COLUMNS, "BRIDGE-MIB forwarding table (one VLAN)"),
        TableSpec(
            "dot1qTpFdbTable",
            DOT1Q_TP_FDB_TABLE_COLUMNS,
            "Q-BRIDGE-MIB forwarding table per filtering database",
        ),
        TableSpec("dot1qVlanCurrentTable", (DOT1Q_VLAN_FDB_ID,), "Q-BRIDGE-MIB VLAN to filtering database"),
        TableSpec(
            "ipNetToPhysicalTable",
            IP_NET_TO_PHYSICAL_TABLE_COLUMNS,
            "IP-MIB neighbour table (IPv4 and IPv6)",
        ),
        TableSpec(
            "ipNetToMediaTable",
            IP_NET_TO_MEDIA_TABLE_COLUMNS,
            "IP-MIB ARP table (IPv4, deprecated but widely served)",
        ),
        TableSpec("ipAddrTable", IP_ADDR_TABLE_COLUMNS, "IP-MIB IPv4 addresses of the device"),
        TableSpec("ipAddressTable", (IP_ADDRESS_IF_INDEX,), "IP-MIB addresses of the device (IPv4 and IPv6)"),
    )
}


def table_for(oid_value: Oid) -> str | None:
    """Return the name of the table whose subtree contains `oid_value`, or None."""
    for spec in TABLES.values():
        for subtree in spec.subtrees:
            if oid_value[: len(subtree)] == subtree:
                return spec.name
    return None
