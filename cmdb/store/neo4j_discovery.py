"""The Neo4j store's discovery methods: ending relationships, discovery run records and ageing out.

`Neo4jDiscoveryMethods` is a mixin of `Neo4jStore`; it runs its work through
the store's `_read` and `_write` transactions. Run records are `:DiscoveryRun`
nodes holding the JSON document; an ended relationship keeps its properties,
gets `ended_at` and loses its `:IMPACTS` edge.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from neo4j import ManagedTransaction

from cmdb.model import RELATIONSHIP_TYPES, ChangeContext, CIInput, CIRecord, Status
from cmdb.store import neo4j_write
from cmdb.store.base import MAX_PAGE_SIZE, UpsertResult
from cmdb.store.base_discovery import DiscoveryRunPage, RelationshipIdentity, StoredDiscoveryRun
from cmdb.store.batch import BatchOutcome
from cmdb.store.neo4j_rows import ci_record, dumps, relationship_key, utc_now

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

_RUN_CONSTRAINT = (
    "CREATE CONSTRAINT discovery_run_id IF NOT EXISTS FOR (r:DiscoveryRun) REQUIRE r.id IS UNIQUE"
)

_LOAD_SOURCES = """
UNWIND $keys AS key
MATCH (c:CI {key: key})
WHERE c.sources_json CONTAINS $bare
RETURN c.key AS key, c.sources_json AS sources_json, c.version AS version
"""

_WRITE_SOURCES = """
UNWIND $rows AS row
MATCH (c:CI {key: row.key})
SET c.sources_json = row.sources_json
WITH row
MATCH (v:Version {entity: 'ci', key: row.key, version: row.version})
SET v.snapshot_json = row.snapshot_json
"""


def _load_live_query(type_name: str) -> str:
    """Return the statement reading and locking live relationships of one type by key.

    The type's uniqueness index finds each key in one seek; a pattern without the type would
    scan every relationship. The type name comes from ``RELATIONSHIP_TYPES`` only.
    """
    name = RELATIONSHIP_TYPES[type_name].name
    return (
        "UNWIND $keys AS key\n"
        f"MATCH ()-[r:{name} {{key: key}}]->()\n"
        f"USING INDEX SEEK r:{name}(key)\n"
        "WHERE r.ended_at IS NULL\n"
        f"{neo4j_write.LOCK.format('r')}\n"
        "RETURN r.key AS key, startNode(r).key AS source, type(r) AS type, endNode(r).key AS target,\n"
        "       r.properties_json AS properties_json, r.version AS version\n"
    )


def _end_query(type_name: str) -> str:
    """Return the statement ending relationships of one type by key and deleting their impact edges."""
    name = RELATIONSHIP_TYPES[type_name].name
    return (
        "UNWIND $rows AS row\n"
        f"MATCH ()-[r:{name} {{key: row.key}}]->()\n"
        f"USING INDEX SEEK r:{name}(key)\n"
        "SET r.ended_at = $now, r.version = row.version, r.updated_at = $now\n"
        "WITH row\n"
        "OPTIONAL MATCH ()-[i:IMPACTS {rel_key: row.key}]->()\n"
        "DELETE i\n"
    )


def _load_version_snapshots(tx: ManagedTransaction, rows: list[dict[str, Any]]) -> dict[str, str]:
    result = tx.run(
        "UNWIND $rows AS row MATCH (v:Version {entity: 'ci', key: row.key, version: row.version})"
        " RETURN v.key AS key, v.snapshot_json AS snapshot_json",
        rows=rows,
    )
    return {record["key"]: record["snapshot_json"] for record in result}


def upsert_discovered_cis(
    tx: ManagedTransaction, cis: Sequence[CIInput], *, context: ChangeContext, now: datetime, source: str
) -> BatchOutcome:
    """Upsert `cis`, then replace the bare origin source of what was written by `source`."""
    outcome = neo4j_write.upsert_cis(tx, cis, context=context, now=now, strict=False)
    origin = context.origin.value
    rows = []
    for record in tx.run(_LOAD_SOURCES, keys=[ci.key for ci in cis], bare=json.dumps(origin)):
        sources: dict[str, str] = json.loads(record["sources_json"])
        relabelled = {name: source if value == origin else value for name, value in sources.items()}
        rows.append({"key": record["key"], "version": record["version"], "sources": relabelled})
    snapshots = _load_version_snapshots(tx, rows)
    writes = []
    for row in rows:
        snapshot = json.loads(snapshots.get(row["key"], "{}"))
        snapshot["sources"] = row["sources"]
        writes.append(
            {
                "key": row["key"],
                "version": row["version"],
                "sources_json": dumps(row["sources"]),
                "snapshot_json": dumps(snapshot),
            }
        )
    if writes:
        tx.run(_WRITE_SOURCES, rows=writes).consume()
    return outcome


def end_relationships(
    tx: ManagedTransaction,
    identities: Sequence[RelationshipIdentity],
    *,
    context: ChangeContext,
    now: datetime,
) -> int:
    """Set ended_at on each live relationship named, delete its impact edge and record an `end` version."""
    keys_by_type: dict[str, set[str]] = defaultdict(set)
    for identity in identities:
        if identity[1] not in RELATIONSHIP_TYPES:
            raise ValueError(f"unknown relationship type {identity[1]!r} in {identity!r}")
        keys_by_type[identity[1]].add(relationship_key(*identity))
    live = [
        row
        for type_name in sorted(keys_by_type)
        for row in tx.run(_load_live_query(type_name), keys=sorted(keys_by_type[type_name]))
    ]
    ends = []
    versions = []
    for seq, row in enumerate(live):
        version = row["version"] + 1
        ends.append({"key": row["key"], "version": version})
        snapshot = {
            "source": row["source"],
            "type": row["type"],
            "target": row["target"],
            "properties": json.loads(row["properties_json"]),
            "version": version,
            "ended_at": now.isoformat(),
        }
        versions.append(
            neo4j_write.version_row(
                entity="relationship",
                key=row["key"],
                ci_key=row["source"],
                version=version,
                operation="end",
                snapshot=snapshot,
                context=context,
                now=now,
                seq=seq,
            )
        )
    ends_by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row, end in zip(live, ends, strict=True):
        ends_by_type[row["type"]].append(end)
    for type_name, rows in sorted(ends_by_type.items()):
        tx.run(_end_query(type_name), rows=rows, now=now).consume()
    if ends:
        tx.run(neo4j_write.WRITE_VERSIONS, rows=versions).consume()
    return len(ends)


def _save_run(tx: ManagedTransaction, run: StoredDiscoveryRun) -> None:
    tx.run(
        "MERGE (r:DiscoveryRun {id: $id}) SET r.started_at = $started_at, r.document_json = $document",
        id=run.id,
        started_at=run.started_at.astimezone(UTC),
        document=dumps(run.document),
    ).consume()


def _stored_run(row: Any) -> StoredDiscoveryRun:
    started_at = row["started_at"]
    return StoredDiscoveryRun(
        id=row["id"],
        started_at=started_at.to_native() if hasattr(started_at, "to_native") else started_at,
        document=json.loads(row["document_json"]),
    )


def _get_run(tx: ManagedTransaction, run_id: str) -> StoredDiscoveryRun | None:
    row = tx.run(
        "MATCH (r:DiscoveryRun {id: $id}) RETURN r.id AS id, r.started_at AS started_at,"
        " r.document_json AS document_json",
        id=run_id,
    ).single()
    return _stored_run(row) if row is not None else None


def _list_runs(tx: ManagedTransaction, after: str | None, limit: int) -> list[StoredDiscoveryRun]:
    rows = tx.run(
        "MATCH (r:DiscoveryRun) WHERE $after IS NULL OR r.id < $after"
        " RETURN r.id AS id, r.started_at AS started_at, r.document_json AS document_json"
        " ORDER BY r.id DESC LIMIT $limit",
        after=after,
        limit=limit,
    )
    return [_stored_run(row) for row in rows]


def _discovered_cis(tx: ManagedTransaction, seen_before: datetime) -> list[CIRecord]:
    rows = tx.run(
        "MATCH (c:CI) WHERE c.last_seen < $cutoff AND NOT c.status IN $inactive"
        " AND c.sources_json CONTAINS $marker RETURN c ORDER BY c.key",
        cutoff=seen_before.astimezone(UTC),
        inactive=[Status.STALE.value, Status.RETIRED.value],
        marker='"discovery',
    )
    return [ci_record(dict(row["c"])) for row in rows]


class Neo4jDiscoveryMethods:
    """Discovery methods of `Neo4jStore` (see `cmdb.store.base_discovery.DiscoveryStore`)."""

    _discovery_schema_ready = False

    if TYPE_CHECKING:

        def _read(
            self, work: Callable[Concatenate[ManagedTransaction, P], T], *args: P.args, **kwargs: P.kwargs
        ) -> T: ...

        def _write(
            self, work: Callable[Concatenate[ManagedTransaction, P], T], *args: P.args, **kwargs: P.kwargs
        ) -> T: ...

    def _ensure_discovery_schema(self) -> None:
        if self._discovery_schema_ready:
            return

        def work(tx: ManagedTransaction) -> None:
            tx.run(_RUN_CONSTRAINT).consume()

        # Schema statements must run in a transaction of their own.
        self._write(work)
        self._discovery_schema_ready = True

    def upsert_discovered_cis(
        self, cis: Sequence[CIInput], *, context: ChangeContext, source: str
    ) -> UpsertResult:
        outcome = self._write(upsert_discovered_cis, cis, context=context, now=utc_now(), source=source)
        for row in outcome.result.rejected:
            logger.warning("skipped discovered CI %s (%s): %s", row.index, row.key, row.message)
        return outcome.result

    def end_relationships(self, identities: Sequence[RelationshipIdentity], *, context: ChangeContext) -> int:
        return self._write(end_relationships, identities, context=context, now=utc_now())

    def save_discovery_run(self, run: StoredDiscoveryRun) -> None:
        self._ensure_discovery_schema()
        self._write(_save_run, run)

    def get_discovery_run(self, run_id: str) -> StoredDiscoveryRun | None:
        return self._read(_get_run, run_id)

    def list_discovery_runs(self, *, first: int, after: str | None) -> DiscoveryRunPage:
        size = max(1, min(first, MAX_PAGE_SIZE))
        rows = self._read(_list_runs, after, size + 1)
        items = rows[:size]
        return DiscoveryRunPage(
            items=items, has_next=len(rows) > size, end_cursor=items[-1].id if items else None
        )

    def discovered_cis(self, *, seen_before: datetime) -> list[CIRecord]:
        if seen_before.tzinfo is None:
            raise ValueError(
                f"seen_before {seen_before.isoformat()} has no time zone; pass an aware datetime"
            )
        return self._read(_discovered_cis, seen_before)
