"""Collection from real agents: snmpsim serving the recorded walks, and misbehaving responders.

The snmpsim agents are started once per session with scripts/snmpsim/start.
Without snmpsim installed the tests are skipped, unless CI is "true", where
they fail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from cmdb.discovery import RawWalk, TableStatus, load_snmprec, parse_walk
from cmdb.discovery.collect import CollectOptions, collect
from cmdb.discovery.credentials import AuthProtocol, CommunityProfile, PrivProtocol, UsmProfile
from cmdb.discovery.models import Octets
from cmdb.discovery.targets import Target
from tests.integration.snmp_helpers import (
    NON_UTF8_DESCR,
    SYS_DESCR,
    Responder,
    descr_then_leave,
    looping,
    no_such_object,
    silent_after_two,
)

pytestmark = pytest.mark.integration

REPO_DIR = Path(__file__).parents[2]
SNMP_DIR = REPO_DIR / "tests" / "data" / "snmp"
SILENT = Target(ipaddress.ip_address("127.0.1.250"), 161)
TIMEOUT = 0.5
RETRIES = 1
WRONG = CommunityProfile(name="wrong-first", community=SecretStr("not-the-community"))
LAB = CommunityProfile(name="lab", community=SecretStr("public"))


def target_of(entry: dict[str, Any]) -> Target:
    return Target(ipaddress.ip_address(entry["address"]), int(entry["port"]))


def options(**changes: Any) -> CollectOptions:
    return dataclasses.replace(CollectOptions(timeout=TIMEOUT, retries=RETRIES), **changes)


@pytest.fixture(scope="session")
def collected(snmpsim_agents: dict[str, dict[str, Any]]) -> tuple[dict[str, RawWalk], RawWalk, float]:
    """Collect all 13 agents and the silent address in one run, the wrong profile first."""
    targets = [target_of(entry) for entry in snmpsim_agents.values()]
    started = time.monotonic()
    walks = asyncio.run(collect([*targets, SILENT], [WRONG, LAB], options()))
    elapsed = time.monotonic() - started
    by_file = dict(zip(snmpsim_agents, walks[:-1], strict=True))
    return by_file, walks[-1], elapsed


def comparable(walk: RawWalk) -> Any:
    parsed = parse_walk(walk)
    return (dataclasses.replace(parsed.facts, target=""), parsed.lldp, parsed.cdp, parsed.fdb, parsed.arp)


def test_collected_parse_equals_recording(collected: tuple[dict[str, RawWalk], RawWalk, float]) -> None:
    by_file, _, _ = collected
    assert len(by_file) == 13
    for file_name, walk in by_file.items():
        assert comparable(walk) == comparable(load_snmprec(SNMP_DIR / file_name)), file_name


def test_collected_tables_complete(collected: tuple[dict[str, RawWalk], RawWalk, float]) -> None:
    by_file, _, _ = collected
    for file_name, walk in by_file.items():
        statuses = {table.status for table in walk.tables.values()}
        assert statuses == {TableStatus.COMPLETE}, file_name


def test_wrong_profile_then_right_one(collected: tuple[dict[str, RawWalk], RawWalk, float]) -> None:
    by_file, _, _ = collected
    assert {walk.profile for walk in by_file.values()} == {"lab"}
    for walk in by_file.values():
        assert [error.message.split(":")[0] for error in walk.errors] == ["profile wrong-first"]


def test_silent_address_reported(collected: tuple[dict[str, RawWalk], RawWalk, float]) -> None:
    _, silent, elapsed = collected
    assert silent.target == "127.0.1.250:161"
    assert silent.reachable is False
    assert silent.profile is None
    assert [error.message.split(":")[0] for error in silent.errors] == ["profile wrong-first", "profile lab"]
    # Both profiles time out: 2 x timeout x (retries + 1) at least; the others run alongside.
    assert elapsed >= 2 * TIMEOUT * (RETRIES + 1)


def test_silent_address_costs_one_timeout_per_try() -> None:
    """A silent agent gets exactly one request plus its retries per profile, each after a full timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(0.1)
        silent = Target(ipaddress.ip_address("127.0.0.1"), listener.getsockname()[1])
        started = time.monotonic()
        [walk] = asyncio.run(collect([silent], [WRONG, LAB], options()))
        elapsed = time.monotonic() - started
        received = 0
        with contextlib.suppress(TimeoutError):
            while listener.recv(65535):
                received += 1

    assert walk.reachable is False
    assert received == (RETRIES + 1) * 2
    assert elapsed >= 2 * TIMEOUT * (RETRIES + 1)


def test_remembered_profile_tried_first(snmpsim_agents: dict[str, dict[str, Any]]) -> None:
    target = target_of(snmpsim_agents["ascom_ipbs3.snmprec"])
    [walk] = asyncio.run(collect([target], [WRONG, LAB], options(), preferred_profiles={target: "lab"}))
    assert walk.profile == "lab"
    # The wrong profile comes first in the list but was never tried.
    assert walk.errors == []


def test_v3_target_collected(snmpsim_agents: dict[str, dict[str, Any]]) -> None:
    [(file_name, entry)] = [(name, entry) for name, entry in snmpsim_agents.items() if "v3" in entry]
    v3 = entry["v3"]
    profile = UsmProfile(
        name="biomed-v3",
        user=v3["user"],
        auth_protocol=AuthProtocol(v3["auth_protocol"]),
        auth_key=SecretStr(v3["auth_key"]),
        priv_protocol=PrivProtocol.AES128,
        priv_key=SecretStr(v3["priv_key"]),
        context_name=v3["context_name"],
    )
    [walk] = asyncio.run(collect([target_of(entry)], [profile], options()))
    assert walk.profile == "biomed-v3"
    assert walk.errors == []
    assert comparable(walk) == comparable(load_snmprec(SNMP_DIR / file_name))


def test_v3_default_simulator_user(snmpsim_agents: dict[str, dict[str, Any]]) -> None:
    profile = UsmProfile(
        name="simulator",
        user="simulator",
        auth_protocol=AuthProtocol.MD5,
        auth_key=SecretStr("auctoritas"),
        priv_protocol=PrivProtocol.DES,
        priv_key=SecretStr("privatus"),
        context_name="public",
    )
    target = target_of(snmpsim_agents["zebra.snmprec"])
    [walk] = asyncio.run(collect([target], [profile], options(tables=("system",))))
    assert walk.profile == "simulator"
    assert parse_walk(walk).facts.sys_name == "6NM1PAS_AB07"


def test_v3_wrong_key_falls_back(snmpsim_agents: dict[str, dict[str, Any]]) -> None:
    wrong = UsmProfile(
        name="wrong-v3",
        user="simulator",
        auth_protocol=AuthProtocol.MD5,
        auth_key=SecretStr("not-the-key"),
        context_name="public",
    )
    target = target_of(snmpsim_agents["zebra.snmprec"])
    [walk] = asyncio.run(collect([target], [wrong, LAB], options(tables=("system",))))
    assert walk.profile == "lab"
    assert [error.message.split(":")[0] for error in walk.errors] == ["profile wrong-v3"]
    assert "not-the-key" not in repr(walk)


def test_looping_agent_marks_table_partial() -> None:
    with Responder(looping) as target:
        [walk] = asyncio.run(collect([target], [LAB], options(tables=("ifTable",))))
    table = walk.tables["ifTable"]
    assert table.status is TableStatus.PARTIAL
    # Each of the six columns gets two rows before the agent loops.
    assert len(table.rows) == 12
    assert len(table.errors) == 6
    assert (
        table.errors[0] == "OID not increasing: 1.3.6.1.2.1.2.2.1.2.1 returned after 1.3.6.1.2.1.2.2.1.2.1.1"
    )
    assert {error.table for error in walk.errors} == {"ifTable"}


def test_no_such_object_marks_table_partial() -> None:
    with Responder(no_such_object) as target:
        [walk] = asyncio.run(collect([target], [LAB], options(tables=("ifXTable",))))
    table = walk.tables["ifXTable"]
    assert table.status is TableStatus.PARTIAL
    assert table.rows == []
    assert table.errors == [
        f"noSuchObject returned for 1.3.6.1.2.1.31.1.1.1.{column}.1" for column in (1, 15, 18)
    ]


def test_timeout_mid_walk_keeps_rows() -> None:
    with Responder(silent_after_two) as target:
        [walk] = asyncio.run(collect([target], [LAB], options(tables=("ifTable", "ifXTable", "system"))))
    if_table = walk.tables["ifTable"]
    assert if_table.status is TableStatus.PARTIAL
    assert len(if_table.rows) == 2
    assert "No SNMP response received before timeout" in if_table.errors[0]
    assert walk.tables["ifXTable"].status is TableStatus.ERROR
    assert walk.tables["system"].errors == ["skipped"]


def test_non_utf8_value_kept_raw() -> None:
    with Responder(descr_then_leave) as target:
        [walk] = asyncio.run(collect([target], [LAB], options(tables=("system",))))
    assert walk.tables["system"].status is TableStatus.COMPLETE
    assert walk.scalar("system", SYS_DESCR) == Octets(NON_UTF8_DESCR)
    assert parse_walk(walk).facts.sys_descr == "Pump gateway \u00ff\u00fe v1"


def test_failing_target_does_not_stop_run(snmpsim_agents: dict[str, dict[str, Any]]) -> None:
    healthy = target_of(snmpsim_agents["ascom_ipbs3.snmprec"])
    with Responder(looping) as looping_target:
        walks = asyncio.run(
            collect([looping_target, SILENT, healthy], [LAB], options(tables=("system", "ifTable")))
        )
    assert [walk.reachable for walk in walks] == [True, False, True]
    assert walks[2].errors == []
    assert parse_walk(walks[2]).facts.sys_object_id == (1, 3, 6, 1, 4, 1, 27614)
