"""Schemas of configuration items and relationships: what callers send and what stores return."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cmdb.model.classes import CI_CLASSES
from cmdb.model.enums import Criticality, Status, Strength
from cmdb.model.relationship_types import RELATIONSHIP_TYPES

_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$"
_HEX_MAC = re.compile(r"^[0-9a-f]{12}$")


def normalize_mac(value: str) -> str:
    """Return ``value`` as lower-case colon-separated hex; raise ValueError when it is no MAC."""
    digits = re.sub(r"[\s:.\-]", "", value).lower()
    if not _HEX_MAC.match(digits):
        raise ValueError(f"invalid MAC address {value!r}; write six hex octets, e.g. 00:1a:2b:3c:4d:5e")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


class Identifiers(BaseModel):
    """Identifiers by which a CI is found and matched: serial, MACs, IPs, hostname, UDI-DI, asset tag."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    serial: str | None = None
    macs: list[str] = Field(default_factory=list)
    ips: list[str] = Field(default_factory=list)
    hostname: str | None = None
    udi_di: str | None = None
    asset_tag: str | None = None

    @field_validator("macs")
    @classmethod
    def _normalize_macs(cls, values: list[str]) -> list[str]:
        return sorted({normalize_mac(v) for v in values})

    @field_validator("ips")
    @classmethod
    def _normalize_ips(cls, values: list[str]) -> list[str]:
        normalized: set[str] = set()
        for value in values:
            try:
                normalized.add(str(ipaddress.ip_address(value.strip())))
            except ValueError:
                raise ValueError(f"invalid IP address {value!r}; write an IPv4 or IPv6 address") from None
        return sorted(normalized)

    @field_validator("hostname")
    @classmethod
    def _lower_hostname(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    def lookup_values(self) -> list[tuple[str, str]]:
        """Return (kind, value) pairs for the identifier index."""
        pairs: list[tuple[str, str]] = []
        for kind in ("serial", "hostname", "udi_di", "asset_tag"):
            value = getattr(self, kind)
            if value:
                pairs.append((kind, value))
        pairs.extend(("mac", mac) for mac in self.macs)
        pairs.extend(("ip", ip) for ip in self.ips)
        return pairs


class CIInput(BaseModel):
    """A CI as written by an import, the API or discovery; ``key`` decides create or update.

    ``version``, when given, is the version the caller last read: the write fails
    with a version conflict when the stored CI has moved on.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = Field(pattern=_KEY_PATTERN)
    ci_class: str
    name: str = Field(min_length=1, max_length=300)
    status: Status = Status.IN_SERVICE
    criticality: Criticality = Criticality.ADMINISTRATIVE
    identifiers: Identifiers = Field(default_factory=Identifiers)
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    version: int | None = Field(default=None, ge=1)

    @field_validator("ci_class")
    @classmethod
    def _known_class(cls, value: str) -> str:
        if value not in CI_CLASSES:
            known = ", ".join(sorted(CI_CLASSES))
            raise ValueError(f"unknown CI class {value!r}; use one of: {known}")
        return value

    @field_validator("tags")
    @classmethod
    def _normalize_tags(cls, values: list[str]) -> list[str]:
        return sorted({v.strip().lower() for v in values if v.strip()})

    @model_validator(mode="after")
    def _validate_attributes(self) -> CIInput:
        model = CI_CLASSES[self.ci_class].attributes
        validated = model.model_validate(self.attributes)
        self.attributes = validated.model_dump(mode="json", exclude_none=True)
        return self


class CIRecord(BaseModel):
    """A stored CI with its bookkeeping."""

    key: str
    ci_class: str
    name: str
    status: Status
    criticality: Criticality
    identifiers: Identifiers
    attributes: dict[str, Any]
    tags: list[str]
    sources: dict[str, str]
    version: int
    first_seen: datetime
    last_seen: datetime
    updated_at: datetime


class RelationshipInput(BaseModel):
    """A relationship as written by an import or the API; (source, type, target) is its identity."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source: str = Field(min_length=1)
    type: str
    target: str = Field(min_length=1)
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in RELATIONSHIP_TYPES:
            known = ", ".join(sorted(RELATIONSHIP_TYPES))
            raise ValueError(f"unknown relationship type {value!r}; use one of: {known}")
        return value

    @model_validator(mode="after")
    def _validate_properties(self) -> RelationshipInput:
        if self.source == self.target:
            raise ValueError(f"a relationship cannot point from {self.source!r} to itself")
        strength = self.properties.get("strength")
        if strength is not None:
            allowed = [s.value for s in Strength]
            if strength not in allowed:
                raise ValueError(
                    f"invalid strength {strength!r} on {self.source} {self.type} {self.target};"
                    f" use one of: {', '.join(allowed)}"
                )
            if RELATIONSHIP_TYPES[self.type].default_strength is None:
                raise ValueError(f"relationship type {self.type} carries no strength; remove 'strength'")
        return self

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.source, self.type, self.target)


class RelationshipRecord(BaseModel):
    """A stored relationship."""

    source: str
    type: str
    target: str
    properties: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


class VersionRecord(BaseModel):
    """One version of a CI or relationship: its snapshot and who wrote it, when and why."""

    entity: str
    key: str
    version: int
    operation: str
    snapshot: dict[str, Any]
    actor: str
    origin: str
    request_id: str | None
    change_id: str | None
    valid_from: datetime
    valid_to: datetime | None


def describe_validation_error(error: ValidationError) -> list[str]:
    """Return one readable line per problem: the field, what is wrong and the offending value."""
    lines: list[str] = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(document)"
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        value = item.get("input")
        if item["type"] in {"missing"}:
            lines.append(f"{location}: missing; add this field")
        elif isinstance(value, str | int | float | bool) or value is None:
            lines.append(f"{location}: {message} (got {value!r})")
        else:
            lines.append(f"{location}: {message}")
    return lines
