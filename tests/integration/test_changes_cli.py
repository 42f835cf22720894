"""The `cmdb change`, `cmdb history` and `cmdb impact --as-of` commands on a real SQLite file."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cmdb.cli import app
from cmdb.model import ChangeContext, Origin
from cmdb.store import open_store
from tests.reference import HOSPITAL_DIR, load_hospital

SCENARIO: dict[str, Any] = json.loads((HOSPITAL_DIR / "changes.json").read_text())
runner = CliRunner()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cmdb.sqlite3'}"
    store = open_store(url)
    cis, relationships = load_hospital()
    context = ChangeContext(actor="loader", origin=Origin.IMPORT)
    store.upsert_cis(cis, context=context, strict=True)
    store.upsert_relationships(relationships, context=context, strict=True)
    store.close()
    result = runner.invoke(app, ["change", "load", str(HOSPITAL_DIR / "changes.json"), "--store", url])
    assert result.exit_code == 0, result.output
    return url


def _run(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("change_id", ["CHG-1", "CHG-2", "CHG-3", "CHG-4", "CHG-5"])
def test_show_json_matches_scenario(store_url: str, change_id: str) -> None:
    expected = {k: v for k, v in SCENARIO["expected"][change_id].items() if k != "approval_by_implementer"}

    result = _run("change", "show", change_id, "--json", "--store", store_url)

    assert json.loads(result.stdout) == expected


def test_show_prints_tables(store_url: str) -> None:
    result = _run("change", "show", "CHG-1", "--store", store_url)

    assert "Blast radius: impact level 1" in result.stdout
    assert "fw-rounds" in result.stdout
    assert "Next free slot: 2027-01-05T10:00-06:00 to 2027-01-05T11:00-06:00" in result.stdout


def test_implementer_approval_fails(store_url: str) -> None:
    result = runner.invoke(
        app, ["change", "approve", "CHG-1", "--role", "cab", "--actor", "u-impl", "--store", store_url]
    )

    assert result.exit_code == 1
    assert "implementer cannot approve" in result.output


def test_implement_then_rollback_plan(store_url: str) -> None:
    for role in ("cab", "clinical_informatics", "clinical_operations"):
        _run("change", "approve", "CHG-1", "--role", role, "--actor", f"a-{role}", "--store", store_url)
    _run("change", "implement", "CHG-1", "--at", "2027-01-05T10:00", "--store", store_url)

    result = _run(
        "change", "rollback-plan", "CHG-1", "--at", "2027-01-05T12:00", "--json", "--store", store_url
    )

    plan = json.loads(result.stdout)
    expected = SCENARIO["expected"]["rollback_CHG-1_after_implementing_it"]
    assert {key: plan[key] for key in expected} == expected
    assert plan["window"] == ["2027-01-05T12:00-06:00", "2027-01-05T13:00-06:00"]


def test_implement_in_freeze_fails(store_url: str) -> None:
    for role in ("biomed", "clinical_operations", "ecab", "pharmacy"):
        _run("change", "approve", "CHG-5", "--role", role, "--actor", f"a-{role}", "--store", store_url)

    refused = runner.invoke(
        app, ["change", "implement", "CHG-5", "--at", "2027-01-06T08:15", "--store", store_url]
    )
    passed = _run(
        "change",
        "implement",
        "CHG-5",
        "--at",
        "2027-01-06T08:15",
        "--reason",
        "wrong heparin limit",
        "--store",
        store_url,
    )

    assert refused.exit_code == 1
    assert "give the emergency reason" in refused.output
    assert "Freeze exception recorded for review: fw-rounds" in passed.stdout


def test_history_and_diff(store_url: str) -> None:
    for role in ("cab", "clinical_informatics", "clinical_operations"):
        _run("change", "approve", "CHG-1", "--role", role, "--actor", f"a-{role}", "--store", store_url)
    _run("change", "implement", "CHG-1", "--at", "2027-01-05T10:00", "--store", store_url)

    versions = json.loads(_run("history", "app-ehr", "--json", "--store", store_url).stdout)
    diff = json.loads(_run("history", "app-ehr", "--diff", "1", "2", "--json", "--store", store_url).stdout)

    assert [(v["version"], v["origin"], v["change_id"]) for v in versions] == [
        (1, "import", None),
        (2, "change", "CHG-1"),
    ]
    assert diff == [{"field": "attributes.version", "from": "2025.2", "to": "2025.3"}]


def test_impact_as_of(store_url: str) -> None:
    time.sleep(0.01)
    before = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    store = open_store(store_url)
    store.retire_ci("app-pacs", expected_version=None, context=ChangeContext(actor="t", origin=Origin.CLI))
    store.close()

    then = json.loads(_run("impact", "vm-ris", "--as-of", before, "--json", "--store", store_url).stdout)
    now = json.loads(_run("impact", "vm-ris", "--json", "--store", store_url).stdout)

    assert then["impacted"]["app-pacs"]["state"] == "DEGRADED"
    assert "app-pacs" not in now["impacted"]


def test_impact_as_of_without_offset_fails(store_url: str) -> None:
    result = runner.invoke(app, ["impact", "vm-ris", "--as-of", "2027-01-05T08:00", "--store", store_url])

    assert result.exit_code == 1
    assert "add a UTC offset" in result.output
