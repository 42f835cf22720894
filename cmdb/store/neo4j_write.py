"""Writes of the Neo4j store: CI upserts, retirement and the versions every write records.

Each function is the body of one managed write transaction (``session.execute_write``), so the
driver may run it again after a transient error. It therefore reads what it needs inside the
transaction and keeps no state between runs. A batch is checked row by row in Python against one read of
the stored rows, then written with one ``UNWIND $rows`` statement per kind of write.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from cmdb.model import (
    ChangeContext,
    CIInput,
    CIRecord,
    Status,
)
from cmdb.store.base import CINotFoundError, VersionConflictError
from cmdb.store.batch import BatchOutcome
from cmdb.store.neo4j_rows import ci_record, dumps, identifier_values

# Writing a property takes the node's or relationship's write lock until the transaction ends,
# so a concurrent writer of the same CI waits here instead of reading a version about to change.
LOCK = "SET {0}.write_lock = true REMOVE {0}.write_lock"

_LOAD_CIS = f"""
UNWIND $keys AS key
MATCH (c:CI {{key: key}})
{LOCK.format("c")}
RETURN c AS ci
"""

_CREATE_CIS = "UNWIND $rows AS row CREATE (c:CI) SET c = row"

_UPDATE_CIS = "UNWIND $rows AS row MATCH (c:CI {key: row.key}) SET c += row"

_TOUCH_CIS = "UNWIND $keys AS key MATCH (c:CI {key: key}) SET c.last_seen = $now"

# A version closes its predecessor: the entity's version one lower, when there is one.
WRITE_VERSIONS = """
UNWIND $rows AS row
OPTIONAL MATCH (previous:Version {entity: row.entity, key: row.key, version: row.version - 1})
SET previous.valid_to = row.valid_from
CREATE (v:Version)
SET v = row
"""


def _content(ci: CIInput) -> tuple[Any, ...]:
    """Return what decides whether a CI changed."""
    return (
        ci.ci_class,
        ci.name,
        ci.status.value,
        ci.criticality.value,
        dumps(ci.identifiers.model_dump(mode="json")),
        dumps(ci.attributes),
        list(ci.tags),
    )


def _stored_content(properties: dict[str, Any]) -> tuple[Any, ...]:
    return (
        properties["ci_class"],
        properties["name"],
        properties["status"],
        properties["criticality"],
        dumps(json.loads(properties["identifiers_json"])),
        dumps(json.loads(properties["attributes_json"])),
        list(properties["tags"]),
    )


def _sources(ci: CIInput, stored: dict[str, Any] | None, origin: str) -> dict[str, str]:
    """Keep the source of each attribute whose value is unchanged; the rest take ``origin``."""
    old_attributes: dict[str, Any] = json.loads(stored["attributes_json"]) if stored else {}
    old_sources: dict[str, str] = json.loads(stored["sources_json"]) if stored else {}
    sources: dict[str, str] = {}
    for name, value in ci.attributes.items():
        if name in old_sources and name in old_attributes and old_attributes[name] == value:
            sources[name] = old_sources[name]
        else:
            sources[name] = origin
    return sources


def _ci_properties(ci: CIInput, *, version: int, sources: dict[str, str], now: datetime) -> dict[str, Any]:
    """Return the node properties that an upsert sets, without ``first_seen`` and ``created_at``."""
    return {
        "key": ci.key,
        "ci_class": ci.ci_class,
        "name": ci.name,
        "name_folded": ci.name.casefold(),
        "status": ci.status.value,
        "criticality": ci.criticality.value,
        "identifiers_json": dumps(ci.identifiers.model_dump(mode="json")),
        "identifier_values": identifier_values(ci.identifiers.lookup_values()),
        "attributes_json": dumps(ci.attributes),
        "tags": list(ci.tags),
        "sources_json": dumps(sources),
        "version": version,
        "last_seen": now,
        "updated_at": now,
    }


def version_row(
    *,
    entity: str,
    key: str,
    ci_key: str,
    version: int,
    operation: str,
    snapshot: dict[str, Any],
    context: ChangeContext,
    now: datetime,
    seq: int,
) -> dict[str, Any]:
    """Return the properties of a ``:Version`` node; ``seq`` orders versions written at one instant."""
    return {
        "entity": entity,
        "key": key,
        "ci_key": ci_key,
        "version": version,
        "operation": operation,
        "snapshot_json": dumps(snapshot),
        "actor": context.actor,
        "origin": context.origin.value,
        "request_id": context.request_id,
        "change_id": context.change_id,
        "valid_from": now,
        "seq": seq,
    }


def upsert_cis(
    tx: ManagedTransaction,
    cis: Sequence[CIInput],
    *,
    context: ChangeContext,
    now: datetime,
    strict: bool,
) -> BatchOutcome:
    """Create or update each CI by key; reject duplicates in the batch and stale expected versions."""
    keys = sorted({ci.key for ci in cis})
    stored_by_key = {dict(row["ci"])["key"]: dict(row["ci"]) for row in tx.run(_LOAD_CIS, keys=keys)}

    outcome = BatchOutcome()
    result = outcome.result
    origin = context.origin.value
    seen: set[str] = set()
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    touched: list[str] = []
    versions: list[dict[str, Any]] = []
    for index, ci in enumerate(cis):
        stored = stored_by_key.get(ci.key)
        if not outcome.admit_ci(
            index, ci, seen=seen, stored_version=None if stored is None else stored["version"]
        ):
            continue

        if stored is not None and _stored_content(stored) == _content(ci):
            touched.append(ci.key)
            result.unchanged += 1
            continue

        sources = _sources(ci, stored, origin)
        if stored is None:
            version, operation = 1, "create"
            creates.append(
                {
                    **_ci_properties(ci, version=1, sources=sources, now=now),
                    "first_seen": now,
                    "created_at": now,
                }
            )
            result.added += 1
        else:
            version, operation = stored["version"] + 1, "update"
            updates.append(_ci_properties(ci, version=version, sources=sources, now=now))
            result.updated += 1

        snapshot = ci.model_dump(mode="json", exclude={"version"})
        snapshot["version"] = version
        snapshot["sources"] = sources
        versions.append(
            version_row(
                entity="ci",
                key=ci.key,
                ci_key=ci.key,
                version=version,
                operation=operation,
                snapshot=snapshot,
                context=context,
                now=now,
                seq=index,
            )
        )

    outcome.raise_if_strict(strict)
    if creates:
        tx.run(_CREATE_CIS, rows=creates).consume()
    if updates:
        tx.run(_UPDATE_CIS, rows=updates).consume()
    if touched:
        tx.run(_TOUCH_CIS, keys=touched, now=now).consume()
    if versions:
        tx.run(WRITE_VERSIONS, rows=versions).consume()
    return outcome


def retire_ci(
    tx: ManagedTransaction,
    key: str,
    *,
    expected_version: int | None,
    context: ChangeContext,
    now: datetime,
) -> CIRecord:
    """Set a CI's status to retired and record the version; a CI already retired is left as it is."""
    row = tx.run(_LOAD_CIS, keys=[key]).single()
    if row is None:
        raise CINotFoundError(key)
    record = ci_record(dict(row["ci"]))
    if expected_version is not None and expected_version != record.version:
        raise VersionConflictError(key, expected_version, record.version)
    if record.status is Status.RETIRED:
        return record

    version = record.version + 1
    tx.run(
        "MATCH (c:CI {key: $key}) SET c.status = $status, c.version = $version, c.updated_at = $now",
        key=key,
        status=Status.RETIRED.value,
        version=version,
        now=now,
    ).consume()
    retired = record.model_copy(update={"status": Status.RETIRED, "version": version, "updated_at": now})
    snapshot = retired.model_dump(mode="json", exclude={"first_seen", "last_seen", "updated_at"})
    tx.run(
        WRITE_VERSIONS,
        rows=[
            version_row(
                entity="ci",
                key=key,
                ci_key=key,
                version=version,
                operation="retire",
                snapshot=snapshot,
                context=context,
                now=now,
                seq=0,
            )
        ],
    ).consume()
    return retired
