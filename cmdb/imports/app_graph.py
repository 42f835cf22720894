"""Application call graphs as CSV edge lists: every caller and callee becomes an Application CI.

Two header shapes are read:

- ``caller,callee,kind``: ``kind`` is the call protocol (http, grpc, ...) and is
  kept as the relationship property ``protocol``.
- ``caller,caller_kind,callee,callee_kind``: the kinds (service, mongodb,
  memcached, frontend, ...) are kept as the CI attribute ``component_kind``;
  the first kind seen for a component wins.

Each row ``caller,callee`` becomes ``caller DEPENDS_ON callee``, so a callee
that fails takes its callers with it. CI keys are ``<prefix><name>``; the
prefix defaults to the file name without extension and a dash
(``trainticket.csv`` gives ``trainticket-ts-order-service``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cmdb.imports.models import ImportFileError, ParsedImport, RejectedRow, RowRef
from cmdb.imports.rows import (
    add_row,
    csv_rows,
    read_text,
    reject_duplicates,
    validate_ci,
    validate_relationship,
)
from cmdb.model import Criticality, Status
from cmdb.model.ci import quote_value

EDGE_HEADER = ("caller", "callee", "kind")
TYPED_HEADER = ("caller", "caller_kind", "callee", "callee_kind")
HEADERS = (EDGE_HEADER, TYPED_HEADER)


def is_app_graph_header(header: list[str]) -> bool:
    return tuple(header) in HEADERS


def default_key_prefix(file: str) -> str:
    """Return the key prefix derived from a file name: its stem and a dash."""
    return f"{Path(file).stem}-"


def parse_csv(
    text: str,
    *,
    file: str,
    key_prefix: str | None = None,
    criticality: Criticality = Criticality.BUSINESS,
) -> ParsedImport:
    """Parse a call-graph CSV into Application CIs and DEPENDS_ON relationships."""
    header, rows = csv_rows(text, file)
    if not is_app_graph_header(header):
        shapes = " or ".join(",".join(shape) for shape in HEADERS)
        raise ImportFileError(
            file, f"unexpected header {quote_value(','.join(header))}; use {shapes}", line=1
        )
    prefix = default_key_prefix(file) if key_prefix is None else key_prefix

    parsed = ParsedImport(files=[file])
    components: dict[str, tuple[RowRef, str | None]] = {}
    for line, cells in list(rows):
        ref = RowRef(file, line=line)
        if len(cells) != len(header):
            reason = f"the row has {len(cells)} cells but the header has {len(header)} columns"
            add_row(parsed, RejectedRow("relationship", ref, "", reason))
            continue
        values = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        caller, callee = values["caller"], values["callee"]
        ref = RowRef(file, line=line, row_id=f"{caller} -> {callee}")
        missing = [name for name in ("caller", "callee") if not values[name]]
        if missing:
            reason = f"{missing[0]}: empty cell; name the {missing[0]} component"
            add_row(parsed, RejectedRow("relationship", ref, "", reason))
            continue
        components.setdefault(caller, (ref, values.get("caller_kind") or None))
        components.setdefault(callee, (ref, values.get("callee_kind") or None))
        raw: dict[str, Any] = {"source": prefix + caller, "type": "DEPENDS_ON", "target": prefix + callee}
        if values.get("kind"):
            raw["properties"] = {"protocol": values["kind"]}
        add_row(parsed, validate_relationship(raw, ref))

    for name, (ref, kind) in components.items():
        attributes = {"component_kind": kind} if kind else {}
        ci_ref = RowRef(ref.file, line=ref.line, row_id=name)
        raw_ci: dict[str, Any] = {
            "key": prefix + name,
            "ci_class": "Application",
            "name": name,
            "attributes": attributes,
        }
        # A call graph gives no status or criticality, so a re-import keeps those of a stored CI.
        defaults = {"status": Status.IN_SERVICE, "criticality": criticality}
        add_row(parsed, validate_ci(raw_ci, ci_ref, defaults=defaults))
    reject_duplicates(parsed)
    return parsed


def read_csv(path: Path, *, key_prefix: str | None = None) -> ParsedImport:
    """Read and parse a call-graph CSV file."""
    return parse_csv(read_text(path), file=str(path), key_prefix=key_prefix)
