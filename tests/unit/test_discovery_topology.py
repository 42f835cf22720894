"""Topology and identification on the recorded walks, without a network or a store."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import pytest

from cmdb.discovery import load_snmprec, parse_walk
from cmdb.discovery.identify import classify, identify_device, identify_endpoint
from cmdb.discovery.topology import Attachment, Device, PortRef, Topology, build_topology
from cmdb.discovery.vendors import enterprise_vendor, is_medical_vendor, oui_vendor

SNMP_DIR = Path(__file__).parents[1] / "data" / "snmp"
SW22 = "eltex-mes23xx_mes2324b"
SW39 = "eltex-mes24xx_mes2424bac"
SW31 = "jetstream_sg2218p"
PRINTER_MAC = "14:cb:19:95:2e:a0"


@cache
def devices() -> tuple[Device, ...]:
    """Every recorded walk as a device named by its file stem, at 127.0.1.N in file order."""
    logging.disable(logging.WARNING)
    try:
        paths = sorted(SNMP_DIR.glob("*.snmprec"))
        return tuple(
            Device(path.stem, f"127.0.1.{number}", parse_walk(load_snmprec(path)))
            for number, path in enumerate(paths, 1)
        )
    finally:
        logging.disable(logging.NOTSET)


@cache
def topology(max_macs_per_port: int = 8) -> Topology:
    return build_topology(devices(), max_macs_per_port=max_macs_per_port)


def device(name: str) -> Device:
    return next(candidate for candidate in devices() if candidate.target == name)


def link_ends(result: Topology) -> set[tuple[str, int | None, str, int | None]]:
    return {
        (link.source.device, link.source.if_index, link.target.device, link.target.if_index)
        for link in result.links
    }


def test_links_between_known_switches() -> None:
    assert link_ends(topology()) == {(SW39, 28, SW22, 107), (SW31, 49170, SW22, 54)}


def test_link_reported_twice_is_one() -> None:
    links = [link for link in topology().links if {link.source.device, link.target.device} == {SW22, SW39}]
    assert len(links) == 1
    assert links[0].source == PortRef(SW39, 28, "te 0/4")
    assert links[0].target == PortRef(SW22, 107, "te1/0/3")


def test_link_to_switch_without_lldp() -> None:
    [link] = [link for link in topology().links if SW31 in (link.source.device, link.target.device)]
    assert link.source == PortRef(SW31, 49170, "gigabitEthernet 1/0/18")
    assert link.target == PortRef(SW22, 54, "gi1/0/6")
    assert link.protocols == ("lldp",)


def test_neighbour_with_foreign_chassis_mac_unmatched() -> None:
    # sw22 port 53 names "soada-sw39" at sw39's address, but with another chassis MAC.
    unmatched = [n for n in topology().neighbours if n.device == SW22 and n.if_index == 53]
    assert {n.remote_chassis_id for n in unmatched} == {"98:da:c4:73:3a:5e", "b0:4e:26:7c:45:cf"}


def test_printer_on_uplinks_only_unattached() -> None:
    [printer] = [entry for entry in topology().unattached if entry.mac == PRINTER_MAC]
    assert printer.device == "jetdirect_m130nw"
    assert {(port.device, port.if_index) for port in printer.seen_on} == {
        (SW22, 1000),
        (SW39, 28),
        (SW31, 49170),
    }
    assert PRINTER_MAC not in {attachment.mac for attachment in topology().attachments}


def test_attachments_avoid_link_ports() -> None:
    link_ports = {
        (port.device, port.if_index) for link in topology().links for port in (link.source, link.target)
    }
    attached = topology().attachments
    assert attached
    assert not {(a.port.device, a.port.if_index) for a in attached} & link_ports


def test_each_mac_attached_once() -> None:
    macs = [attachment.mac for attachment in topology().attachments]
    assert len(macs) == len(set(macs))


def test_attached_endpoint_port_and_vlan() -> None:
    [server] = [a for a in topology().attachments if a.mac == "00:30:67:a8:2f:c4"]
    assert server.port == PortRef(SW22, 65, "gi1/0/17")
    assert server.vlan == 1


def test_mac_limit_is_configurable() -> None:
    # With room for 60 MACs, sw22's port channel Po1 (57 MACs) counts as an access port.
    [printer] = [a for a in topology(60).attachments if a.mac == PRINTER_MAC]
    assert printer.port == PortRef(SW22, 1000, "Po1")
    assert printer.device == "jetdirect_m130nw"


def test_cdp_neighbours_outside_the_set_kept() -> None:
    cdp = [n for n in topology().neighbours if n.device == "ios_2960x"]
    assert len(cdp) == 7
    assert {n.protocol for n in cdp} == {"cdp"}
    assert {n.remote_name for n in cdp} >= {"acme-fr-ap-011", "acme-fr-s-001"}


def test_private_sysnames_stay_separate() -> None:
    private = [d for d in devices() if d.walk.facts.sys_name == "<private>"]
    assert len(private) == 11
    identified = [identify_device(d, topology()) for d in private]
    assert len({item.key for item in identified}) == 11
    for item in identified:
        assert item.identifiers.hostname is None
        assert all(identity.kind != "hostname_ip" for identity in item.identities)


def test_serials_from_entity_mib_first() -> None:
    item = identify_device(device("ios_2960x"), topology())
    assert item.identities[0].kind == "serial"
    assert item.identities[0].value == "FCW1929B68S"
    assert item.identifiers.serial == "FCW1929B68S"
    assert item.attributes["serial_numbers"][:3] == ["FCW1929B68S", "FCW1931A06Z", "FCW1929B6BP"]
    assert len(item.attributes["neighbours"]) == 7


def test_placeholder_serial_not_an_identity() -> None:
    item = identify_device(device("procurve"), topology())
    assert item.identifiers.serial is None
    assert "serial_numbers" not in item.attributes
    assert item.identities[0].kind in ("chassis_mac", "mac")


def test_windows_xp_software_names_readable() -> None:
    item = identify_device(device("winxp-full-walk"), topology())
    software = item.attributes["installed_software"]
    assert len(software) == 160
    assert "7-Zip 9.20" in software
    assert any("\u201cLegacyDriver\u201d" in name for name in software)
    assert not any("\ufffd" in name for name in software)


def test_rhel_packages_one_attribute() -> None:
    item = identify_device(device("linux_powermon"), topology())
    assert item.ci_class == "Server"
    assert len(item.attributes["installed_software"]) == 714


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (SW22, "NetworkDevice"),
        ("ios_2960x", "NetworkDevice"),
        ("ciscowlc_cbw240ac", "NetworkDevice"),
        ("windows_svr_2019_1809", "Server"),
        ("winxp-full-walk", "Workstation"),
        ("linux_powermon", "Server"),
        ("eatonupsm2_9px+empg2", "UPS"),
        ("jetdirect_m130nw", "Printer"),
        ("zebra", "Printer"),
    ],
)
def test_classify_walks(name: str, expected: str) -> None:
    walked = device(name)
    assert classify(walked.walk.facts, is_bridge=walked.is_bridge) == expected


def test_vendor_from_enterprise_and_oui() -> None:
    assert enterprise_vendor(9) == "Cisco"
    assert enterprise_vendor(99999) is None
    assert oui_vendor(PRINTER_MAC) == "HP Inc."
    # Locally administered: bit 1 of the first octet is set, so no registry entry applies.
    assert oui_vendor("86:5f:67:d4:c6:bc") is None
    assert identify_device(device(SW22), topology()).attributes["vendor"] == "Eltex"


def test_medical_vendor_endpoint_is_medical_device() -> None:
    attachment = Attachment(mac="b8:a4:4f:b9:3d:1a", port=PortRef("procurve", 27, "27"), vlan=None, ips=())
    assert is_medical_vendor("Axis Communications AB", ["axis communications"])
    medical = identify_endpoint(attachment, ["Axis Communications"])
    assert medical.ci_class == "MedicalDevice"
    assert medical.attributes["manufacturer"] == "Axis Communications AB"
    other = identify_endpoint(attachment, ["Philips Medical"])
    assert other.ci_class == "NetworkEndpoint"
    assert other.attributes["vendor"] == "Axis Communications AB"
    assert other.attributes["learned_on"] == "procurve"
