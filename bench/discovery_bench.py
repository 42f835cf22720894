"""Benchmark discovery against snmpsim agents on loopback: full run versus a bare walk, and a silent /24.

Run: `python -m bench.discovery_bench [--timeout S] [--retries N] [--concurrency N]`.

(a) One discovery run over the 13 recorded walks (each its own snmpsim
    agent on 127.0.1.N), into a fresh SQLite store, against a bare pysnmp
    `bulk_walk_cmd` of the same subtrees of the same agents with the same
    concurrency and max-repetitions. Goal: at most 1.5 times the bare walk.
(b) A discovery run over 127.0.3.0/24 where three agents answer (127.0.3.1-3)
    and the other 251 addresses are silent. Goal: within
    timeout x (retries + 1) x profiles x ceil(silent / concurrency) plus the
    time the answering agents take, plus a 2 s margin.

Every agent is started by this script and stopped by its PID at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    bulk_walk_cmd,
)

from cmdb.discovery.collect import CollectOptions
from cmdb.discovery.credentials import CommunityProfile
from cmdb.discovery.service import run_discovery
from cmdb.discovery.tables import TABLES
from cmdb.store import open_store

REPO_DIR = Path(__file__).resolve().parents[1]
SNMP_DIR = REPO_DIR / "tests" / "data" / "snmp"
LAB = CommunityProfile(name="lab", community=SecretStr("public"))
ANSWERING = ("zebra.snmprec", "ascom_ipbs3.snmprec", "jetdirect_m130nw.snmprec")


def start_agents(out: Path, data_dir: Path, network: str) -> dict[str, dict[str, Any]]:
    subprocess.run(
        [
            str(REPO_DIR / "scripts/snmpsim/start"),
            str(out),
            "--data-dir",
            str(data_dir),
            "--network",
            network,
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    manifest: dict[str, dict[str, Any]] = json.loads((out / "manifest.json").read_text())
    return manifest


def stop_agents(out: Path) -> None:
    subprocess.run(
        [str(REPO_DIR / "scripts/snmpsim/stop"), str(out)], check=False, capture_output=True, timeout=60
    )


async def bare_walk(endpoints: list[tuple[str, int]], options: CollectOptions) -> int:
    """Walk every table subtree of every endpoint with pysnmp's bulk_walk_cmd; return the rows received."""
    engine = SnmpEngine()
    semaphore = asyncio.Semaphore(options.concurrency)
    subtrees = [subtree for spec in TABLES.values() for subtree in spec.subtrees]

    async def one(address: str, port: int) -> int:
        async with semaphore:
            transport = await UdpTransportTarget.create(
                (address, port), timeout=options.timeout, retries=options.retries
            )
            rows = 0
            for subtree in subtrees:
                oid = ".".join(str(arc) for arc in subtree)
                async for error_indication, error_status, _, var_binds in bulk_walk_cmd(
                    engine,
                    CommunityData("public", mpModel=1),
                    transport,
                    ContextData(),
                    0,
                    options.max_repetitions,
                    ObjectType(ObjectIdentity(oid)),
                    lexicographicMode=False,
                    lookupMib=False,
                ):
                    if error_indication or error_status:
                        break
                    rows += len(var_binds)
            return rows

    try:
        counts = await asyncio.gather(*(one(address, port) for address, port in endpoints))
    finally:
        engine.close_dispatcher()
    return sum(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--timeout", type=float, default=1.0, help="Seconds per SNMP request.")
    parser.add_argument("--retries", type=int, default=1, help="Retries per SNMP request.")
    parser.add_argument("--concurrency", type=int, default=32, help="Targets collected at once.")
    args = parser.parse_args(argv)
    if shutil.which("snmpsim-command-responder") is None:
        print("snmpsim is not installed (pip install snmpsim pysmi)", file=sys.stderr)
        return 2
    options = CollectOptions(timeout=args.timeout, retries=args.retries, concurrency=args.concurrency)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cmdb-discovery-bench-") as work:
        workdir = Path(work)
        full_out, few_out = workdir / "agents", workdir / "few"
        few_data = workdir / "few-data"
        few_data.mkdir()
        for name in ANSWERING:
            shutil.copy(SNMP_DIR / name, few_data / name)
        try:
            agents = start_agents(full_out, SNMP_DIR, "127.0.1.0")
            endpoints = [(entry["address"], int(entry["port"])) for entry in agents.values()]
            specs = [f"{address}:{port}" for address, port in endpoints]

            started = time.monotonic()
            rows = asyncio.run(bare_walk(endpoints, options))
            bare_seconds = time.monotonic() - started

            store = open_store(f"sqlite:///{workdir / 'full.sqlite3'}")
            try:
                started = time.monotonic()
                run = asyncio.run(
                    run_discovery(store=store, specs=specs, profiles=[LAB], collect_options=options)
                )
                full_seconds = time.monotonic() - started
            finally:
                store.close()
            results["full"] = {
                "agents": len(endpoints),
                "bare_walk_s": round(bare_seconds, 2),
                "bare_rows": rows,
                "discovery_s": round(full_seconds, 2),
                "ratio": round(full_seconds / bare_seconds, 2),
                "cis_added": run.cis_added,
                "links_added": run.links_added,
            }

            few = start_agents(few_out, few_data, "127.0.3.0")
            answering = {entry["address"] for entry in few.values()}
            if {int(entry["port"]) for entry in few.values()} != {161}:
                print("the /24 agents could not bind port 161; run as root", file=sys.stderr)
                return 2
            store = open_store(f"sqlite:///{workdir / 'subnet.sqlite3'}")
            try:
                started = time.monotonic()
                subnet = asyncio.run(
                    run_discovery(
                        store=store, specs=["127.0.3.0/24"], profiles=[LAB], collect_options=options
                    )
                )
                subnet_seconds = time.monotonic() - started
            finally:
                store.close()
            silent = sum(1 for outcome in subnet.outcomes if outcome.status.value == "unreachable")
            bound = options.timeout * (options.retries + 1) * 1 * math.ceil(silent / options.concurrency)
            results["subnet"] = {
                "addresses": len(subnet.outcomes),
                "answering": len(answering),
                "silent": silent,
                "discovery_s": round(subnet_seconds, 2),
                "silent_bound_s": round(bound, 2),
            }
        finally:
            stop_agents(full_out)
            stop_agents(few_out)
    print(json.dumps(results, indent=1))
    full_ok = results["full"]["ratio"] <= 1.5
    subnet_ok = results["subnet"]["discovery_s"] <= results["subnet"]["silent_bound_s"] + 2.0
    print(f"(a) full run {'PASS' if full_ok else 'FAIL'}; (b) silent /24 {'PASS' if subnet_ok else 'FAIL'}")
    return 0 if full_ok and subnet_ok else 1


if __name__ == "__main__":
    sys.exit(main())
