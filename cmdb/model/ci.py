"""Schemas of configuration items and relationships: what callers send and what stores return."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from cmdb.model.classes import CI_CLASSES
from cmdb.model.enums import Criticality, Status, Strength
from cmdb.model.relationship_types import RELATIONSHIP_TYPES

MAX_KEY_LENGTH = 200
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
_HEX_MAC = re.compile(r"^[0-9a-f]{12}$")

# An offending value longer than this is cut in messages, so that a huge cell stays readable.
MAX_ECHOED_CHARS = 80


def quote_value(value: object) -> str:
    """Return ``value`` quoted for a message; text over MAX_ECHOED_CHARS is cut, with its length added."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= MAX_ECHOED_CHARS:
        return repr(value)
    head = text[:MAX_ECHOED_CHARS]
    shown = repr(head) if isinstance(value, str) else head
    return f"{shown}… ({len(text)} characters)"


def check_key(value: str) -> str:
    """Return ``value`` when it is a valid CI key; raise ValueError saying what a key may contain."""
    if len(value) > MAX_KEY_LENGTH or not _KEY_PATTERN.match(value):
        raise ValueError(
            f"invalid key {quote_value(value)}; use 1 to {MAX_KEY_LENGTH} characters (letters, digits"
            " and . _ : / @ + -), starting with a letter or digit"
        )
    return value


def normalize_mac(value: str) -> str:
    """Return ``value`` as lower-case colon-separated hex; raise ValueError when it is no MAC."""
    digits = re.sub(r"[\s:.\-]", "", value).lower()
    if not _HEX_MAC.match(digits):
        raise ValueError(
            f"invalid MAC address {quote_value(value)}; write six hex octets, e.g. 00:1a:2b:3c:4d:5e"
        )
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
                raise ValueError(
                    f"invalid IP address {quote_value(value)}; write an IPv4 or IPv6 address"
                ) from None
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
    with a version conflict when the stored CI has moved on. ``model_fields_set``
    and ``given_attributes`` tell which fields the caller gave, for ``merge_ci``.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str
    ci_class: str
    name: str = Field(min_length=1, max_length=300)
    status: Status = Status.IN_SERVICE
    criticality: Criticality = Criticality.ADMINISTRATIVE
    identifiers: Identifiers = Field(default_factory=Identifiers)
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    version: int | None = Field(default=None, ge=1)

    _given_attributes: frozenset[str] = PrivateAttr(default=frozenset())

    @field_validator("key")
    @classmethod
    def _valid_key(cls, value: str) -> str:
        return check_key(value)

    @field_validator("ci_class")
    @classmethod
    def _known_class(cls, value: str) -> str:
        if value not in CI_CLASSES:
            known = ", ".join(sorted(CI_CLASSES))
            raise ValueError(f"unknown CI class {quote_value(value)}; use one of: {known}")
        return value

    @field_validator("tags")
    @classmethod
    def _normalize_tags(cls, values: list[str]) -> list[str]:
        return sorted({v.strip().lower() for v in values if v.strip()})

    @model_validator(mode="after")
    def _validate_attributes(self) -> CIInput:
        model = CI_CLASSES[self.ci_class].attributes
        try:
            validated = model.model_validate(self.attributes)
        except ValidationError as error:
            raise _under_attributes(error) from None
        given = "attributes" in self.model_fields_set
        self._given_attributes = frozenset(self.attributes)
        self.attributes = validated.model_dump(mode="json", exclude_none=True)
        if not given:
            # The assignment marks the field as set, but the caller did not give it.
            self.model_fields_set.discard("attributes")
        return self

    def __eq__(self, other: object) -> bool:
        # Like model_fields_set, which attributes were given matters to merge_ci only, not to equality.
        if not isinstance(other, CIInput):
            return NotImplemented
        return self.__dict__ == other.__dict__

    @property
    def given_attributes(self) -> frozenset[str]:
        """Names of the attributes the caller gave; those given as null are missing from ``attributes``."""
        return self._given_attributes


def _under_attributes(error: ValidationError) -> ValidationError:
    """Return ``error`` of a class's attribute model with each location under ``attributes``."""
    details: list[InitErrorDetails] = []
    for item in error.errors():
        detail = InitErrorDetails(type=item["type"], loc=("attributes", *item["loc"]), input=item["input"])
        if "ctx" in item:
            detail["ctx"] = item["ctx"]
        details.append(detail)
    return ValidationError.from_exception_data(error.title, details)


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


def merge_ci(stored: CIRecord | None, update: CIInput) -> CIInput:
    """Return ``update`` completed with the stored values of what it does not give, ready to write.

    Without a stored CI, ``update`` is returned as it is and the model defaults
    apply. On update, a top-level field outside ``update.model_fields_set``
    keeps its stored value. ``attributes`` merge by name: a given attribute
    replaces the stored one and one given as null is removed. ``identifiers``
    merge by kind: a given ``serial`` replaces the serial, a given ``macs`` list
    the MAC list, and kinds not given are kept. ``tags``, when given, replace
    the stored tags. The result expects the stored version unless ``update``
    names one, so a write that another caller got ahead of fails with a version
    conflict instead of reverting that caller's change.
    Raise ValidationError when the merged CI is invalid, e.g. a stored
    attribute that the new class of a reclassified CI types differently.
    """
    if stored is None:
        return update
    given = update.model_fields_set

    attributes = dict(stored.attributes)
    for name in update.given_attributes:
        if name in update.attributes:
            attributes[name] = update.attributes[name]
        else:
            attributes.pop(name, None)

    identifiers = stored.identifiers.model_dump()
    if "identifiers" in given:
        for kind in update.identifiers.model_fields_set:
            identifiers[kind] = getattr(update.identifiers, kind)

    def pick(name: str) -> Any:
        return getattr(update if name in given else stored, name)

    return CIInput.model_validate(
        {
            "key": update.key,
            "ci_class": pick("ci_class"),
            "name": pick("name"),
            "status": pick("status"),
            "criticality": pick("criticality"),
            "identifiers": identifiers,
            "attributes": attributes,
            "tags": pick("tags"),
            "version": update.version if "version" in given else stored.version,
        }
    )


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
            raise ValueError(f"unknown relationship type {quote_value(value)}; use one of: {known}")
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
                    f"invalid strength {quote_value(strength)} on {self.source} {self.type} {self.target};"
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


def describe_validation_error(
    error: ValidationError, field_names: Mapping[str, str] | None = None
) -> list[str]:
    """Return one readable line per problem: the field, what is wrong and the offending value.

    ``field_names`` renames top-level fields as the caller's format spells them
    (``{"ci_class": "class"}``). A problem of the whole object, such as a
    relationship from a CI to itself, has no field and is given as its message
    alone. Echoed values are cut by ``quote_value`` and not repeated when the
    message already quotes them.
    """
    names = field_names or {}
    lines: list[str] = []
    for item in error.errors():
        parts = [str(part) for part in item["loc"]]
        if parts and parts[0] in names:
            parts[0] = names[parts[0]]
        location = ".".join(parts)
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        value = item.get("input")
        if item["type"] == "missing":
            message = "missing; add this field"
        elif isinstance(value, str | int | float | bool) or value is None:
            shown = quote_value(value)
            if shown not in message:
                message = f"{message} (got {shown})"
        lines.append(f"{location}: {message}" if location else message)
    return lines
