"""The native import format, as one JSON document or as a pair of CSV files, and its exporter.

JSON (``format`` must be ``cmdb/v1``)::

    {"format": "cmdb/v1",
     "cis": [{"id", "class", "name", "criticality"?, "status"?,
              "attributes"?, "identifiers"?, "tags"?}, ...],
     "relationships": [{"source", "type", "target", "properties"?}, ...]}

CSV, two files in one folder, each with a header line:

``cis.csv``
    - ``id``: required, becomes the CI key.
    - ``class``: required, a CI class such as MedicalDevice.
    - ``name``: required.
    - ``criticality`` and ``status``.
    - ``attributes`` and ``identifiers``: a JSON object in the cell, e.g. ``{"kind": "room"}``.
    - ``tags``: tags separated by ``;``.

    Only the ``id``, ``class`` and ``name`` columns must be present.
``relationships.csv``
    ``source``, ``type``, ``target`` (required) and ``properties`` (a JSON
    object in the cell, e.g. ``{"strength": "soft"}``).

A field that a JSON object leaves out, a CSV column that is missing and a cell
that is empty are not given. An update keeps the stored value of such a field,
and a new CI takes the default (administrative, in_service, no attributes,
identifiers or tags). Attributes merge by name, so ``{"cpu": null}`` removes one, and
identifiers by kind. ``cmdb.model.ci.merge_ci`` has the whole rule.

Rows are named in rejections by CSV line, or by JSON array index and id.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cmdb.imports.models import (
    CIRow,
    ImportFileError,
    ParsedImport,
    RejectedRow,
    RelationshipRow,
    RowRef,
)
from cmdb.imports.rows import (
    DuplicateKeyError,
    add_row,
    csv_rows,
    load_json,
    load_json_object,
    read_text,
    reject_duplicates,
    validate_ci,
    validate_relationship,
)
from cmdb.model import CIInput, CIRecord, Direction, RelationshipInput, RelationshipRecord
from cmdb.model.ci import quote_value
from cmdb.store.base import MAX_PAGE_SIZE, CIFilter, GraphStore

logger = logging.getLogger(__name__)

FORMAT_TAG = "cmdb/v1"
CIS_CSV = "cis.csv"
RELATIONSHIPS_CSV = "relationships.csv"
CI_COLUMNS = ("id", "class", "name", "criticality", "status", "attributes", "identifiers", "tags")
REQUIRED_CI_COLUMNS = ("id", "class", "name")
RELATIONSHIP_COLUMNS = ("source", "type", "target", "properties")
REQUIRED_RELATIONSHIP_COLUMNS = ("source", "type", "target")

# Model field names shown as the native format spells them.
_FIELD_NAMES = {"key": "id", "ci_class": "class"}


# Parsing: pure functions of the file text.


def parse_json(text: str, *, file: str) -> ParsedImport:
    """Parse a native JSON document into validated rows; raise ImportFileError when it is not one."""
    document = load_json(text, file)
    if not isinstance(document, dict):
        raise ImportFileError(file, "the document must be a JSON object with format, cis and relationships")
    if document.get("format") != FORMAT_TAG:
        raise ImportFileError(
            file, f'unsupported format {quote_value(document.get("format"))}; set "format": {FORMAT_TAG!r}'
        )
    unknown = sorted(set(document) - {"format", "cis", "relationships"})
    if unknown:
        raise ImportFileError(
            file, f"unknown top-level field {quote_value(unknown[0])}; use format, cis and relationships"
        )

    parsed = ParsedImport(files=[file])
    for index, item in enumerate(_array(document, "cis", file)):
        row_id = item.get("id") if isinstance(item, dict) else None
        ref = RowRef(file, array="cis", index=index, row_id=str(row_id) if row_id is not None else None)
        add_row(parsed, ci_from_fields(item, ref))
    for index, item in enumerate(_array(document, "relationships", file)):
        ref = RowRef(file, array="relationships", index=index, row_id=_relationship_id(item))
        add_row(parsed, relationship_from_fields(item, ref))
    reject_duplicates(parsed)
    return parsed


def _array(document: dict[str, Any], name: str, file: str) -> list[Any]:
    value = document.get(name, [])
    if not isinstance(value, list):
        raise ImportFileError(file, f"{name!r} must be a JSON array, not {type(value).__name__}")
    return value


def _relationship_id(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    return f"{item.get('source')} {item.get('type')} {item.get('target')}"


def ci_from_fields(item: Any, ref: RowRef) -> CIRow | RejectedRow:
    """Validate one CI object of the native format (fields named as in the file)."""
    if not isinstance(item, dict):
        return RejectedRow("ci", ref, "", f"a CI must be a JSON object, not {type(item).__name__}")
    unknown = sorted(set(item) - set(CI_COLUMNS))
    if unknown:
        return RejectedRow(
            "ci",
            ref,
            str(item.get("id") or ""),
            f"unknown field {quote_value(unknown[0])}; a CI has the fields {', '.join(CI_COLUMNS)}",
        )
    raw: dict[str, Any] = {"key": item.get("id"), "ci_class": item.get("class"), "name": item.get("name")}
    for name in ("criticality", "status", "attributes", "identifiers", "tags"):
        if name in item:
            raw[name] = item[name]
    return validate_ci(raw, ref, _FIELD_NAMES)


def relationship_from_fields(item: Any, ref: RowRef) -> RelationshipRow | RejectedRow:
    """Validate one relationship object of the native format."""
    if not isinstance(item, dict):
        return RejectedRow(
            "relationship", ref, "", f"a relationship must be a JSON object, not {type(item).__name__}"
        )
    unknown = sorted(set(item) - set(RELATIONSHIP_COLUMNS))
    if unknown:
        return RejectedRow(
            "relationship",
            ref,
            ref.row_id or "",
            f"unknown field {quote_value(unknown[0])};"
            f" a relationship has the fields {', '.join(RELATIONSHIP_COLUMNS)}",
        )
    return validate_relationship(dict(item), ref)


def parse_cis_csv(text: str, *, file: str) -> ParsedImport:
    """Parse a ``cis.csv`` file into validated CI rows."""
    header, rows = csv_rows(text, file)
    _check_header(header, CI_COLUMNS, REQUIRED_CI_COLUMNS, file)
    parsed = ParsedImport(files=[file])
    for line, cells in list(rows):
        ref = RowRef(file, line=line)
        values = _cells_by_column(header, cells)
        if isinstance(values, str):
            add_row(parsed, RejectedRow("ci", ref, "", values))
            continue
        ref = RowRef(file, line=line, row_id=values.get("id") or None)
        add_row(parsed, _ci_from_cells(values, ref))
    reject_duplicates(parsed)
    return parsed


def parse_relationships_csv(text: str, *, file: str) -> ParsedImport:
    """Parse a ``relationships.csv`` file into validated relationship rows."""
    header, rows = csv_rows(text, file)
    _check_header(header, RELATIONSHIP_COLUMNS, REQUIRED_RELATIONSHIP_COLUMNS, file)
    parsed = ParsedImport(files=[file])
    for line, cells in list(rows):
        ref = RowRef(file, line=line)
        values = _cells_by_column(header, cells)
        if isinstance(values, str):
            add_row(parsed, RejectedRow("relationship", ref, "", values))
            continue
        ref = RowRef(file, line=line, row_id=f"{values['source']} {values['type']} {values['target']}")
        raw: dict[str, Any] = {name: values[name] for name in REQUIRED_RELATIONSHIP_COLUMNS}
        properties = _json_cell(values.get("properties", ""), "properties")
        if isinstance(properties, str):
            add_row(parsed, RejectedRow("relationship", ref, ref.row_id or "", properties))
            continue
        if properties is not None:
            raw["properties"] = properties
        add_row(parsed, validate_relationship(raw, ref))
    reject_duplicates(parsed)
    return parsed


def _check_header(header: list[str], known: Sequence[str], required: Sequence[str], file: str) -> None:
    unknown = [name for name in header if name not in known]
    if unknown:
        raise ImportFileError(
            file, f"unknown column {quote_value(unknown[0])} in the header; use {', '.join(known)}", line=1
        )
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportFileError(file, f"missing column {missing[0]!r} in the header; add it", line=1)
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ImportFileError(file, f"column {quote_value(repeated[0])} appears twice in the header", line=1)


def _cells_by_column(header: list[str], cells: list[str]) -> dict[str, str] | str:
    """Return the row's cells by column name, or the reason the row has the wrong shape."""
    if len(cells) != len(header):
        return (
            f"the row has {len(cells)} cells but the header has {len(header)} columns;"
            " quote cells that contain commas"
        )
    return {name: cell.strip() for name, cell in zip(header, cells, strict=True)}


def _json_cell(cell: str, column: str) -> dict[str, Any] | str | None:
    """Return the JSON object in ``cell``, None when empty, or the reason it is invalid."""
    if not cell:
        return None
    try:
        value = load_json_object(cell)
    except json.JSONDecodeError as error:
        return (
            f"{column}: invalid JSON in the cell ({error.msg} at character {error.pos});"
            ' write an object such as {"kind": "room"}'
        )
    except DuplicateKeyError as error:
        return f"{column}: {error}; remove one of the two members"
    if not isinstance(value, dict):
        return f"{column}: the cell must hold a JSON object, not {type(value).__name__}"
    return value


def _ci_from_cells(values: dict[str, str], ref: RowRef) -> CIRow | RejectedRow:
    key = values.get("id", "")
    raw: dict[str, Any] = {"key": key, "ci_class": values["class"], "name": values["name"]}
    for name in ("criticality", "status"):
        if values.get(name):
            raw[name] = values[name]
    for name in ("attributes", "identifiers"):
        cell = _json_cell(values.get(name, ""), name)
        if isinstance(cell, str):
            return RejectedRow("ci", ref, key, cell)
        if cell is not None:
            raw[name] = cell
    if values.get("tags"):
        raw["tags"] = [tag for tag in values["tags"].split(";") if tag.strip()]
    return validate_ci(raw, ref, _FIELD_NAMES)


# Rendering: pure functions from CIs and relationships to file text.

CILike = CIInput | CIRecord
RelationshipLike = RelationshipInput | RelationshipRecord


def ci_fields(ci: CILike) -> dict[str, Any]:
    """Return ``ci`` as a CI object of the native format, leaving out empty optional fields."""
    fields: dict[str, Any] = {
        "id": ci.key,
        "class": ci.ci_class,
        "name": ci.name,
        "criticality": ci.criticality.value,
        "status": ci.status.value,
    }
    if ci.attributes:
        fields["attributes"] = ci.attributes
    identifiers = ci.identifiers.model_dump(mode="json", exclude_defaults=True)
    if identifiers:
        fields["identifiers"] = identifiers
    if ci.tags:
        fields["tags"] = list(ci.tags)
    return fields


def relationship_fields(relationship: RelationshipLike) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "source": relationship.source,
        "type": relationship.type,
        "target": relationship.target,
    }
    if relationship.properties:
        fields["properties"] = relationship.properties
    return fields


def render_json(cis: Iterable[CILike], relationships: Iterable[RelationshipLike]) -> str:
    """Render CIs and relationships as a native JSON document."""
    document = {
        "format": FORMAT_TAG,
        "cis": [ci_fields(ci) for ci in cis],
        "relationships": [relationship_fields(r) for r in relationships],
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def render_csv(cis: Iterable[CILike], relationships: Iterable[RelationshipLike]) -> tuple[str, str]:
    """Render CIs and relationships as the text of ``cis.csv`` and ``relationships.csv``."""
    ci_buffer = io.StringIO()
    writer = csv.writer(ci_buffer, lineterminator="\n")
    writer.writerow(CI_COLUMNS)
    for ci in cis:
        fields = ci_fields(ci)
        writer.writerow(
            [
                fields["id"],
                fields["class"],
                fields["name"],
                fields["criticality"],
                fields["status"],
                _json_text(fields.get("attributes")),
                _json_text(fields.get("identifiers")),
                ";".join(fields.get("tags", [])),
            ]
        )
    relationship_buffer = io.StringIO()
    writer = csv.writer(relationship_buffer, lineterminator="\n")
    writer.writerow(RELATIONSHIP_COLUMNS)
    for relationship in relationships:
        writer.writerow(
            [
                relationship.source,
                relationship.type,
                relationship.target,
                _json_text(relationship.properties),
            ]
        )
    return ci_buffer.getvalue(), relationship_buffer.getvalue()


def _json_text(value: dict[str, Any] | None) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if value else ""


# I/O at the edge: reading files and exporting a store.


def read_json(path: Path) -> ParsedImport:
    """Read and parse a native JSON file."""
    return parse_json(read_text(path), file=str(path))


def read_csv(path: Path) -> ParsedImport:
    """Read a native CSV pair: ``path`` is a folder holding them, or one of the two files.

    Given ``cis.csv``, a ``relationships.csv`` beside it is read too; a file of
    relationships alone is read alone.
    """
    folder = path if path.is_dir() else path.parent
    if path.is_dir():
        cis_path: Path | None = path / CIS_CSV
        relationships_path: Path | None = path / RELATIONSHIPS_CSV
    elif "source" in _csv_header(path):
        cis_path, relationships_path = None, path
    else:
        cis_path, relationships_path = path, folder / RELATIONSHIPS_CSV

    parsed = ParsedImport()
    if cis_path is not None:
        if not cis_path.is_file():
            raise ImportFileError(str(cis_path), _missing_cis_message(relationships_path))
        parsed.extend(parse_cis_csv(read_text(cis_path), file=str(cis_path)))
    if relationships_path is not None and relationships_path.is_file():
        parsed.extend(parse_relationships_csv(read_text(relationships_path), file=str(relationships_path)))
    elif path.is_dir():
        logger.warning(
            "%s has %s but no %s: importing CIs only; add %s to import relationships",
            path,
            CIS_CSV,
            RELATIONSHIPS_CSV,
            RELATIONSHIPS_CSV,
        )
    return parsed


def _missing_cis_message(relationships_path: Path | None) -> str:
    if relationships_path is not None and relationships_path.is_file():
        return (
            f"file not found: the folder has {RELATIONSHIPS_CSV} but no {CIS_CSV}; add {CIS_CSV}"
            f" beside it, or import {relationships_path} by itself to link CIs already in the store"
        )
    return f"file not found; a native CSV import needs {CIS_CSV}"


def _csv_header(path: Path) -> list[str]:
    first_line = read_text(path).split("\n", 1)[0]
    return [name.strip() for name in next(csv.reader([first_line]), [])]


def export_graph(*, store: GraphStore) -> tuple[list[CIRecord], list[RelationshipRecord]]:
    """Return every CI of ``store`` by key and every relationship by (source, type, target)."""
    cis: list[CIRecord] = []
    cursor: str | None = None
    while True:
        page = store.search_cis(CIFilter(), first=MAX_PAGE_SIZE, after=cursor)
        cis.extend(page.items)
        if not page.has_next:
            break
        cursor = page.end_cursor
    relationships: list[RelationshipRecord] = []
    for ci in cis:
        relationships.extend(store.relationships(ci.key, direction=Direction.OUTGOING))
    relationships.sort(key=lambda r: (r.source, r.type, r.target))
    return cis, relationships


def write_json(*, store: GraphStore, path: Path) -> tuple[int, int]:
    """Write the graph of ``store`` to ``path`` as native JSON; return the CI and relationship counts."""
    cis, relationships = export_graph(store=store)
    path.write_text(render_json(cis, relationships), encoding="utf-8")
    return len(cis), len(relationships)


def write_csv(*, store: GraphStore, folder: Path) -> tuple[int, int]:
    """Write the graph of ``store`` as ``cis.csv`` and ``relationships.csv`` in ``folder``."""
    cis, relationships = export_graph(store=store)
    cis_text, relationships_text = render_csv(cis, relationships)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CIS_CSV).write_text(cis_text, encoding="utf-8")
    (folder / RELATIONSHIPS_CSV).write_text(relationships_text, encoding="utf-8")
    return len(cis), len(relationships)
