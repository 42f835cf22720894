"""Run every benchmark on one generated hospital, print a table and write the results as JSON.

python -m bench.run [--scale 43] [--seed 7] [--requests 300] [--out bench/results.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.engine import core_switch_impact, explanation_paths
from bench.http_impact import small_impacts
from bench.importing import import_rate
from bench.timing import table
from cmdb.demo import BENCH_SCALE, DemoHospital, generate_hospital
from cmdb.store import open_store

logger = logging.getLogger("bench")

# A failing core switch of each hospital: its pair loses redundancy, so nearly every CI is reached.
CORE_ROOTS = ("h1-core-sw-1", "h2-core-sw-1")
SMALL_ROOT_COUNT = 50


def machine() -> dict[str, Any]:
    """Return what the numbers depend on: CPUs, CPU model, Python and SQLite versions."""
    cpu_model = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def small_roots(hospital: DemoHospital, count: int) -> list[str]:
    """Return ``count`` first access switches of clinical units, spread over departments and campuses."""
    switches = sorted(ci.key for ci in hospital.cis if ci.key.endswith("-acc-sw-1"))
    step = max(1, len(switches) // count)
    return switches[::step][:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--scale", type=int, default=BENCH_SCALE, help="Demo hospital scale (43 is ~100k CIs)."
    )
    parser.add_argument("--seed", type=int, default=7, help="Demo hospital seed.")
    parser.add_argument("--requests", type=int, default=300, help="Timed GraphQL requests in (a).")
    parser.add_argument("--warmup", type=int, default=20, help="Untimed requests before (a) is timed.")
    parser.add_argument("--repeat", type=int, default=5, help="Runs of (b) and (c); the median is kept.")
    parser.add_argument("--batch-size", type=int, default=5000, help="Rows per write transaction in (d).")
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"), help="JSON results file.")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="Folder for the databases (default: temp)."
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cmdb-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    store_path, raw_path = workdir / "store.sqlite3", workdir / "raw.sqlite3"
    for stale in workdir.glob("*.sqlite3*"):
        stale.unlink()
    try:
        started = time.perf_counter()
        hospital = generate_hospital(seed=args.seed, scale=args.scale)
        generate_seconds = time.perf_counter() - started
        print(
            f"generated {len(hospital.cis):,} CIs and {len(hospital.relationships):,} relationships"
            f" in {generate_seconds:.1f} s (seed {args.seed}, scale {args.scale})",
            flush=True,
        )

        results = [
            import_rate(
                hospital=hospital, store_path=store_path, raw_path=raw_path, batch_size=args.batch_size
            )
        ]
        print("done: (d) import", flush=True)
        results.append(
            small_impacts(
                store_path=store_path,
                log_path=workdir / "server.log",
                roots=small_roots(hospital, SMALL_ROOT_COUNT),
                requests=args.requests,
                warmup=args.warmup,
            )
        )
        print("done: (a) small impact over HTTP", flush=True)
        store = open_store(f"sqlite:///{store_path}")
        try:
            results.append(
                core_switch_impact(store=store, path=str(store_path), roots=CORE_ROOTS, repeat=args.repeat)
            )
            print("done: (b) core-switch impact", flush=True)
            results.append(explanation_paths(store=store, roots=CORE_ROOTS, repeat=args.repeat))
            print("done: (c) explanation paths", flush=True)
        finally:
            store.close()
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(table(results))
    report = {
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "seed": args.seed,
        "scale": args.scale,
        "cis": len(hospital.cis),
        "relationships": len(hospital.relationships),
        "generate_seconds": round(generate_seconds, 2),
        "results": [result.to_json() for result in results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nmachine: {report['machine']}")
    print(f"results written to {args.out}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
