"""Conversions between SQLite rows and the model's records, shared by the SQLite store modules."""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from cmdb.model import (
    INACTIVE_STATUSES,
    RELATIONSHIP_TYPES,
    CIRecord,
    Criticality,
    Flow,
    RelationshipRecord,
    Status,
    normalize_mac,
)
from cmdb.store.base import ImpactNode

T = TypeVar("T")

# Bound parameters per statement stay well under SQLite's default limit (32766 since SQLite 3.32).
CHUNK_SIZE = 500

INACTIVE = tuple(sorted(s.value for s in INACTIVE_STATUSES))
QUORUM_TYPES = tuple(sorted(n for n, t in RELATIONSHIP_TYPES.items() if t.flow is Flow.QUORUM))

CI_COLUMNS = (
    "ci.key, ci.ci_class, ci.name, ci.status, ci.criticality, ci.identifiers, ci.attributes,"
    " ci.tags, ci.sources, ci.version, ci.first_seen, ci.last_seen, ci.updated_at"
)
NODE_COLUMNS = "ci.key, ci.ci_class, ci.name, ci.status, ci.criticality, ci.tags, ci.attributes"
RELATIONSHIP_COLUMNS = "s.key, r.type, t.key, r.properties, r.version, r.created_at, r.updated_at"


def dumps(value: Any) -> str:
    """Encode ``value`` as canonical JSON, so equal content gives equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


def placeholders(count: int) -> str:
    return ", ".join("?" * count)


def chunked(items: Sequence[T], size: int = CHUNK_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def relationship_key(source: str, rel_type: str, target: str) -> str:
    """Return the history key of a relationship, ``source|TYPE|target``."""
    return f"{source}|{rel_type}|{target}"


def ci_record(row: Sequence[Any]) -> CIRecord:
    """Build a CIRecord from a row selected with ``CI_COLUMNS``."""
    return CIRecord.model_validate(
        {
            "key": row[0],
            "ci_class": row[1],
            "name": row[2],
            "status": row[3],
            "criticality": row[4],
            "identifiers": json.loads(row[5]),
            "attributes": json.loads(row[6]),
            "tags": json.loads(row[7]),
            "sources": json.loads(row[8]),
            "version": row[9],
            "first_seen": row[10],
            "last_seen": row[11],
            "updated_at": row[12],
        }
    )


def impact_node(row: Sequence[Any]) -> ImpactNode:
    """Build an ImpactNode from a row selected with ``NODE_COLUMNS``."""
    return ImpactNode(
        key=row[0],
        ci_class=row[1],
        name=row[2],
        status=Status(row[3]),
        criticality=Criticality(row[4]),
        tags=tuple(json.loads(row[5])),
        attributes=json.loads(row[6]),
    )


def relationship_record(row: Sequence[Any]) -> RelationshipRecord:
    """Build a RelationshipRecord from a row selected with ``RELATIONSHIP_COLUMNS``."""
    return RelationshipRecord(
        source=row[0],
        type=row[1],
        target=row[2],
        properties=json.loads(row[3]),
        version=row[4],
        created_at=datetime.fromisoformat(row[5]),
        updated_at=datetime.fromisoformat(row[6]),
    )


def identifier_candidates(text: str) -> list[tuple[str, str]]:
    """Return the (kind, value) pairs under which the identifier index would store ``text``.

    MACs and IPs are normalised the way ``cmdb.model.Identifiers`` stores them, and
    hostnames are lower-cased; other kinds match the text as given.
    """
    value = text.strip()
    if not value:
        return []
    pairs = [("serial", value), ("udi_di", value), ("asset_tag", value), ("hostname", value.lower())]
    with contextlib.suppress(ValueError):
        pairs.append(("mac", normalize_mac(value)))
    with contextlib.suppress(ValueError):
        pairs.append(("ip", str(ipaddress.ip_address(value))))
    return pairs
