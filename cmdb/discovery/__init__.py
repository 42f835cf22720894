"""SNMP discovery: collection (pysnmp), recorded walks and pure parsers.

The steps are separate: `collect` walks agents into `RawWalk`s (or
`load_snmprec` reads a recording into the same structure), and `parse_walk`
turns a `RawWalk` into typed records. Identification and reconciliation
build on those records.
"""

from cmdb.discovery.models import RawWalk, TableStatus, TableWalk, WalkError
from cmdb.discovery.parse import parse_device_facts, parse_walk
from cmdb.discovery.snmprec import load_snmprec

__all__ = [
    "RawWalk",
    "TableStatus",
    "TableWalk",
    "WalkError",
    "load_snmprec",
    "parse_device_facts",
    "parse_walk",
]
