"""Benchmarks (b) and (c): a core-switch impact through the engine, and causal paths against plain BFS."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence

from bench.raw import closure_keys, open_readonly
from bench.timing import BenchResult, median_seconds
from cmdb.impact import ImpactRequest, Mode, analyze, propagate
from cmdb.impact.service import collector_paused
from cmdb.store.base import GraphStore, ImpactClosure


def core_switch_impact(*, store: GraphStore, path: str, roots: Sequence[str], repeat: int) -> BenchResult:
    """Time ``analyze`` on ``roots`` against the raw CTE closure of the same roots (goal: at most 2x)."""
    request = ImpactRequest(roots=dict.fromkeys(roots, Mode.DOWN))
    conn = open_readonly(path)
    try:
        raw_keys = closure_keys(conn, roots)
        baseline, _ = median_seconds(lambda: closure_keys(conn, roots), repeat=repeat)
    finally:
        conn.close()
    report = analyze(store=store, request=request)
    measured, _ = median_seconds(lambda: analyze(store=store, request=request), repeat=repeat)
    return BenchResult(
        name="(b) core-switch impact: analyze vs raw CTE",
        unit="s",
        measured=measured,
        baseline=baseline,
        goal="<= 2.0x",
        passed=measured <= 2.0 * baseline,
        details={
            "roots": list(roots),
            "raw_closure_cis": len(raw_keys),
            "impacted_cis": len(report.impacted),
            "repeat": repeat,
        },
    )


def plain_reachability(closure: ImpactClosure, roots: Sequence[str]) -> dict[str, tuple[str | None, int]]:
    """Return every CI reachable from ``roots`` over the closure's edges, with a predecessor and distance."""
    adjacency: dict[str, list[str]] = defaultdict(list)
    for edge in closure.edges:
        adjacency[edge.source].append(edge.target)
    reached: dict[str, tuple[str | None, int]] = {root: (None, 0) for root in roots}
    queue: deque[str] = deque(roots)
    while queue:
        current = queue.popleft()
        distance = reached[current][1] + 1
        for target in adjacency.get(current, ()):
            if target not in reached:
                reached[target] = (current, distance)
                queue.append(target)
    return reached


def explain_all(closure: ImpactClosure, request: ImpactRequest) -> int:
    """Propagate and materialise the explanation path of every impacted CI; return the path steps."""
    propagation = propagate(closure, request)
    return sum(len(keys) for keys, _types in propagation.all_paths().values())


def explanation_paths(*, store: GraphStore, roots: Sequence[str], repeat: int) -> BenchResult:
    """Time impact with every explanation path against the impacted set alone (goal: at most 1.3x).

    The baseline is ``propagate`` itself: final states and the set of CIs that a causal
    chain reaches. The measured run adds what explanations cost on top: the path of every
    impacted CI. A plain BFS over the same closure, which ignores states, is reported too.
    """
    request = ImpactRequest(roots=dict.fromkeys(roots, Mode.DOWN))
    closure = store.impact_closure(roots)
    reachable = plain_reachability(closure, roots)
    propagation = propagate(closure, request)
    with collector_paused():
        baseline, _ = median_seconds(lambda: propagate(closure, request), repeat=repeat)
        measured, _ = median_seconds(lambda: explain_all(closure, request), repeat=repeat)
        plain_bfs, _ = median_seconds(lambda: plain_reachability(closure, roots), repeat=repeat)
    return BenchResult(
        name="(c) explanation paths: with paths vs impacted set alone",
        unit="s",
        measured=measured,
        baseline=baseline,
        goal="<= 1.3x",
        passed=measured <= 1.3 * baseline,
        details={
            "closure_cis": len(closure.nodes),
            "closure_edges": len(closure.edges),
            "bfs_reached": len(reachable),
            "causally_reached": len(propagation.reached),
            "plain_bfs_seconds": plain_bfs,
            "ratio_to_plain_bfs": round(measured / plain_bfs, 2) if plain_bfs else None,
            "repeat": repeat,
        },
    )
