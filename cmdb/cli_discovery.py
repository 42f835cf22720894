"""`cmdb discover`, and the port listing that `cmdb show` prints for a switch."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cmdb.discovery.collect import CollectOptions
from cmdb.discovery.credentials import CredentialError, load_credentials
from cmdb.discovery.models import RawWalk
from cmdb.discovery.runs import DiscoveryRun
from cmdb.discovery.scheduler import DiscoveryRunner, options_from_settings, parse_duration
from cmdb.discovery.service import DiscoveryOptions, run_discovery
from cmdb.discovery.targets import TargetError, parse_targets
from cmdb.model import CIRecord, RelationshipRecord
from cmdb.settings import Settings
from cmdb.store import open_store
from cmdb.store.base import GraphStore, StoreError

logger = logging.getLogger(__name__)

console = Console()
errors = Console(stderr=True)


def _read_targets_file(path: Path) -> list[str]:
    """Return the target specifications of a YAML file: a list, or a mapping with a `targets` list."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(document, dict):
        document = document.get("targets")
    if not isinstance(document, list) or not all(isinstance(item, str | int) for item in document):
        raise ValueError(
            f"invalid targets file {path}: expected a list of targets or a mapping with 'targets'"
        )
    return [str(item) for item in document]


def discover(
    targets: Annotated[list[str] | None, typer.Argument(help="Addresses, ranges a-b or CIDR blocks.")] = None,
    targets_file: Annotated[
        Path | None,
        typer.Option("--targets-file", help="YAML list of targets (or a mapping with 'targets')."),
    ] = None,
    credentials: Annotated[
        Path, typer.Option("--credentials", help="YAML file of SNMP credential profiles, tried in order.")
    ] = ...,  # type: ignore[assignment]  # typer reads `...` as a required option
    concurrency: Annotated[int | None, typer.Option(min=1, help="Targets collected at once.")] = None,
    timeout: Annotated[
        float | None, typer.Option(min=0.05, help="Seconds to wait for each SNMP response.")
    ] = None,
    retries: Annotated[int | None, typer.Option(min=0, help="Retries per SNMP request.")] = None,
    stale_after: Annotated[
        str | None, typer.Option("--stale-after", help="Age after which an unseen CI is stale, e.g. 7d, 12h.")
    ] = None,
    store: Annotated[str | None, typer.Option("--store", help="Store URL; default CMDB_STORE.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the run record as JSON.")] = False,
) -> None:
    """Discover devices, links and endpoints over SNMP and load them into the store."""
    settings = Settings()
    if store:
        settings = settings.model_copy(update={"store": store})
    specs = list(targets or [])
    try:
        if targets_file is not None:
            specs.extend(_read_targets_file(targets_file))
        if not specs:
            raise ValueError("no targets; give addresses, ranges or CIDR blocks, or --targets-file")
        expanded = parse_targets(specs)
        profiles = load_credentials(credentials)
        base_collect, base_options = options_from_settings(settings)
        collect_options = CollectOptions(
            timeout=timeout if timeout is not None else base_collect.timeout,
            retries=retries if retries is not None else base_collect.retries,
            concurrency=concurrency if concurrency is not None else base_collect.concurrency,
        )
        options = DiscoveryOptions(
            stale_after=parse_duration(stale_after) if stale_after else base_options.stale_after,
            max_macs_per_port=base_options.max_macs_per_port,
            medical_vendors=base_options.medical_vendors,
        )
    except (ValueError, OSError, yaml.YAMLError, TargetError, CredentialError) as error:
        errors.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None

    try:
        graph_store = open_store(settings.store)
    except (ValueError, StoreError) as error:
        errors.print(f"[red]cannot open store {settings.store}: {error}[/]")
        raise typer.Exit(1) from None
    try:
        progress = Progress(
            TextColumn("collecting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=errors,
            disable=json_output,
        )
        with progress:
            task = progress.add_task("", total=len(expanded))

            def advance(walk: RawWalk) -> None:
                progress.update(task, advance=1, description=walk.target)

            run = asyncio.run(
                run_discovery(
                    store=graph_store,
                    specs=specs,
                    profiles=profiles,
                    collect_options=collect_options,
                    options=options,
                    on_walk=advance,
                )
            )
    except StoreError as error:
        errors.print(f"[red]discovery failed: {error}[/]")
        raise typer.Exit(1) from None
    finally:
        graph_store.close()

    if json_output:
        print(json.dumps(run.model_dump(mode="json"), indent=1))
    else:
        render_run(console, run)


def render_run(output: Console, run: DiscoveryRun) -> None:
    """Print a run's per-target table and its summary."""
    targets = Table(title=f"Discovery run {run.id}")
    for column in ("target", "status", "profile", "CI", "error"):
        targets.add_column(column)
    for outcome in run.outcomes:
        targets.add_row(
            outcome.target,
            outcome.status.value,
            outcome.profile or "",
            outcome.ci_key or "",
            outcome.error or "",
        )
    output.print(targets)

    summary = Table(title="Summary", show_header=False)
    summary.add_column("what")
    summary.add_column("count", justify="right")
    for label, value in (
        ("CIs added", run.cis_added),
        ("CIs changed", run.cis_changed),
        ("CIs unchanged", run.cis_unchanged),
        ("CIs stale", run.cis_stale),
        ("links added", run.links_added),
        ("links changed", run.links_changed),
        ("links ended", run.links_removed),
        ("unattached MACs", len(run.unattached)),
        ("disagreements", len(run.disagreements)),
        ("rejected rows", len(run.rejected)),
    ):
        summary.add_row(label, str(value))
    output.print(summary)
    for disagreement in run.disagreements:
        output.print(
            f"kept {disagreement.ci_key} {disagreement.field} = {disagreement.stored!r}"
            f" ({disagreement.source}); discovery saw {disagreement.discovered!r}"
        )


def switch_ports(
    store: GraphStore, record: CIRecord, relationships: list[RelationshipRecord]
) -> list[tuple[str, str, str, str]]:
    """Return (port, CI key, CI name, detail) for each CONNECTS_TO link of a NetworkDevice, by port.

    The port is the device's own port: `remote_port` for a link from a lower
    switch, `port` for an endpoint or a link the device is the source of.
    Other classes get an empty list.
    """
    if record.ci_class != "NetworkDevice":
        return []
    rows: list[tuple[str, str, str, str]] = []
    links = [rel for rel in relationships if rel.type == "CONNECTS_TO"]
    others = store.get_cis({rel.source if rel.target == record.key else rel.target for rel in links})
    for rel in links:
        incoming = rel.target == record.key
        other_key = rel.source if incoming else rel.target
        properties = rel.properties
        if incoming and "remote_port" in properties:
            port, far_port = properties.get("remote_port"), properties.get("port")
        elif incoming:
            port, far_port = properties.get("port"), None
        else:
            port, far_port = properties.get("port"), properties.get("remote_port")
        other = others.get(other_key)
        details = []
        if far_port:
            details.append(f"their port {far_port}")
        if properties.get("vlan") is not None:
            details.append(f"vlan {properties['vlan']}")
        if other is not None:
            details.append(other.ci_class)
        rows.append((str(port or "?"), other_key, other.name if other else "", ", ".join(details)))
    rows.sort(key=lambda row: (row[0], row[1]))
    return rows


def render_switch_ports(output: Console, rows: list[tuple[str, str, str, str]]) -> None:
    """Print the rows of `switch_ports` as a table; print nothing when there are none."""
    if not rows:
        return
    table = Table(title="Ports")
    for column in ("port", "CI", "name", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    output.print(table)


def start_periodic_discovery(settings: Settings, store: GraphStore) -> DiscoveryRunner | None:
    """Start periodic discovery when CMDB_DISCOVERY_INTERVAL and CMDB_DISCOVERY_TARGETS are set."""
    if not settings.discovery_interval or not settings.discovery_targets:
        return None
    interval = parse_duration(settings.discovery_interval)
    runner = DiscoveryRunner.from_settings(store, settings)
    runner.start_periodic(settings.discovery_targets, interval)
    logger.info(
        "periodic discovery every %s over %s",
        settings.discovery_interval,
        ", ".join(settings.discovery_targets),
    )
    return runner
