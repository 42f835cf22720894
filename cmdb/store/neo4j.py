"""The Neo4j store: the CI graph in Neo4j 5, through the official driver.

Routing URIs (``neo4j://``, ``neo4j+s://``) work with a single server, a cluster or Aura;
``bolt://`` talks to one server directly. Every call names the database, reads run in
``execute_read`` transactions (a cluster may serve them from a secondary) and writes in
``execute_write`` transactions, which the driver retries after transient errors. One bookmark
manager chains all sessions of the store, so a read reflects every write committed before it.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit

from neo4j import (
    READ_ACCESS,
    Driver,
    GraphDatabase,
    ManagedTransaction,
    NotificationMinimumSeverity,
    basic_auth,
)
from neo4j.exceptions import ConstraintError, DriverError, Neo4jError
from pydantic import SecretStr

from cmdb.model import (
    ChangeContext,
    CIInput,
    CIRecord,
    Direction,
    RelationshipInput,
    RelationshipRecord,
    VersionRecord,
)
from cmdb.settings import Settings, get_settings
from cmdb.store import neo4j_changes, neo4j_graph, neo4j_history, neo4j_relationships, neo4j_write
from cmdb.store.base import (
    MAX_PAGE_SIZE,
    ApiToken,
    ApprovalRecord,
    CIFilter,
    CINotFoundError,
    FreezeExceptionRecord,
    ImpactClosure,
    ImpactContext,
    Neighbour,
    Page,
    ReviewRecord,
    StoredChange,
    StoredFreezeWindow,
    StoreError,
    UpsertResult,
)
from cmdb.store.batch import BatchOutcome
from cmdb.store.neo4j_discovery import Neo4jDiscoveryMethods
from cmdb.store.neo4j_rows import ci_record, identifier_candidates, schema_statements, utc_now, version_record

logger = logging.getLogger(__name__)

SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")

# A batch that creates a CI or relationship another transaction created first fails on the
# uniqueness constraint. Running it again finds the stored row and updates it instead.
_CONSTRAINT_RETRIES = 3

T = TypeVar("T")
P = ParamSpec("P")


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError(f"invalid cursor {cursor!r}; pass the end_cursor of the previous page") from None


def check_uri(uri: str) -> str:
    """Return ``uri`` if the driver can use it; raise ValueError naming the accepted forms."""
    parts = urlsplit(uri)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError(
            f"invalid Neo4j URI scheme or host in {parts.scheme}://{parts.hostname or ''};"
            f" use {', '.join(s + '://HOST:PORT' for s in SCHEMES)}"
        )
    if parts.username or parts.password:
        raise ValueError(
            "a Neo4j URI must not contain credentials; set CMDB_NEO4J_USER and CMDB_NEO4J_PASSWORD"
        )
    return uri


class Neo4jStore(Neo4jDiscoveryMethods):
    """A ``GraphStore`` in one Neo4j database, safe to share between threads."""

    def __init__(self, uri: str, *, user: str, password: SecretStr, database: str) -> None:
        self.uri = check_uri(uri)
        self.database = database
        secret = password.get_secret_value()
        self._driver: Driver = GraphDatabase.driver(
            uri,
            auth=basic_auth(user, secret) if secret else None,
            user_agent="clinical-cmdb",
            notifications_min_severity=NotificationMinimumSeverity.OFF,
        )
        self._bookmarks = GraphDatabase.bookmark_manager()
        try:
            self._apply_schema()
        except (DriverError, Neo4jError) as error:
            self._driver.close()
            raise StoreError(
                f"cannot open Neo4j store at {self.uri} (database {database!r}): {error}"
            ) from error
        logger.info("opened Neo4j store at %s, database %s, as user %s", self.uri, database, user)

    def __repr__(self) -> str:
        return f"Neo4jStore({self.uri!r}, database={self.database!r})"

    # Sessions and transactions

    def _apply_schema(self) -> None:
        with self._driver.session(database=self.database, bookmark_manager=self._bookmarks) as session:
            for statement in schema_statements():
                session.run(statement).consume()
            for statement in (*neo4j_history.SCHEMA_STATEMENTS, *neo4j_changes.SCHEMA_STATEMENTS):
                session.run(statement).consume()
            session.run("CALL db.awaitIndexes(300)").consume()

    def _read(
        self, work: Callable[Concatenate[ManagedTransaction, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        with self._driver.session(database=self.database, bookmark_manager=self._bookmarks) as session:
            return session.execute_read(work, *args, **kwargs)

    def _write(
        self, work: Callable[Concatenate[ManagedTransaction, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        attempt = 1
        while True:
            with self._driver.session(database=self.database, bookmark_manager=self._bookmarks) as session:
                try:
                    return session.execute_write(work, *args, **kwargs)
                except ConstraintError as error:
                    if attempt >= _CONSTRAINT_RETRIES:
                        raise StoreError(
                            f"write failed on a uniqueness constraint: {error.message}"
                        ) from error
                    logger.warning(
                        "write hit a uniqueness constraint (attempt %s of %s), retrying: %s",
                        attempt,
                        _CONSTRAINT_RETRIES,
                        error.message,
                    )
                    attempt += 1

    def _batch(
        self,
        work: Callable[..., BatchOutcome],
        rows: Sequence[Any],
        *,
        context: ChangeContext,
        strict: bool,
    ) -> UpsertResult:
        outcome = self._write(work, rows, context=context, now=utc_now(), strict=strict)
        for row in outcome.result.rejected:
            logger.warning("skipped row %s (%s): %s", row.index, row.key, row.message)
        return outcome.result

    # Writes

    def upsert_cis(
        self, cis: Sequence[CIInput], *, context: ChangeContext, strict: bool = False
    ) -> UpsertResult:
        return self._batch(neo4j_write.upsert_cis, cis, context=context, strict=strict)

    def upsert_relationships(
        self,
        relationships: Sequence[RelationshipInput],
        *,
        context: ChangeContext,
        strict: bool = False,
    ) -> UpsertResult:
        return self._batch(
            neo4j_relationships.upsert_relationships, relationships, context=context, strict=strict
        )

    def retire_ci(self, key: str, *, expected_version: int | None, context: ChangeContext) -> CIRecord:
        return self._write(
            neo4j_write.retire_ci, key, expected_version=expected_version, context=context, now=utc_now()
        )

    def save_token(self, token: ApiToken) -> None:
        """Store a token under its name, replacing the token of that name if there is one."""

        def work(tx: ManagedTransaction) -> None:
            tx.run(
                "MERGE (t:ApiToken {name: $name})"
                " SET t.token_hash = $token_hash, t.actor = $actor, t.roles = $roles, t.created_at = $now",
                name=token.name,
                token_hash=token.token_hash,
                actor=token.actor,
                roles=list(token.roles),
                now=utc_now(),
            ).consume()

        try:
            self._write(work)
        except StoreError:
            raise StoreError(
                f"token {token.name!r} has the same hash as another stored token; generate a new token"
            ) from None

    # Reads

    def get_ci(self, key: str) -> CIRecord | None:
        return self.get_cis([key]).get(key)

    def get_cis(self, keys: Iterable[str]) -> dict[str, CIRecord]:
        def work(tx: ManagedTransaction, keys: list[str]) -> dict[str, CIRecord]:
            rows = tx.run("UNWIND $keys AS key MATCH (c:CI {key: key}) RETURN c", keys=keys)
            records = [ci_record(dict(row["c"])) for row in rows]
            return {record.key: record for record in records}

        return self._read(work, sorted(set(keys)))

    def find_cis(self, text: str) -> list[CIRecord]:
        value = text.strip()
        if not value:
            return []

        # NOTE: Neo4j 5.26 range indexes do not serve membership tests on list properties.
        # Matching identifiers therefore scans every CI node, although key and name have indexes.
        def work(tx: ManagedTransaction) -> list[CIRecord]:
            rows = tx.run(
                "MATCH (c:CI) WHERE c.key = $text OR c.name_folded = $folded"
                " OR any(v IN c.identifier_values WHERE v IN $candidates)"
                " RETURN c ORDER BY c.key",
                text=value,
                folded=value.casefold(),
                candidates=identifier_candidates(value),
            )
            return [ci_record(dict(row["c"])) for row in rows]

        return self._read(work)

    def search_cis(self, ci_filter: CIFilter, *, first: int, after: str | None) -> Page:
        """Return one page of the CIs matching ``ci_filter``, ordered by key, after the cursor ``after``.

        ``first`` is clamped to 1..MAX_PAGE_SIZE. The cursor is the last key of the previous
        page, so CIs added or removed between calls cause neither duplicates nor gaps.
        """
        size = max(1, min(first, MAX_PAGE_SIZE))
        where, params = _filter_clause(ci_filter)
        page_where = list(where)
        if after is not None:
            page_where.append("c.key > $after")
            params["after"] = decode_cursor(after)

        def work(tx: ManagedTransaction) -> tuple[int, list[CIRecord]]:
            total_row = tx.run(
                f"MATCH (c:CI) WHERE {' AND '.join(where) or 'true'} RETURN count(c) AS total", params
            ).single()
            rows = tx.run(
                f"MATCH (c:CI) WHERE {' AND '.join(page_where) or 'true'}"
                " RETURN c ORDER BY c.key LIMIT $limit",
                {**params, "limit": size + 1},
            )
            records = [ci_record(dict(row["c"])) for row in rows]
            return (total_row["total"] if total_row else 0), records

        total, records = self._read(work)
        items = records[:size]
        return Page(
            items=items,
            has_next=len(records) > size,
            end_cursor=encode_cursor(items[-1].key) if items else None,
            total=total,
        )

    def relationships(
        self, key: str, *, direction: Direction, types: Sequence[str] = ()
    ) -> list[RelationshipRecord]:
        return self._read(neo4j_graph.relationships, key, direction=direction, types=types)

    def neighbours(
        self, key: str, *, depth: int, direction: Direction, types: Sequence[str] = ()
    ) -> list[Neighbour]:
        return self._read(neo4j_graph.neighbours, key, depth=depth, direction=direction, types=types)

    def impact_closure(self, roots: Iterable[str]) -> ImpactClosure:
        return self._read(neo4j_graph.impact_closure, sorted(set(roots)))

    def impact_context(self, keys: Iterable[str]) -> ImpactContext:
        return self._read(neo4j_graph.impact_context, sorted(set(keys)))

    def versions(self, key: str) -> list[VersionRecord]:
        """Return the versions of a CI and of the relationships it is the source of, oldest first.

        Raise CINotFoundError when the store does not hold ``key``.
        """

        def work(tx: ManagedTransaction) -> list[VersionRecord] | None:
            if tx.run("MATCH (c:CI {key: $key}) RETURN c.key", key=key).single() is None:
                return None
            rows = tx.run(
                "MATCH (v:Version {ci_key: $key}) RETURN v ORDER BY v.valid_from, v.entity, v.seq", key=key
            )
            return [version_record(dict(row["v"])) for row in rows]

        found = self._read(work)
        if found is None:
            raise CINotFoundError(key)
        return found

    # History and change management

    def versions_as_of(self, at: datetime) -> list[VersionRecord]:
        return self._read(neo4j_history.versions_as_of, at)

    def save_changes(
        self, changes: Sequence[StoredChange], *, freeze_windows: Sequence[StoredFreezeWindow] = ()
    ) -> None:
        self._write(neo4j_changes.save_changes, changes, freeze_windows, now=utc_now())

    def get_change(self, change_id: str) -> StoredChange | None:
        return self._read(neo4j_changes.get_change, change_id)

    def list_changes(self, *, states: Sequence[str] = ()) -> list[StoredChange]:
        return self._read(neo4j_changes.list_changes, states)

    def list_freeze_windows(self) -> list[StoredFreezeWindow]:
        return self._read(neo4j_changes.list_freeze_windows)

    def apply_change(
        self,
        cis: Sequence[CIInput],
        *,
        change: StoredChange,
        context: ChangeContext,
        freeze_exceptions: Sequence[FreezeExceptionRecord] = (),
    ) -> UpsertResult:
        return self._write(
            neo4j_changes.apply_change,
            cis,
            change=change,
            context=context,
            freeze_exceptions=freeze_exceptions,
            now=utc_now(),
        )

    def save_approval(self, approval: ApprovalRecord) -> None:
        self._write(neo4j_changes.save_approval, approval)

    def approvals(self, change_id: str) -> list[ApprovalRecord]:
        return self._read(neo4j_changes.approvals, change_id)

    def freeze_exceptions(self, *, change_id: str | None = None) -> list[FreezeExceptionRecord]:
        return self._read(neo4j_changes.freeze_exceptions, change_id)

    def save_review(self, review: ReviewRecord) -> None:
        self._write(neo4j_changes.save_review, review)

    def reviews(self, change_id: str) -> list[ReviewRecord]:
        return self._read(neo4j_changes.reviews, change_id)

    def counts(self) -> dict[str, int]:
        """Return the number of CIs (retired ones included), relationships and versions."""

        # Counts by label or by relationship type come from Neo4j's count store, not a scan.
        def work(tx: ManagedTransaction) -> dict[str, int]:
            row = tx.run(
                "CALL () { MATCH (c:CI) RETURN count(c) AS cis }"
                " CALL () { MATCH ()-[r]->() RETURN count(r) AS all_relationships }"
                " CALL () { MATCH ()-[i:IMPACTS]->() RETURN count(i) AS impacts }"
                " CALL () { MATCH (v:Version) RETURN count(v) AS versions }"
                " RETURN cis, all_relationships - impacts AS relationships, versions"
            ).single()
            assert row is not None
            return {"cis": row["cis"], "relationships": row["relationships"], "versions": row["versions"]}

        return self._read(work)

    def find_token(self, token_hash: str) -> ApiToken | None:
        def work(tx: ManagedTransaction) -> ApiToken | None:
            row = tx.run(
                "MATCH (t:ApiToken {token_hash: $token_hash}) RETURN t.name AS name, t.actor AS actor,"
                " t.roles AS roles",
                token_hash=token_hash,
            ).single()
            if row is None:
                return None
            return ApiToken(
                name=row["name"], token_hash=token_hash, actor=row["actor"], roles=tuple(row["roles"])
            )

        return self._read(work)

    def ping(self) -> None:
        """Run ``RETURN 1`` once; raise StoreError when Neo4j does not respond.

        It runs without the retries of managed transactions, which wait up to 30 s by default,
        and without the store's bookmarks, so a readiness check fails fast and recovers alone.
        """
        try:
            with self._driver.session(database=self.database, default_access_mode=READ_ACCESS) as session:
                session.run("RETURN 1").consume()
        except (DriverError, Neo4jError) as error:
            raise StoreError(
                f"Neo4j at {self.uri} (database {self.database!r}) did not respond: {error}"
            ) from error

    def close(self) -> None:
        self._driver.close()


def _filter_clause(ci_filter: CIFilter) -> tuple[list[str], dict[str, Any]]:
    """Return the WHERE conditions and parameters of a search filter; every condition must hold."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if ci_filter.ci_classes:
        where.append("c.ci_class IN $ci_classes")
        params["ci_classes"] = list(ci_filter.ci_classes)
    if ci_filter.criticalities:
        where.append("c.criticality IN $criticalities")
        params["criticalities"] = [c.value for c in ci_filter.criticalities]
    if ci_filter.statuses:
        where.append("c.status IN $statuses")
        params["statuses"] = [s.value for s in ci_filter.statuses]
    if ci_filter.tag is not None and ci_filter.tag.strip():
        where.append("$tag IN c.tags")
        params["tag"] = ci_filter.tag.strip().lower()
    text = (ci_filter.text or "").strip()
    if text:
        # Key and name match as case-insensitive substrings, identifiers exactly.
        where.append(
            "(toLower(c.key) CONTAINS $text_lower OR c.name_folded CONTAINS $text_folded"
            " OR any(v IN c.identifier_values WHERE v IN $candidates))"
        )
        params["text_lower"] = text.lower()
        params["text_folded"] = text.casefold()
        params["candidates"] = identifier_candidates(text)
    return where, params


def open_neo4j_store(uri: str, settings: Settings | None = None) -> Neo4jStore:
    """Open the Neo4j store at ``uri`` with the user, password and database of ``settings``."""
    chosen = settings or get_settings()
    return Neo4jStore(
        uri,
        user=chosen.neo4j_user,
        password=chosen.neo4j_password,
        database=chosen.neo4j_database,
    )
