"""The root Mutation type: batch writes of CIs and relationships, and retiring a CI.

Every write needs a token with a write role, runs in one store transaction and
is all-or-nothing: one invalid row, unknown CI or stale version writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, Protocol, TypeVar

import strawberry
from pydantic import ValidationError

from cmdb.auth import WRITE_ROLES, Principal, Role
from cmdb.graphql import fields
from cmdb.graphql.context import Context
from cmdb.graphql.inputs import CIInputType, RelationshipInputType
from cmdb.graphql.results import (
    CINotFound,
    FieldError,
    UpsertResultType,
    ValidationFailed,
    VersionConflict,
    field_errors,
    rejected_row_errors,
)
from cmdb.graphql.types import CIType
from cmdb.model import CIInput
from cmdb.model.ci import merge_ci
from cmdb.store.base import CINotFoundError, RejectedRowsError, UpsertResult, VersionConflictError

logger = logging.getLogger(__name__)

# A biomedical engineer may write medical devices without the editor role.
DEVICE_CLASS = "MedicalDevice"
DEVICE_WRITE_ROLES = WRITE_ROLES | {Role.BIOMED}

UpsertCIsResult = Annotated[
    UpsertResultType | ValidationFailed | VersionConflict, strawberry.union("UpsertCIsResult")
]
UpsertRelationshipsResult = Annotated[
    UpsertResultType | ValidationFailed | CINotFound, strawberry.union("UpsertRelationshipsResult")
]
RetireCIResult = Annotated[CIType | CINotFound | VersionConflict, strawberry.union("RetireCIResult")]

ModelT = TypeVar("ModelT", covariant=True)


class _RowInput(Protocol[ModelT]):
    """A GraphQL input row that converts to its pydantic model."""

    def to_model(self) -> ModelT: ...


def _version_conflict(error: VersionConflictError) -> VersionConflict:
    return VersionConflict(
        key=error.key, expected_version=error.expected, actual_version=error.actual, message=str(error)
    )


def _check_batch_size(context: Context, count: int) -> ValidationFailed | None:
    limit = context.settings.batch_size
    if count > limit:
        return ValidationFailed.single(
            "input", f"too many rows ({count}); send at most {limit} per call", count
        )
    if count == 0:
        return ValidationFailed.single("input", "no rows; send at least one")
    return None


def _rows_to_models(context: Context, rows: Sequence[_RowInput[ModelT]]) -> list[ModelT] | ValidationFailed:
    """Convert the input rows to models, or return why the batch is invalid: its size or every field error."""
    invalid_size = _check_batch_size(context, len(rows))
    if invalid_size is not None:
        return invalid_size
    models: list[ModelT] = []
    errors: list[FieldError] = []
    for index, row in enumerate(rows):
        try:
            models.append(row.to_model())
        except ValidationError as error:
            errors.extend(field_errors(error, prefix=("input", index)))
    if errors:
        return ValidationFailed.from_errors(errors)
    return models


def _log_upsert(context: Context, principal: Principal, entities: str, result: UpsertResult) -> None:
    logger.info(
        "request %s: %s upserted %s, %d added, %d updated, %d unchanged",
        context.request_id,
        principal.actor,
        entities,
        result.added,
        result.updated,
        result.unchanged,
    )


def _only_devices(context: Context, cis: list[CIInput]) -> bool:
    """Return True when every row is a MedicalDevice and so is every stored CI it replaces."""
    if any(ci.ci_class != DEVICE_CLASS for ci in cis):
        return False
    stored = context.store.get_cis([ci.key for ci in cis])
    return all(record.ci_class == DEVICE_CLASS for record in stored.values())


def _writer_of_cis(context: Context, cis: list[CIInput]) -> Principal:
    principal = context.require_roles("upsertCIs", DEVICE_WRITE_ROLES)
    if principal.has_any(WRITE_ROLES) or _only_devices(context, cis):
        return principal
    return context.require_roles("upsertCIs of classes other than MedicalDevice", WRITE_ROLES)


@strawberry.type
class Mutation:
    @fields.mutation(
        name="upsertCIs",
        description=(
            "Create CIs, or update them by key, all or nothing. An update changes only the fields"
            " given: attributes merge by name (null removes one), identifiers by kind, and tags"
            " replace the stored tags."
        ),
    )
    def upsert_cis(
        self,
        info: strawberry.Info[Context, None],
        input: list[CIInputType],
    ) -> UpsertCIsResult:
        context = info.context
        context.require_roles("upsertCIs", DEVICE_WRITE_ROLES)
        cis = _rows_to_models(context, input)
        if isinstance(cis, ValidationFailed):
            return cis
        principal = _writer_of_cis(context, cis)

        # Merge each row with its stored CI, so that fields the client left out keep their values.
        stored = context.store.get_cis([ci.key for ci in cis])
        merged: list[CIInput] = []
        errors: list[FieldError] = []
        for index, ci in enumerate(cis):
            record = stored.get(ci.key)
            try:
                merged.append(merge_ci(record, ci))
            except ValidationError as error:
                errors.extend(field_errors(error, prefix=("input", index)))
                continue
            if record is None:
                continue
            # Reclassifying a CI or changing its criticality changes impact results, so it is logged.
            for field, before, after in (
                ("class", record.ci_class, merged[-1].ci_class),
                ("criticality", record.criticality.value, merged[-1].criticality.value),
            ):
                if before != after:
                    logger.info(
                        "request %s: %s changes the %s of CI %s from %s to %s",
                        context.request_id,
                        principal.actor,
                        field,
                        ci.key,
                        before,
                        after,
                    )
        if errors:
            return ValidationFailed.from_errors(errors)

        try:
            result = context.store.upsert_cis(merged, context=context.change_context(principal), strict=True)
        except VersionConflictError as error:
            return _version_conflict(error)
        except RejectedRowsError as error:
            return ValidationFailed.from_errors(rejected_row_errors(error.rejected))
        _log_upsert(context, principal, "CIs", result)
        return UpsertResultType.from_store(result)

    @fields.mutation(description="Create or update relationships by (source, type, target), all or nothing.")
    def upsert_relationships(
        self,
        info: strawberry.Info[Context, None],
        input: list[RelationshipInputType],
    ) -> UpsertRelationshipsResult:
        context = info.context
        principal = context.require_roles("upsertRelationships", WRITE_ROLES)
        relationships = _rows_to_models(context, input)
        if isinstance(relationships, ValidationFailed):
            return relationships
        named = sorted({key for rel in relationships for key in (rel.source, rel.target)})
        stored = context.store.get_cis(named)
        missing = [key for key in named if key not in stored]
        if missing:
            return CINotFound.for_key(missing[0])
        try:
            result = context.store.upsert_relationships(
                relationships, context=context.change_context(principal), strict=True
            )
        except CINotFoundError as error:
            return CINotFound.for_key(error.key)
        except RejectedRowsError as error:
            return ValidationFailed.from_errors(rejected_row_errors(error.rejected))
        _log_upsert(context, principal, "relationships", result)
        return UpsertResultType.from_store(result)

    @fields.mutation(
        name="retireCI",
        description="Set a CI's status to retired; it then takes no part in impact analysis.",
    )
    def retire_ci(
        self,
        info: strawberry.Info[Context, None],
        key: str,
        expected_version: int | None = None,
    ) -> RetireCIResult:
        context = info.context
        principal = context.require_roles("retireCI", DEVICE_WRITE_ROLES)
        record = context.store.get_ci(key)
        if record is None:
            return CINotFound.for_key(key)
        if record.ci_class != DEVICE_CLASS:
            principal = context.require_roles("retireCI of a class other than MedicalDevice", WRITE_ROLES)
        try:
            retired = context.store.retire_ci(
                key, expected_version=expected_version, context=context.change_context(principal)
            )
        except CINotFoundError:
            return CINotFound.for_key(key)
        except VersionConflictError as error:
            return _version_conflict(error)
        logger.info("request %s: %s retired CI %s", context.request_id, principal.actor, key)
        return CIType.from_record(retired)
