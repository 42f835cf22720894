"""Generate a deterministic demo health system: two hospitals, a shared data center and their services."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from cmdb.demo.builder import GraphBuilder, SubnetPool
from cmdb.demo.campus import CampusBuilder
from cmdb.demo.system import SystemBuilder
from cmdb.model import RELATIONSHIP_TYPES, CIInput, RelationshipInput

HOSPITAL_NAMES = ("St. Aurelia Medical Center", "Riverside Community Hospital")

# Measured with seed 7: scale 1 gives 2,444 CIs and 9,537 relationships. Each further step adds
# about 2,330 CIs and 9,280 relationships, so scale 43 gives 100,235 CIs and 397,504 relationships.
BENCH_SCALE = 43
_BASE_CIS = 2_444
_CIS_PER_SCALE = 2_330


@dataclass(frozen=True, slots=True)
class DemoHospital:
    """The generated CIs and relationships, CIs first in the order a loader should write them."""

    cis: list[CIInput]
    relationships: list[RelationshipInput]

    def class_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(ci.ci_class for ci in self.cis).items()))

    def type_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(rel.type for rel in self.relationships).items()))


class InvalidDemoGraphError(ValueError):
    """The generated graph breaks an invariant that the stores rely on, which is a bug in the generator."""


def generate_hospital(*, seed: int = 7, scale: int = 1) -> DemoHospital:
    """Generate the demo health system. The same seed and scale always give the same graph.

    ``scale`` multiplies the number of clinical units of every department, and
    with them the rooms, beds, devices and access switches. The seed picks
    device models, serial numbers, MAC and IP suffixes and versions; keys depend
    only on the scale.
    """
    if scale < 1:
        raise ValueError(f"invalid scale {scale}; use 1 or more")
    rng = random.Random(seed)
    builder = GraphBuilder(rng)
    addresses = SubnetPool("10.16.0.0/12")
    system = SystemBuilder(builder, scale=scale, addresses=addresses)
    system.teams_and_services()

    campuses = []
    for index, name in enumerate(HOSPITAL_NAMES, start=1):
        campus = CampusBuilder(builder, index=index, name=name, scale=scale, addresses=addresses).build()
        campuses.append(campus)
    system.data_center(campuses[0])
    system.applications(campuses)
    system.link_services(campuses)

    hospital = DemoHospital(cis=builder.cis, relationships=builder.relationships)
    validate_hospital(hospital)
    return hospital


def scale_for(target_cis: int) -> int:
    """Return the scale whose hospital has about ``target_cis`` CIs, rounded to the nearest scale."""
    return max(1, 1 + round((target_cis - _BASE_CIS) / _CIS_PER_SCALE))


def validate_hospital(hospital: DemoHospital) -> None:
    """Raise InvalidDemoGraphError on a duplicate key or relationship, or a relationship to a missing CI."""
    keys: set[str] = set()
    for ci in hospital.cis:
        if ci.key in keys:
            raise InvalidDemoGraphError(f"duplicate CI key {ci.key!r}")
        keys.add(ci.key)
    identities: set[tuple[str, str, str]] = set()
    for rel in hospital.relationships:
        if rel.identity in identities:
            raise InvalidDemoGraphError(f"duplicate relationship {rel.identity}")
        identities.add(rel.identity)
        for end in (rel.source, rel.target):
            if end not in keys:
                raise InvalidDemoGraphError(f"relationship {rel.identity} names missing CI {end!r}")
    unused = set(RELATIONSHIP_TYPES) - {rel.type for rel in hospital.relationships}
    if unused:
        raise InvalidDemoGraphError(f"relationship types never used: {sorted(unused)}")
