"""The committed schema.graphql must match the schema the code builds."""

from __future__ import annotations

from pathlib import Path

from cmdb.graphql.schema import export_sdl

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_schema_file_is_current() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8")

    assert committed == export_sdl(), "schema.graphql is stale; run `cmdb schema > schema.graphql`"
