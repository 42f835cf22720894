"""Helpers every import source shares: reading text, CSV rows with line numbers, row validation.

Everything here is pure except ``read_text``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from json.decoder import JSONObject  # type: ignore[attr-defined]  # undocumented, not in typeshed
from json.scanner import py_make_scanner  # type: ignore[attr-defined]  # undocumented, not in typeshed
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cmdb.imports.models import (
    CIRow,
    ImportFileError,
    ParsedImport,
    RejectedRow,
    RelationshipRow,
    RowRef,
)
from cmdb.model import CIInput, RelationshipInput, describe_validation_error
from cmdb.model.ci import quote_value


def read_text(path: Path) -> str:
    """Read ``path`` as UTF-8 (a byte-order mark is dropped); raise ImportFileError when that fails."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ImportFileError(str(path), f"cannot read the file: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ImportFileError(
            str(path),
            f"invalid UTF-8 at byte {error.start}; save the file as UTF-8",
        ) from error


def describe_error(error: ValidationError, field_names: Mapping[str, str] | None = None) -> str:
    """Return the problems of ``error`` as one line, with model field names shown as the file spells them."""
    return "; ".join(" ".join(line.split()) for line in describe_validation_error(error, field_names))


def validate_ci(
    raw: dict[str, Any],
    ref: RowRef,
    field_names: Mapping[str, str] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
) -> CIRow | RejectedRow:
    """Validate ``raw`` (keyword arguments of ``CIInput``) into a row, or reject it with the reason.

    ``defaults`` are fields that the source does not give: they are checked here
    and written only when the import creates the CI.
    """
    try:
        ci = CIInput.model_validate(raw)
        if defaults:
            CIInput.model_validate({**defaults, **raw})
    except ValidationError as error:
        return RejectedRow("ci", ref, str(raw.get("key") or ""), describe_error(error, field_names))
    return CIRow(ref, ci, dict(defaults or {}))


def validate_relationship(
    raw: dict[str, Any], ref: RowRef, references: dict[str, str] | None = None
) -> RelationshipRow | RejectedRow:
    """Validate ``raw`` (keyword arguments of ``RelationshipInput``) into a row, or reject it."""
    try:
        relationship = RelationshipInput.model_validate(raw)
    except ValidationError as error:
        key = f"{raw.get('source')} {raw.get('type')} {raw.get('target')}"
        return RejectedRow("relationship", ref, key, describe_error(error))
    return RelationshipRow(ref, relationship, references or {})


def relationship_label(row: RelationshipRow) -> str:
    source, rel_type, target = row.relationship.identity
    return f"{source} {rel_type} {target}"


def add_row(parsed: ParsedImport, row: CIRow | RelationshipRow | RejectedRow) -> None:
    """Append ``row`` to the list of ``parsed`` it belongs in."""
    if isinstance(row, CIRow):
        parsed.cis.append(row)
    elif isinstance(row, RelationshipRow):
        parsed.relationships.append(row)
    else:
        parsed.rejected.append(row)


def reject_duplicates(parsed: ParsedImport) -> None:
    """Keep the first row of each CI key and relationship identity; reject later ones naming both places."""
    first_ci: dict[str, RowRef] = {}
    unique_cis: list[CIRow] = []
    for ci_row in parsed.cis:
        key = ci_row.ci.key
        if key in first_ci:
            parsed.rejected.append(
                RejectedRow(
                    "ci",
                    ci_row.ref,
                    key,
                    f"duplicate id {key!r}: already defined at {_place(first_ci[key], ci_row.ref)},"
                    f" again at {_place(ci_row.ref, first_ci[key])}; remove one row or give it another id",
                )
            )
            continue
        first_ci[key] = ci_row.ref
        unique_cis.append(ci_row)
    parsed.cis = unique_cis

    first_relationship: dict[tuple[str, str, str], RowRef] = {}
    unique_relationships: list[RelationshipRow] = []
    for rel_row in parsed.relationships:
        identity = rel_row.relationship.identity
        if identity in first_relationship:
            label = relationship_label(rel_row)
            earlier = first_relationship[identity]
            parsed.rejected.append(
                RejectedRow(
                    "relationship",
                    rel_row.ref,
                    label,
                    f"duplicate relationship {label}: already defined at {_place(earlier, rel_row.ref)},"
                    f" again at {_place(rel_row.ref, earlier)}; remove one of the rows",
                )
            )
            continue
        first_relationship[identity] = rel_row.ref
        unique_relationships.append(rel_row)
    parsed.relationships = unique_relationships


def _place(ref: RowRef, other: RowRef) -> str:
    """Return ``ref``'s position, with its file name when ``other`` is in another file."""
    if ref.file != other.file:
        return f"{ref.file} {ref.position()}"
    return ref.position()


def csv_rows(text: str, file: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Return the header of CSV ``text`` and an iterator of (first line number, cells) per row.

    Blank lines are skipped. A quoting error raises ImportFileError at the line
    where the reader stopped. Rows before it are still yielded, so call ``list``
    on the iterator before writing anything.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ImportFileError(file, f"invalid CSV: {error}", line=reader.line_num) from error
    if header is None:
        raise ImportFileError(file, "the file is empty; the first line must be the header")

    def rows() -> Iterator[tuple[int, list[str]]]:
        previous = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise ImportFileError(file, f"invalid CSV: {error}", line=reader.line_num) from error
            start = previous + 1
            previous = reader.line_num
            if not cells or all(not cell.strip() for cell in cells):
                continue
            yield start, cells

    return [name.strip() for name in header], rows()


class DuplicateKeyError(ValueError):
    """A JSON object that names the same key twice; ``position`` is the character offset of the second."""

    def __init__(self, key: str, position: int | None = None) -> None:
        super().__init__(f"duplicate key {quote_value(key)} in a JSON object")
        self.key = key
        self.position = position


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Return ``pairs`` as a dict; raise DuplicateKeyError on a repeated key (``json`` keeps the last)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(key)
        result[key] = value
    return result


def load_json_object(text: str) -> Any:
    """Parse JSON ``text``, raising DuplicateKeyError for an object that repeats a key."""
    return json.loads(text, object_pairs_hook=_unique_pairs)


def _locate_duplicate_key(text: str) -> int | None:
    """Return the character offset of the first repeated key in JSON ``text``, or None.

    Only called once a duplicate is known, because it parses with the pure-Python
    scanner. Its ``parse_object`` hook records where each member value starts,
    and the repeated key ends at the last quote before its value.
    """
    decoder = json.JSONDecoder()

    def parse_object(
        s_and_end: tuple[str, int],
        strict: bool,
        scan_once: Any,
        object_hook: Any,
        object_pairs_hook: Any,
        memo: Any = None,
    ) -> tuple[Any, int]:
        value_starts: list[int] = []

        def scan_member(string: str, index: int) -> Any:
            value_starts.append(index)
            return scan_once(string, index)

        def check_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            seen: set[str] = set()
            for member, (key, _) in enumerate(pairs):
                if key in seen:
                    raise DuplicateKeyError(key, text.rfind('"', 0, value_starts[member]))
                seen.add(key)
            return dict(pairs)

        parsed: tuple[Any, int] = JSONObject(s_and_end, strict, scan_member, object_hook, check_pairs, memo)
        return parsed

    decoder.parse_object = parse_object  # type: ignore[attr-defined]  # set in __init__, not in typeshed
    decoder.scan_once = py_make_scanner(decoder)  # type: ignore[attr-defined]  # likewise
    try:
        decoder.decode(text)
    except DuplicateKeyError as error:
        return error.position
    return None


def load_json(text: str, file: str) -> Any:
    """Parse JSON ``text``; raise ImportFileError with the line and column of a syntax error.

    An object that repeats a key is rejected, naming the key and its line,
    instead of silently keeping the last value.
    """
    try:
        return load_json_object(text)
    except json.JSONDecodeError as error:
        raise ImportFileError(
            file, f"invalid JSON: {error.msg}; fix the syntax there", line=error.lineno, column=error.colno
        ) from error
    except DuplicateKeyError as error:
        position = _locate_duplicate_key(text)
        line = text.count("\n", 0, position) + 1 if position is not None else None
        raise ImportFileError(
            file, f"{error}; remove one of the two members or rename it", line=line
        ) from error
