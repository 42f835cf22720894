"""The cmdb command on bad input and dangerous requests: clear errors, no traceback, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cmdb.cli import app
from cmdb.impact import ImpactRequest, Mode, analyze
from cmdb.model import ChangeContext, Origin
from cmdb.store import open_store
from cmdb.store.base import GraphStore
from tests.reference import HOSPITAL_DIR

runner = CliRunner()


@pytest.fixture
def loaded_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cmdb.sqlite3'}"
    result = runner.invoke(app, ["import", str(HOSPITAL_DIR / "hospital.json"), "--store", url])
    assert result.exit_code == 0, result.output
    return url


def _count_cis(url: str) -> int:
    store = open_store(url)
    try:
        return store.counts()["cis"]
    finally:
        store.close()


def test_demo_refuses_store_with_data(loaded_store: str) -> None:
    result = runner.invoke(app, ["demo", "--dataset", "reference", "--no-serve", "--store", loaded_store])

    assert result.exit_code == 1
    assert "already holds 72 CIs" in result.output
    assert "--reset" in result.output
    assert _count_cis(loaded_store) == 72


def test_demo_checks_dataset_before_touching_store(loaded_store: str) -> None:
    result = runner.invoke(
        app, ["demo", "--dataset", "Reference", "--no-serve", "--reset", "--store", loaded_store]
    )

    assert result.exit_code == 1
    assert "invalid dataset 'Reference'" in result.output
    assert _count_cis(loaded_store) == 72


def test_demo_reset_replaces_store(loaded_store: str) -> None:
    result = runner.invoke(
        app, ["demo", "--dataset", "reference", "--no-serve", "--reset", "--store", loaded_store]
    )

    assert result.exit_code == 0, result.output
    assert "Demo admin token" in result.output
    assert _count_cis(loaded_store) == 72


def test_bad_setting_named_without_traceback(loaded_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMDB_PORT", "99999")

    result = runner.invoke(app, ["impact", "sw-acc-icu", "--store", loaded_store])

    assert result.exit_code == 1
    assert "invalid setting CMDB_PORT" in result.output
    assert "Traceback" not in result.output


def test_read_of_missing_store_file_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.sqlite3"

    result = runner.invoke(app, ["show", "sw-core-1", "--store", f"sqlite:///{missing}"])

    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert not missing.exists()


def test_store_password_not_printed() -> None:
    result = runner.invoke(app, ["show", "x", "--store", "neo4j://neo4j:S3cretPass@127.0.0.1:1"])

    assert result.exit_code == 1
    assert "S3cretPass" not in result.output


def test_unknown_import_format_rejected(loaded_store: str) -> None:
    result = runner.invoke(
        app, ["import", "--format", "bogus", str(HOSPITAL_DIR / "hospital.json"), "--store", loaded_store]
    )

    assert result.exit_code == 1
    assert "invalid --format 'bogus'" in result.output


def test_import_with_rejected_rows_exits_3(loaded_store: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"format": "cmdb/v1", "cis": [{"id": "x-1", "class": "Toaster", "name": "x"},'
        ' {"id": "x-2", "class": "Server", "name": "ok"}], "relationships": []}'
    )

    result = runner.invoke(app, ["import", str(bad), "--store", loaded_store])

    assert result.exit_code == 3
    assert "Toaster" in result.output
    assert _count_cis(loaded_store) == 73


def test_mode_is_case_insensitive(loaded_store: str) -> None:
    result = runner.invoke(
        app, ["impact", "esx-2", "--mode", "planned_outage", "--json", "--store", loaded_store]
    )

    assert result.exit_code == 0, result.output
    assert '"PLANNED_OUTAGE"' in result.output


def test_retired_root_warned(hospital_store: GraphStore) -> None:
    context = ChangeContext(actor="tester", origin=Origin.API)
    hospital_store.retire_ci("mon-icu-1", expected_version=None, context=context)

    report = analyze(store=hospital_store, request=ImpactRequest(roots={"mon-icu-1": Mode.DOWN}))

    assert report.impacted == []
    assert report.warnings == ("root mon-icu-1 has status retired and takes no part in impact",)


def test_overridden_root_warned(hospital_store: GraphStore) -> None:
    request = ImpactRequest(roots={"sw-acc-icu": Mode.DOWN}, overrides=frozenset({"sw-acc-icu"}))

    report = analyze(store=hospital_store, request=request)

    assert report.warnings == ("root sw-acc-icu is also an override, so it is ignored",)


def test_history_of_missing_store_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.sqlite3"

    result = runner.invoke(app, ["history", "app-ehr", "--store", f"sqlite:///{missing}"])

    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert not missing.exists()


def test_change_show_of_missing_store_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.sqlite3"

    result = runner.invoke(app, ["change", "show", "CHG-1", "--store", f"sqlite:///{missing}"])

    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert not missing.exists()


def test_copy_from_missing_store_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite3"
    target = tmp_path / "target.sqlite3"

    result = runner.invoke(app, ["copy", "--from", f"sqlite:///{missing}", "--to", f"sqlite:///{target}"])

    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert not missing.exists()
    assert not target.exists()
