"""Typed records that the parsers build from a `RawWalk`.

Records keep what the agent reported, decoded but not interpreted: a sysName
of `<private>` stays `<private>`, because deciding which names identify a
device belongs to identification, not to parsing. MAC addresses are
lower-case colon-separated hex, as `cmdb.model.normalize_mac` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cmdb.discovery.decode import IPAddress
from cmdb.discovery.models import Oid


@dataclass(frozen=True, slots=True)
class Interface:
    """One row of IF-MIB ifTable joined with ifXTable by ifIndex."""

    if_index: int
    name: str | None
    """ifName, the short name such as `gi1/0/6`."""
    descr: str | None
    alias: str | None
    """ifAlias, the name an operator gave the port."""
    if_type: int | None
    """IANAifType number, e.g. 6 for ethernetCsmacd."""
    mac: str | None
    speed_bps: int | None
    """ifHighSpeed x 10^6 when reported, else ifSpeed."""
    admin_status: int | None
    """ifAdminStatus as sent: 1 up, 2 down, 3 testing; other values are kept as they came."""
    oper_status: int | None
    """ifOperStatus as sent: 1 up, 2 down, 3 testing, 4 unknown, 5 dormant, 6 notPresent, 7 lowerLayerDown."""


@dataclass(frozen=True, slots=True)
class PhysicalEntity:
    """One row of ENTITY-MIB entPhysicalTable."""

    index: int
    descr: str | None
    entity_class: int | None
    """PhysicalClass: 3 chassis, 9 module, 10 port, 6 powerSupply, 11 stack, ..."""
    name: str | None
    contained_in: int | None
    hardware_rev: str | None
    firmware_rev: str | None
    software_rev: str | None
    serial: str | None
    manufacturer: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class InstalledSoftware:
    """One row of HOST-RESOURCES-MIB hrSWInstalledTable."""

    index: int
    name: str
    software_type: int | None
    """1 unknown, 2 operatingSystem, 3 deviceDriver, 4 application."""


@dataclass(frozen=True, slots=True)
class HostDevice:
    """One row of HOST-RESOURCES-MIB hrDeviceTable."""

    index: int
    device_type: Oid | None
    """An hrDeviceTypes OID, e.g. 1.3.6.1.2.1.25.3.1.5 for hrDevicePrinter."""
    descr: str | None
    status: int | None
    """1 unknown, 2 running, 3 warning, 4 testing, 5 down."""


@dataclass(frozen=True, slots=True)
class ManagementAddress:
    """An IP address configured on the device itself (IP-MIB ipAddrTable or ipAddressTable)."""

    address: IPAddress
    if_index: int | None
    netmask: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """Facts that one walk reports about the device itself."""

    target: str
    sys_name: str | None
    sys_descr: str | None
    sys_object_id: Oid | None
    enterprise: int | None
    """The private enterprise number in sysObjectID (1.3.6.1.4.1.N...), e.g. 9 for Cisco."""
    sys_location: str | None
    sys_contact: str | None
    sys_uptime_ticks: int | None
    chassis_mac: str | None
    """lldpLocChassisId when its subtype is macAddress, else the bridge address."""
    bridge_mac: str | None
    """BRIDGE-MIB dot1dBaseBridgeAddress."""
    interfaces: tuple[Interface, ...] = ()
    entities: tuple[PhysicalEntity, ...] = ()
    serial_numbers: tuple[str, ...] = ()
    """Serial numbers of chassis entities first, then of the other entities, without repeats."""
    model: str | None = None
    manufacturer: str | None = None
    firmware: str | None = None
    """Software or firmware revision of the first chassis entity that reports one."""
    software: tuple[InstalledSoftware, ...] = ()
    devices: tuple[HostDevice, ...] = ()
    management_addresses: tuple[ManagementAddress, ...] = ()

    def interface(self, if_index: int) -> Interface | None:
        """Return the interface with `if_index`, or None."""
        for candidate in self.interfaces:
            if candidate.if_index == if_index:
                return candidate
        return None


class ChassisIdSubtype(StrEnum):
    """LLDP-MIB LldpChassisIdSubtype."""

    CHASSIS_COMPONENT = "chassisComponent"
    INTERFACE_ALIAS = "interfaceAlias"
    PORT_COMPONENT = "portComponent"
    MAC_ADDRESS = "macAddress"
    NETWORK_ADDRESS = "networkAddress"
    INTERFACE_NAME = "interfaceName"
    LOCAL = "local"
    UNKNOWN = "unknown"


class PortIdSubtype(StrEnum):
    """LLDP-MIB LldpPortIdSubtype."""

    INTERFACE_ALIAS = "interfaceAlias"
    PORT_COMPONENT = "portComponent"
    MAC_ADDRESS = "macAddress"
    NETWORK_ADDRESS = "networkAddress"
    INTERFACE_NAME = "interfaceName"
    AGENT_CIRCUIT_ID = "agentCircuitId"
    LOCAL = "local"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class LldpNeighbour:
    """One remote system in LLDP-MIB lldpRemTable, seen on a local port.

    `chassis_id` and `port_id` are decoded by subtype: a MAC address as
    `aa:bb:cc:dd:ee:ff`, a network address as the IP text, names and local
    identifiers as text, and anything undecodable as lower-case hex.
    """

    local_port_num: int
    local_if_index: int | None
    """The local ifIndex, resolved through lldpLocPortTable and IF-MIB names; None when unresolved."""
    remote_index: int
    time_mark: int
    chassis_id_subtype: ChassisIdSubtype
    chassis_id: str
    port_id_subtype: PortIdSubtype
    port_id: str
    port_descr: str | None
    sys_name: str | None
    sys_descr: str | None
    management_addresses: tuple[IPAddress, ...] = ()


@dataclass(frozen=True, slots=True)
class CdpNeighbour:
    """One row of CISCO-CDP-MIB cdpCacheTable."""

    local_if_index: int
    device_index: int
    device_id: str | None
    address: IPAddress | None
    platform: str | None
    device_port: str | None
    version: str | None
    native_vlan: int | None


class FdbStatus(StrEnum):
    """BRIDGE-MIB dot1dTpFdbStatus / Q-BRIDGE-MIB dot1qTpFdbStatus."""

    OTHER = "other"
    INVALID = "invalid"
    LEARNED = "learned"
    SELF = "self"
    MGMT = "mgmt"
    UNKNOWN = "unknown"


class PortResolution(StrEnum):
    """Method by which a forwarding entry's bridge port was mapped to an ifIndex."""

    BASE_PORT_TABLE = "base_port_table"
    """dot1dBasePortIfIndex has a row for the bridge port."""
    PORT_IS_IF_INDEX = "port_is_if_index"
    """No dot1dBasePortIfIndex row, but the port number is itself an ifIndex."""
    INTERFACE_NAME = "interface_name"
    """No row and no such ifIndex; one bridge-port interface's name ends in `/PORT`."""
    UNRESOLVED = "unresolved"


@dataclass(frozen=True, slots=True)
class FdbEntry:
    """A MAC address learned on a bridge port (BRIDGE-MIB or Q-BRIDGE-MIB forwarding table)."""

    mac: str
    vlan: int | None
    """VLAN ID; None for BRIDGE-MIB entries, which carry none."""
    bridge_port: int
    if_index: int | None
    resolution: PortResolution
    status: FdbStatus
    source: str
    """The table the entry came from: dot1qTpFdbTable or dot1dTpFdbTable."""


@dataclass(frozen=True, slots=True)
class ArpEntry:
    """An IP to MAC binding from the IP-MIB neighbour tables."""

    if_index: int
    ip: IPAddress
    mac: str
    entry_type: int | None
    """1 other, 2 invalid, 3 dynamic, 4 static (5 local in ipNetToPhysicalTable)."""
    source: str
    """ipNetToPhysicalTable or ipNetToMediaTable."""


@dataclass(frozen=True, slots=True)
class ParsedWalk:
    """Everything the parsers build from one walk, with the walk's table statuses and errors."""

    facts: DeviceFacts
    lldp: tuple[LldpNeighbour, ...] = ()
    cdp: tuple[CdpNeighbour, ...] = ()
    fdb: tuple[FdbEntry, ...] = ()
    arp: tuple[ArpEntry, ...] = ()
    table_status: dict[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
