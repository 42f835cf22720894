"""Decoding of raw SNMP values: text, MAC addresses, IP addresses and OID-encoded indexes.

Agents send DisplayString and SnmpAdminString as bytes in whatever encoding
the device uses, so text is decoded here from the raw octets and never with
pysnmp's `prettyPrint()`, which turns any string holding a non-printable byte
(a newline in a Cisco sysDescr, say) into `0x…` hex.
"""

from __future__ import annotations

import ipaddress
import re

from cmdb.discovery.models import Integer, IpAddress, ObjectId, Octets, Oid, SnmpValue

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# One line of an snmpwalk-style hex dump: at least two pairs of hex digits, each followed by a space.
_HEX_DUMP_LINE = re.compile(rb"^(?:[0-9A-Fa-f]{2} ){2,}$")


def decode_text(raw: bytes) -> str:
    """Decode a DisplayString: UTF-8, else Windows-1252, cut at the first NUL, trimmed.

    Windows-1252 is the fallback because Windows agents send installed
    software names in the system code page. Bytes that Windows-1252 leaves
    undefined become U+FFFD, so decoding never fails.

    Some recordings hold a string whose first line is text and whose further
    lines are a hex dump of the remaining bytes ("Software Loopbac" then
    "6B 20 49 ..."). When every further line is such a dump, the bytes are
    joined back before decoding.
    """
    lines = raw.split(b"\n")
    dump = [line.rstrip(b"\r") for line in lines[1:] if line.strip()]
    if dump and all(_HEX_DUMP_LINE.match(line) for line in dump):
        tail = b"".join(bytes.fromhex(line.decode("ascii")) for line in dump)
        raw = lines[0] + tail
    raw = raw.split(b"\x00", 1)[0]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return text.strip()


def text_of(value: SnmpValue | None) -> str | None:
    """Return the decoded text of an OCTET STRING value; None for any other value or an empty string."""
    if not isinstance(value, Octets):
        return None
    text = decode_text(value.value)
    return text or None


def int_of(value: SnmpValue | None) -> int | None:
    """Return the integer of an integer value of any syntax, else None."""
    if isinstance(value, Integer):
        return value.value
    return None


def oid_of(value: SnmpValue | None) -> Oid | None:
    """Return the OID of an OBJECT IDENTIFIER value, else None."""
    if isinstance(value, ObjectId):
        return value.value
    return None


def format_mac(raw: bytes) -> str | None:
    """Return six octets as a lower-case colon-separated MAC address, else None."""
    if len(raw) != 6:
        return None
    return ":".join(f"{octet:02x}" for octet in raw)


def mac_of(value: SnmpValue | None) -> str | None:
    """Return the MAC address in a six-octet OCTET STRING value, else None.

    An all-zero address means "none" in IF-MIB and BRIDGE-MIB, so it is None too.
    """
    if not isinstance(value, Octets):
        return None
    mac = format_mac(value.value)
    if mac is None or mac == "00:00:00:00:00:00":
        return None
    return mac


def ip_of(value: SnmpValue | None) -> ipaddress.IPv4Address | None:
    """Return the address of an IpAddress value, else None."""
    if isinstance(value, IpAddress):
        return value.address
    return None


def ip_from_octets(raw: bytes) -> IPAddress | None:
    """Return a 4-octet IPv4 or 16-octet IPv6 address, else None (zone-scoped forms included)."""
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw)
    if len(raw) == 16:
        return ipaddress.IPv6Address(raw)
    return None


def octets_from_index(arcs: Oid) -> bytes | None:
    """Return index sub-identifiers as bytes, or None when one is outside 0..255."""
    if any(arc < 0 or arc > 255 for arc in arcs):
        return None
    return bytes(arcs)


def split_length_prefixed(arcs: Oid) -> tuple[bytes, Oid] | None:
    """Split an OID index that starts with a length-prefixed OCTET STRING.

    Returns the string and the remaining sub-identifiers, or None when the
    index is shorter than its length prefix says or holds a non-octet value.
    """
    if not arcs:
        return None
    length = arcs[0]
    if len(arcs) < 1 + length:
        return None
    octets = octets_from_index(arcs[1 : 1 + length])
    if octets is None:
        return None
    return octets, arcs[1 + length :]


def inet_address(address_type: int, raw: bytes) -> IPAddress | None:
    """Decode an InetAddress by its InetAddressType (1 ipv4, 2 ipv6, 3 ipv4z, 4 ipv6z), else None.

    The zone-scoped types carry a four-octet zone index after the address; it is dropped.
    """
    if address_type in (1, 3):
        return ip_from_octets(raw[:4]) if len(raw) >= 4 else None
    if address_type in (2, 4):
        return ip_from_octets(raw[:16]) if len(raw) >= 16 else None
    return None
