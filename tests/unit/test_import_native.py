"""Parsing and rendering of the native import format, on the reference hospital and small inline files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cmdb.imports import ImportFileError
from cmdb.imports.native import (
    parse_cis_csv,
    parse_json,
    parse_relationships_csv,
    render_csv,
    render_json,
)

HOSPITAL = Path(__file__).parent.parent / "data" / "hospital-small" / "hospital.json"


def _document(cis: list[dict[str, Any]], relationships: list[dict[str, Any]] | None = None) -> str:
    return json.dumps({"format": "cmdb/v1", "cis": cis, "relationships": relationships or []})


def _ci(key: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": key,
        "class": "Server",
        "name": key,
        "criticality": "business",
        "status": "in_service",
        **fields,
    }


def test_hospital_parses_without_rejections() -> None:
    parsed = parse_json(HOSPITAL.read_text(encoding="utf-8"), file="hospital.json")

    assert len(parsed.cis) == 72
    assert len(parsed.relationships) == 160
    assert parsed.rejected == []


def test_malformed_json_names_line_and_column() -> None:
    text = '{"format": "cmdb/v1",\n "cis": [\n  {"id": "a",}\n ]}'

    with pytest.raises(ImportFileError) as caught:
        parse_json(text, file="bad.json")

    assert caught.value.file == "bad.json"
    assert caught.value.line == 3
    assert caught.value.column == 14
    assert "invalid JSON" in str(caught.value)


def test_wrong_format_tag_raises() -> None:
    with pytest.raises(ImportFileError, match="unsupported format 'cmdb/v9'"):
        parse_json(json.dumps({"format": "cmdb/v9", "cis": []}), file="x.json")


def test_cis_must_be_an_array() -> None:
    with pytest.raises(ImportFileError, match="'cis' must be a JSON array"):
        parse_json(json.dumps({"format": "cmdb/v1", "cis": {}}), file="x.json")


def test_unknown_class_rejected_naming_value() -> None:
    parsed = parse_json(_document([_ci("a"), _ci("b", **{"class": "Toaster"})]), file="x.json")

    assert [row.ci.key for row in parsed.cis] == ["a"]
    (rejected,) = parsed.rejected
    assert str(rejected.ref) == "x.json cis[1] (b)"
    assert "class: unknown CI class 'Toaster'" in rejected.reason
    assert "MedicalDevice" in rejected.reason


def test_wrong_criticality_rejected_naming_value() -> None:
    parsed = parse_json(_document([_ci("a", criticality="urgent")]), file="x.json")

    (rejected,) = parsed.rejected
    assert "criticality" in rejected.reason
    assert "'urgent'" in rejected.reason
    assert "'life_critical'" in rejected.reason


def test_invalid_key_reported_as_id() -> None:
    parsed = parse_json(_document([_ci("has space")]), file="x.json")

    (rejected,) = parsed.rejected
    assert rejected.reason.startswith("id: ")
    assert "'has space'" in rejected.reason


def test_unknown_field_rejected() -> None:
    parsed = parse_json(_document([_ci("a", colour="red")]), file="x.json")

    (rejected,) = parsed.rejected
    assert "unknown field 'colour'" in rejected.reason


def test_invalid_attribute_rejected() -> None:
    ci = _ci("pump", **{"class": "MedicalDevice", "attributes": {"fda_class": "IV"}})
    parsed = parse_json(_document([ci]), file="x.json")

    (rejected,) = parsed.rejected
    assert "fda_class" in rejected.reason
    assert "'IV'" in rejected.reason


def test_unknown_relationship_type_rejected() -> None:
    relationships = [{"source": "a", "type": "LIKES", "target": "b"}]
    parsed = parse_json(_document([_ci("a"), _ci("b")], relationships), file="x.json")

    (rejected,) = parsed.rejected
    assert rejected.entity == "relationship"
    assert str(rejected.ref) == "x.json relationships[0] (a LIKES b)"
    assert "unknown relationship type 'LIKES'" in rejected.reason


def test_duplicate_id_names_both_positions() -> None:
    parsed = parse_json(_document([_ci("a"), _ci("b"), _ci("a", name="again")]), file="x.json")

    assert [row.ci.name for row in parsed.cis] == ["a", "b"]
    (rejected,) = parsed.rejected
    assert rejected.ref.index == 2
    assert "duplicate id 'a'" in rejected.reason
    assert "cis[0]" in rejected.reason
    assert "cis[2]" in rejected.reason


def test_duplicate_relationship_rejected() -> None:
    relationship = {"source": "a", "type": "RUNS_ON", "target": "b"}
    parsed = parse_json(_document([_ci("a"), _ci("b")], [relationship, relationship]), file="x.json")

    assert len(parsed.relationships) == 1
    (rejected,) = parsed.rejected
    assert "duplicate relationship a RUNS_ON b" in rejected.reason


CIS_HEADER = "id,class,name,criticality,status,attributes,identifiers,tags\n"


def test_csv_row_fields() -> None:
    text = CIS_HEADER + (
        'pump-1,MedicalDevice,Pump 1,life_critical,in_service,"{""manufacturer"": ""BD""}",'
        '"{""serial"": ""S1""}",Medication; ICU\n'
    )
    parsed = parse_cis_csv(text, file="cis.csv")

    (row,) = parsed.cis
    assert row.ref.line == 2
    assert row.ci.attributes == {"manufacturer": "BD"}
    assert row.ci.identifiers.serial == "S1"
    assert row.ci.tags == ["icu", "medication"]


def test_csv_empty_cells_take_defaults() -> None:
    parsed = parse_cis_csv("id,class,name\nsrv,Server,Server 1\n", file="cis.csv")

    (row,) = parsed.cis
    assert row.ci.status == "in_service"
    assert row.ci.criticality == "administrative"


def test_csv_line_numbers_count_multiline_cells() -> None:
    text = CIS_HEADER + 'a,Server,"two\nlines",business,in_service,,,\n\nb,Toaster,B,business,in_service,,,\n'
    parsed = parse_cis_csv(text, file="cis.csv")

    (rejected,) = parsed.rejected
    assert rejected.ref.line == 5
    assert str(rejected.ref) == "cis.csv line 5 (b)"


def test_csv_invalid_json_cell_rejected() -> None:
    text = CIS_HEADER + "a,Server,A,business,in_service,{kind: room},,\n"
    parsed = parse_cis_csv(text, file="cis.csv")

    (rejected,) = parsed.rejected
    assert rejected.reason.startswith("attributes: invalid JSON in the cell")


def test_csv_wrong_cell_count_rejected() -> None:
    parsed = parse_cis_csv(CIS_HEADER + "a,Server,A\n", file="cis.csv")

    (rejected,) = parsed.rejected
    assert "3 cells but the header has 8 columns" in rejected.reason


def test_csv_unknown_column_raises() -> None:
    with pytest.raises(ImportFileError, match="unknown column 'colour'") as caught:
        parse_cis_csv("id,class,name,colour\n", file="cis.csv")

    assert caught.value.line == 1


def test_csv_missing_column_raises() -> None:
    with pytest.raises(ImportFileError, match="missing column 'name'"):
        parse_cis_csv("id,class\n", file="cis.csv")


def test_csv_unclosed_quote_raises() -> None:
    with pytest.raises(ImportFileError, match="invalid CSV") as caught:
        parse_cis_csv(CIS_HEADER + 'a,Server,"A,business\n', file="cis.csv")

    assert caught.value.line is not None


def test_csv_duplicate_id_names_both_lines() -> None:
    text = CIS_HEADER + "a,Server,A,,,,,\nb,Server,B,,,,,\na,Server,A2,,,,,\n"
    parsed = parse_cis_csv(text, file="cis.csv")

    (rejected,) = parsed.rejected
    assert "duplicate id 'a': already defined at line 2, again at line 4" in rejected.reason


def test_csv_relationship_properties() -> None:
    text = (
        "source,type,target,properties\n"
        'mon,CONNECTS_TO,sw,"{""strength"": ""soft"", ""port"": ""Gi1/0/7""}"\n'
    )
    parsed = parse_relationships_csv(text, file="relationships.csv")

    (row,) = parsed.relationships
    assert row.relationship.properties == {"strength": "soft", "port": "Gi1/0/7"}


def test_render_csv_round_trips_hospital() -> None:
    parsed = parse_json(HOSPITAL.read_text(encoding="utf-8"), file="hospital.json")
    cis = [row.ci for row in parsed.cis]
    relationships = [row.relationship for row in parsed.relationships]

    cis_text, relationships_text = render_csv(cis, relationships)
    again_cis = parse_cis_csv(cis_text, file="cis.csv")
    again_relationships = parse_relationships_csv(relationships_text, file="relationships.csv")

    assert [row.ci for row in again_cis.cis] == cis
    assert [row.relationship for row in again_relationships.relationships] == relationships
    assert again_cis.rejected == []
    assert again_relationships.rejected == []


def test_render_json_round_trips_hospital() -> None:
    parsed = parse_json(HOSPITAL.read_text(encoding="utf-8"), file="hospital.json")
    cis = [row.ci for row in parsed.cis]
    relationships = [row.relationship for row in parsed.relationships]

    again = parse_json(render_json(cis, relationships), file="out.json")

    assert [row.ci for row in again.cis] == cis
    assert [row.relationship for row in again.relationships] == relationships


def test_json_duplicate_key_rejected_with_line() -> None:
    text = (
        '{"format": "cmdb/v1",\n'
        ' "cis": [{"id": "a", "class": "Server",\n'
        '          "name": "first",\n'
        '          "name": "second"}]}\n'
    )

    with pytest.raises(ImportFileError) as caught:
        parse_json(text, file="cis.json")

    assert caught.value.line == 4
    assert (
        caught.value.reason
        == "duplicate key 'name' in a JSON object; remove one of the two members or rename it"
    )


def test_json_duplicate_key_found_after_nested_same_key() -> None:
    text = '{"format": "cmdb/v1",\n "cis": [{"id": "a", "attributes": {"id": 1},\n "id": "b"}]}'

    with pytest.raises(ImportFileError) as caught:
        parse_json(text, file="cis.json")

    assert caught.value.line == 3
    assert "duplicate key 'id'" in caught.value.reason


def test_csv_cell_duplicate_key_rejected() -> None:
    text = 'id,class,name,attributes\na,Server,A,"{""cpu"": 4, ""cpu"": 8}"\n'

    parsed = parse_cis_csv(text, file="cis.csv")

    (rejected,) = parsed.rejected
    assert parsed.cis == []
    assert (
        rejected.reason == "attributes: duplicate key 'cpu' in a JSON object; remove one of the two members"
    )


def test_csv_partial_columns_give_only_those_fields() -> None:
    parsed = parse_cis_csv("id,class,name,criticality\nmon,MedicalDevice,Monitor,\n", file="cis.csv")

    (row,) = parsed.cis
    assert row.ci.model_fields_set == {"key", "ci_class", "name"}


def test_json_partial_row_gives_only_those_fields() -> None:
    parsed = parse_json(
        _document([{"id": "mon", "class": "MedicalDevice", "name": "M", "attributes": {"model": None}}]),
        file="cis.json",
    )

    (row,) = parsed.cis
    assert row.ci.model_fields_set == {"key", "ci_class", "name", "attributes"}
    assert row.ci.given_attributes == {"model"}
    assert row.ci.attributes == {}


def test_csv_huge_cell_is_cut_in_rejection() -> None:
    text = f"id,class,name,criticality\na,Server,A,{'x' * 5000}\n"

    parsed = parse_cis_csv(text, file="cis.csv")

    (rejected,) = parsed.rejected
    assert "'… (5000 characters)" in rejected.reason
    assert len(rejected.reason) < 400


def test_csv_attribute_rejection_names_attributes_field() -> None:
    text = 'id,class,name,attributes\na,Server,A,"{""cpu"": ""many""}"\n'

    parsed = parse_cis_csv(text, file="cis.csv")

    (rejected,) = parsed.rejected
    assert rejected.reason.startswith("attributes.cpu: Input should be a valid integer")


def test_csv_invalid_key_rejection_is_readable() -> None:
    parsed = parse_cis_csv("id,class,name\npump 7,Server,A\n", file="cis.csv")

    (rejected,) = parsed.rejected
    assert rejected.reason.startswith("id: invalid key 'pump 7'; use 1 to 200 characters")


def test_json_relationship_rejection_has_no_document_label() -> None:
    parsed = parse_json(
        _document([], [{"source": "a", "type": "DEPENDS_ON", "target": "a"}]),
        file="cis.json",
    )

    (rejected,) = parsed.rejected
    assert rejected.reason == "a relationship cannot point from 'a' to itself"


def test_json_unknown_field_name_is_cut() -> None:
    parsed = parse_json(_document([_ci("a", **{"z" * 1000: 1})]), file="cis.json")

    (rejected,) = parsed.rejected
    assert rejected.reason.startswith("unknown field '" + "z" * 80 + "'… (1000 characters); a CI has")
