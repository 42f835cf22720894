"""Conversions between SQLite rows and the model's records, shared by the SQLite store modules."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import json.encoder
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from cmdb.model import (
    INACTIVE_STATUSES,
    RELATIONSHIP_TYPES,
    CIInput,
    CIRecord,
    Criticality,
    Flow,
    RelationshipInput,
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

# Built once: json.dumps builds a new encoder on every call that passes options.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# The string encoder that _ENCODER uses, since ensure_ascii is off.
_encode_string = json.encoder.encode_basestring
_DECODER = json.JSONDecoder()
_PLAIN_JSON_TYPES = frozenset({str, int, bool, type(None)})
_STATUSES = {status.value: status for status in Status}
_CRITICALITIES = {criticality.value: criticality for criticality in Criticality}


def dumps(value: Any) -> str:
    """Encode ``value`` as canonical JSON, so equal content gives equal text."""
    return _ENCODER.encode(value)


def relationship_snapshot(rel: RelationshipInput, properties: str, version: int) -> str:
    """Return the version snapshot of ``rel`` as ``dumps`` would encode it, given its ``properties`` JSON.

    Relationships are most of an import, so the snapshot reuses the encoded properties when
    every value is a string, integer, boolean or None, because pydantic's JSON mode leaves those
    values unchanged. Other values go through ``model_dump``.
    """
    if not all(type(value) in _PLAIN_JSON_TYPES for value in rel.properties.values()):
        return dumps({**rel.model_dump(mode="json"), "version": version})
    # Keys in sorted order, with the separators and string escaping of _ENCODER.
    return (
        f'{{"properties":{properties},"source":{_encode_string(rel.source)},'
        f'"target":{_encode_string(rel.target)},"type":{_encode_string(rel.type)},"version":{version}}}'
    )


def fill_keys(conn: sqlite3.Connection, keys: Iterable[str]) -> None:
    """Replace the rows of the connection's ``temp.scratch_key`` table with ``keys``."""
    conn.execute("DELETE FROM temp.scratch_key")
    conn.executemany("INSERT OR IGNORE INTO temp.scratch_key (key) VALUES (?)", [(k,) for k in keys])


def ci_snapshot(ci: CIInput, content: Sequence[str], sources: str, version: int) -> str | None:
    """Return the version snapshot of ``ci`` as ``dumps`` would encode its ``model_dump``, or None.

    ``content`` contains class, name, status, criticality and the JSON of identifiers, attributes
    and tags, as the writer compares them, and ``sources`` is the JSON of the attribute sources.
    Only attributes whose values are strings, integers, booleans, None or lists of strings are
    encoded here, because pydantic's JSON mode leaves those unchanged. For any other value
    this returns None and the caller encodes the ``model_dump``.
    """
    if not all(_is_plain(value) for value in ci.attributes.values()):
        return None
    class_, name, status, criticality, identifiers, attributes, tags = content
    # Keys in sorted order, with the separators and string escaping of _ENCODER.
    return (
        f'{{"attributes":{attributes},"ci_class":{_encode_string(class_)},'
        f'"criticality":{_encode_string(criticality)},"identifiers":{identifiers},'
        f'"key":{_encode_string(ci.key)},"name":{_encode_string(name)},"sources":{sources},'
        f'"status":{_encode_string(status)},"tags":{tags},"version":{version}}}'
    )


def _is_plain(value: Any) -> bool:
    if type(value) in _PLAIN_JSON_TYPES:
        return True
    return type(value) is list and all(type(item) is str for item in value)


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
    # Closures of the whole graph build tens of thousands of nodes, so this skips the JSON
    # parser for empty tags and attributes and looks enum members up in dicts.
    tags, attributes = row[5], row[6]
    return ImpactNode(
        key=row[0],
        ci_class=row[1],
        name=row[2],
        status=_STATUSES[row[3]],
        criticality=_CRITICALITIES[row[4]],
        tags=() if tags == "[]" else tuple(_DECODER.decode(tags)),
        attributes={} if attributes == "{}" else _DECODER.decode(attributes),
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
