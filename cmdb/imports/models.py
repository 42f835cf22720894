"""Rows, rejections and reports shared by every import source.

A parser turns a file into a ``ParsedImport``: validated CI and relationship
rows, each with the place in the file it came from, and the rows it rejected
with a reason. The runner writes the accepted rows and returns an
``ImportReport``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cmdb.model import CIInput, RelationshipInput


class ImportFormat(StrEnum):
    """The file formats an import reads."""

    NATIVE = "native"
    NATIVE_CSV = "native-csv"
    FHIR = "fhir"
    APP_GRAPH = "app-graph"


class ImportFileError(Exception):
    """A file that cannot be read or parsed at all; nothing of the import is written.

    ``line`` and ``column`` are 1-based and ``None`` when the problem has no position.
    """

    def __init__(self, file: str, message: str, *, line: int | None = None, column: int | None = None):
        self.file = file
        self.line = line
        self.column = column
        self.reason = message
        position = ""
        if line is not None:
            position = f" line {line}" + (f" column {column}" if column is not None else "")
        super().__init__(f"{file}{position}: {message}")


class ImportInterruptedError(ImportFileError):
    """An import that the store stopped midway; ``report`` counts what was written before that.

    Each batch is one transaction, so the batch that failed wrote nothing.
    """

    def __init__(self, file: str, message: str, report: ImportReport):
        super().__init__(file, message)
        self.report = report


@dataclass(frozen=True, slots=True)
class RowRef:
    """The place of a row in its file (a CSV or XML line, or a JSON array and index) and the row's id."""

    file: str
    line: int | None = None
    array: str | None = None
    index: int | None = None
    row_id: str | None = None

    def __str__(self) -> str:
        place = self.file
        if self.line is not None:
            place += f" line {self.line}"
        if self.array is not None and self.index is not None:
            place += f" {self.array}[{self.index}]"
        if self.row_id:
            place += f" ({self.row_id})"
        return place

    def position(self) -> str:
        """Return the line or array index alone, for messages that already name the file."""
        if self.line is not None:
            return f"line {self.line}"
        if self.array is not None and self.index is not None:
            return f"{self.array}[{self.index}]"
        return "an earlier row"


@dataclass(frozen=True, slots=True)
class CIRow:
    """A validated CI and the row it came from.

    ``defaults`` are fields the source format does not give (such as a FHIR
    Device's criticality): they are written only when the import creates the CI.
    """

    ref: RowRef
    ci: CIInput
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RelationshipRow:
    """A validated relationship and the row it came from.

    ``references`` maps an endpoint key to the text that named it in the source
    (a FHIR reference such as ``Location/1``), so a rejection can quote it.
    """

    ref: RowRef
    relationship: RelationshipInput
    references: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """A FHIR DeviceMetric to list as a channel on the MedicalDevice ``device_key``."""

    ref: RowRef
    device_key: str
    device_reference: str
    channel: dict[str, str]


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row that was not written, or a resource that was skipped, and why.

    ``entity`` is ``ci``, ``relationship`` or ``resource`` (a resource type the
    import does not map).
    """

    entity: str
    ref: RowRef
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.ref}: {self.reason}"


@dataclass(slots=True)
class ParsedImport:
    """Everything a parser read from one or more files, before anything is written."""

    files: list[str] = field(default_factory=list)
    cis: list[CIRow] = field(default_factory=list)
    relationships: list[RelationshipRow] = field(default_factory=list)
    channels: list[ChannelRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    skipped: list[RejectedRow] = field(default_factory=list)

    def extend(self, other: ParsedImport) -> None:
        self.files.extend(other.files)
        self.cis.extend(other.cis)
        self.relationships.extend(other.relationships)
        self.channels.extend(other.channels)
        self.rejected.extend(other.rejected)
        self.skipped.extend(other.skipped)


@dataclass(slots=True)
class ImportCounts:
    """Rows of one kind that an import added, updated, left unchanged or rejected."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    @property
    def accepted(self) -> int:
        return self.added + self.updated + self.unchanged


@dataclass(slots=True)
class ImportReport:
    """The outcome of one import: counts per kind, rejected rows and skipped resources."""

    format: ImportFormat
    path: str
    files: list[str]
    cis: ImportCounts = field(default_factory=ImportCounts)
    relationships: ImportCounts = field(default_factory=ImportCounts)
    rejected: list[RejectedRow] = field(default_factory=list)
    skipped: list[RejectedRow] = field(default_factory=list)

    def summary(self) -> str:
        """Return the counts as one line, e.g. for the command line."""
        cis, relationships = self.cis, self.relationships
        line = (
            f"CIs {cis.added} added, {cis.updated} updated, {cis.unchanged} unchanged,"
            f" {cis.rejected} rejected;"
            f" relationships {relationships.added} added, {relationships.updated} updated,"
            f" {relationships.unchanged} unchanged, {relationships.rejected} rejected"
        )
        if self.skipped:
            line += f"; {len(self.skipped)} resources skipped"
        return line

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data for the CLI and the API."""

        def counts(c: ImportCounts) -> dict[str, int]:
            return {
                "added": c.added,
                "updated": c.updated,
                "unchanged": c.unchanged,
                "rejected": c.rejected,
            }

        def rows(items: list[RejectedRow]) -> list[dict[str, Any]]:
            return [
                {
                    "entity": r.entity,
                    "file": r.ref.file,
                    "line": r.ref.line,
                    "index": r.ref.index,
                    "id": r.ref.row_id,
                    "key": r.key,
                    "reason": r.reason,
                }
                for r in items
            ]

        return {
            "format": self.format.value,
            "path": self.path,
            "files": list(self.files),
            "cis": counts(self.cis),
            "relationships": counts(self.relationships),
            "rejected": rows(self.rejected),
            "skipped": rows(self.skipped),
        }


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """How far the write has got: ``stage`` is ``cis`` or ``relationships``."""

    stage: str
    done: int
    total: int


ProgressCallback = Callable[[ImportProgress], None]
