"""The import runner: detect the format, parse every file, then write CIs and relationships in batches.

Nothing is written until every file has parsed, so a malformed file raises
``ImportFileError`` and leaves the store as it was. Rows that fail validation,
name a missing CI or repeat an earlier row are rejected one by one while the
rest is written, one transaction per batch.

A row for a CI that is already stored updates only what the row gives, as
``cmdb.model.ci.merge_ci`` defines. A field the row leaves out, such as a CSV
column that is missing or a cell that is empty, keeps its stored value.
Attributes merge by name (a JSON null removes one) and identifiers by kind.
Tags, when given, replace the stored tags. A new CI takes the defaults for what
the row leaves out. So a partial file does not reset a CI's criticality or
wipe its identifiers.

When the store fails midway (a locked SQLite file, a lost Neo4j connection),
``ImportInterruptedError`` says how much was written. Running the same import
again finishes it: every write is an upsert by key, so rows already written
come back unchanged and none is duplicated.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from neo4j.exceptions import DriverError, Neo4jError
from pydantic import ValidationError

from cmdb.imports import app_graph, fhir, native
from cmdb.imports.fhir_mapping import merge_channels
from cmdb.imports.models import (
    ChannelRow,
    CIRow,
    ImportCounts,
    ImportFileError,
    ImportFormat,
    ImportInterruptedError,
    ImportProgress,
    ImportReport,
    ParsedImport,
    ProgressCallback,
    RejectedRow,
    RelationshipRow,
)
from cmdb.imports.rows import describe_error, load_json, read_text, relationship_label
from cmdb.model import ChangeContext, CIInput, CIRecord, Origin
from cmdb.model.ci import merge_ci, quote_value
from cmdb.store.base import GraphStore, StoreError, UpsertResult

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
# Rejected rows logged one by one before the rest are only counted.
MAX_LOGGED_REJECTIONS = 20
# Exceptions of a store that fails midway. The stores pass some driver errors through
# unwrapped, such as SQLite's "database is locked" after its busy timeout.
STORE_FAILURES: tuple[type[Exception], ...] = (StoreError, sqlite3.Error, DriverError, Neo4jError)


def import_file(
    *,
    store: GraphStore,
    path: Path | str,
    format: ImportFormat | str | None = None,
    context: ChangeContext,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    key_prefix: str | None = None,
) -> ImportReport:
    """Import the file or folder at ``path`` into ``store`` and return what was written and rejected.

    ``format`` is detected when None. ``key_prefix`` applies to app-graph
    imports only (default: the file name and a dash). Every write is recorded
    with origin ``import``, whatever the origin of ``context``.
    Raise ImportFileError, with nothing written, when a file cannot be parsed, and
    ImportInterruptedError, a subclass, when the store fails after the write began.
    """
    if batch_size < 1:
        raise ValueError(f"invalid batch size {batch_size}; use 1 or more")
    path = Path(path)
    import_format = detect_format(path) if format is None else _format(format)
    logger.info("import of %s started: format %s", path, import_format.value)

    parsed = parse_path(path, import_format, key_prefix=key_prefix)
    try:
        report = write_rows(
            store=store,
            parsed=parsed,
            import_format=import_format,
            path=path,
            context=dataclasses.replace(context, origin=Origin.IMPORT),
            batch_size=batch_size,
            progress=progress,
        )
    except ImportInterruptedError as error:
        _log_rejections(error.report)
        logger.error("import of %s stopped; written before the stop: %s", path, error.report.summary())
        raise
    _log_rejections(report)
    logger.info("import of %s finished: %s", path, report.summary())
    return report


def _interrupted(report: ImportReport, parsed: ParsedImport, error: Exception) -> ImportInterruptedError:
    """Return the error for a store failure midway, with the counts written so far from ``report``."""
    message = (
        f"the import stopped midway because the store failed ({type(error).__name__}: {error});"
        f" written before that: {report.cis.accepted} of {len(parsed.cis)} CIs and"
        f" {report.relationships.accepted} of {len(parsed.relationships)} relationships."
        " Fix the cause and run the same import again to finish it: writes are upserts by key,"
        " so rows already written come back unchanged and none is duplicated"
    )
    return ImportInterruptedError(report.path, message, report)


def _format(value: ImportFormat | str) -> ImportFormat:
    try:
        return ImportFormat(value)
    except ValueError:
        known = ", ".join(f.value for f in ImportFormat)
        raise ValueError(f"unknown import format {quote_value(value)}; use one of: {known}") from None


def detect_format(path: Path) -> ImportFormat:
    """Return the format of the file or folder at ``path``; raise ImportFileError when none fits.

    A folder holding ``cis.csv`` or ``relationships.csv`` is native CSV, any other
    folder FHIR. A JSON file is native when its ``format`` is ``cmdb/v1`` and FHIR
    when it has a ``resourceType``. An XML file is FHIR, and a CSV file is
    recognized by its header.
    """
    if path.is_dir():
        native_files = (path / native.CIS_CSV, path / native.RELATIONSHIPS_CSV)
        return ImportFormat.NATIVE_CSV if any(p.is_file() for p in native_files) else ImportFormat.FHIR
    if not path.is_file():
        raise ImportFileError(str(path), "file not found; check the path")
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return ImportFormat.FHIR
    if suffix == ".json":
        return _json_format(path)
    if suffix == ".csv":
        return _csv_format(path)
    raise ImportFileError(
        str(path),
        f"unknown file type {quote_value(suffix or '(no extension)')}; use .json, .xml or .csv,"
        " or pass a format",
    )


def _json_format(path: Path) -> ImportFormat:
    document = load_json(read_text(path), str(path))
    if isinstance(document, dict) and document.get("format") == native.FORMAT_TAG:
        return ImportFormat.NATIVE
    if isinstance(document, dict) and "resourceType" in document:
        return ImportFormat.FHIR
    raise ImportFileError(
        str(path),
        f'unknown JSON document: set "format": "{native.FORMAT_TAG}" for the native format,'
        " or give a FHIR resource with its resourceType",
    )


def _csv_format(path: Path) -> ImportFormat:
    first_line = read_text(path).split("\n", 1)[0]
    header = [name.strip() for name in next(csv.reader([first_line]), [])]
    if app_graph.is_app_graph_header(header):
        return ImportFormat.APP_GRAPH
    if "id" in header or "source" in header:
        return ImportFormat.NATIVE_CSV
    raise ImportFileError(
        str(path),
        f"unknown CSV header {quote_value(','.join(header))}; native CSV starts with id,class,name or"
        " source,type,target, a call graph with caller,callee,kind or caller,caller_kind,callee,callee_kind",
        line=1,
    )


def parse_path(path: Path, import_format: ImportFormat, *, key_prefix: str | None = None) -> ParsedImport:
    """Read and parse everything at ``path`` in ``import_format``; nothing is written."""
    if import_format is ImportFormat.NATIVE:
        return native.read_json(path)
    if import_format is ImportFormat.NATIVE_CSV:
        return native.read_csv(path)
    if import_format is ImportFormat.APP_GRAPH:
        return app_graph.read_csv(path, key_prefix=key_prefix)
    return fhir.read_path(path)


def attach_channels(parsed: ParsedImport, store: GraphStore) -> None:
    """List each DeviceMetric row on its source device, in this import or else in the store.

    Channels already stored on a device are kept, and a metric with the same id
    replaces its entry. A metric whose device is in neither place is rejected.
    """
    by_device: dict[str, list[ChannelRow]] = {}
    for channel_row in parsed.channels:
        by_device.setdefault(channel_row.device_key, []).append(channel_row)
    imported = {row.ci.key: index for index, row in enumerate(parsed.cis)}
    device_keys = set(by_device) | {row.ci.key for row in parsed.cis if row.ci.ci_class == "MedicalDevice"}
    stored = store.get_cis(device_keys)

    for index, row in enumerate(parsed.cis):
        if row.ci.ci_class != "MedicalDevice":
            continue
        new = [channel_row.channel for channel_row in by_device.get(row.ci.key, [])]
        record = stored.get(row.ci.key)
        existing = list(record.attributes.get("channels") or []) if record is not None else []
        if new or existing:
            parsed.cis[index] = CIRow(
                row.ref, _with_channels(row.ci, merge_channels(existing, new)), row.defaults
            )

    for device_key, channel_rows in by_device.items():
        if device_key in imported:
            continue
        record = stored.get(device_key)
        if record is None or record.ci_class != "MedicalDevice":
            for channel_row in channel_rows:
                problem = (
                    "is neither in this import nor in the store" if record is None else "is no MedicalDevice"
                )
                reason = (
                    f"DeviceMetric source {channel_row.device_reference} (CI {device_key!r}) {problem};"
                    " import the device first or fix DeviceMetric.source"
                )
                parsed.rejected.append(RejectedRow("ci", channel_row.ref, device_key, reason))
            continue
        existing = list(record.attributes.get("channels") or [])
        merged = merge_channels(existing, [channel_row.channel for channel_row in channel_rows])
        parsed.cis.append(CIRow(channel_rows[0].ref, _with_channels(_input_from_record(record), merged)))


def _input_from_record(record: CIRecord) -> CIInput:
    """Return ``record`` as an update that fails if the CI changes before it is written."""
    return CIInput(
        key=record.key,
        ci_class=record.ci_class,
        name=record.name,
        status=record.status,
        criticality=record.criticality,
        identifiers=record.identifiers,
        attributes=record.attributes,
        tags=record.tags,
        version=record.version,
    )


def _with_channels(ci: CIInput, channels: list[dict[str, str]]) -> CIInput:
    """Return ``ci`` with ``channels`` added; fields it did not give stay unset, for ``merge_ci``."""
    data = ci.model_dump(exclude_unset=True)
    data["attributes"] = {**ci.attributes, "channels": channels}
    return CIInput.model_validate(data)


def write_rows(
    *,
    store: GraphStore,
    parsed: ParsedImport,
    import_format: ImportFormat,
    path: Path,
    context: ChangeContext,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Write the CI rows, merged with the stored CIs, then the relationship rows whose CIs exist.

    Return the report. Raise ImportInterruptedError, with the report so far,
    when the store fails midway.
    """
    report = ImportReport(
        format=import_format, path=str(path), files=list(parsed.files), skipped=list(parsed.skipped)
    )
    try:
        if import_format is ImportFormat.FHIR:
            attach_channels(parsed, store)
        for rejected in parsed.rejected:
            _reject(report, rejected)
        rejected_cis: dict[str, RejectedRow] = {}
        for rejected in report.rejected:
            if rejected.entity == "ci" and rejected.key:
                rejected_cis.setdefault(rejected.key, rejected)
        written = _write_cis(store, parsed, report, rejected_cis, context, batch_size, progress)
        _write_relationships(store, parsed, report, written, rejected_cis, context, batch_size, progress)
    except STORE_FAILURES as error:
        raise _interrupted(report, parsed, error) from error
    return report


def _write_cis(
    store: GraphStore,
    parsed: ParsedImport,
    report: ImportReport,
    rejected_cis: dict[str, RejectedRow],
    context: ChangeContext,
    batch_size: int,
    progress: ProgressCallback | None,
) -> set[str]:
    """Write the CI rows in batches, each merged with its stored CI; return the keys written."""
    written: set[str] = set()
    for start in range(0, len(parsed.cis), batch_size):
        batch = parsed.cis[start : start + batch_size]
        stored = store.get_cis([row.ci.key for row in batch])
        ready = _merge_stored(report, batch, stored, rejected_cis)
        result = store.upsert_cis([row.ci for row in ready], context=context, strict=False)
        failed = _count(report, report.cis, result, ready, "ci")
        for row_index, row in enumerate(ready):
            if row_index in failed:
                rejected_cis.setdefault(row.ci.key, failed[row_index])
            else:
                written.add(row.ci.key)
        if progress is not None:
            progress(ImportProgress("cis", start + len(batch), len(parsed.cis)))
    return written


def _merge_stored(
    report: ImportReport,
    batch: Sequence[CIRow],
    stored: dict[str, CIRecord],
    rejected_cis: dict[str, RejectedRow],
) -> list[CIRow]:
    """Return the rows of ``batch`` ready to write: merged with their stored CI, or new with their defaults.

    A row whose merge with the stored CI is invalid is rejected.
    """
    ready: list[CIRow] = []
    for row in batch:
        record = stored.get(row.ci.key)
        try:
            ci = _with_defaults(row) if record is None else merge_ci(record, row.ci)
        except ValidationError as error:
            reason = f"invalid once merged with the stored CI: {describe_error(error)}"
            rejected = RejectedRow("ci", row.ref, row.ci.key, reason)
            _reject(report, rejected)
            rejected_cis.setdefault(row.ci.key, rejected)
            continue
        ready.append(CIRow(row.ref, ci, row.defaults))
    return ready


def _with_defaults(row: CIRow) -> CIInput:
    """Return the CI of ``row`` with the source's defaults for the fields it does not give."""
    if not row.defaults:
        return row.ci
    missing = {name: value for name, value in row.defaults.items() if name not in row.ci.model_fields_set}
    return CIInput.model_validate({**row.ci.model_dump(exclude_unset=True), **missing})


def _write_relationships(
    store: GraphStore,
    parsed: ParsedImport,
    report: ImportReport,
    written: set[str],
    rejected_cis: dict[str, RejectedRow],
    context: ChangeContext,
    batch_size: int,
    progress: ProgressCallback | None,
) -> None:
    accepted = _check_endpoints(report, parsed.relationships, store, written, rejected_cis)
    for start in range(0, len(accepted), batch_size):
        rel_batch = accepted[start : start + batch_size]
        result = store.upsert_relationships(
            [row.relationship for row in rel_batch], context=context, strict=False
        )
        _count(report, report.relationships, result, rel_batch, "relationship")
        if progress is not None:
            progress(ImportProgress("relationships", start + len(rel_batch), len(accepted)))


def _reject(report: ImportReport, rejected: RejectedRow) -> None:
    report.rejected.append(rejected)
    counts = report.relationships if rejected.entity == "relationship" else report.cis
    counts.rejected += 1


def _count(
    report: ImportReport,
    counts: ImportCounts,
    result: UpsertResult,
    batch: Sequence[CIRow] | Sequence[RelationshipRow],
    entity: str,
) -> dict[int, RejectedRow]:
    """Add a store result to ``counts``; turn each store RowError into a rejection naming the file row."""
    counts.added += result.added
    counts.updated += result.updated
    counts.unchanged += result.unchanged
    failed: dict[int, RejectedRow] = {}
    for error in result.rejected:
        rejected = RejectedRow(entity, batch[error.index].ref, error.key, error.message)
        failed[error.index] = rejected
        _reject(report, rejected)
    return failed


def _check_endpoints(
    report: ImportReport,
    rows: list[RelationshipRow],
    store: GraphStore,
    written: set[str],
    rejected_cis: dict[str, RejectedRow],
) -> list[RelationshipRow]:
    """Return the rows whose source and target exist; reject the others, naming the missing CI."""
    elsewhere = {key for row in rows for key in (row.relationship.source, row.relationship.target)} - written
    present = set(written)
    if elsewhere:
        present |= set(store.get_cis(elsewhere))
    accepted: list[RelationshipRow] = []
    for row in rows:
        missing = [
            (end, key)
            for end, key in (("source", row.relationship.source), ("target", row.relationship.target))
            if key not in present
        ]
        if not missing:
            accepted.append(row)
            continue
        end, key = missing[0]
        named = f"{row.references[key]} (CI {key!r})" if key in row.references else f"CI {key!r}"
        if key in rejected_cis:
            reason = (
                f"{relationship_label(row)}: the {end} {named} was rejected at"
                f" {rejected_cis[key].ref}; fix that row first"
            )
        else:
            reason = (
                f"{relationship_label(row)}: the {end} {named} is neither in this import nor in the store;"
                " add the CI to the import or fix the reference"
            )
        _reject(report, RejectedRow("relationship", row.ref, relationship_label(row), reason))
    return accepted


def _log_rejections(report: ImportReport) -> None:
    for rejected in report.rejected[:MAX_LOGGED_REJECTIONS]:
        logger.warning("rejected %s row %s: %s", rejected.entity, rejected.ref, rejected.reason)
    if len(report.rejected) > MAX_LOGGED_REJECTIONS:
        logger.warning(
            "%d more rows rejected; the import report lists them all",
            len(report.rejected) - MAX_LOGGED_REJECTIONS,
        )
    for skipped in report.skipped[:MAX_LOGGED_REJECTIONS]:
        logger.warning("skipped %s: %s", skipped.ref, skipped.reason)
    if len(report.skipped) > MAX_LOGGED_REJECTIONS:
        logger.warning("%d more resources skipped", len(report.skipped) - MAX_LOGGED_REJECTIONS)
