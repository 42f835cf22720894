"""Raw SNMP data as collected: values, walked tables and the walk of one target.

A `RawWalk` is the boundary between I/O and parsing. The collector builds it
from an agent and `load_snmprec` builds the same structure from a recorded
walk, so every parser is tested without a network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Oid = tuple[int, ...]

IntegerSyntax = Literal["Integer32", "Counter32", "Gauge32", "TimeTicks", "Counter64", "Unsigned32"]
MissingKind = Literal["null", "noSuchObject", "noSuchInstance", "endOfMibView"]


@dataclass(frozen=True, slots=True)
class Integer:
    """An integer of any SMI syntax; `syntax` keeps which one it was."""

    value: int
    syntax: IntegerSyntax = "Integer32"


@dataclass(frozen=True, slots=True)
class Octets:
    """An OCTET STRING (also Opaque and BITS) as the raw bytes the agent sent, never decoded."""

    value: bytes


@dataclass(frozen=True, slots=True)
class ObjectId:
    """An OBJECT IDENTIFIER value."""

    value: Oid


@dataclass(frozen=True, slots=True)
class IpAddress:
    """An SMI IpAddress: four octets, IPv4 only."""

    value: bytes

    @property
    def address(self) -> ipaddress.IPv4Address | None:
        """The address, or None when the agent sent other than four octets."""
        if len(self.value) != 4:
            return None
        return ipaddress.IPv4Address(self.value)


@dataclass(frozen=True, slots=True)
class Missing:
    """A NULL value or an SNMPv2 exception (noSuchObject, noSuchInstance, endOfMibView)."""

    kind: MissingKind


SnmpValue = Integer | Octets | ObjectId | IpAddress | Missing
VarBind = tuple[Oid, SnmpValue]


class TableStatus(StrEnum):
    """How far the walk of one table got."""

    COMPLETE = "complete"
    """Every subtree was walked to its end (an empty table is complete too)."""
    PARTIAL = "partial"
    """The walk stopped early; the rows received before the stop are kept."""
    ERROR = "error"
    """Nothing usable arrived, e.g. the first request timed out or the table was skipped."""


@dataclass(slots=True)
class TableWalk:
    """The rows of one named table, in the order received, with how the walk ended."""

    name: str
    rows: list[VarBind] = field(default_factory=list)
    status: TableStatus = TableStatus.COMPLETE
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WalkError:
    """One problem met while collecting a target, with the table it hit (None for the whole target)."""

    target: str
    message: str
    table: str | None = None


@dataclass(slots=True)
class RawWalk:
    """Every table walked on one target.

    `target` is `address:port` for a collected walk and the file name for a
    loaded recording. `profile` is the NAME of the credential profile that
    worked (None for a recording or when no profile worked); secrets are never
    stored here.
    """

    target: str
    tables: dict[str, TableWalk] = field(default_factory=dict)
    errors: list[WalkError] = field(default_factory=list)
    profile: str | None = None
    reachable: bool = True

    def rows(self, table: str) -> list[VarBind]:
        """Return the rows of `table`, or an empty list when it was not walked."""
        walked = self.tables.get(table)
        return walked.rows if walked is not None else []

    def column(self, table: str, column: Oid) -> dict[Oid, SnmpValue]:
        """Return `{index: value}` for the rows of `table` below the column OID `column`."""
        prefix_length = len(column)
        return {
            oid[prefix_length:]: value
            for oid, value in self.rows(table)
            if len(oid) > prefix_length and oid[:prefix_length] == column
        }

    def scalar(self, table: str, oid: Oid) -> SnmpValue | None:
        """Return the value at exactly `oid` in `table`, or None."""
        for row_oid, value in self.rows(table):
            if row_oid == oid:
                return value
        return None

    def status(self, table: str) -> TableStatus | None:
        """Return the status of `table`, or None when it was not walked."""
        walked = self.tables.get(table)
        return walked.status if walked is not None else None

    def iter_tables(self) -> Iterator[TableWalk]:
        yield from self.tables.values()
