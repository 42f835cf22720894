"""The change context that every write carries into history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from cmdb.model.enums import Origin


@dataclass(frozen=True, slots=True)
class ChangeContext:
    """Who writes, from where, under which request and change; bound once per request or run."""

    actor: str
    origin: Origin
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    change_id: str | None = None
