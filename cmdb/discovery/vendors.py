"""Vendors of discovered devices: from the sysObjectID enterprise number and from a MAC's OUI.

OUI lookups use the IEEE registry that netaddr ships, so nothing is downloaded at run
time. A MAC whose OUI is not registered, or that is locally administered, has no vendor.
Enterprise numbers come from the IANA Private Enterprise Numbers registry; only the
common network and infrastructure vendors are listed, and other numbers give no vendor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache

import netaddr  # type: ignore[import-untyped]  # netaddr 1.3 ships no type information

logger = logging.getLogger(__name__)

# IANA Private Enterprise Numbers (https://www.iana.org/assignments/enterprise-numbers).
ENTERPRISE_VENDORS: dict[int, str] = {
    2: "IBM",
    9: "Cisco",
    11: "HP",
    43: "3Com",
    171: "D-Link",
    311: "Microsoft",
    318: "APC",
    534: "Eaton",
    674: "Dell",
    1916: "Extreme Networks",
    2011: "Huawei",
    2636: "Juniper Networks",
    4526: "Netgear",
    6876: "VMware",
    8072: "Net-SNMP",
    10642: "Zebra Technologies",
    11863: "TP-Link",
    12356: "Fortinet",
    14179: "Cisco (Airespace)",
    14823: "Aruba Networks",
    14988: "MikroTik",
    25461: "Palo Alto Networks",
    30065: "Arista Networks",
    35265: "Eltex",
    41112: "Ubiquiti",
}

DEFAULT_MEDICAL_VENDORS: tuple[str, ...] = (
    "B. Braun",
    "Baxter",
    "Becton",
    "CareFusion",
    "Draeger",
    "Drägerwerk",
    "Edan Instruments",
    "Fresenius",
    "GE Healthcare",
    "GE Medical",
    "Getinge",
    "Hamilton Medical",
    "Hill-Rom",
    "Hospira",
    "ICU Medical",
    "Masimo",
    "Maquet",
    "Medtronic",
    "Mindray",
    "Nihon Kohden",
    "Nonin",
    "Philips Medical",
    "Siemens Healthcare",
    "Siemens Healthineers",
    "Smiths Medical",
    "Spacelabs",
    "Welch Allyn",
    "Zoll Medical",
)
"""Substrings of IEEE OUI organisation names whose unknown endpoints become MedicalDevice CIs."""


def enterprise_vendor(enterprise: int | None) -> str | None:
    """Return the vendor of a sysObjectID enterprise number, or None when it is not listed."""
    if enterprise is None:
        return None
    return ENTERPRISE_VENDORS.get(enterprise)


@lru_cache(maxsize=65_536)
def oui_vendor(mac: str) -> str | None:
    """Return the IEEE organisation that registered the OUI of `mac`, or None.

    A locally administered MAC (bit 1 of the first octet set) has no registered
    OUI, so it returns None even when the same three octets are registered.
    """
    try:
        eui = netaddr.EUI(mac)
    except (netaddr.AddrFormatError, ValueError):
        logger.warning("MAC %s: not a MAC address; no vendor looked up", mac)
        return None
    if int(eui.words[0]) & 0x02:
        return None
    try:
        registration = eui.oui.registration()
    except netaddr.NotRegisteredError:
        return None
    organisation = str(registration.org).strip()
    return organisation or None


def is_medical_vendor(vendor: str | None, medical_vendors: Iterable[str]) -> bool:
    """Return whether `vendor` contains one of `medical_vendors`, ignoring case."""
    if not vendor:
        return False
    folded = vendor.casefold()
    return any(name.casefold() in folded for name in medical_vendors if name.strip())
