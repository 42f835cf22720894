"""GraphQL fields of a CI's history: its versions and the diff between two of them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from cmdb.changes.history import VersionNotFoundError, ci_versions, diff_versions
from cmdb.graphql import fields
from cmdb.graphql.context import Context
from cmdb.graphql.errors import InvalidArgument
from cmdb.model import VersionRecord


@strawberry.type(name="Version", description="One version of a CI: who wrote it, when, from where and why.")
class VersionType:
    version: int
    operation: str = strawberry.field(description="create, update, retire or end.")
    actor: str
    origin: str = strawberry.field(description="api, import, discovery, change, cli or demo.")
    request_id: str | None
    change_id: str | None = strawberry.field(description="The change that wrote it, for origin change.")
    valid_from: datetime
    valid_to: datetime | None = strawberry.field(description="End of validity; null for the current one.")
    snapshot: JSON

    @classmethod
    def from_record(cls, record: VersionRecord) -> VersionType:
        return cls(
            version=record.version,
            operation=record.operation,
            actor=record.actor,
            origin=record.origin,
            request_id=record.request_id,
            change_id=record.change_id,
            valid_from=record.valid_from,
            valid_to=record.valid_to,
            snapshot=JSON(record.snapshot),
        )


@strawberry.type(description='A field that differs between two versions, e.g. "attributes.version".')
class FieldChange:
    field: str
    from_value: JSON = strawberry.field(name="from")
    to_value: JSON = strawberry.field(name="to")


@strawberry.type
class CIHistoryFields:
    """The history fields of the CI type, which inherits them."""

    key: str

    @fields.field(description="Versions of this CI, oldest first.")
    def history(self, info: strawberry.Info[Context, None]) -> list[VersionType]:
        return [VersionType.from_record(record) for record in ci_versions(info.context.store, self.key)]

    @fields.field(description="Fields that differ from version `from` to version `to` of this CI.")
    def diff(
        self,
        info: strawberry.Info[Context, None],
        from_version: Annotated[int, strawberry.argument(name="from")],
        to_version: Annotated[int, strawberry.argument(name="to")],
    ) -> list[FieldChange]:
        try:
            changes = diff_versions(
                store=info.context.store, key=self.key, before=from_version, after=to_version
            )
        except VersionNotFoundError as error:
            raise InvalidArgument(str(error)) from None
        return [FieldChange(field=c.field, from_value=c.before, to_value=c.after) for c in changes]
