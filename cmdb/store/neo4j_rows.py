"""The Neo4j schema of the store and conversions between Neo4j values and the model's records.

Graph layout (each pattern as Cypher):

- ``(:CI {key, ci_class, name, name_folded, status, criticality, tags, identifier_values, version,
  identifiers_json, attributes_json, sources_json, first_seen, last_seen, created_at, updated_at})``:
  maps cannot be property values, so identifiers, attributes and sources are JSON text, and
  ``identifier_values`` lists ``kind:value`` strings for exact lookups.
- ``(:CI)-[:DEPENDS_ON|RUNS_ON|... {key, properties_json, version, created_at, updated_at}]->(:CI)``:
  one relationship of its own type per stored relationship; ``key`` is ``source|TYPE|target``.
- ``(:CI)-[:IMPACTS {rel_key, type, strength}]->(:CI)``: beside each relationship of a type that
  carries impact, pointing the way impact flows; ``strength`` is absent for MEMBER_OF.
- ``(:Version {entity, key, ci_key, version, operation, snapshot_json, actor, origin, request_id,
  change_id, valid_from, valid_to, seq})``: ``ci_key`` is the CI, or the relationship's source.
- ``(:ApiToken {name, token_hash, actor, roles})``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from neo4j.time import DateTime

from cmdb.model import (
    INACTIVE_STATUSES,
    RELATIONSHIP_TYPES,
    CIRecord,
    Criticality,
    Flow,
    RelationshipRecord,
    Status,
    VersionRecord,
    normalize_mac,
)
from cmdb.store.base import ImpactNode

INACTIVE = sorted(s.value for s in INACTIVE_STATUSES)
QUORUM_TYPES = sorted(name for name, rel_type in RELATIONSHIP_TYPES.items() if rel_type.flow is Flow.QUORUM)

# Map projection of the fields ImpactNode needs, for a node bound to ``c``.
NODE_PROJECTION = "c {.key, .ci_class, .name, .status, .criticality, .tags, .attributes_json}"


def schema_statements() -> list[str]:
    """Return the constraints and indexes of the store, each safe to run again.

    Every MERGE or lookup key has a uniqueness constraint, which also gives it an index.
    Node key constraints would need Neo4j Enterprise, so none is used.
    """
    statements = [
        "CREATE CONSTRAINT ci_key IF NOT EXISTS FOR (c:CI) REQUIRE c.key IS UNIQUE",
        "CREATE CONSTRAINT version_identity IF NOT EXISTS"
        " FOR (v:Version) REQUIRE (v.entity, v.key, v.version) IS UNIQUE",
        "CREATE CONSTRAINT api_token_name IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.name IS UNIQUE",
        "CREATE CONSTRAINT api_token_hash IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.token_hash IS UNIQUE",
        "CREATE CONSTRAINT impacts_rel_key IF NOT EXISTS FOR ()-[i:IMPACTS]-() REQUIRE i.rel_key IS UNIQUE",
        "CREATE INDEX ci_class IF NOT EXISTS FOR (c:CI) ON (c.ci_class)",
        "CREATE INDEX ci_status IF NOT EXISTS FOR (c:CI) ON (c.status)",
        "CREATE INDEX ci_criticality IF NOT EXISTS FOR (c:CI) ON (c.criticality)",
        "CREATE INDEX ci_name_folded IF NOT EXISTS FOR (c:CI) ON (c.name_folded)",
        "CREATE INDEX version_ci_key IF NOT EXISTS FOR (v:Version) ON (v.ci_key)",
    ]
    for name in sorted(RELATIONSHIP_TYPES):
        statements.append(
            f"CREATE CONSTRAINT rel_{name.lower()}_key IF NOT EXISTS"
            f" FOR ()-[r:{name}]-() REQUIRE r.key IS UNIQUE"
        )
    return statements


def dumps(value: Any) -> str:
    """Encode ``value`` as canonical JSON, so equal content gives equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def utc_now() -> datetime:
    return datetime.now(UTC)


def relationship_key(source: str, rel_type: str, target: str) -> str:
    """Return the history key of a relationship, ``source|TYPE|target``."""
    return f"{source}|{rel_type}|{target}"


def type_alternation(types: list[str]) -> str:
    """Return ``A|B|C`` for a relationship pattern, from names checked against the type table.

    Relationship types cannot be query parameters, so this is the only way a type enters
    Cypher text, and only names of ``RELATIONSHIP_TYPES`` pass.
    """
    names = check_types(types) or sorted(RELATIONSHIP_TYPES)
    return "|".join(RELATIONSHIP_TYPES[name].name for name in names)


def check_types(types: list[str] | tuple[str, ...]) -> list[str]:
    """Return ``types`` sorted and de-duplicated; raise ValueError naming an unknown type."""
    for name in types:
        if name not in RELATIONSHIP_TYPES:
            known = ", ".join(sorted(RELATIONSHIP_TYPES))
            raise ValueError(f"unknown relationship type {name!r}; use one of: {known}")
    return sorted(set(types))


def identifier_values(pairs: list[tuple[str, str]]) -> list[str]:
    """Return the ``kind:value`` strings stored in ``identifier_values`` for (kind, value) pairs."""
    return sorted({f"{kind}:{value}" for kind, value in pairs})


def identifier_candidates(text: str) -> list[str]:
    """Return the ``kind:value`` strings under which a CI identified by ``text`` would be stored.

    MACs and IPs are normalised the way ``cmdb.model.Identifiers`` stores them and hostnames
    are lower-cased; other kinds match the text as given.
    """
    value = text.strip()
    if not value:
        return []
    pairs = [("serial", value), ("udi_di", value), ("asset_tag", value), ("hostname", value.lower())]
    with contextlib.suppress(ValueError):
        pairs.append(("mac", normalize_mac(value)))
    with contextlib.suppress(ValueError):
        pairs.append(("ip", str(ipaddress.ip_address(value))))
    return identifier_values(pairs)


def native_time(value: Any) -> datetime | None:
    """Return a Neo4j temporal value as a Python datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, DateTime):
        native: datetime = value.to_native()
        return native
    if isinstance(value, datetime):
        return value
    raise TypeError(f"expected a Neo4j DateTime, got {type(value).__name__}")


def _required_time(value: Any) -> datetime:
    native = native_time(value)
    if native is None:
        raise ValueError("a stored CI or relationship has no timestamp; the store is damaged")
    return native


def ci_record(properties: Mapping[str, Any]) -> CIRecord:
    """Build a CIRecord from the properties of a ``:CI`` node."""
    return CIRecord.model_validate(
        {
            "key": properties["key"],
            "ci_class": properties["ci_class"],
            "name": properties["name"],
            "status": properties["status"],
            "criticality": properties["criticality"],
            "identifiers": json.loads(properties["identifiers_json"]),
            "attributes": json.loads(properties["attributes_json"]),
            "tags": list(properties["tags"]),
            "sources": json.loads(properties["sources_json"]),
            "version": properties["version"],
            "first_seen": _required_time(properties["first_seen"]),
            "last_seen": _required_time(properties["last_seen"]),
            "updated_at": _required_time(properties["updated_at"]),
        }
    )


def impact_node(projection: Mapping[str, Any]) -> ImpactNode:
    """Build an ImpactNode from a node projected with ``NODE_PROJECTION``."""
    return ImpactNode(
        key=projection["key"],
        ci_class=projection["ci_class"],
        name=projection["name"],
        status=Status(projection["status"]),
        criticality=Criticality(projection["criticality"]),
        tags=tuple(projection["tags"]),
        attributes=json.loads(projection["attributes_json"]),
    )


def relationship_record(row: Mapping[str, Any]) -> RelationshipRecord:
    """Build a RelationshipRecord from a row with source, type, target and the relationship's fields."""
    return RelationshipRecord(
        source=row["source"],
        type=row["type"],
        target=row["target"],
        properties=json.loads(row["properties_json"]),
        version=row["version"],
        created_at=_required_time(row["created_at"]),
        updated_at=_required_time(row["updated_at"]),
    )


def version_record(properties: Mapping[str, Any]) -> VersionRecord:
    """Build a VersionRecord from the properties of a ``:Version`` node."""
    return VersionRecord(
        entity=properties["entity"],
        key=properties["key"],
        version=properties["version"],
        operation=properties["operation"],
        snapshot=json.loads(properties["snapshot_json"]),
        actor=properties["actor"],
        origin=properties["origin"],
        request_id=properties.get("request_id"),
        change_id=properties.get("change_id"),
        valid_from=_required_time(properties["valid_from"]),
        valid_to=native_time(properties.get("valid_to")),
    )
