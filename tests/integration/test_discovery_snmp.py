"""Discovery runs against real agents: snmpsim serving the recorded walks, each on its own address."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from cmdb.app import create_app
from cmdb.auth import create_token
from cmdb.cli import app as cli_app
from cmdb.discovery.collect import CollectOptions
from cmdb.discovery.credentials import AuthProtocol, CommunityProfile, PrivProtocol, UsmProfile
from cmdb.discovery.runs import DiscoveryRun, RunStatus, TargetStatus
from cmdb.discovery.service import DiscoveryOptions, run_discovery
from cmdb.model import Direction, Status
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.base import GraphStore
from tests.integration.snmp_helpers import Responder, looping

pytestmark = pytest.mark.integration

REPO_DIR = Path(__file__).parents[2]
SNMP_DIR = REPO_DIR / "tests" / "data" / "snmp"
TIMEOUT = 0.5
RETRIES = 1
SILENT = "127.0.1.250"
WRONG = CommunityProfile(name="wrong-first", community=SecretStr("not-the-community"))
LAB = CommunityProfile(name="lab", community=SecretStr("public"))
SW22 = "snmp:serial:ES32012706"
SW39 = "snmp:mac:e4:5a:d4:d8:c4:c0"
SW31 = "snmp:mac:30:de:4b:f5:f7:e2"
PRINTER = "snmp:mac:14:cb:19:95:2e:a0"


def spec(entry: dict[str, Any]) -> str:
    return f"{entry['address']}:{entry['port']}"


def collect_options() -> CollectOptions:
    return CollectOptions(timeout=TIMEOUT, retries=RETRIES)


def discover(store: GraphStore, specs: list[str], profiles: list[Any], **options: Any) -> DiscoveryRun:
    return asyncio.run(
        run_discovery(
            store=store,
            specs=specs,
            profiles=profiles,
            collect_options=collect_options(),
            options=DiscoveryOptions(**options),
        )
    )


@pytest.fixture(scope="module")
def full_runs(
    snmpsim_agents: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GraphStore, DiscoveryRun, DiscoveryRun, float]]:
    """Run discovery twice over the 13 agents and a silent address, the wrong profile first."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('discovery') / 'cmdb.sqlite3'}")
    specs = [spec(entry) for entry in snmpsim_agents.values()] + [SILENT]
    started = time.monotonic()
    first = discover(store, specs, [WRONG, LAB])
    elapsed = time.monotonic() - started
    second = discover(store, specs, [WRONG, LAB])
    try:
        yield store, first, second, elapsed
    finally:
        store.close()


def outcome(run: DiscoveryRun, target: str) -> Any:
    return next(item for item in run.outcomes if item.target == target)


def test_full_run_links(full_runs: tuple[GraphStore, DiscoveryRun, DiscoveryRun, float]) -> None:
    store, first, _, _ = full_runs
    assert first.status is RunStatus.FINISHED
    links = {
        (rel.source, rel.target): rel.properties
        for rel in store.relationships(SW22, direction=Direction.INCOMING, types=["CONNECTS_TO"])
    }
    assert (links[(SW39, SW22)]["if_index"], links[(SW39, SW22)]["remote_if_index"]) == (28, 107)
    assert links[(SW39, SW22)]["port"] == "te 0/4"
    assert (links[(SW31, SW22)]["if_index"], links[(SW31, SW22)]["remote_if_index"]) == (49170, 54)
    assert links[(SW31, SW22)]["port"] == "gigabitEthernet 1/0/18"
    assert store.relationships(SW22, direction=Direction.OUTGOING, types=["CONNECTS_TO"]) == []


def test_full_run_printer_unattached(full_runs: tuple[GraphStore, DiscoveryRun, DiscoveryRun, float]) -> None:
    store, first, _, _ = full_runs
    [printer] = [entry for entry in first.unattached if entry.mac == "14:cb:19:95:2e:a0"]
    assert printer.ci_key == PRINTER
    assert store.relationships(PRINTER, direction=Direction.BOTH, types=["CONNECTS_TO"]) == []


def test_full_run_private_devices_separate(
    full_runs: tuple[GraphStore, DiscoveryRun, DiscoveryRun, float],
) -> None:
    store, first, _, _ = full_runs
    keys = [item.ci_key for item in first.outcomes if item.status is not TargetStatus.UNREACHABLE]
    assert len(keys) == 13
    assert len(set(keys)) == 13
    assert store.counts()["cis"] == 82


def test_full_run_software_and_serials(
    full_runs: tuple[GraphStore, DiscoveryRun, DiscoveryRun, float],
) -> None:
    store, _, _, _ = full_runs
    xp = store.find_cis("00:0e:35:d3:3d:53")[0]
    assert "7-Zip 9.20" in xp.attributes["installed_software"]
    rhel = store.find_cis("98:4b:e1:05:1d:a4")[0]
    assert len(rhel.attributes["installed_software"]) == 714
    cisco = store.get_ci("snmp:serial:FCW1929B68S")
    assert cisco is not None
    assert cisco.attributes["serial_numbers"][:3] == ["FCW1929B68S", "FCW1931A06Z", "FCW1929B6BP"]
    assert {n["remote_name"] for n in cisco.attributes["neighbours"]} >= {"acme-fr-ap-011", "acme-fr-s-001"}


def test_second_run_all_unchanged(full_runs: tuple[GraphStore, DiscoveryRun, DiscoveryRun, float]) -> None:
    _, first, second, _ = full_runs
    assert (first.cis_added, first.links_added) == (82, 71)
    assert (second.cis_added, second.cis_changed, second.cis_unchanged) == (0, 0, 82)
    assert (second.links_added, second.links_changed, second.links_removed) == (0, 0, 0)


def test_wrong_profile_then_right(full_runs: tuple[GraphStore, DiscoveryRun, DiscoveryRun, float]) -> None:
    _, first, second, _ = full_runs
    answered = [item for item in first.outcomes if item.status is not TargetStatus.UNREACHABLE]
    assert {item.profile for item in answered} == {"lab"}
    assert {item.status for item in answered} == {TargetStatus.OK}
    assert all(item.errors[0].startswith("profile wrong-first:") for item in answered)
    # The second run tries the profile that worked first.
    assert all(item.errors == [] for item in second.outcomes if item.status is not TargetStatus.UNREACHABLE)


def test_silent_address_reported(full_runs: tuple[GraphStore, DiscoveryRun, DiscoveryRun, float]) -> None:
    _, first, _, elapsed = full_runs
    silent = outcome(first, f"{SILENT}:161")
    assert silent.status is TargetStatus.UNREACHABLE
    assert silent.profile is None
    assert [error.split(":")[0] for error in silent.errors] == ["profile wrong-first", "profile lab"]
    assert silent.ci_key is None
    # Both profiles time out once each, with retries: 2 x timeout x (retries + 1).
    assert elapsed >= 2 * TIMEOUT * (RETRIES + 1)


def test_v3_target(snmpsim_agents: dict[str, dict[str, Any]], sqlite_store: GraphStore) -> None:
    v3 = UsmProfile(
        name="biomed-v3",
        user="cmdb-v3",
        auth_protocol=AuthProtocol.SHA256,
        auth_key=SecretStr("cmdb-auth-key"),
        priv_protocol=PrivProtocol.AES128,
        priv_key=SecretStr("cmdb-priv-key"),
        context_name="public",
    )
    run = discover(sqlite_store, [spec(snmpsim_agents["linux_powermon.snmprec"])], [v3])
    [result] = run.outcomes
    assert (result.status, result.profile) == (TargetStatus.OK, "biomed-v3")
    record = sqlite_store.get_ci(str(result.ci_key))
    assert record is not None
    assert len(record.attributes["installed_software"]) == 714
    assert "cmdb-priv-key" not in json.dumps(run.model_dump(mode="json"))


def test_looping_agent_run_finishes(sqlite_store: GraphStore) -> None:
    with Responder(looping) as target:
        run = discover(sqlite_store, [str(target)], [LAB])
    assert run.status is RunStatus.FINISHED
    [result] = run.outcomes
    assert result.status is TargetStatus.PARTIAL
    assert "system" in result.partial_tables
    assert any("OID not increasing" in error for error in result.errors)


@pytest.fixture
def own_agents(tmp_path: Path) -> Iterator[dict[str, dict[str, Any]]]:
    """Serve zebra and ascom from agents of this test on 127.0.2.N, stopped afterwards."""
    if shutil.which("snmpsim-command-responder") is None:
        pytest.skip("snmpsim is not installed (pip install snmpsim pysmi)")
    data = tmp_path / "data"
    data.mkdir()
    for name in ("zebra.snmprec", "ascom_ipbs3.snmprec"):
        shutil.copy(SNMP_DIR / name, data / name)
    out = tmp_path / "agents"
    started = subprocess.run(
        [
            str(REPO_DIR / "scripts/snmpsim/start"),
            str(out),
            "--data-dir",
            str(data),
            "--network",
            "127.0.2.0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        assert started.returncode == 0, started.stderr
        yield json.loads((out / "manifest.json").read_text())
    finally:
        subprocess.run([str(REPO_DIR / "scripts/snmpsim/stop"), str(out)], timeout=60, check=False)


def test_removed_agent_only_stale(own_agents: dict[str, dict[str, Any]], sqlite_store: GraphStore) -> None:
    specs = [spec(entry) for entry in own_agents.values()]
    first = discover(sqlite_store, specs, [LAB])
    assert first.cis_added == 2
    zebra = own_agents["zebra.snmprec"]
    os.kill(int(zebra["pid"]), signal.SIGTERM)
    time.sleep(1.1)
    second = discover(sqlite_store, specs, [LAB], stale_after=timedelta(seconds=1))
    assert outcome(second, spec(zebra)).status is TargetStatus.UNREACHABLE
    assert second.cis_stale == 1
    zebra_ci = sqlite_store.get_ci(str(outcome(first, spec(zebra)).ci_key))
    ascom_ci = sqlite_store.get_ci(str(outcome(first, spec(own_agents["ascom_ipbs3.snmprec"])).ci_key))
    assert zebra_ci is not None
    assert ascom_ci is not None
    assert zebra_ci.status is Status.STALE
    assert ascom_ci.status is Status.UNVERIFIED


def test_cli_discover_json(snmpsim_agents: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text('profiles:\n  - {name: lab, version: "2c", community: public}\n')
    store_url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    target = spec(snmpsim_agents["zebra.snmprec"])
    result = CliRunner().invoke(
        cli_app,
        [
            "discover",
            target,
            "--credentials",
            str(credentials),
            "--timeout",
            "0.5",
            "--store",
            store_url,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "finished"
    assert document["cis_added"] == 1
    assert document["outcomes"][0]["profile"] == "lab"
    assert "public" not in json.dumps(document["outcomes"])


@pytest.mark.anyio
async def test_graphql_start_discovery(
    snmpsim_agents: dict[str, dict[str, Any]], sqlite_store: GraphStore, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text('profiles:\n  - {name: lab, version: "2c", community: public}\n')
    settings = Settings(
        store="sqlite:///unused", graphiql=False, discovery_credentials=credentials, discovery_timeout=TIMEOUT
    )
    editor = create_token(store=sqlite_store, name="editor", actor="eve", roles=["editor"])
    viewer = create_token(store=sqlite_store, name="viewer", actor="vic", roles=["viewer"])
    app = create_app(settings=settings, store=sqlite_store)
    target = spec(snmpsim_agents["zebra.snmprec"])
    start = (
        "mutation($t: [String!]!) { startDiscovery(targets: $t) {"
        " __typename ... on DiscoveryRun { id status } } }"
    )
    read = (
        "query($id: ID!) { discoveryRun(id: $id) {"
        " __typename ... on DiscoveryRun { status cisAdded actor } } }"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cmdb.test") as client:

        async def post(query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
            response = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
            body: dict[str, Any] = response.json()
            return body

        denied = await post(start, {"t": [target]}, viewer)
        assert denied["data"] is None
        assert "startDiscovery" in denied["errors"][0]["message"]
        started = await post(start, {"t": [target]}, editor)
        run = started["data"]["startDiscovery"]
        assert (run["__typename"], run["status"]) == ("DiscoveryRun", "running")
        for _ in range(100):
            current = (await post(read, {"id": run["id"]}, viewer))["data"]["discoveryRun"]
            if current["status"] != "running":
                break
            await asyncio.sleep(0.1)
        assert current == {"__typename": "DiscoveryRun", "status": "finished", "cisAdded": 1, "actor": "eve"}
        listed = await post(
            "{ discoveryRuns(first: 5) { edges { node { id } } pageInfo { hasNextPage } } }", {}, viewer
        )
        assert [edge["node"]["id"] for edge in listed["data"]["discoveryRuns"]["edges"]] == [run["id"]]
        missing = await post(read.replace("status cisAdded actor", "status"), {"id": "nope"}, viewer)
        assert missing["data"]["discoveryRun"]["__typename"] == "DiscoveryRunNotFound"
