"""Reconciliation: merge what a run discovered into what the store holds, as pure functions.

Attribute precedence follows each attribute's source. Discovery writes an
attribute when the stored one is missing or was written by discovery. An
attribute whose source is curated (manual, API, import, change) keeps its
value, and a different discovered value is reported as a `Disagreement`.
Discovery sets class, name, status and criticality only when it creates a
CI, except that a stale CI it sees again becomes unverified and an endpoint
it has since walked takes the walked device's class.

Relationship properties have no per-property source, so discovery lists the
properties it wrote in the property `discovered`, and marks the relationships
it created with `origin: discovery`. Any other property is curated and kept
(a monitor's soft link stays soft); only relationships discovery created are
ended when it no longer sees them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cmdb.discovery.identify import DiscoveredCI, Identity
from cmdb.discovery.runs import Disagreement, is_discovery_source
from cmdb.model import CIInput, CIRecord, Identifiers, Status

DISCOVERED_PROPERTY = "discovered"
"""Relationship property listing the properties discovery wrote."""
ORIGIN_PROPERTY = "origin"
"""Relationship property set to `discovery` on relationships that discovery created."""
DISCOVERY_ORIGIN = "discovery"


@dataclass(slots=True)
class MergedCI:
    """The CI to write and the curated values discovery left alone."""

    ci: CIInput
    disagreements: list[Disagreement] = field(default_factory=list)


def matches(identity: Identity, record: CIRecord) -> bool:
    """Return whether `record` carries `identity` among its identifiers."""
    identifiers = record.identifiers
    if identity.kind == "serial":
        return identifiers.serial is not None and identifiers.serial.casefold() == identity.value.casefold()
    if identity.kind in ("chassis_mac", "mac"):
        return identity.value in identifiers.macs
    if identity.kind == "hostname_ip":
        return identifiers.hostname == identity.value and identity.ip in identifiers.ips
    return False


def _merge_identifiers(
    stored: Identifiers, discovered: Identifiers, key: str, disagreements: list[Disagreement]
) -> Identifiers:
    values: dict[str, Any] = stored.model_dump()
    for name in ("serial", "hostname"):
        new = getattr(discovered, name)
        old = getattr(stored, name)
        if new is None:
            continue
        if old is None:
            values[name] = new
        elif old != new:
            disagreements.append(
                Disagreement(
                    ci_key=key, field=f"identifiers.{name}", stored=old, discovered=new, source="identifiers"
                )
            )
    values["macs"] = sorted({*stored.macs, *discovered.macs})
    values["ips"] = sorted({*stored.ips, *discovered.ips})
    return Identifiers.model_validate(values)


def merge_ci(discovered: DiscoveredCI, stored: CIRecord | None) -> MergedCI:
    """Return the CI to write for `discovered`, given the stored CI it was matched to (or None)."""
    if stored is None:
        ci = CIInput(
            key=discovered.key,
            ci_class=discovered.ci_class,
            name=discovered.name,
            status=Status.UNVERIFIED,
            criticality=discovered.criticality,
            identifiers=discovered.identifiers,
            attributes=discovered.attributes,
        )
        return MergedCI(ci)

    disagreements: list[Disagreement] = []
    attributes = dict(stored.attributes)
    for name in stored.attributes:
        # A fact discovery reported before and no longer reports goes away; curated ones stay.
        if name not in discovered.attributes and is_discovery_source(stored.sources.get(name)):
            del attributes[name]
    for name, value in discovered.attributes.items():
        source = stored.sources.get(name)
        if name in stored.attributes and not is_discovery_source(source):
            if stored.attributes[name] != value:
                disagreements.append(
                    Disagreement(
                        ci_key=stored.key,
                        field=f"attributes.{name}",
                        stored=stored.attributes[name],
                        discovered=value,
                        source=source or "unknown",
                    )
                )
            continue
        attributes[name] = value

    ci_class = stored.ci_class
    if ci_class == "NetworkEndpoint" and discovered.ci_class != "NetworkEndpoint":
        ci_class = discovered.ci_class
    status = Status.UNVERIFIED if stored.status is Status.STALE else stored.status
    ci = CIInput(
        key=stored.key,
        ci_class=ci_class,
        name=stored.name,
        status=status,
        criticality=stored.criticality,
        identifiers=_merge_identifiers(stored.identifiers, discovered.identifiers, stored.key, disagreements),
        attributes=attributes,
        tags=stored.tags,
        version=stored.version,
    )
    return MergedCI(ci, disagreements)


def merge_relationship_properties(
    discovered: Mapping[str, Any],
    stored: Mapping[str, Any] | None,
    *,
    ci_key: str,
    relationship: str,
) -> tuple[dict[str, Any], list[Disagreement]]:
    """Return the properties to write for a discovered relationship and the curated values it kept.

    `ci_key` (the source) and `relationship` (`TYPE TARGET`) name the
    relationship in disagreements.
    """
    wanted = {name: value for name, value in discovered.items() if value is not None}
    if stored is None:
        created = {**wanted, DISCOVERED_PROPERTY: sorted(wanted), ORIGIN_PROPERTY: DISCOVERY_ORIGIN}
        return created, []

    written_before = set(stored.get(DISCOVERED_PROPERTY) or ())
    bookkeeping = {DISCOVERED_PROPERTY, ORIGIN_PROPERTY}
    curated = {
        name: value
        for name, value in stored.items()
        if name not in written_before and name not in bookkeeping
    }
    disagreements: list[Disagreement] = []
    properties: dict[str, Any] = dict(curated)
    written: list[str] = []
    for name, value in wanted.items():
        if name in curated:
            if curated[name] != value:
                disagreements.append(
                    Disagreement(
                        ci_key=ci_key,
                        field=f"relationship {relationship}.{name}",
                        stored=curated[name],
                        discovered=value,
                        source="relationship",
                    )
                )
            continue
        properties[name] = value
        written.append(name)
    properties[DISCOVERED_PROPERTY] = sorted(written)
    if ORIGIN_PROPERTY in stored:
        properties[ORIGIN_PROPERTY] = stored[ORIGIN_PROPERTY]
    return properties, disagreements
