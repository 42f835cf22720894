"""Parsing of application call graphs in both CSV header shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmdb.imports import ImportFileError
from cmdb.imports.app_graph import parse_csv, read_csv

GRAPHS = Path(__file__).parent.parent / "data" / "app-graphs"

# (file, distinct components, distinct call edges), counted from the files.
COUNTS = [
    ("trainticket.csv", 66, 155),
    ("deathstarbench-hotelReservation.csv", 23, 31),
    ("deathstarbench-mediaMicroservices.csv", 32, 40),
    ("deathstarbench-socialNetwork.csv", 25, 35),
]


@pytest.mark.parametrize(("name", "components", "edges"), COUNTS)
def test_graph_counts(name: str, components: int, edges: int) -> None:
    parsed = read_csv(GRAPHS / name)

    assert len(parsed.cis) == components
    assert len(parsed.relationships) == edges
    assert parsed.rejected == []


def test_default_prefix_from_file_name() -> None:
    parsed = read_csv(GRAPHS / "trainticket.csv")
    keys = {row.ci.key for row in parsed.cis}

    assert "trainticket-ts-order-service" in keys
    assert all(row.ci.ci_class == "Application" for row in parsed.cis)


def test_edge_shape_keeps_protocol() -> None:
    parsed = parse_csv("caller,callee,kind\nweb,api,http\n", file="shop.csv", key_prefix="shop/")

    (row,) = parsed.relationships
    assert row.relationship.identity == ("shop/web", "DEPENDS_ON", "shop/api")
    assert row.relationship.properties == {"protocol": "http"}
    assert row.ref.line == 2


def test_typed_shape_keeps_component_kind() -> None:
    text = "caller,caller_kind,callee,callee_kind\nfrontend,frontend,user-db,mongodb\n"
    parsed = parse_csv(text, file="hotel.csv")

    kinds = {row.ci.key: row.ci.attributes.get("component_kind") for row in parsed.cis}
    assert kinds == {"hotel-frontend": "frontend", "hotel-user-db": "mongodb"}


def test_unknown_header_raises() -> None:
    with pytest.raises(ImportFileError, match="unexpected header 'from,to'") as caught:
        parse_csv("from,to\na,b\n", file="x.csv")

    assert caught.value.line == 1


def test_duplicate_edge_names_both_lines() -> None:
    parsed = parse_csv("caller,callee,kind\na,b,http\nb,c,http\na,b,grpc\n", file="x.csv")

    assert len(parsed.relationships) == 2
    (rejected,) = parsed.rejected
    assert "already defined at line 2, again at line 4" in rejected.reason


def test_self_call_rejected() -> None:
    parsed = parse_csv("caller,callee,kind\na,a,http\n", file="x.csv")

    (rejected,) = parsed.rejected
    assert "cannot point from 'x-a' to itself" in rejected.reason


def test_empty_callee_rejected() -> None:
    parsed = parse_csv("caller,callee,kind\na,,http\n", file="x.csv")

    (rejected,) = parsed.rejected
    assert rejected.reason == "callee: empty cell; name the callee component"
