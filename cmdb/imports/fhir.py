"""FHIR R4 device and directory resources: JSON resources, JSON Bundles of any type and XML resources.

Resources are validated with the ``fhir.resources.R4B`` models, which parse
R4 4.0.1 documents. The mapping to CIs is in ``cmdb.imports.fhir_mapping``.
Reading is split from mapping so that the resources of a whole folder are
mapped together and references between files resolve.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from lxml import etree
from pydantic import ValidationError

from cmdb.imports.fhir_mapping import MAPPERS, SUPPORTED_TYPES, ci_key, metric_channel
from cmdb.imports.models import ChannelRow, ImportFileError, ParsedImport, RejectedRow, RowRef
from cmdb.imports.rows import (
    add_row,
    describe_error,
    load_json,
    read_text,
    reject_duplicates,
    validate_ci,
    validate_relationship,
)
from cmdb.model.ci import quote_value

FHIR_NAMESPACE = "http://hl7.org/fhir"
FILE_SUFFIXES = (".json", ".xml")


@dataclass(frozen=True, slots=True)
class Entry:
    """One validated FHIR resource of a supported type and where it was read."""

    ref: RowRef
    resource_type: str
    resource_id: str
    resource: Any


@dataclass(slots=True)
class ReadResult:
    """Resources read from files, with those rejected or skipped on the way."""

    entries: list[Entry]
    full_urls: dict[str, tuple[str, str]]
    parsed: ParsedImport


# Reading: pure functions of the file content.


def read_json_text(text: str, *, file: str, into: ReadResult) -> None:
    """Read one JSON resource or Bundle into ``into``; raise ImportFileError when it is not FHIR JSON."""
    document = load_json(text, file)
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        raise ImportFileError(file, "not a FHIR resource: the JSON object has no resourceType")
    into.parsed.files.append(file)
    if document["resourceType"] != "Bundle":
        _add_resource(document, RowRef(file), None, into)
        return
    entries = document.get("entry", [])
    if not isinstance(entries, list):
        raise ImportFileError(file, "Bundle.entry must be a JSON array")
    for index, item in enumerate(entries):
        ref = RowRef(file, array="entry", index=index)
        resource = item.get("resource") if isinstance(item, dict) else None
        if not isinstance(resource, dict):
            into.parsed.rejected.append(RejectedRow("ci", ref, "", "Bundle entry has no resource; add one"))
            continue
        full_url = item.get("fullUrl")
        _add_resource(resource, ref, full_url if isinstance(full_url, str) else None, into)


def read_xml_bytes(data: bytes, *, file: str, into: ReadResult) -> None:
    """Read one XML resource or Bundle into ``into``; raise ImportFileError on malformed XML."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        line, column = error.position
        raise ImportFileError(file, f"invalid XML: {error.msg}", line=line, column=column) from error
    if etree.QName(root).namespace != FHIR_NAMESPACE:
        raise ImportFileError(
            file, f"not a FHIR resource: the root element is not in the {FHIR_NAMESPACE} namespace", line=1
        )
    into.parsed.files.append(file)
    if etree.QName(root).localname != "Bundle":
        _add_xml_resource(root, RowRef(file, line=root.sourceline), None, into)
        return
    namespaces = {"f": FHIR_NAMESPACE}
    for index, entry in enumerate(root.iterfind("f:entry", namespaces)):
        ref = RowRef(file, line=entry.sourceline, array="entry", index=index)
        resource = entry.find("f:resource/*", namespaces)
        if resource is None:
            into.parsed.rejected.append(RejectedRow("ci", ref, "", "Bundle entry has no resource; add one"))
            continue
        full_url = entry.find("f:fullUrl", namespaces)
        url = full_url.get("value") if full_url is not None else None
        _add_xml_resource(resource, RowRef(file, line=resource.sourceline), url, into)


def _add_resource(resource: dict[str, Any], ref: RowRef, full_url: str | None, into: ReadResult) -> None:
    resource_type = resource.get("resourceType")
    resource_id = resource.get("id")
    ref = _named(ref, str(resource_type), resource_id, full_url)
    if not _check_type(str(resource_type), ref, into):
        return
    try:
        model = get_fhir_model_class(str(resource_type)).model_validate(resource)
    except ValidationError as error:
        into.parsed.rejected.append(
            RejectedRow("ci", ref, "", f"invalid {resource_type}: {describe_error(error)}")
        )
        return
    _add_entry(model, str(resource_type), ref, full_url, into)


def _add_xml_resource(element: Any, ref: RowRef, full_url: str | None, into: ReadResult) -> None:
    resource_type = etree.QName(element).localname
    id_element = element.find(f"{{{FHIR_NAMESPACE}}}id")
    resource_id = id_element.get("value") if id_element is not None else None
    ref = _named(ref, resource_type, resource_id, full_url)
    if not _check_type(resource_type, ref, into):
        return
    try:
        model = get_fhir_model_class(resource_type).model_validate_xml(etree.tostring(element))
    except ValueError as error:
        reason = describe_error(error) if isinstance(error, ValidationError) else str(error)
        into.parsed.rejected.append(RejectedRow("ci", ref, "", f"invalid {resource_type}: {reason}"))
        return
    _add_entry(model, resource_type, ref, full_url, into)


def _named(ref: RowRef, resource_type: str, resource_id: Any, full_url: str | None) -> RowRef:
    row_id = f"{resource_type}/{resource_id}" if resource_id else full_url or resource_type
    return RowRef(ref.file, line=ref.line, array=ref.array, index=ref.index, row_id=row_id)


def _check_type(resource_type: str, ref: RowRef, into: ReadResult) -> bool:
    """Return whether the import maps ``resource_type``; record a skipped or rejected row when not."""
    if resource_type in SUPPORTED_TYPES:
        return True
    supported = ", ".join(SUPPORTED_TYPES)
    try:
        get_fhir_model_class(resource_type)
    except ValueError:  # fhir.resources 8.3 raises ValueError for a name that is no FHIR model
        into.parsed.rejected.append(
            RejectedRow(
                "ci",
                ref,
                "",
                f"unknown FHIR resource type {quote_value(resource_type)}; use one of: {supported}",
            )
        )
        return False
    into.parsed.skipped.append(
        RejectedRow(
            "resource", ref, "", f"{resource_type} resources are not imported; imported are {supported}"
        )
    )
    return False


def _add_entry(model: Any, resource_type: str, ref: RowRef, full_url: str | None, into: ReadResult) -> None:
    resource_id = model.id or _id_from_full_url(full_url)
    if not resource_id:
        into.parsed.rejected.append(
            RejectedRow("ci", ref, "", f"{resource_type} has no id; give it an id so its CI has a stable key")
        )
        return
    if full_url:
        into.full_urls[full_url] = (resource_type, resource_id)
    into.entries.append(Entry(ref, resource_type, resource_id, model))


def _id_from_full_url(full_url: str | None) -> str | None:
    if full_url and full_url.startswith("urn:uuid:"):
        return full_url.removeprefix("urn:uuid:")
    return None


# Mapping: from validated resources to rows.


def resolve_reference(reference: str, full_urls: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """Return (resource type, id) of a literal reference, or None for one that names no resource.

    Relative (``Device/1``), versioned (``Device/1/_history/2``), absolute
    (``https://host/fhir/Device/1``) and Bundle ``fullUrl`` references resolve;
    contained (``#id``) references do not, because contained resources are no CIs.
    """
    if reference in full_urls:
        return full_urls[reference]
    if reference.startswith("#") or reference.startswith("urn:"):
        return None
    parts = reference.split("?", 1)[0].rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-1] or not parts[-2][:1].isupper():
        return None
    return parts[-2], parts[-1]


def transform(entries: Iterable[Entry], full_urls: dict[str, tuple[str, str]], parsed: ParsedImport) -> None:
    """Map validated resources into CI, relationship and channel rows of ``parsed``."""
    for entry in entries:
        if entry.resource_type == "DeviceMetric":
            _add_channel(entry, full_urls, parsed)
            continue
        mapped = MAPPERS[entry.resource_type](entry.resource, entry.resource_id)
        key = ci_key(entry.resource_type, entry.resource_id)
        add_row(parsed, validate_ci({"key": key, **mapped.fields}, entry.ref, defaults=mapped.defaults))
        for link in mapped.links:
            ref = RowRef(
                entry.ref.file,
                line=entry.ref.line,
                array=entry.ref.array,
                index=entry.ref.index,
                row_id=f"{entry.ref.row_id} {link.element}",
            )
            target = resolve_reference(link.reference, full_urls)
            if target is None or target[0] not in link.target_types:
                expected = " or ".join(link.target_types)
                reason = (
                    f"{entry.resource_type}.{link.element} reference {quote_value(link.reference)}"
                    f" does not name a {expected}; write it as {link.target_types[0]}/<id>"
                )
                parsed.rejected.append(RejectedRow("relationship", ref, key, reason))
                continue
            target_key = ci_key(*target)
            raw = {"source": key, "type": link.type, "target": target_key}
            add_row(parsed, validate_relationship(raw, ref, {target_key: link.reference}))
    reject_duplicates(parsed)


def _add_channel(entry: Entry, full_urls: dict[str, tuple[str, str]], parsed: ParsedImport) -> None:
    source = entry.resource.source
    reference = str(source.reference) if source is not None and source.reference else None
    target = resolve_reference(reference, full_urls) if reference else None
    if reference is None or target is None or target[0] != "Device":
        reason = (
            f"DeviceMetric.source {quote_value(reference)} does not name a Device;"
            " set source to Device/<id> so the metric can be listed on it"
        )
        parsed.rejected.append(RejectedRow("ci", entry.ref, "", reason))
        return
    channel = metric_channel(entry.resource, entry.resource_id)
    parent = entry.resource.parent
    parent_target = (
        resolve_reference(str(parent.reference), full_urls) if parent and parent.reference else None
    )
    if parent_target is not None and parent_target[0] == "Device":
        channel["channel_device"] = ci_key(*parent_target)
    parsed.channels.append(ChannelRow(entry.ref, ci_key(*target), reference, channel))


# I/O at the edge.


def fhir_files(path: Path) -> list[Path]:
    """Return the FHIR files to read: ``path`` itself, or every .json and .xml file under a folder."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FILE_SUFFIXES)
    return [path]


def read_paths(paths: Iterable[Path]) -> ParsedImport:
    """Read and map FHIR files together, so references between them resolve."""
    into = ReadResult([], {}, ParsedImport())
    for path in paths:
        if path.suffix.lower() == ".xml":
            try:
                data = path.read_bytes()
            except OSError as error:
                raise ImportFileError(str(path), f"cannot read the file: {error.strerror}") from error
            read_xml_bytes(data, file=str(path), into=into)
        else:
            read_json_text(read_text(path), file=str(path), into=into)
    transform(into.entries, into.full_urls, into.parsed)
    return into.parsed


def read_path(path: Path) -> ParsedImport:
    """Read a FHIR file, or every FHIR file under a folder."""
    files = fhir_files(path)
    if not files:
        raise ImportFileError(str(path), "no .json or .xml files in the folder")
    return read_paths(files)
