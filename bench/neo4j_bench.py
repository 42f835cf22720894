"""Benchmarks of the Neo4j store on the generated 100k-CI hospital, each against the raw driver.

`python -m bench.neo4j_bench` generates the demo health system (scale 43, seed 7), starts its
own Neo4j with scripts/neo4j/start (heap NEO4J_HEAP, default 4g here) in a temporary run folder
and measures, in one run:

- import: ``Neo4jStore.upsert_cis`` / ``upsert_relationships`` into an empty database, against
  the raw driver running ``UNWIND … MERGE`` batches of the same rows, prepared beforehand (CI
  nodes, typed relationships, impact edges and version nodes); goal at least 0.8 times its
  rate. The store import stops after ``--import-budget`` seconds, and both rates are taken over
  the batches it wrote. The raw import loads the whole hospital, which the reads below use.
- closure: ``Neo4jStore.impact_closure`` of a core switch and of access switches, against the
  store's closure Cypher run alone on the raw driver; goal at most 1.3 times its time.
- small impact over HTTP: GraphQL ``impact`` of one access switch per request, through uvicorn
  on 127.0.0.1 at a free port with the Neo4j store behind it; p50 and p99 are reported.

Neo4j is restarted empty between the store and the raw import and stopped at the end. The
uvicorn process is started and stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from neo4j import GraphDatabase, ManagedTransaction
from pydantic import SecretStr

from bench.http_impact import running_server, time_impact_queries
from bench.run import CORE_ROOTS, machine, small_roots
from bench.timing import BenchResult, percentile, table, time_each
from cmdb.demo import generate_hospital
from cmdb.demo.generator import DemoHospital
from cmdb.model import (
    RELATIONSHIP_TYPES,
    ChangeContext,
    CIInput,
    Flow,
    Origin,
    RelationshipInput,
    impact_strength,
)
from cmdb.store.neo4j import Neo4jStore
from cmdb.store.neo4j_graph import CLOSURE_PARAMETERS, CLOSURE_QUERY
from cmdb.store.neo4j_rows import dumps, identifier_values, relationship_key
from cmdb.store.neo4j_write import version_row

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts" / "neo4j"
BENCH_SCALE = 43
SMALL_ROOT_COUNT = 50
# Each timed loop stops after this many seconds even when requests remain.
LOOP_BUDGET_S = 300.0

# The raw baseline: UNWIND batches writing what the store writes, without its reads and checks.
_RAW_CIS = "UNWIND $rows AS row MERGE (c:CI {key: row.key}) SET c += row"
_RAW_VERSIONS = "UNWIND $rows AS row CREATE (v:Version) SET v = row"


def _raw_relationships_query(type_name: str) -> str:
    rel_type = RELATIONSHIP_TYPES[type_name]
    query = (
        "UNWIND $rows AS row\n"
        "MATCH (s:CI {key: row.source}), (t:CI {key: row.target})\n"
        f"MERGE (s)-[r:{rel_type.name} {{key: row.key}}]->(t)\n"
        "SET r += row.relationship\n"
    )
    impacts = "[:IMPACTS {rel_key: row.key, type: row.type, strength: row.strength}]"
    if rel_type.flow is Flow.TARGET_TO_SOURCE:
        query += f"CREATE (t)-{impacts}->(s)\n"
    elif rel_type.flow is not Flow.NONE:
        query += f"CREATE (s)-{impacts}->(t)\n"
    return query


class Neo4jServer:
    """The Neo4j of this benchmark, started and stopped by the project's scripts in its own run folder."""

    def __init__(self, run_dir: Path, heap: str, pagecache: str) -> None:
        self.heap = heap
        self.pagecache = pagecache
        self.env = {
            **os.environ,
            "NEO4J_RUN_DIR": str(run_dir),
            "NEO4J_HEAP": heap,
            "NEO4J_PAGECACHE": pagecache,
        }
        self.uri = ""

    def start(self) -> str:
        done = subprocess.run(
            [str(SCRIPTS / "start")], env=self.env, capture_output=True, text=True, timeout=600, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/neo4j/start failed:\n{done.stderr}")
        self.uri = done.stdout.strip()
        return self.uri

    def stop(self) -> None:
        subprocess.run([str(SCRIPTS / "stop")], env=self.env, capture_output=True, timeout=300, check=False)


def _batches(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# Import


def _raw_ci_rows(cis: Sequence[CIInput], now: datetime) -> list[dict[str, Any]]:
    return [
        {
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
            "sources_json": dumps(dict.fromkeys(ci.attributes, "import:bench")),
            "version": 1,
            "first_seen": now,
            "last_seen": now,
            "created_at": now,
            "updated_at": now,
        }
        for ci in cis
    ]


def _raw_relationship_rows(rel: RelationshipInput, now: datetime) -> dict[str, Any]:
    key = relationship_key(rel.source, rel.type, rel.target)
    strength = impact_strength(rel.type, rel.properties.get("strength"))
    return {
        "key": key,
        "source": rel.source,
        "target": rel.target,
        "type": rel.type,
        "strength": strength.value if strength is not None else None,
        "relationship": {
            "key": key,
            "properties_json": dumps(rel.properties),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        },
    }


def _version_rows(
    *, entity: str, keys: Sequence[tuple[str, str, dict[str, Any]]], context: ChangeContext, now: datetime
) -> list[dict[str, Any]]:
    return [
        version_row(
            entity=entity,
            key=key,
            ci_key=ci_key,
            version=1,
            operation="create",
            snapshot=snapshot,
            context=context,
            now=now,
            seq=index,
        )
        for index, (key, ci_key, snapshot) in enumerate(keys)
    ]


def raw_import(uri: str, hospital: DemoHospital, batch_size: int) -> list[tuple[int, float]]:
    """Write the hospital with the raw driver, rows prepared beforehand.

    Return the rows written and the seconds elapsed after each batch, so that the time of any
    prefix of batches can be read off.
    """
    now = datetime.now(UTC)
    context = ChangeContext(actor="bench", origin=Origin.IMPORT)
    ci_batches = []
    for batch in _batches(hospital.cis, batch_size):
        snapshots = [(ci.key, ci.key, ci.model_dump(mode="json", exclude={"version"})) for ci in batch]
        ci_batches.append(
            (_raw_ci_rows(batch, now), _version_rows(entity="ci", keys=snapshots, context=context, now=now))
        )
    rel_batches = []
    for rel_batch in _batches(hospital.relationships, batch_size):
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for rel in rel_batch:
            by_type[rel.type].append(_raw_relationship_rows(rel, now))
        snapshots = [
            (relationship_key(r.source, r.type, r.target), r.source, r.model_dump(mode="json"))
            for r in rel_batch
        ]
        versions = _version_rows(entity="relationship", keys=snapshots, context=context, now=now)
        rel_batches.append((dict(by_type), versions))

    def write_cis(tx: ManagedTransaction, rows: list[dict[str, Any]], versions: list[dict[str, Any]]) -> None:
        tx.run(_RAW_CIS, rows=rows).consume()
        tx.run(_RAW_VERSIONS, rows=versions).consume()

    def write_relationships(
        tx: ManagedTransaction, by_type: dict[str, list[dict[str, Any]]], versions: list[dict[str, Any]]
    ) -> None:
        for type_name, rows in sorted(by_type.items()):
            tx.run(_raw_relationships_query(type_name), rows=rows).consume()
        tx.run(_RAW_VERSIONS, rows=versions).consume()

    progress: list[tuple[int, float]] = []
    written = 0
    with GraphDatabase.driver(uri) as driver, driver.session(database="neo4j") as session:
        started = time.perf_counter()
        for rows, versions in ci_batches:
            session.execute_write(write_cis, rows, versions)
            written += len(rows)
            progress.append((written, time.perf_counter() - started))
        for by_type, versions in rel_batches:
            session.execute_write(write_relationships, by_type, versions)
            written += len(versions)
            progress.append((written, time.perf_counter() - started))
    return progress


def store_import(
    store: Neo4jStore, hospital: DemoHospital, batch_size: int, budget_s: float
) -> tuple[int, float]:
    """Write the hospital through the store's upserts, stopping after the batch that passes ``budget_s``.

    Return the rows written and the seconds taken.
    """
    context = ChangeContext(actor="bench", origin=Origin.IMPORT)
    written = 0
    started = time.perf_counter()
    for batch in _batches(hospital.cis, batch_size):
        result = store.upsert_cis(batch, context=context)
        assert not result.rejected, result.rejected[:3]
        written += len(batch)
        if time.perf_counter() - started > budget_s:
            return written, time.perf_counter() - started
    for rel_batch in _batches(hospital.relationships, batch_size):
        result = store.upsert_relationships(rel_batch, context=context)
        assert not result.rejected, result.rejected[:3]
        written += len(rel_batch)
        if time.perf_counter() - started > budget_s:
            break
    return written, time.perf_counter() - started


def import_result(
    store_rows: int, store_seconds: float, raw_progress: list[tuple[int, float]]
) -> BenchResult:
    """Compare the store's rate with the raw rate over the same prefix of batches."""
    raw_seconds = next(seconds for rows, seconds in raw_progress if rows >= store_rows)
    measured, baseline = store_rows / store_seconds, store_rows / raw_seconds
    total_rows, total_seconds = raw_progress[-1]
    return BenchResult(
        name="import (rows/s)",
        unit="rows/s",
        measured=measured,
        baseline=baseline,
        goal=">= 0.8x",
        passed=measured >= 0.8 * baseline,
        details={
            "rows_compared": store_rows,
            "store_s": store_seconds,
            "raw_s_same_rows": raw_seconds,
            "raw_rows_all": total_rows,
            "raw_s_all": total_seconds,
        },
    )


# Closure


def closure_ratio(
    store: Neo4jStore, uri: str, name: str, roots_cycle: Sequence[Sequence[str]], repeat: int
) -> BenchResult:
    """Time the store's closure against the same Cypher on the raw driver, median over ``roots_cycle``."""

    def raw_work(tx: ManagedTransaction, roots: list[str]) -> int:
        row = tx.run(CLOSURE_QUERY, {"roots": roots, **CLOSURE_PARAMETERS}).single()
        return 0 if row is None else len(row["keys"])

    sizes: list[int] = []
    with GraphDatabase.driver(uri) as driver, driver.session(database="neo4j") as session:
        for roots in roots_cycle[:3]:
            session.execute_read(raw_work, list(roots))
            store.impact_closure(roots)
        raw_times: list[float] = []
        store_times: list[float] = []
        for _ in range(repeat):
            for roots in roots_cycle:
                started = time.perf_counter()
                session.execute_read(raw_work, list(roots))
                raw_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                store.impact_closure(roots)
                store_times.append(time.perf_counter() - started)
        for roots in roots_cycle:
            sizes.append(len(store.impact_closure(roots).nodes))
    measured = percentile(store_times, 0.5)
    baseline = percentile(raw_times, 0.5)
    return BenchResult(
        name=name,
        unit="s",
        measured=measured,
        baseline=baseline,
        goal="<= 1.3x",
        passed=measured <= 1.3 * baseline,
        details={"runs": len(store_times), "closure_nodes_min": min(sizes), "closure_nodes_max": max(sizes)},
    )


# Small impact over HTTP


def small_impacts_http(
    uri: str, log_path: Path, roots: Sequence[str], requests: int, warmup: int
) -> BenchResult:
    """Time GraphQL impact requests of one access switch each; the baseline is the raw closure's p50."""
    sequence = [roots[i % len(roots)] for i in range(requests)]

    def raw_work(tx: ManagedTransaction, root: str) -> None:
        tx.run(CLOSURE_QUERY, {"roots": [root], **CLOSURE_PARAMETERS}).single()

    with GraphDatabase.driver(uri) as driver, driver.session(database="neo4j") as session:
        raw_times, _ = time_each(lambda root: session.execute_read(raw_work, root), sequence, warmup=warmup)

    with running_server(uri, log_path) as url:
        durations, counts = time_impact_queries(url, sequence, warmup=warmup, budget_s=LOOP_BUDGET_S)
    p50, p99 = percentile(durations, 0.5), percentile(durations, 0.99)
    return BenchResult(
        name="small impact over HTTP (p50)",
        unit="s",
        measured=p50,
        baseline=percentile(raw_times, 0.5),
        goal="reported",
        passed=True,
        details={
            "p99_s": p99,
            "raw_p99_s": percentile(raw_times, 0.99),
            "requests": len(durations),
            "impacted_min": min(counts),
            "impacted_max": max(counts),
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--scale", type=int, default=BENCH_SCALE, help="Demo hospital scale (43 is ~100k CIs)."
    )
    parser.add_argument("--seed", type=int, default=7, help="Demo hospital seed.")
    parser.add_argument("--batch-size", type=int, default=5000, help="Rows per write transaction.")
    parser.add_argument("--repeat", type=int, default=5, help="Rounds of each closure benchmark.")
    parser.add_argument("--requests", type=int, default=300, help="Timed GraphQL requests.")
    parser.add_argument("--warmup", type=int, default=20, help="Untimed requests before the timed ones.")
    parser.add_argument("--heap", default=os.environ.get("NEO4J_HEAP", "4g"), help="Neo4j JVM heap.")
    parser.add_argument(
        "--pagecache", default=os.environ.get("NEO4J_PAGECACHE", "2g"), help="Neo4j page cache size."
    )
    parser.add_argument(
        "--import-budget",
        type=float,
        default=300.0,
        help="Seconds after which the store import stops; its rate is compared over the rows written.",
    )
    parser.add_argument("--out", type=Path, default=None, help="Write the results as JSON to this file.")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    hospital = generate_hospital(seed=args.seed, scale=args.scale)
    print(
        f"generated {len(hospital.cis):,} CIs and {len(hospital.relationships):,} relationships"
        f" in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="cmdb-neo4j-bench-"))
    server = Neo4jServer(workdir / "neo4j", heap=args.heap, pagecache=args.pagecache)
    results: list[BenchResult] = []
    try:
        uri = server.start()
        store = Neo4jStore(uri, user="neo4j", password=SecretStr(""), database="neo4j")
        try:
            store_rows, store_seconds = store_import(store, hospital, args.batch_size, args.import_budget)
        finally:
            store.close()
        print(f"store import: {store_rows:,} rows in {store_seconds:.1f} s", flush=True)
        server.stop()

        # The raw import loads the whole hospital, in the layout the store writes, for the reads.
        uri = server.start()
        # Opening the store creates the constraints and indexes that the raw import relies on.
        store = Neo4jStore(uri, user="neo4j", password=SecretStr(""), database="neo4j")
        try:
            raw_progress = raw_import(uri, hospital, args.batch_size)
            print(f"raw import: {raw_progress[-1][0]:,} rows in {raw_progress[-1][1]:.1f} s", flush=True)
            results.append(import_result(store_rows, store_seconds, raw_progress))
            core = [[root] for root in CORE_ROOTS[:1]]
            results.append(closure_ratio(store, uri, "closure, core switch", core, args.repeat))
            print("done: core-switch closure", flush=True)
            access = [[root] for root in small_roots(hospital, 20)]
            results.append(closure_ratio(store, uri, "closure, access switch", access, args.repeat))
            print("done: access-switch closure", flush=True)
        finally:
            store.close()
        results.append(
            small_impacts_http(
                uri,
                workdir / "uvicorn.log",
                small_roots(hospital, SMALL_ROOT_COUNT),
                args.requests,
                args.warmup,
            )
        )
        print("done: small impact over HTTP", flush=True)
    finally:
        server.stop()

    print()
    print(table(results))
    report = {
        "command": "python -m bench.neo4j_bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "neo4j": {"heap": args.heap, "pagecache": args.pagecache},
        "cis": len(hospital.cis),
        "relationships": len(hospital.relationships),
        "results": [result.to_json() for result in results],
    }
    print(json.dumps(report, indent=1))
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
