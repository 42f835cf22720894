"""Fixtures of the integration tests: the reference hospital in a real SQLite store, and snmpsim agents."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmdb.model import ChangeContext, Origin
from cmdb.store.base import GraphStore
from tests.reference import load_hospital


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def hospital_store(sqlite_store: GraphStore) -> GraphStore:
    """A fresh SQLite store holding the reference hospital."""
    cis, relationships = load_hospital()
    context = ChangeContext(actor="test-loader", origin=Origin.IMPORT)
    sqlite_store.upsert_cis(cis, context=context, strict=True)
    sqlite_store.upsert_relationships(relationships, context=context, strict=True)
    return sqlite_store


REPO_DIR = Path(__file__).parents[2]


@pytest.fixture(scope="session")
def snmpsim_agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """Start one snmpsim agent per recorded walk and return the manifest."""
    if shutil.which("snmpsim-command-responder") is None:
        reason = "snmpsim is not installed (pip install snmpsim pysmi)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    out_dir = tmp_path_factory.mktemp("snmpsim")
    started = subprocess.run(
        [str(REPO_DIR / "scripts" / "snmpsim" / "start"), str(out_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        assert started.returncode == 0, started.stderr
        yield json.loads((out_dir / "manifest.json").read_text())
    finally:
        subprocess.run(
            [str(REPO_DIR / "scripts" / "snmpsim" / "stop"), str(out_dir)], timeout=60, check=False
        )
