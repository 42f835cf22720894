"""Build a `RawWalk` from a recorded walk in snmpsim's `.snmprec` format.

Each line is `OID|TAG|VALUE`. The tag is the BER tag number of the value's
type; a trailing `x` means the value is hex-encoded (`4x` for an OCTET STRING,
`64x` for an IpAddress). The result has the same tables, rows and value types
as a walk of the same data served by snmpsim, so the parsers can be tested on
recordings without a network.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from cmdb.discovery.models import (
    Integer,
    IntegerSyntax,
    IpAddress,
    Missing,
    ObjectId,
    Octets,
    Oid,
    RawWalk,
    SnmpValue,
    TableStatus,
    TableWalk,
)
from cmdb.discovery.tables import TABLES, oid, table_for

logger = logging.getLogger(__name__)

_INTEGER_TAGS: dict[str, IntegerSyntax] = {
    "2": "Integer32",
    "65": "Counter32",
    "66": "Gauge32",
    "67": "TimeTicks",
    "70": "Counter64",
}


class SnmprecError(ValueError):
    """A line of a `.snmprec` file that cannot be read."""


def parse_value(tag: str, text: bytes) -> SnmpValue:
    """Return the value of one `.snmprec` line from its tag and raw value text."""
    hex_encoded = tag.endswith("x")
    base_tag = tag.removesuffix("x")
    raw = bytes.fromhex(text.decode("ascii")) if hex_encoded else text

    if base_tag in _INTEGER_TAGS:
        return Integer(int(raw), _INTEGER_TAGS[base_tag])
    if base_tag in ("4", "68"):
        return Octets(raw)
    if base_tag == "6":
        return ObjectId(oid(raw.decode("ascii")))
    if base_tag == "64":
        if hex_encoded:
            return IpAddress(raw)
        return IpAddress(ipaddress.IPv4Address(raw.decode("ascii")).packed)
    if base_tag == "5":
        return Missing("null")
    raise SnmprecError(f"unsupported tag {tag!r}; expected one of 2, 4, 5, 6, 64, 65, 66, 67, 68, 70")


def load_snmprec(path: Path, tables: tuple[str, ...] | None = None) -> RawWalk:
    """Read `path` and return the rows of the discovery tables (all of them unless `tables` names some).

    Lines outside every table are skipped. A malformed line raises
    `SnmprecError` naming the file and line number.
    """
    wanted = set(tables) if tables is not None else set(TABLES)
    walk = RawWalk(target=path.name)
    for name in TABLES:
        if name in wanted:
            walk.tables[name] = TableWalk(name=name, status=TableStatus.COMPLETE)

    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            line = line.rstrip(b"\r\n")
            if not line or line.startswith(b"#"):
                continue
            try:
                oid_text, tag, value_text = line.split(b"|", 2)
                row_oid = oid(oid_text.decode("ascii"))
            except ValueError as exc:
                raise SnmprecError(f"{path}:{number}: invalid line, expected OID|TAG|VALUE: {exc}") from exc
            table = table_for(row_oid)
            if table is None or table not in wanted:
                continue
            try:
                value = parse_value(tag.decode("ascii"), value_text)
            except ValueError as exc:
                raise SnmprecError(f"{path}:{number}: invalid value for tag {tag!r}: {exc}") from exc
            walk.tables[table].rows.append((row_oid, value))

    # The collector walks one subtree after another in table order, so sort the
    # same way: by subtree position in the table spec, then by OID. An agent
    # never returns one OID twice, so a repeated OID keeps its first value, as
    # snmpsim serves it.
    for name, walked in walk.tables.items():
        subtrees = TABLES[name].subtrees
        unique: dict[Oid, SnmpValue] = {}
        for row_oid, value in walked.rows:
            unique.setdefault(row_oid, value)
        repeated = len(walked.rows) - len(unique)
        if repeated:
            logger.warning(
                "recording %s: %d repeated OIDs in table %s; kept the first of each", path, repeated, name
            )
        walked.rows = sorted(
            unique.items(),
            key=lambda row: (
                next(i for i, subtree in enumerate(subtrees) if row[0][: len(subtree)] == subtree),
                row[0],
            ),
        )
    return walk
