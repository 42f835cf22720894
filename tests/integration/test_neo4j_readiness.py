"""/readyz over a Neo4j store: 503 while Neo4j is down, 200 again once it is back, same app.

The test starts its own Neo4j with scripts/neo4j/start, in a run folder of its own and on a fixed
free port. It can therefore stop the server and start it again on that port without disturbing
the server of the rest of the test run. Without Java and Maven it fails on CI and is skipped
elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cmdb.app import create_app
from cmdb.settings import Settings
from cmdb.store import open_store
from tests.integration.uvicorn_helpers import free_port

pytestmark = pytest.mark.integration

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "neo4j"

# Bound of each wait for /readyz to change; a ping against a closed port fails at once.
READY_TIMEOUT_S = 30.0


class Neo4jServer:
    """A Neo4j started by the project's scripts in its own run folder, on one port."""

    def __init__(self, run_dir: Path, port: int) -> None:
        self.port = port
        self.env = {**os.environ, "NEO4J_RUN_DIR": str(run_dir), "NEO4J_HEAP": "512m"}

    def start(self) -> str:
        done = subprocess.run(
            [str(SCRIPTS / "start"), str(self.port)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"scripts/neo4j/start failed:\n{done.stderr}"
        return done.stdout.strip()

    def stop(self) -> None:
        subprocess.run([str(SCRIPTS / "stop")], env=self.env, capture_output=True, timeout=120, check=True)


@pytest.fixture
def neo4j_server(tmp_path: Path) -> Iterator[Neo4jServer]:
    missing = [tool for tool in ("java", "javac", "mvn") if shutil.which(tool) is None]
    if missing:
        reason = f"{', '.join(missing)} not found; scripts/neo4j/start needs Java 17 and Maven"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    server = Neo4jServer(tmp_path / "neo4j-run", free_port())
    try:
        yield server
    finally:
        server.stop()


async def _wait_for_status(client: httpx.AsyncClient, expected: int) -> tuple[int, float]:
    """Poll /readyz until it returns ``expected`` or the timeout passes; return the last status and time."""
    started = time.monotonic()
    status = 0
    while time.monotonic() - started < READY_TIMEOUT_S:
        status = (await client.get("/readyz")).status_code
        if status == expected:
            break
        time.sleep(0.2)
    return status, time.monotonic() - started


@pytest.mark.anyio
async def test_readyz_follows_neo4j_outage(neo4j_server: Neo4jServer) -> None:
    uri = neo4j_server.start()
    store = open_store(uri)
    app = create_app(settings=Settings(store=uri, graphiql=False), store=store)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://cmdb.test") as client:
            assert (await client.get("/readyz")).status_code == 200

            neo4j_server.stop()
            status, waited = await _wait_for_status(client, 503)
            assert status == 503
            assert waited < 5.0
            body = (await client.get("/readyz")).json()
            assert body["status"] == "unavailable"
            assert uri.removeprefix("bolt://") in body["reason"]

            assert neo4j_server.start() == uri
            status, _ = await _wait_for_status(client, 200)
            assert status == 200
            assert (await client.get("/readyz")).json() == {"status": "ready"}
            assert (await client.get("/healthz")).status_code == 200
    finally:
        store.close()
