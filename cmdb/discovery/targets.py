"""Discovery targets: single addresses, ranges and CIDR blocks, each with an optional UDP port.

Accepted forms, one per string:

- `10.0.0.5`, `10.0.0.5:1161`, `[2001:db8::5]:1161`
- `10.0.0.5-10.0.0.20` or `10.0.0.5-20` (the end is inclusive), with an optional `:PORT`
- `10.0.0.0/30` (the usable hosts; a /31 or /32 gives every address), with an optional `:PORT`
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from cmdb.discovery.decode import IPAddress

DEFAULT_PORT = 161
MAX_ADDRESSES = 65_536
"""Upper bound on the addresses one run may expand to, so a typo such as /8 fails fast."""


class TargetError(ValueError):
    """A target specification that cannot be read."""


@dataclass(frozen=True, slots=True, order=True)
class Target:
    """One SNMP agent: an IP address and a UDP port."""

    address: IPAddress
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        if self.address.version == 6:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


def _split_port(spec: str, default_port: int) -> tuple[str, int]:
    """Split `spec` into its address part and port; IPv6 needs brackets to carry a port."""
    if spec.startswith("["):
        host, separator, rest = spec[1:].partition("]")
        if not separator:
            raise TargetError(f"invalid target {spec!r}: missing ']' after the IPv6 address")
        if not rest:
            return host, default_port
        if not rest.startswith(":"):
            raise TargetError(f"invalid target {spec!r}: expected ':PORT' after ']'")
        return host, _port(spec, rest[1:])
    if spec.count(":") == 1:
        host, port_text = spec.split(":")
        return host, _port(spec, port_text)
    return spec, default_port


def _port(spec: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise TargetError(f"invalid port in target {spec!r}: {text!r}; use a number from 1 to 65535")
    return int(text)


def _address(spec: str, text: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError as exc:
        raise TargetError(f"invalid address in target {spec!r}: {text!r} is not an IP address") from exc


def _expand(spec: str, host: str) -> list[IPAddress]:
    if "/" in host:
        try:
            network = ipaddress.ip_network(host, strict=False)
        except ValueError as exc:
            raise TargetError(f"invalid network in target {spec!r}: {exc}") from exc
        if network.num_addresses > MAX_ADDRESSES:
            raise TargetError(
                f"target {spec!r} has {network.num_addresses} addresses, more than {MAX_ADDRESSES}; "
                "split it into smaller networks"
            )
        if network.num_addresses <= 2:
            return list(network)
        return list(network.hosts())
    if "-" in host:
        start_text, end_text = host.split("-", 1)
        start = _address(spec, start_text)
        if end_text.strip().isdigit() and start.version == 4:
            # Short form 10.0.0.5-20: the end replaces the last octet.
            prefix = str(start).rsplit(".", 1)[0]
            end = _address(spec, f"{prefix}.{end_text.strip()}")
        else:
            end = _address(spec, end_text)
        if start.version != end.version or int(end) < int(start):
            raise TargetError(f"invalid range in target {spec!r}: the end must not come before the start")
        count = int(end) - int(start) + 1
        if count > MAX_ADDRESSES:
            raise TargetError(f"range {spec!r} has {count} addresses, more than {MAX_ADDRESSES}")
        return [ipaddress.ip_address(int(start) + offset) for offset in range(count)]
    return [_address(spec, host)]


def parse_target(spec: str, default_port: int = DEFAULT_PORT) -> list[Target]:
    """Return the targets one specification expands to, in address order."""
    spec = spec.strip()
    if not spec:
        raise TargetError("empty target; give an address, a range a-b or a CIDR block")
    host, port = _split_port(spec, default_port)
    return [Target(address=address, port=port) for address in _expand(spec, host)]


def parse_targets(specs: Iterable[str], default_port: int = DEFAULT_PORT) -> list[Target]:
    """Expand every specification and drop repeats, keeping the first occurrence's position."""
    seen: set[Target] = set()
    targets: list[Target] = []
    for spec in specs:
        for target in parse_target(spec, default_port):
            if target not in seen:
                seen.add(target)
                targets.append(target)
        if len(targets) > MAX_ADDRESSES:
            raise TargetError(f"the targets expand to more than {MAX_ADDRESSES} addresses; narrow them")
    return targets
