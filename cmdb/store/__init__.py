"""Stores of the CI graph, opened by URL.

``open_store`` picks the store from the URL scheme. Each scheme maps to an opener in
``_OPENERS``; a new store is added by writing its opener and registering its schemes there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from cmdb.store.base import GraphStore
from cmdb.store.sqlite import SQLiteStore

ACCEPTED_FORMS = (
    "sqlite:///PATH (relative), sqlite:////ABSOLUTE/PATH, or for Neo4j"
    " neo4j://HOST:PORT, neo4j+s://HOST, bolt://HOST:PORT"
)
NEO4J_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")


def _open_sqlite(url: str) -> GraphStore:
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
    if not path or path == ":memory:":
        raise ValueError(f"invalid SQLite store URL {redact_url(url)!r}; use {ACCEPTED_FORMS}, naming a file")
    return SQLiteStore(path)


def _open_neo4j(url: str) -> GraphStore:
    # Imported here so that the SQLite default loads without the Neo4j driver.
    from cmdb.store.neo4j import open_neo4j_store

    return open_neo4j_store(url)


# URL scheme -> opener.
_OPENERS: dict[str, Callable[[str], GraphStore]] = {
    "sqlite": _open_sqlite,
    **dict.fromkeys(NEO4J_SCHEMES, _open_neo4j),
}


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced, so it can go into a message or a log line."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def missing_sqlite_file(url: str) -> bool:
    """Return whether ``url`` names a SQLite file that does not exist, which opening would create."""
    if not url.startswith("sqlite:///"):
        return False
    path = url[len("sqlite:///") :]
    return bool(path) and path != ":memory:" and not Path(path).exists()


def open_store(url: str) -> GraphStore:
    """Open the store that ``url`` names; raise ValueError for a scheme no store handles."""
    scheme, separator, _ = url.partition("://")
    opener = _OPENERS.get(scheme.lower()) if separator else None
    if opener is None:
        raise ValueError(f"unsupported store URL {redact_url(url)!r}; use {ACCEPTED_FORMS}")
    return opener(url)


__all__ = ["GraphStore", "SQLiteStore", "missing_sqlite_file", "open_store", "redact_url"]
