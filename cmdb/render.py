"""Terminal rendering of CIs and impact reports as rich tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from cmdb.impact import ImpactReport
from cmdb.model import CIRecord, RelationshipRecord
from cmdb.store.base import Neighbour

_STATE_STYLES = {
    "DOWN": "bold red",
    "PLANNED_OUTAGE": "bold magenta",
    "DEGRADED": "yellow",
    "AT_RISK": "cyan",
}


def render_impact(console: Console, report: ImpactReport) -> None:
    """Print an impact report: impacted CIs by state, then the clinical summary."""
    console.print(
        f"Impact level [bold]{report.impact_level}[/], urgency {report.urgency}, "
        f"priority [bold]{report.priority}[/], {len(report.impacted)} CIs impacted"
    )
    table = Table(title="Impacted CIs", show_lines=False)
    for column in ("state", "key", "class", "criticality", "distance", "path"):
        table.add_column(column)
    order = {"PLANNED_OUTAGE": 0, "DOWN": 0, "DEGRADED": 1, "AT_RISK": 2}
    for ci in sorted(report.impacted, key=lambda c: (order.get(c.state, 3), c.distance, c.key)):
        table.add_row(
            f"[{_STATE_STYLES.get(ci.state, '')}]{ci.state}[/]",
            ci.key,
            ci.ci_class,
            ci.criticality,
            str(ci.distance),
            " → ".join(ci.path),
        )
    console.print(table)

    summary = Table(title="Clinical summary", show_header=False)
    summary.add_column("what")
    summary.add_column("value")
    summary.add_row("services", _states(report.services))
    summary.add_row("departments", _states(report.departments))
    summary.add_row("life-critical devices", ", ".join(report.life_critical_devices) or "none")
    summary.add_row(
        "locations",
        ", ".join(
            f"{loc.key} ({loc.impacted} CIs, {loc.life_critical} life-critical)"
            for loc in report.locations.values()
        )
        or "none",
    )
    summary.add_row("stakeholders", ", ".join(report.stakeholders) or "none")
    summary.add_row("informed", ", ".join(report.informed) or "none")
    console.print(summary)


def _states(states: dict[str, str]) -> str:
    return ", ".join(f"{key} {state}" for key, state in sorted(states.items())) or "none"


def render_ci(
    console: Console,
    ci: CIRecord,
    relationships: list[RelationshipRecord],
    neighbours: list[Neighbour],
) -> None:
    """Print a CI, its identifiers and attributes, its relationships and its neighbourhood."""
    head = Table(title=f"{ci.key}: {ci.name}", show_header=False)
    head.add_column("field")
    head.add_column("value")
    head.add_row("class", ci.ci_class)
    head.add_row("status", ci.status.value)
    head.add_row("criticality", ci.criticality.value)
    head.add_row("record version", str(ci.version))
    for kind, value in ci.identifiers.lookup_values():
        head.add_row(kind, value)
    for name, value in sorted(ci.attributes.items()):
        head.add_row(name, str(value))
    if ci.tags:
        head.add_row("tags", ", ".join(ci.tags))
    console.print(head)

    links = Table(title="Relationships")
    for column in ("source", "type", "target", "properties"):
        links.add_column(column)
    for rel in relationships:
        properties = ", ".join(f"{k}={v}" for k, v in sorted(rel.properties.items()))
        links.add_row(rel.source, rel.type, rel.target, properties)
    console.print(links)

    if neighbours:
        near = Table(title="Neighbourhood")
        for column in ("distance", "key", "class", "name", "status"):
            near.add_column(column)
        for neighbour in neighbours:
            other = neighbour.ci
            near.add_row(str(neighbour.distance), other.key, other.ci_class, other.name, other.status.value)
        console.print(near)


def render_matches(console: Console, text: str, matches: list[CIRecord]) -> None:
    """Print the CIs that ``text`` matches when it names more than one."""
    table = Table(title=f"{len(matches)} CIs match {text!r}; name one by its key")
    for column in ("key", "class", "name", "status"):
        table.add_column(column)
    for ci in matches:
        table.add_row(ci.key, ci.ci_class, ci.name, ci.status.value)
    console.print(table)
