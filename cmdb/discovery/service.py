"""Discovery runs: get → parse → identify → reconcile → load → age out, with the run recorded.

`run_discovery` collects from SNMP agents and then calls `apply_walks`,
which does everything after collection and works as well on recorded walks.
The store is passed in; every write carries the run's change context, whose
request id is the run id, and attributes get the source `discovery:RUN_ID`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cmdb.discovery.collect import CollectOptions, Profile, collect
from cmdb.discovery.identify import DiscoveredCI, identify_device, identify_endpoint
from cmdb.discovery.models import RawWalk, TableStatus
from cmdb.discovery.parse import parse_walk
from cmdb.discovery.reconcile import (
    DISCOVERY_ORIGIN,
    ORIGIN_PROPERTY,
    matches,
    merge_ci,
    merge_relationship_properties,
)
from cmdb.discovery.runs import (
    DiscoveryRun,
    RunStatus,
    TargetOutcome,
    TargetStatus,
    UnattachedMac,
    new_run_id,
    source_label,
)
from cmdb.discovery.targets import Target, parse_targets
from cmdb.discovery.topology import DEFAULT_MAX_MACS_PER_PORT, Device, Topology, build_topology
from cmdb.discovery.vendors import DEFAULT_MEDICAL_VENDORS, oui_vendor
from cmdb.model import ChangeContext, CIInput, CIRecord, Direction, Origin, RelationshipInput, Status
from cmdb.store.base import GraphStore

logger = logging.getLogger(__name__)

CONNECTS_TO = "CONNECTS_TO"
# Tables whose completeness decides whether a switch's links may be ended this run.
_TOPOLOGY_TABLES = ("lldpRemTable", "cdpCacheTable", "dot1qTpFdbTable", "dot1dTpFdbTable")


@dataclass(frozen=True, slots=True)
class DiscoveryOptions:
    """What a run does with what it collected."""

    stale_after: timedelta = timedelta(days=7)
    """A CI of the run's scope not seen for this long becomes stale."""
    max_macs_per_port: int = DEFAULT_MAX_MACS_PER_PORT
    medical_vendors: tuple[str, ...] = DEFAULT_MEDICAL_VENDORS
    batch_size: int = 500
    actor: str = "discovery"


@dataclass(slots=True)
class _Plan:
    """The run's discovered CIs by run-local ref, resolved to store keys."""

    keys: dict[str, str] = field(default_factory=dict)
    cis: list[CIInput] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def _outcome(walk: RawWalk) -> TargetOutcome:
    messages = [
        error.message if error.table is None else f"{error.table}: {error.message}" for error in walk.errors
    ]
    if not walk.reachable:
        status = TargetStatus.UNREACHABLE
    else:
        # A profile that failed before the one that worked is reported, but the walk is whole.
        incomplete = [table for table in walk.tables.values() if table.status is not TableStatus.COMPLETE]
        table_errors = [error for error in walk.errors if error.table is not None]
        status = TargetStatus.PARTIAL if incomplete or table_errors else TargetStatus.OK
    return TargetOutcome(
        target=walk.target,
        status=status,
        profile=walk.profile,
        error=messages[0] if messages else None,
        errors=messages,
        partial_tables=sorted(
            name for name, table in walk.tables.items() if table.status is not TableStatus.COMPLETE
        ),
    )


def _agent_address(target: str) -> str:
    host = target.rsplit(":", 1)[0] if target.count(":") == 1 or target.startswith("[") else target
    return host.strip("[]")


def _find_stored(store: GraphStore, discovered: DiscoveredCI) -> CIRecord | None:
    """Return the stored CI that the strongest identity of `discovered` names, or None."""
    for identity in discovered.identities:
        found = [record for record in store.find_cis(identity.value) if matches(identity, record)]
        if len(found) > 1:
            logger.warning(
                "target %s: %s %s names %d CIs (%s); the first is used",
                discovered.scope,
                identity.kind,
                identity.value,
                len(found),
                ", ".join(record.key for record in found),
            )
        if found:
            return found[0]
    return None


def _reconcile(store: GraphStore, discovered: Sequence[DiscoveredCI], run: DiscoveryRun) -> _Plan:
    plan = _Plan()
    written: set[str] = set()
    outcomes = {outcome.target: outcome for outcome in run.outcomes}
    for item in discovered:
        if not item.identities:
            message = "no serial, MAC or hostname to identify the device; not recorded as a CI"
            logger.warning("target %s: %s", item.scope, message)
            if item.scope in outcomes:
                outcomes[item.scope].errors.append(message)
                outcomes[item.scope].error = outcomes[item.scope].error or message
            continue
        stored = _find_stored(store, item)
        merged = merge_ci(item, stored)
        plan.keys[item.ref] = merged.ci.key
        run.disagreements.extend(merged.disagreements)
        for disagreement in merged.disagreements:
            logger.warning(
                "target %s: CI %s keeps curated %s = %r; discovery saw %r",
                item.scope,
                disagreement.ci_key,
                disagreement.field,
                disagreement.stored,
                disagreement.discovered,
            )
        if merged.ci.key in written:
            logger.info("target %s: %s is also CI %s; written once", item.scope, item.ref, merged.ci.key)
            continue
        written.add(merged.ci.key)
        plan.cis.append(merged.ci)
    return plan


def _link_rows(topology: Topology, keys: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Return the CONNECTS_TO properties discovery wants, by (source key, target key)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for link in topology.links:
        source, target = keys.get(link.source.device), keys.get(link.target.device)
        if source is None or target is None or source == target:
            continue
        rows.setdefault(
            (source, target),
            {
                "port": link.source.name,
                "if_index": link.source.if_index,
                "remote_port": link.target.name,
                "remote_if_index": link.target.if_index,
                "vlan": link.vlan,
                "protocols": list(link.protocols),
            },
        )
    for attachment in topology.attachments:
        ref = attachment.device if attachment.device is not None else f"mac:{attachment.mac}"
        source, target = keys.get(ref), keys.get(attachment.port.device)
        if source is None or target is None or source == target:
            continue
        rows.setdefault(
            (source, target),
            {"port": attachment.port.name, "if_index": attachment.port.if_index, "vlan": attachment.vlan},
        )
    return rows


def _load_relationships(
    store: GraphStore,
    rows: dict[tuple[str, str], dict[str, Any]],
    run: DiscoveryRun,
    context: ChangeContext,
    batch_size: int,
) -> None:
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for source in sorted({source for source, _ in rows}):
        for record in store.relationships(source, direction=Direction.OUTGOING, types=[CONNECTS_TO]):
            stored[(record.source, record.target)] = record.properties
    relationships: list[RelationshipInput] = []
    for (source, target), wanted in sorted(rows.items()):
        properties, disagreements = merge_relationship_properties(
            wanted, stored.get((source, target)), ci_key=source, relationship=f"{CONNECTS_TO} {target}"
        )
        run.disagreements.extend(disagreements)
        relationships.append(
            RelationshipInput(source=source, type=CONNECTS_TO, target=target, properties=properties)
        )
    for start in range(0, len(relationships), batch_size):
        result = store.upsert_relationships(relationships[start : start + batch_size], context=context)
        run.links_added += result.added
        run.links_changed += result.updated
        run.links_unchanged += result.unchanged
        run.rejected.extend(f"{row.key}: {row.message}" for row in result.rejected)


def _end_unseen_links(
    store: GraphStore,
    covered_switches: Iterable[str],
    walked: set[str],
    rows: dict[tuple[str, str], dict[str, Any]],
    run: DiscoveryRun,
    context: ChangeContext,
) -> None:
    """End the discovery-made links of fully walked switches that this run no longer saw.

    A link to a device that has an SNMP target of its own but was not walked
    in this run stays, because its own tables were not read.
    """
    candidates: dict[tuple[str, str, str], str] = {}
    for switch in covered_switches:
        for record in store.relationships(switch, direction=Direction.BOTH, types=[CONNECTS_TO]):
            if record.properties.get(ORIGIN_PROPERTY) != DISCOVERY_ORIGIN:
                continue
            if (record.source, record.target) not in rows:
                other = record.target if record.source == switch else record.source
                candidates[(record.source, record.type, record.target)] = other
    others = store.get_cis(set(candidates.values()))
    unseen: set[tuple[str, str, str]] = set()
    for identity, other in candidates.items():
        target = others[other].attributes.get("snmp_target") if other in others else None
        if target is None or target in walked:
            unseen.add(identity)
    if unseen:
        run.links_removed += store.end_relationships(sorted(unseen), context=context)
        for source, _, target in sorted(unseen):
            logger.info("target %s: link %s -> %s no longer seen; ended", source, source, target)


def _age_out(
    store: GraphStore, scope: set[str], options: DiscoveryOptions, run: DiscoveryRun, context: ChangeContext
) -> None:
    # Measured from the run's start, so a CI this run touched is never older than the cutoff.
    cutoff = run.started_at - options.stale_after
    stale: list[CIInput] = []
    for record in store.discovered_cis(seen_before=cutoff):
        covered_by = record.attributes.get("snmp_target") or record.attributes.get("learned_on")
        if covered_by not in scope:
            continue
        logger.info(
            "target %s: CI %s not seen since %s; marked stale", covered_by, record.key, record.last_seen
        )
        stale.append(
            CIInput(
                key=record.key,
                ci_class=record.ci_class,
                name=record.name,
                status=Status.STALE,
                criticality=record.criticality,
                identifiers=record.identifiers,
                attributes=record.attributes,
                tags=record.tags,
                version=record.version,
            )
        )
    for start in range(0, len(stale), options.batch_size):
        result = store.upsert_cis(stale[start : start + options.batch_size], context=context)
        run.cis_stale += result.updated
        run.rejected.extend(f"{row.key}: {row.message}" for row in result.rejected)


def _unattached(topology: Topology, keys: dict[str, str]) -> list[UnattachedMac]:
    return [
        UnattachedMac(
            mac=entry.mac,
            vendor=oui_vendor(entry.mac),
            ips=list(entry.ips),
            seen_on=[f"{port.device} {port.name or port.if_index}" for port in entry.seen_on],
            ci_key=keys.get(entry.device) if entry.device is not None else None,
        )
        for entry in topology.unattached
    ]


def _covered_switches(
    devices: Sequence[Device], walks: dict[str, RawWalk], keys: dict[str, str]
) -> list[str]:
    covered = []
    for device in devices:
        walk = walks[device.target]
        if not device.is_bridge or device.target not in keys:
            continue
        if any(walk.status(name) not in (None, TableStatus.COMPLETE) for name in _TOPOLOGY_TABLES):
            logger.info(
                "target %s: topology tables incomplete; its links are not ended this run", device.target
            )
            continue
        covered.append(keys[device.target])
    return covered


def apply_walks(
    *,
    store: GraphStore,
    run: DiscoveryRun,
    walks: Sequence[RawWalk],
    scope: Iterable[str],
    options: DiscoveryOptions | None = None,
) -> DiscoveryRun:
    """Parse, identify, reconcile, load and age out `walks` into `store`; fill in and save `run`.

    `scope` lists the targets the run covered, responding or not: only CIs
    of those targets (and endpoints learned on them) may become stale.
    """
    options = options or DiscoveryOptions()
    context = ChangeContext(actor=options.actor, origin=Origin.DISCOVERY, request_id=run.id)
    label = source_label(run.id)

    devices: list[Device] = []
    by_target = {walk.target: walk for walk in walks}
    for walk in walks:
        outcome = _outcome(walk)
        run.outcomes.append(outcome)
        if not walk.reachable or not walk.rows("system"):
            continue
        devices.append(Device(walk.target, _agent_address(walk.target), parse_walk(walk)))

    topology = build_topology(devices, max_macs_per_port=options.max_macs_per_port)
    discovered = [identify_device(device, topology) for device in devices]
    discovered += [
        identify_endpoint(attachment, options.medical_vendors)
        for attachment in topology.attachments
        if attachment.device is None
    ]

    plan = _reconcile(store, discovered, run)
    for start in range(0, len(plan.cis), options.batch_size):
        result = store.upsert_discovered_cis(
            plan.cis[start : start + options.batch_size], context=context, source=label
        )
        run.cis_added += result.added
        run.cis_changed += result.updated
        run.cis_unchanged += result.unchanged
        run.rejected.extend(f"{row.key}: {row.message}" for row in result.rejected)
    for outcome in run.outcomes:
        outcome.ci_key = plan.keys.get(outcome.target)

    rows = _link_rows(topology, plan.keys)
    _load_relationships(store, rows, run, context, options.batch_size)
    walked = {device.target for device in devices}
    _end_unseen_links(store, _covered_switches(devices, by_target, plan.keys), walked, rows, run, context)
    _age_out(store, set(scope), options, run, context)
    run.unattached = _unattached(topology, plan.keys)

    run.status = RunStatus.FINISHED
    run.finished_at = _now()
    store.save_discovery_run(run.to_stored())
    logger.info(
        "discovery run %s finished: %d targets, CIs %d added, %d changed, %d unchanged, %d stale;"
        " links %d added, %d ended; %d unattached MACs, %d disagreements",
        run.id,
        len(run.outcomes),
        run.cis_added,
        run.cis_changed,
        run.cis_unchanged,
        run.cis_stale,
        run.links_added,
        run.links_removed,
        len(run.unattached),
        len(run.disagreements),
    )
    return run


def _preferred_profiles(store: GraphStore, targets: Sequence[Target]) -> dict[Target, str]:
    """Return the profile that worked for each target in the latest finished run, so it is tried first."""
    page = store.list_discovery_runs(first=10, after=None)
    finished = [DiscoveryRun.from_stored(item) for item in page.items]
    last = next((run for run in finished if run.status is RunStatus.FINISHED), None)
    if last is None:
        return {}
    worked = {outcome.target: outcome.profile for outcome in last.outcomes if outcome.profile}
    return {target: worked[str(target)] for target in targets if str(target) in worked}


def start_run(store: GraphStore, specs: Sequence[str], *, actor: str = "discovery") -> DiscoveryRun:
    """Record a new run as running and return it; the targets are checked first."""
    parse_targets(specs)
    run = DiscoveryRun(id=new_run_id(), targets=list(specs), started_at=_now(), actor=actor)
    store.save_discovery_run(run.to_stored())
    return run


async def run_discovery(
    *,
    store: GraphStore,
    specs: Sequence[str],
    profiles: Sequence[Profile],
    collect_options: CollectOptions | None = None,
    options: DiscoveryOptions | None = None,
    run: DiscoveryRun | None = None,
    on_walk: Callable[[RawWalk], None] | None = None,
) -> DiscoveryRun:
    """Collect `specs` with `profiles` and apply the walks; return the saved run record.

    A failure of the run itself (not of one target) marks the run failed,
    saves it and raises again.
    """
    targets = parse_targets(specs)
    run = run or start_run(store, specs, actor=(options or DiscoveryOptions()).actor)
    logger.info("discovery run %s started: %d targets from %s", run.id, len(targets), ", ".join(specs))
    try:
        walks = await collect(
            targets, profiles, collect_options, _preferred_profiles(store, targets), on_walk=on_walk
        )
        return apply_walks(
            store=store, run=run, walks=walks, scope=[str(target) for target in targets], options=options
        )
    except Exception as exc:
        logger.exception("discovery run %s failed", run.id)
        run.status = RunStatus.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
        run.finished_at = _now()
        store.save_discovery_run(run.to_stored())
        raise
