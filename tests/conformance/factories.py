"""Small builders of CIs and relationships for the conformance tests."""

from __future__ import annotations

from typing import Any

from cmdb.model import CIInput, Criticality, RelationshipInput, Status


def ci(
    key: str,
    ci_class: str = "Server",
    *,
    name: str | None = None,
    status: Status = Status.IN_SERVICE,
    criticality: Criticality = Criticality.BUSINESS,
    identifiers: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    version: int | None = None,
) -> CIInput:
    return CIInput(
        key=key,
        ci_class=ci_class,
        name=name or key,
        status=status,
        criticality=criticality,
        identifiers=identifiers or {},
        attributes=attributes or {},
        tags=tags or [],
        version=version,
    )


def rel(source: str, rel_type: str, target: str, **properties: Any) -> RelationshipInput:
    return RelationshipInput(source=source, type=rel_type, target=target, properties=properties)
