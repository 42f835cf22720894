"""Validation messages of the model: cut values, readable key rules, attribute locations."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cmdb.model import CIInput, RelationshipInput, describe_validation_error
from cmdb.model.ci import MAX_ECHOED_CHARS, quote_value


def _problems(model: type[CIInput] | type[RelationshipInput], raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(raw)
    return describe_validation_error(caught.value)


def test_quote_value_keeps_short_text() -> None:
    assert quote_value("pump") == "'pump'"


def test_quote_value_cuts_long_text() -> None:
    quoted = quote_value("x" * 5000)

    assert quoted == "'" + "x" * MAX_ECHOED_CHARS + "'… (5000 characters)"


def test_quote_value_cuts_long_list() -> None:
    quoted = quote_value(list(range(1000)))

    assert quoted.startswith("[0, 1, 2, ")
    assert quoted.endswith("… (4890 characters)")


def test_huge_name_is_cut_in_message() -> None:
    [problem] = _problems(CIInput, {"key": "a", "ci_class": "Server", "name": "n" * 10_000})

    assert problem == (
        "name: String should have at most 300 characters (got '"
        + "n" * MAX_ECHOED_CHARS
        + "'… (10000 characters))"
    )


def test_huge_class_is_cut_in_message() -> None:
    [problem] = _problems(CIInput, {"key": "a", "ci_class": "C" * 10_000, "name": "n"})

    assert len(problem) < 600
    assert "(10000 characters)" in problem


def test_invalid_key_message_names_allowed_characters() -> None:
    [problem] = _problems(CIInput, {"key": "pump 7", "ci_class": "Server", "name": "n"})

    assert problem == (
        "key: invalid key 'pump 7'; use 1 to 200 characters (letters, digits and . _ : / @ + -),"
        " starting with a letter or digit"
    )


def test_too_long_key_message_names_max_length() -> None:
    [problem] = _problems(CIInput, {"key": "k" * 201, "ci_class": "Server", "name": "n"})

    assert "use 1 to 200 characters" in problem
    assert "(201 characters)" in problem
    assert "[A-Za-z0-9]" not in problem


def test_longest_key_is_valid() -> None:
    assert CIInput(key="k" * 200, ci_class="Server", name="n").key == "k" * 200


def test_attribute_error_names_attributes_field() -> None:
    problems = _problems(
        CIInput, {"key": "a", "ci_class": "Server", "name": "n", "attributes": {"cpu": "many"}}
    )

    assert problems == [
        "attributes.cpu: Input should be a valid integer, unable to parse string as an integer (got 'many')"
    ]


def test_attribute_error_location_under_attributes() -> None:
    with pytest.raises(ValidationError) as caught:
        CIInput.model_validate({"key": "a", "ci_class": "Server", "name": "n", "attributes": {"memory": -1}})

    assert [error["loc"] for error in caught.value.errors()] == [("attributes", "memory")]


def test_field_names_rename_top_level_field() -> None:
    with pytest.raises(ValidationError) as caught:
        CIInput.model_validate({"key": "a", "ci_class": "Pump", "name": "n"})

    [problem] = describe_validation_error(caught.value, {"ci_class": "class"})

    assert problem.startswith("class: unknown CI class 'Pump'; use one of: ")


def test_value_quoted_in_message_is_not_repeated() -> None:
    [problem] = _problems(CIInput, {"key": "a", "ci_class": "Pump", "name": "n"})

    assert "(got" not in problem


def test_relationship_error_without_field_has_no_label() -> None:
    problems = _problems(RelationshipInput, {"source": "a", "type": "DEPENDS_ON", "target": "a"})

    assert problems == ["a relationship cannot point from 'a' to itself"]


def test_invalid_strength_is_cut() -> None:
    [problem] = _problems(
        RelationshipInput,
        {"source": "a", "type": "DEPENDS_ON", "target": "b", "properties": {"strength": "s" * 1000}},
    )

    assert problem.startswith("invalid strength '" + "s" * MAX_ECHOED_CHARS + "'… (1000 characters) on a")
