"""Discovery's store-level behaviour on every store: loads of recorded walks, runs, ending and ageing out."""

from __future__ import annotations

import copy
import logging
import time
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from cmdb.discovery import RawWalk, load_snmprec
from cmdb.discovery.runs import DiscoveryRun, new_run_id
from cmdb.discovery.service import DiscoveryOptions, apply_walks, start_run
from cmdb.model import ChangeContext, CIInput, Direction, Origin, RelationshipInput, Status
from cmdb.store.base import GraphStore
from cmdb.store.base_discovery import StoredDiscoveryRun

SNMP_DIR = Path(__file__).parents[1] / "data" / "snmp"
SW22 = "snmp:serial:ES32012706"
SW39 = "snmp:mac:e4:5a:d4:d8:c4:c0"
SW31 = "snmp:mac:30:de:4b:f5:f7:e2"
SERVER_MAC = "00:30:67:a8:2f:c4"
SERVER = f"endpoint:mac:{SERVER_MAC}"


@cache
def _recorded() -> tuple[RawWalk, ...]:
    logging.disable(logging.WARNING)
    try:
        walks = []
        for number, path in enumerate(sorted(SNMP_DIR.glob("*.snmprec")), 1):
            walk = load_snmprec(path)
            walk.target = f"127.0.1.{number}:161"
            walks.append(walk)
        return tuple(walks)
    finally:
        logging.disable(logging.NOTSET)


def walks(*, leave_out: str | None = None) -> list[RawWalk]:
    """Return fresh copies of the recorded walks as 127.0.1.N:161, N in file order."""
    return [copy.deepcopy(walk) for walk in _recorded() if walk.target != leave_out]


def target_of(stem: str) -> str:
    return next(
        walk.target
        for walk, path in zip(_recorded(), sorted(SNMP_DIR.glob("*.snmprec")), strict=True)
        if path.stem == stem
    )


def run_over(
    store: GraphStore,
    walk_list: list[RawWalk],
    *,
    scope: list[str] | None = None,
    stale_after: timedelta | None = None,
) -> DiscoveryRun:
    run = start_run(store, ["127.0.1.1-13"])
    options = DiscoveryOptions(stale_after=stale_after or timedelta(days=7))
    every_target = scope if scope is not None else [walk.target for walk in _recorded()]
    return apply_walks(store=store, run=run, walks=walk_list, scope=every_target, options=options)


def test_full_run_loads_devices_and_links(store: GraphStore) -> None:
    run = run_over(store, walks())
    assert run.cis_added == 13 + 69
    assert run.rejected == []
    links = {
        (r.source, r.target): r.properties
        for r in store.relationships(SW22, direction=Direction.INCOMING, types=["CONNECTS_TO"])
    }
    sw39 = links[(SW39, SW22)]
    assert (sw39["port"], sw39["if_index"], sw39["remote_port"], sw39["remote_if_index"]) == (
        "te 0/4",
        28,
        "te1/0/3",
        107,
    )
    sw31 = links[(SW31, SW22)]
    assert (sw31["port"], sw31["if_index"], sw31["remote_port"], sw31["remote_if_index"]) == (
        "gigabitEthernet 1/0/18",
        49170,
        "gi1/0/6",
        54,
    )
    assert (SW22, SW39) not in links
    server = links[(SERVER, SW22)]
    assert (server["port"], server["if_index"], server["vlan"]) == ("gi1/0/17", 65, 1)


def test_printer_reported_unattached(store: GraphStore) -> None:
    run = run_over(store, walks())
    [printer] = [entry for entry in run.unattached if entry.mac == "14:cb:19:95:2e:a0"]
    assert printer.ci_key == "snmp:mac:14:cb:19:95:2e:a0"
    assert printer.vendor == "HP Inc."
    assert len(printer.seen_on) == 3
    assert store.relationships(printer.ci_key, direction=Direction.BOTH, types=["CONNECTS_TO"]) == []


def test_private_walks_stay_separate(store: GraphStore) -> None:
    run = run_over(store, walks())
    keys = {outcome.ci_key for outcome in run.outcomes}
    assert None not in keys
    assert len(keys) == 13


def test_software_stored_as_attribute(store: GraphStore) -> None:
    run_over(store, walks())
    rhel = store.get_ci("snmp:mac:98:4b:e1:05:1d:a4")
    assert rhel is not None
    assert rhel.ci_class == "Server"
    assert len(rhel.attributes["installed_software"]) == 714
    assert store.counts()["cis"] == 82


def test_sources_name_the_run(store: GraphStore) -> None:
    run = run_over(store, walks())
    sw22 = store.get_ci(SW22)
    assert sw22 is not None
    assert set(sw22.sources.values()) == {f"discovery:{run.id}"}
    assert sw22.identifiers.serial == "ES32012706"
    assert sw22.status is Status.UNVERIFIED


def test_second_run_changes_nothing(store: GraphStore) -> None:
    run_over(store, walks())
    versions = store.counts()["versions"]
    second = run_over(store, walks())
    assert (second.cis_added, second.cis_changed, second.cis_unchanged) == (0, 0, 82)
    assert (second.links_added, second.links_changed, second.links_removed) == (0, 0, 0)
    assert second.links_unchanged == 71
    assert store.counts()["versions"] == versions


def test_curated_attribute_survives(store: GraphStore) -> None:
    run_over(store, walks())
    sw22 = store.get_ci(SW22)
    assert sw22 is not None
    edited = CIInput.model_validate(
        {
            **sw22.model_dump(
                include={"key", "ci_class", "name", "status", "criticality", "identifiers", "tags"}
            ),
            "attributes": {**sw22.attributes, "vendor": "Eltex (maintained by Net Ops)"},
            "version": sw22.version,
        }
    )
    store.upsert_cis([edited], context=ChangeContext(actor="alice", origin=Origin.API), strict=True)
    run = run_over(store, walks())
    after = store.get_ci(SW22)
    assert after is not None
    assert after.attributes["vendor"] == "Eltex (maintained by Net Ops)"
    assert after.sources["vendor"] == "api"
    [disagreement] = run.disagreements
    assert (disagreement.ci_key, disagreement.field) == (SW22, "attributes.vendor")
    assert (disagreement.stored, disagreement.discovered) == ("Eltex (maintained by Net Ops)", "Eltex")
    assert run.cis_changed == 0


def test_curated_soft_link_stays_soft(store: GraphStore) -> None:
    run_over(store, walks())
    api = ChangeContext(actor="alice", origin=Origin.API)
    store.upsert_relationships(
        [
            RelationshipInput(
                source=SERVER, type="CONNECTS_TO", target=SW22, properties={"strength": "soft", "vlan": 7}
            )
        ],
        context=api,
        strict=True,
    )
    run = run_over(store, walks())
    [link] = store.relationships(SERVER, direction=Direction.OUTGOING, types=["CONNECTS_TO"])
    assert link.properties["strength"] == "soft"
    assert link.properties["vlan"] == 7
    assert link.properties["port"] == "gi1/0/17"
    assert [d.field for d in run.disagreements] == ["relationship CONNECTS_TO snmp:serial:ES32012706.vlan"]
    closure = store.impact_closure([SW22])
    [edge] = [e for e in closure.edges if e.target == SERVER]
    assert edge.strength == "soft"


def test_link_no_longer_seen_is_ended(store: GraphStore) -> None:
    run_over(store, walks())
    changed = walks()
    sw22 = next(walk for walk in changed if walk.target == target_of("eltex-mes23xx_mes2324b"))
    fdb = sw22.tables["dot1qTpFdbTable"]
    mac_index = tuple(int(octet, 16) for octet in SERVER_MAC.split(":"))
    fdb.rows = [(oid, value) for oid, value in fdb.rows if oid[-6:] != mac_index]
    run = run_over(store, changed)
    assert run.links_removed == 1
    assert store.relationships(SERVER, direction=Direction.OUTGOING, types=["CONNECTS_TO"]) == []
    assert SERVER not in store.impact_closure([SW22]).nodes
    operations = [v.operation for v in store.versions(SERVER) if v.entity == "relationship"]
    assert operations == ["create", "end"]
    # Seen again, the link reopens.
    again = run_over(store, walks())
    assert again.links_changed == 1
    assert len(store.relationships(SERVER, direction=Direction.OUTGOING, types=["CONNECTS_TO"])) == 1


def test_unwalked_device_keeps_its_link(store: GraphStore) -> None:
    run_over(store, walks())
    run = run_over(store, walks(leave_out=target_of("eltex-mes24xx_mes2424bac")))
    assert run.links_removed == 0
    assert len(store.relationships(SW39, direction=Direction.OUTGOING, types=["CONNECTS_TO"])) == 1


def test_missing_agent_marked_stale(store: GraphStore) -> None:
    run_over(store, walks())
    time.sleep(1.1)
    zebra = target_of("zebra")
    run = run_over(store, walks(leave_out=zebra), stale_after=timedelta(seconds=1))
    assert run.cis_stale == 1
    record = store.get_ci("snmp:mac:00:07:4d:6b:c2:a8")
    assert record is not None
    assert record.status is Status.STALE
    sw22 = store.get_ci(SW22)
    assert sw22 is not None
    assert sw22.status is Status.UNVERIFIED


def test_run_over_other_scope_ages_nothing(store: GraphStore) -> None:
    run_over(store, walks())
    time.sleep(1.1)
    run = run_over(store, [], scope=["10.9.0.1:161"], stale_after=timedelta(seconds=1))
    assert run.cis_stale == 0
    assert store.discovered_cis(seen_before=datetime.now(UTC))


def test_run_records_page_newest_first(store: GraphStore) -> None:
    ids = []
    for second in range(3):
        started = datetime(2025, 1, 1, 0, 0, second, tzinfo=UTC)
        run = DiscoveryRun(id=new_run_id(started), targets=["10.0.0.0/30"], started_at=started)
        store.save_discovery_run(run.to_stored())
        ids.append(run.id)
    first = store.list_discovery_runs(first=2, after=None)
    assert [item.id for item in first.items] == [ids[2], ids[1]]
    assert first.has_next
    rest = store.list_discovery_runs(first=2, after=first.end_cursor)
    assert [item.id for item in rest.items] == [ids[0]]
    assert not rest.has_next
    stored = store.get_discovery_run(ids[0])
    assert stored is not None
    assert DiscoveryRun.from_stored(stored).started_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert store.get_discovery_run("no-such-run") is None


def test_saving_run_again_replaces_it(store: GraphStore) -> None:
    started = datetime(2025, 1, 1, tzinfo=UTC)
    store.save_discovery_run(StoredDiscoveryRun(id="r1", started_at=started, document={"status": "running"}))
    store.save_discovery_run(StoredDiscoveryRun(id="r1", started_at=started, document={"status": "finished"}))
    stored = store.get_discovery_run("r1")
    assert stored is not None
    assert stored.document == {"status": "finished"}
    assert len(store.list_discovery_runs(first=10, after=None).items) == 1


def test_end_relationships_skips_unknown(store: GraphStore) -> None:
    context = ChangeContext(actor="alice", origin=Origin.API)
    store.upsert_cis(
        [
            CIInput(key="a", ci_class="NetworkEndpoint", name="a"),
            CIInput(key="b", ci_class="NetworkDevice", name="b"),
        ],
        context=context,
        strict=True,
    )
    store.upsert_relationships(
        [RelationshipInput(source="a", type="CONNECTS_TO", target="b")], context=context, strict=True
    )
    assert (
        store.end_relationships([("a", "CONNECTS_TO", "b"), ("a", "CONNECTS_TO", "zz")], context=context) == 1
    )
    assert store.end_relationships([("a", "CONNECTS_TO", "b")], context=context) == 0
    assert store.relationships("a", direction=Direction.OUTGOING) == []
    assert store.neighbours("a", depth=1, direction=Direction.BOTH) == []
    assert store.impact_closure(["b"]).edges == []
