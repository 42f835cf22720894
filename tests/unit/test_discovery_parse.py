"""Parsers on the recorded walks in tests/data/snmp, with exact values read from the files."""

from __future__ import annotations

import ipaddress
from functools import cache
from pathlib import Path

import pytest

from cmdb.discovery import load_snmprec, parse_walk
from cmdb.discovery.records import ChassisIdSubtype, ParsedWalk, PortIdSubtype, PortResolution

SNMP_DIR = Path(__file__).parents[1] / "data" / "snmp"
SW22 = "eltex-mes23xx_mes2324b"
SW39 = "eltex-mes24xx_mes2424bac"
SW31 = "jetstream_sg2218p"
PRINTER_MAC = "14:cb:19:95:2e:a0"


@cache
def parsed(name: str) -> ParsedWalk:
    return parse_walk(load_snmprec(SNMP_DIR / f"{name}.snmprec"))


def test_sw22_bridge_and_chassis_mac() -> None:
    facts = parsed(SW22).facts
    assert facts.bridge_mac == "e8:28:c1:26:b9:c0"
    assert facts.chassis_mac == "e8:28:c1:26:b9:c0"
    assert facts.enterprise == 35265
    assert facts.model == "MES2324B"
    assert facts.serial_numbers == ("ES32012706",)


def test_sw22_lldp_neighbour_sw39() -> None:
    [neighbour] = [n for n in parsed(SW22).lldp if n.local_if_index == 107]
    assert neighbour.local_port_num == 107
    assert neighbour.chassis_id_subtype is ChassisIdSubtype.MAC_ADDRESS
    assert neighbour.chassis_id == "e4:5a:d4:d8:c4:c0"
    assert neighbour.port_id_subtype is PortIdSubtype.INTERFACE_NAME
    assert neighbour.port_id == "te 0/4"
    assert neighbour.sys_name == "sw39.soada"
    assert neighbour.management_addresses == (ipaddress.ip_address("169.254.2.39"),)


def test_sw39_names_port_28_and_sees_sw22() -> None:
    sw39 = parsed(SW39)
    assert sw39.facts.chassis_mac == "e4:5a:d4:d8:c4:c0"
    port = sw39.facts.interface(28)
    assert port is not None
    assert port.name == "te 0/4"
    [neighbour] = [n for n in sw39.lldp if n.local_if_index == 28]
    assert neighbour.chassis_id == "e8:28:c1:26:b9:c0"
    assert neighbour.port_id == "te1/0/3"


def test_sw22_lldp_neighbour_sw31() -> None:
    neighbours = [n for n in parsed(SW22).lldp if n.local_if_index == 54]
    sw31 = [n for n in neighbours if n.chassis_id == "30:de:4b:f5:f7:e2"]
    assert len(sw31) == 1
    assert sw31[0].port_id == "gigabitEthernet 1/0/18"
    assert sw31[0].sys_name == "sw31.soada"
    sw31_port = parsed(SW31).facts.interface(49170)
    assert sw31_port is not None
    assert sw31_port.name == "gigabitEthernet 1/0/18"


def test_sw22_local_port_names() -> None:
    facts = parsed(SW22).facts
    assert facts.interface(54) is not None
    assert facts.interface(54).name == "gi1/0/6"  # type: ignore[union-attr]
    assert facts.interface(107).name == "te1/0/3"  # type: ignore[union-attr]


def test_sw22_lldp_count_and_nul_padding() -> None:
    lldp = parsed(SW22).lldp
    assert len(lldp) == 32
    # lldpRemSysName 0.54.344 is "soada-sw26", NUL padding and a hex dump after it.
    [sw26] = [n for n in lldp if (n.local_port_num, n.remote_index) == (54, 344)]
    assert sw26.sys_name == "soada-sw26"
    assert sw26.management_addresses == (ipaddress.ip_address("169.254.2.26"),)


def test_sw22_same_chassis_twice_on_port() -> None:
    on_port_49 = [n for n in parsed(SW22).lldp if n.local_port_num == 49]
    assert {n.chassis_id for n in on_port_49} == {"74:da:88:68:2a:d7"}
    assert {n.sys_name for n in on_port_49} == {"sw35.soada", "soada-sw35"}


def test_sw39_lldp_time_marks_non_zero() -> None:
    marks = {(n.local_port_num, n.time_mark) for n in parsed(SW39).lldp}
    assert marks == {(23, 188334800), (24, 255308300), (28, 106376500)}


def test_procurve_lldp_subtypes() -> None:
    lldp = parsed("procurve").lldp
    [phone] = [n for n in lldp if n.local_port_num == 44]
    assert phone.chassis_id_subtype is ChassisIdSubtype.NETWORK_ADDRESS
    assert phone.chassis_id == "10.56.32.113"
    assert phone.port_id_subtype is PortIdSubtype.MAC_ADDRESS
    assert phone.port_id == "00:04:f2:c6:70:78"
    assert phone.sys_name == "Polycom SoundPoint IP 335"
    # 0.0.0.0 is dropped from the management addresses.
    assert phone.management_addresses == (ipaddress.ip_address("10.1.1.1"),)


def test_sw31_fdb_port_18_is_if_index_49170() -> None:
    fdb = parsed(SW31).fdb
    port_18 = [entry for entry in fdb if entry.bridge_port == 18]
    assert len(port_18) == 50
    assert {entry.if_index for entry in port_18} == {49170}
    assert {entry.resolution for entry in port_18} == {PortResolution.INTERFACE_NAME}
    # Port 1 must map to gigabitEthernet 1/0/1, not to ifIndex 1 (Vlan-interface1).
    assert {entry.if_index for entry in fdb if entry.bridge_port == 1} == {49153}


def test_sw31_learns_sw22_macs_on_port_18() -> None:
    sw22_bridge = "e8:28:c1:26:b9:c6"
    entries = [entry for entry in parsed(SW31).fdb if entry.mac == sw22_bridge]
    assert [(entry.bridge_port, entry.if_index, entry.vlan) for entry in entries] == [(18, 49170, 1)]


def test_printer_mac_only_on_uplinks() -> None:
    seen = {
        name: {(entry.if_index, entry.vlan) for entry in parsed(name).fdb if entry.mac == PRINTER_MAC}
        for name in (SW22, SW39, SW31)
    }
    assert seen == {SW22: {(1000, 100)}, SW39: {(28, 100)}, SW31: {(49170, 100)}}
    uplink = parsed(SW22).facts.interface(1000)
    assert uplink is not None
    assert uplink.name == "Po1"
    assert parsed("jetdirect_m130nw").facts.interfaces[1].mac == PRINTER_MAC


def test_sw22_fdb_count() -> None:
    fdb = parsed(SW22).fdb
    assert len(fdb) == 235
    assert {entry.source for entry in fdb} == {"dot1qTpFdbTable"}


def test_ios_bridge_fdb_has_no_vlan() -> None:
    fdb = parsed("ios_2960x").fdb
    assert len(fdb) == 29
    assert {entry.vlan for entry in fdb} == {None}
    assert fdb[0].mac == "04:62:73:20:de:14"
    assert fdb[0].if_index == 5001


def test_private_sys_name_in_eleven_walks() -> None:
    names = {path.stem: parsed(path.stem).facts.sys_name for path in SNMP_DIR.glob("*.snmprec")}
    private = sorted(name for name, sys_name in names.items() if sys_name == "<private>")
    assert len(private) == 11
    assert names["winxp-full-walk"] == "CRAY"
    assert names["zebra"] == "6NM1PAS_AB07"


def test_winxp_software_cp1252() -> None:
    software = {item.index: item.name for item in parsed("winxp-full-walk").facts.software}
    assert len(software) == 160
    assert software[91] == "µTorrent"
    assert software[1] == "Windows Driver Package - Nokia pccsmcfd “LegacyDriver”  (05/31/2"
    # Index 132 holds Windows-1251 bytes; Windows-1252 decoding keeps it readable, if not Cyrillic.
    assert software[132].startswith("Microsoft Office - ")


def test_linux_powermon_714_packages() -> None:
    software = parsed("linux_powermon").facts.software
    assert len(software) == 714
    assert software[0].name == "popt-1.18-1.el8"
    assert software[-1].name == "shadow-utils-4.6-12.el8"


def test_ios_serials_and_cdp() -> None:
    ios = parsed("ios_2960x")
    assert ios.facts.serial_numbers[:3] == ("FCW1929B68S", "FCW1931A06Z", "FCW1929B6BP")
    assert ios.facts.model == "WS-C2960X-48FPS-L"
    assert ios.facts.firmware == "15.0(2a)EX5"
    assert ios.facts.enterprise == 9
    assert len(ios.cdp) == 7
    [core] = [n for n in ios.cdp if n.local_if_index == 10152]
    assert core.device_id == "acme-fr-s-001"
    assert core.address == ipaddress.ip_address("10.54.64.5")
    assert core.platform == "cisco WS-C3850-12S"
    assert core.device_port == "GigabitEthernet1/0/3"


def test_ios_sys_descr_keeps_newlines() -> None:
    descr = parsed("ios_2960x").facts.sys_descr
    assert descr is not None
    assert descr.startswith("Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.0(2a)EX5")
    assert "\nTechnical Support: http://www.cisco.com/techsupport\r\n" in descr


def test_procurve_private_serial_kept() -> None:
    facts = parsed("procurve").facts
    assert facts.serial_numbers == ("<private>",)
    assert facts.model == "JL074A"


def test_zebra_hex_encoded_strings() -> None:
    facts = parsed("zebra").facts
    assert facts.sys_descr == "ZebraNet Wired PS"
    assert facts.enterprise == 683
    printer = facts.devices[0]
    assert printer.device_type == (1, 3, 6, 1, 2, 1, 25, 3, 1, 5)
    assert printer.status == 2


def test_ascom_odd_index_and_admin_status() -> None:
    facts = parsed("ascom_ipbs3").facts
    [address] = facts.management_addresses
    assert address.address == ipaddress.ip_address("10.253.1.36")
    assert address.if_index == 1
    assert address.netmask == "255.255.255.0"
    [interface] = facts.interfaces
    assert interface.admin_status == 0
    assert interface.oper_status == 1
    assert interface.mac == "00:01:3e:6c:ea:80"


def test_windows_hex_dump_descr_and_empty_mac() -> None:
    interfaces = parsed("windows_svr_2019_1809").facts.interfaces
    assert interfaces[0].descr == "Software Loopback Interface 1"
    assert interfaces[1].descr == "Microsoft 6to4 Adapter"
    with_mac = {interface.if_index for interface in interfaces if interface.mac is not None}
    assert with_mac == {13, 16, 17, 18}
    assert len(interfaces) == 24


def test_windows_arp_drops_group_macs() -> None:
    arp = parsed("windows_svr_2019_1809").arp
    assert [(entry.if_index, str(entry.ip), entry.mac) for entry in arp] == [
        (13, "10.0.0.1", "12:02:00:00:01:02")
    ]


def test_procurve_arp_repeated_oids_keep_first() -> None:
    arp = parsed("procurve").arp
    assert [(str(entry.ip), entry.mac) for entry in arp] == [("10.1.1.1", "12:02:00:00:01:02")]


def test_sw22_arp_ipv6_and_ipv4() -> None:
    arp = {(str(entry.ip), entry.mac, entry.source) for entry in parsed(SW22).arp}
    assert ("fdfd:0:2:255::1", "02:64:32:9f:bc:02", "ipNetToPhysicalTable") in arp
    assert ("169.254.2.1", "02:64:32:9f:bc:02", "ipNetToMediaTable") in arp
    assert len(arp) == 5


@pytest.mark.parametrize("path", sorted(SNMP_DIR.glob("*.snmprec")), ids=lambda path: path.stem)
def test_every_walk_parses_complete(path: Path) -> None:
    walk = load_snmprec(path)
    result = parse_walk(walk)
    assert set(result.table_status.values()) == {"complete"}
    assert result.facts.sys_object_id is not None
