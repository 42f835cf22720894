"""The SQLite store shared between threads: concurrent writers and readers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cmdb.model import ChangeContext, CIInput, Origin
from cmdb.store import SQLiteStore
from cmdb.store.base import CIFilter

CONTEXT = ChangeContext(actor="tester", origin=Origin.API)
WRITERS = 8
BATCHES = 10
BATCH_SIZE = 20


def _write(store: SQLiteStore, writer: int) -> None:
    for batch in range(BATCHES):
        rows = [
            CIInput(key=f"w{writer}-b{batch}-{n}", ci_class="Server", name=f"server {n}")
            for n in range(BATCH_SIZE)
        ]
        result = store.upsert_cis(rows, context=CONTEXT)
        assert result.added == BATCH_SIZE


def _read(store: SQLiteStore) -> int:
    seen = 0
    for _ in range(BATCHES):
        page = store.search_cis(CIFilter(), first=50, after=None)
        assert page.total >= seen
        seen = page.total
    return seen


def test_concurrent_writers_and_readers(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cmdb.sqlite3")
    try:
        with ThreadPoolExecutor(max_workers=WRITERS + 2) as pool:
            writes = [pool.submit(_write, store, writer) for writer in range(WRITERS)]
            reads = [pool.submit(_read, store) for _ in range(2)]
            for future in writes + reads:
                future.result()

        total = WRITERS * BATCHES * BATCH_SIZE
        assert store.counts() == {"cis": total, "relationships": 0, "versions": total}
    finally:
        store.close()


def test_same_key_from_many_threads(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "cmdb.sqlite3")
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(
                pool.map(
                    lambda n: store.upsert_cis(
                        [CIInput(key="shared", ci_class="Server", name=f"name {n}")], context=CONTEXT
                    ),
                    range(16),
                )
            )

        assert sum(r.added for r in results) == 1
        assert sum(r.added + r.updated + r.unchanged for r in results) == 16
        record = store.get_ci("shared")
        assert record is not None
        assert len(store.versions("shared")) == record.version
    finally:
        store.close()
