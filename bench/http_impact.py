"""Benchmark (a): small impacts through HTTP GraphQL against the raw CTE closure of the same roots.

`running_server` and `time_impact_queries` also serve the HTTP benchmark of the Neo4j store.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.raw import closure_keys, open_readonly
from bench.timing import BenchResult, percentile, time_each

HOST = "127.0.0.1"
SERVER_START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0

IMPACT_QUERY = """
query SmallImpact($roots: [ImpactRootInput!]!) {
  impact(input: {roots: $roots, urgency: 2}) {
    __typename
    ... on ImpactReport {
      impactLevel
      priority
      impactedCount
      services { key state }
      departments { key state }
      impacted(first: 500) {
        totalCount
        edges { node { key state distance } }
      }
    }
  }
}
"""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(store_url: str, log_path: Path) -> Iterator[str]:
    """Run the app under uvicorn on 127.0.0.1 at a free port over ``store_url``, and stop it on exit.

    Yields the GraphQL URL once /readyz reports the store reachable. Reads are open, so no token
    is needed. The server process opens the store itself.
    """
    port = free_port()
    env = {
        **os.environ,
        "CMDB_STORE": store_url,
        "CMDB_OPEN_READS": "true",
        "CMDB_LOG_LEVEL": "WARNING",
        "CMDB_MAX_TRAVERSAL_COST": "1000000",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "cmdb.app:create_app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://{HOST}:{port}"
            _wait_until_ready(base, process, log_path)
            yield f"{base}/graphql"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _wait_until_ready(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the benchmark server exited with code {process.returncode}; see {log_path}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the benchmark server at {base} was not ready within {SERVER_START_TIMEOUT_S} s")


def time_impact_queries(
    url: str, roots: Sequence[str], *, warmup: int, budget_s: float = math.inf
) -> tuple[list[float], list[int]]:
    """Send one GraphQL impact query per root, the first ``warmup`` untimed.

    Return the seconds and the impacted-CI count of each timed query. ``budget_s`` works as in
    `time_each`.
    """
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        return time_each(lambda root: _query(client, url, root), roots, warmup=warmup, budget_s=budget_s)


def small_impacts(
    *, store_path: Path, log_path: Path, roots: Sequence[str], requests: int, warmup: int
) -> BenchResult:
    """Time ``requests`` GraphQL impact queries, one root each, cycling through ``roots``.

    The baseline runs the raw CTE closure of the same roots, in the same order, on a plain
    sqlite3 connection to the same file. Goals: p50 at most the raw p50 plus 5 ms, and p99
    at most 30 ms.
    """
    sequence = [roots[i % len(roots)] for i in range(requests)]

    conn = open_readonly(str(store_path))
    try:
        raw_durations, closure_sizes = time_each(
            lambda root: len(closure_keys(conn, [root])), sequence, warmup=warmup
        )
    finally:
        conn.close()

    with running_server(f"sqlite:///{store_path}", log_path) as url:
        http_durations, impacted_counts = time_impact_queries(url, sequence, warmup=warmup)

    p50, p99 = percentile(http_durations, 0.5), percentile(http_durations, 0.99)
    raw_p50, raw_p99 = percentile(raw_durations, 0.5), percentile(raw_durations, 0.99)
    return BenchResult(
        name="(a) small impact: GraphQL over HTTP vs raw CTE (p50)",
        unit="s",
        measured=p50,
        baseline=raw_p50,
        goal="p50 <= raw p50 + 5 ms; p99 <= 30 ms",
        passed=p50 <= raw_p50 + 0.005 and p99 <= 0.030,
        details={
            "requests": requests,
            "distinct_roots": len(roots),
            "p50_ms": round(p50 * 1000, 2),
            "p99_ms": round(p99 * 1000, 2),
            "raw_p50_ms": round(raw_p50 * 1000, 3),
            "raw_p99_ms": round(raw_p99 * 1000, 3),
            "impacted_min": min(impacted_counts),
            "impacted_max": max(impacted_counts),
            "raw_closure_max": max(closure_sizes),
        },
    )


def _query(client: httpx.Client, url: str, root: str) -> int:
    """Send one impact query; return the number of impacted CIs, or raise on any error."""
    response = client.post(url, json={"query": IMPACT_QUERY, "variables": {"roots": [{"ci": root}]}})
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"impact query for {root!r} failed: {body['errors']}")
    report = body["data"]["impact"]
    if report["__typename"] != "ImpactReport":
        raise RuntimeError(f"impact query for {root!r} returned {report['__typename']}")
    count: int = report["impactedCount"]
    if count > 500:
        raise RuntimeError(f"impact of {root!r} has {count} CIs, more than one page; pick a smaller root")
    return count
