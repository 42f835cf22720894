"""Raw export and import of the Neo4j store's rows: ``ExportableStore`` for ``Neo4jStore``.

Imports create the ``:CI``, relationship, ``:Version`` and ``:ApiToken`` rows as given, with
the properties the upserts derive (``name_folded``, ``identifier_values``, ``:IMPACTS`` edges
for relationships that have not ended). Change management and discovery run nodes are in
``cmdb.store.neo4j_export_changes``. The copy checkpoint is the one ``(:CopyProgress {id: 1})``
node.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from neo4j import ManagedTransaction
from neo4j.exceptions import ConstraintError

from cmdb.model import RELATIONSHIP_TYPES, Flow, Identifiers, impact_strength
from cmdb.settings import Settings, get_settings
from cmdb.store import neo4j_export_changes
from cmdb.store.base import StoreError
from cmdb.store.export import (
    CopyProgress,
    ExportSummary,
    RawApproval,
    RawBatch,
    RawChange,
    RawCI,
    RawDiscoveryRun,
    RawFreezeException,
    RawFreezeWindow,
    RawRelationship,
    RawReview,
    RawToken,
    RawVersion,
)
from cmdb.store.neo4j import Neo4jStore
from cmdb.store.neo4j_rows import dumps, identifier_values, native_time, relationship_key, utc_now

_SUMMARY = """
CALL () { MATCH (c:CI) RETURN count(c) AS cis }
CALL () { MATCH ()-[r]->() RETURN count(r) AS all_relationships }
CALL () { MATCH ()-[i:IMPACTS]->() RETURN count(i) AS impacts }
CALL () { MATCH (v:Version) RETURN count(v) AS versions, max(v.valid_from) AS last_valid_from }
CALL () { MATCH (t:ApiToken) RETURN count(t) AS tokens }
RETURN cis, all_relationships - impacts AS relationships, versions, last_valid_from, tokens
"""

_EXPORT_RELATIONSHIPS = """
UNWIND $keys AS key
MATCH (s:CI {key: key})-[r]->(t:CI)
WHERE type(r) <> 'IMPACTS'
RETURN s.key AS source, type(r) AS type, t.key AS target, r.properties_json AS properties_json,
       r.version AS version, r.created_at AS created_at, r.updated_at AS updated_at, r.ended_at AS ended_at
"""

_EXPORT_VERSIONS = """
UNWIND $keys AS key
MATCH (v:Version {ci_key: key})
RETURN v ORDER BY v.valid_from, v.entity, v.seq
"""

_IMPORT_CIS = "UNWIND $rows AS row CREATE (c:CI) SET c = row"
_IMPORT_VERSIONS = "UNWIND $rows AS row CREATE (v:Version) SET v = row"
_IMPORT_TOKENS = "UNWIND $rows AS row CREATE (t:ApiToken) SET t = row"
_SAVE_PROGRESS = "MERGE (p:CopyProgress {id: 1}) SET p += $progress"


def _create_query(type_name: str) -> str:
    """Return the statement creating relationships of one type, with impact edges for live ones.

    The type name comes from ``RELATIONSHIP_TYPES`` only, because types cannot be parameters.
    """
    rel_type = RELATIONSHIP_TYPES[type_name]
    query = (
        "UNWIND $rows AS row\n"
        "MATCH (s:CI {key: row.source}), (t:CI {key: row.target})\n"
        f"CREATE (s)-[r:{rel_type.name}]->(t)\n"
        "SET r = row.relationship\n"
    )
    impacts = "[:IMPACTS {rel_key: row.key, type: row.type, strength: row.strength}]"
    if rel_type.flow is Flow.TARGET_TO_SOURCE:
        query += f"WITH row, s, t WHERE row.live\nCREATE (t)-{impacts}->(s)\n"
    elif rel_type.flow is not Flow.NONE:
        query += f"WITH row, s, t WHERE row.live\nCREATE (s)-{impacts}->(t)\n"
    return query


def _relationship_row(rel: RawRelationship) -> dict[str, Any]:
    key = relationship_key(rel.source, rel.type, rel.target)
    strength = impact_strength(rel.type, rel.properties.get("strength"))
    relationship: dict[str, Any] = {
        "key": key,
        "properties_json": dumps(rel.properties),
        "version": rel.version,
        "created_at": rel.created_at,
        "updated_at": rel.updated_at,
    }
    if rel.ended_at is not None:
        relationship["ended_at"] = rel.ended_at
    return {
        "key": key,
        "source": rel.source,
        "target": rel.target,
        "type": rel.type,
        "strength": strength.value if strength is not None else None,
        "live": rel.ended_at is None,
        "relationship": relationship,
    }


def _ci_row(ci: RawCI) -> dict[str, Any]:
    return {
        "key": ci.key,
        "ci_class": ci.ci_class,
        "name": ci.name,
        "name_folded": ci.name.casefold(),
        "status": ci.status,
        "criticality": ci.criticality,
        "identifiers_json": dumps(ci.identifiers),
        "identifier_values": identifier_values(Identifiers.model_validate(ci.identifiers).lookup_values()),
        "attributes_json": dumps(ci.attributes),
        "tags": list(ci.tags),
        "sources_json": dumps(ci.sources),
        "version": ci.version,
        "first_seen": ci.first_seen,
        "last_seen": ci.last_seen,
        "created_at": ci.created_at,
        "updated_at": ci.updated_at,
    }


def _version_row(version: RawVersion) -> dict[str, Any]:
    """Return the ``:Version`` properties; None values are left out, as the upserts leave them out."""
    row: dict[str, Any] = {
        "entity": version.entity,
        "key": version.key,
        "ci_key": version.ci_key,
        "version": version.version,
        "operation": version.operation,
        "snapshot_json": dumps(version.snapshot),
        "actor": version.actor,
        "origin": version.origin,
        "request_id": version.request_id,
        "change_id": version.change_id,
        "valid_from": version.valid_from,
        "valid_to": version.valid_to,
        "seq": version.seq,
    }
    return {name: value for name, value in row.items() if value is not None}


def _required(value: Any) -> Any:
    native = native_time(value)
    if native is None:
        raise StoreError("a stored row has no timestamp; the Neo4j store is damaged")
    return native


class Neo4jExportStore(Neo4jStore):
    """The Neo4j store with the ``ExportableStore`` methods."""

    # Export

    def export_summary(self) -> ExportSummary:
        def work(tx: ManagedTransaction) -> ExportSummary:
            row = tx.run(_SUMMARY).single()
            if row is None:
                raise StoreError("Neo4j returned no row for the store summary")
            change_counts, last_change_update = neo4j_export_changes.summary(tx)
            return ExportSummary(
                cis=row["cis"],
                relationships=row["relationships"],
                versions=row["versions"],
                tokens=row["tokens"],
                **change_counts,
                last_valid_from=native_time(row["last_valid_from"]),
                last_change_update=last_change_update,
            )

        return self._read(work)

    def export_cis(self, *, after: str | None, limit: int) -> list[RawCI]:
        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            rows = tx.run(
                "MATCH (c:CI) WHERE c.key > $after RETURN c ORDER BY c.key LIMIT $limit",
                after=after or "",
                limit=limit,
            )
            return [dict(row["c"]) for row in rows]

        return [
            RawCI(
                key=node["key"],
                ci_class=node["ci_class"],
                name=node["name"],
                status=node["status"],
                criticality=node["criticality"],
                identifiers=json.loads(node["identifiers_json"]),
                attributes=json.loads(node["attributes_json"]),
                tags=list(node["tags"]),
                sources=json.loads(node["sources_json"]),
                version=node["version"],
                first_seen=_required(node["first_seen"]),
                last_seen=_required(node["last_seen"]),
                created_at=_required(node["created_at"]),
                updated_at=_required(node["updated_at"]),
            )
            for node in self._read(work)
        ]

    def export_ci_keys(self, *, after: str | None, limit: int) -> list[str]:
        def work(tx: ManagedTransaction) -> list[str]:
            rows = tx.run(
                "MATCH (c:CI) WHERE c.key > $after RETURN c.key AS key ORDER BY key LIMIT $limit",
                after=after or "",
                limit=limit,
            )
            return [row["key"] for row in rows]

        return self._read(work)

    def export_relationships(self, source_keys: Sequence[str]) -> list[RawRelationship]:
        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [dict(row) for row in tx.run(_EXPORT_RELATIONSHIPS, keys=list(source_keys))]

        return [
            RawRelationship(
                source=row["source"],
                type=row["type"],
                target=row["target"],
                properties=json.loads(row["properties_json"]),
                version=row["version"],
                created_at=_required(row["created_at"]),
                updated_at=_required(row["updated_at"]),
                ended_at=native_time(row["ended_at"]),
            )
            for row in self._read(work)
        ]

    def export_versions(self, ci_keys: Sequence[str]) -> list[RawVersion]:
        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [dict(row["v"]) for row in tx.run(_EXPORT_VERSIONS, keys=list(ci_keys))]

        return [
            RawVersion(
                entity=node["entity"],
                key=node["key"],
                ci_key=node["ci_key"],
                version=node["version"],
                operation=node["operation"],
                snapshot=json.loads(node["snapshot_json"]),
                actor=node["actor"],
                origin=node["origin"],
                request_id=node.get("request_id"),
                change_id=node.get("change_id"),
                valid_from=_required(node["valid_from"]),
                valid_to=native_time(node.get("valid_to")),
                seq=node.get("seq", 0),
            )
            for node in self._read(work)
        ]

    def export_tokens(self) -> list[RawToken]:
        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [dict(row["t"]) for row in tx.run("MATCH (t:ApiToken) RETURN t ORDER BY t.name")]

        return [
            RawToken(
                name=node["name"],
                token_hash=node["token_hash"],
                actor=node["actor"],
                roles=list(node["roles"]),
                created_at=_required(node["created_at"]),
            )
            for node in self._read(work)
        ]

    def export_changes(self, *, after: str | None, limit: int) -> list[RawChange]:
        return self._read(neo4j_export_changes.export_changes, after, limit)

    def export_approvals(self, change_ids: Sequence[str]) -> list[RawApproval]:
        return self._read(neo4j_export_changes.export_approvals, change_ids)

    def export_reviews(self, change_ids: Sequence[str]) -> list[RawReview]:
        return self._read(neo4j_export_changes.export_reviews, change_ids)

    def export_freeze_windows(self, *, after: str | None, limit: int) -> list[RawFreezeWindow]:
        return self._read(neo4j_export_changes.export_freeze_windows, after, limit)

    def export_freeze_exceptions(self, *, after: int | None, limit: int) -> list[RawFreezeException]:
        return self._read(neo4j_export_changes.export_freeze_exceptions, after, limit)

    def export_discovery_runs(self, *, after: str | None, limit: int) -> list[RawDiscoveryRun]:
        return self._read(neo4j_export_changes.export_discovery_runs, after, limit)

    def copy_progress(self) -> CopyProgress | None:
        def work(tx: ManagedTransaction) -> dict[str, Any] | None:
            row = tx.run("MATCH (p:CopyProgress {id: 1}) RETURN p").single()
            return None if row is None else dict(row["p"])

        found = self._read(work)
        if found is None:
            return None
        return CopyProgress(
            source=found["source"],
            fingerprint=found["fingerprint"],
            phase=found["phase"],
            cursor=found.get("cursor"),
        )

    # Import

    def import_batch(self, batch: RawBatch, *, progress: CopyProgress) -> None:
        def work(tx: ManagedTransaction) -> None:
            if batch.cis:
                tx.run(_IMPORT_CIS, rows=[_ci_row(ci) for ci in batch.cis]).consume()
            by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for rel in batch.relationships:
                by_type[rel.type].append(_relationship_row(rel))
            for type_name, rows in sorted(by_type.items()):
                summary = tx.run(_create_query(type_name), rows=rows).consume()
                carries_impact = RELATIONSHIP_TYPES[type_name].flow is not Flow.NONE
                expected = len(rows) + (sum(1 for row in rows if row["live"]) if carries_impact else 0)
                if summary.counters.relationships_created != expected:
                    raise StoreError(
                        f"some of {len(rows)} {type_name} relationships name a CI the target does not"
                        " hold; import CIs before their relationships"
                    )
            if batch.versions:
                tx.run(_IMPORT_VERSIONS, rows=[_version_row(v) for v in batch.versions]).consume()
            if batch.tokens:
                tokens = [
                    {
                        "name": t.name,
                        "token_hash": t.token_hash,
                        "actor": t.actor,
                        "roles": list(t.roles),
                        "created_at": t.created_at,
                    }
                    for t in batch.tokens
                ]
                tx.run(_IMPORT_TOKENS, rows=tokens).consume()
            neo4j_export_changes.import_change_management(tx, batch)
            record = {
                "source": progress.source,
                "fingerprint": progress.fingerprint,
                "phase": progress.phase,
                "cursor": progress.cursor,
                "updated_at": utc_now(),
            }
            tx.run(_SAVE_PROGRESS, progress=record).consume()

        if batch.discovery_runs:
            # The uniqueness constraint on run ids is created on the first save of a run.
            self._ensure_discovery_schema()
        # A row already stored breaks a uniqueness constraint; the store's write retries would
        # only meet it again, so it is reported at once.
        try:
            with self._driver.session(database=self.database, bookmark_manager=self._bookmarks) as session:
                session.execute_write(work)
        except ConstraintError as error:
            raise StoreError(f"import into Neo4j at {self.uri} failed: {error.message}") from error


def open_neo4j_export_store(uri: str, settings: Settings | None = None) -> Neo4jExportStore:
    """Open the Neo4j store at ``uri`` with the user, password and database of ``settings``."""
    chosen = settings or get_settings()
    return Neo4jExportStore(
        uri,
        user=chosen.neo4j_user,
        password=chosen.neo4j_password,
        database=chosen.neo4j_database,
    )
