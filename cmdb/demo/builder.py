"""Collect the CIs and relationships of the demo hospital and hand out unique identifiers."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from typing import Any

from cmdb.model import CIInput, Criticality, Identifiers, RelationshipInput


class SubnetPool:
    """Hands out consecutive /24 subnets of a larger block, and host addresses inside each."""

    def __init__(self, block: str) -> None:
        self._subnets: Iterator[ipaddress.IPv4Network] = ipaddress.IPv4Network(block).subnets(new_prefix=24)

    def next_subnet(self) -> Iterator[str]:
        """Return the usable host addresses of the next free /24, from .10 upwards."""
        try:
            subnet = next(self._subnets)
        except StopIteration:
            raise RuntimeError(
                "the demo address plan has no free /24 subnet left; use a lower scale"
            ) from None
        return (str(host) for host in list(subnet.hosts())[9:])


class GraphBuilder:
    """Accumulates CIs and relationships in creation order, drawing every random value from one seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cis: list[CIInput] = []
        self.relationships: list[RelationshipInput] = []
        self._serials: set[str] = set()
        self._macs: set[str] = set()

    def add_ci(
        self,
        key: str,
        ci_class: str,
        name: str,
        *,
        criticality: Criticality = Criticality.ADMINISTRATIVE,
        identifiers: Identifiers | None = None,
        attributes: dict[str, Any] | None = None,
        tags: tuple[str, ...] = (),
    ) -> str:
        """Append a CI and return its key, so calls can be nested in relationship calls."""
        self.cis.append(
            CIInput(
                key=key,
                ci_class=ci_class,
                name=name,
                criticality=criticality,
                identifiers=identifiers or Identifiers(),
                attributes=attributes or {},
                tags=list(tags),
            )
        )
        return key

    def relate(self, source: str, rel_type: str, target: str, **properties: Any) -> None:
        """Append a relationship whose properties are the keyword arguments."""
        self.relationships.append(
            RelationshipInput(source=source, type=rel_type, target=target, properties=properties)
        )

    def serial(self, prefix: str, digits: int = 8) -> str:
        """Return a serial number not handed out before: ``prefix`` then random digits."""
        while True:
            value = f"{prefix}{self.rng.randrange(10 ** (digits - 1), 10**digits)}"
            if value not in self._serials:
                self._serials.add(value)
                return value

    def mac(self, oui: str) -> str:
        """Return a MAC address under the vendor prefix ``oui`` (``aa:bb:cc``) not handed out before."""
        while True:
            suffix = self.rng.getrandbits(24)
            value = f"{oui}:{suffix >> 16:02x}:{(suffix >> 8) & 0xFF:02x}:{suffix & 0xFF:02x}"
            if value not in self._macs:
                self._macs.add(value)
                return value

    def clearance(self) -> str:
        """Return a synthetic 510(k) number: K, two digits of year, four of sequence."""
        return f"K{self.rng.randrange(10, 25):02d}{self.rng.randrange(0, 10000):04d}"
