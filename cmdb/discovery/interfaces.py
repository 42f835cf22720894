"""Lookups of IF-MIB interfaces by the names other tables use for them."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cmdb.discovery.records import Interface

_SPACES = re.compile(r"\s+")


def normalise_port_name(name: str) -> str:
    """Return `name` lower-cased with runs of white space removed, so `te 0/4` matches `Te0/4`."""
    return _SPACES.sub("", name).lower()


def find_if_index(interfaces: Iterable[Interface], name: str) -> int | None:
    """Return the ifIndex whose ifName, else ifDescr, else ifAlias matches `name`.

    Names are compared after `normalise_port_name`. A name that matches more
    than one interface in the same column is ambiguous and gives None.
    """
    wanted = normalise_port_name(name)
    if not wanted:
        return None
    candidates = list(interfaces)
    for attribute in ("name", "descr", "alias"):
        matches = [
            interface.if_index
            for interface in candidates
            if (value := getattr(interface, attribute)) is not None and normalise_port_name(value) == wanted
        ]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            return None
    return None
