"""API tokens: creation, hashing, Bearer parsing and role checks."""

from __future__ import annotations

import hashlib

import pytest

from cmdb.auth import ALLOWED_ROLES, authenticate, bearer_token, create_token, hash_token, validate_roles
from cmdb.store.base import GraphStore


def test_create_token_stores_only_hash(sqlite_store: GraphStore) -> None:
    token = create_token(
        store=sqlite_store, name="service-desk", actor="svc-desk", roles=["viewer", "editor"]
    )

    stored = sqlite_store.find_token(hashlib.sha256(token.encode()).hexdigest())
    assert stored is not None
    assert stored.token_hash != token
    assert stored.actor == "svc-desk"
    assert stored.roles == ("editor", "viewer")
    assert len(token) >= 40


def test_tokens_are_unique(sqlite_store: GraphStore) -> None:
    first = create_token(store=sqlite_store, name="a", actor="a", roles=["viewer"])
    second = create_token(store=sqlite_store, name="b", actor="b", roles=["viewer"])

    assert first != second


def test_authenticate_bearer_token(sqlite_store: GraphStore) -> None:
    token = create_token(store=sqlite_store, name="biomed-tool", actor="jdoe", roles=["biomed"])

    principal = authenticate(store=sqlite_store, authorization_header=f"Bearer {token}")
    lower_scheme = authenticate(store=sqlite_store, authorization_header=f"bearer {token}")

    assert principal is not None
    assert principal.actor == "jdoe"
    assert principal.token_name == "biomed-tool"
    assert principal.roles == frozenset({"biomed"})
    assert lower_scheme == principal


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer unknown-token", "Bearer a b"],
)
def test_authenticate_rejects_header(sqlite_store: GraphStore, header: str | None) -> None:
    create_token(store=sqlite_store, name="x", actor="x", roles=["viewer"])

    assert authenticate(store=sqlite_store, authorization_header=header) is None


def test_unknown_role_lists_allowed(sqlite_store: GraphStore) -> None:
    with pytest.raises(ValueError) as raised:
        create_token(store=sqlite_store, name="x", actor="x", roles=["viewer", "superuser"])

    message = str(raised.value)
    assert "'superuser'" in message
    for role in ALLOWED_ROLES:
        assert role in message


def test_token_needs_role_name_actor(sqlite_store: GraphStore) -> None:
    with pytest.raises(ValueError, match="at least one role"):
        create_token(store=sqlite_store, name="x", actor="x", roles=[])
    with pytest.raises(ValueError, match="needs a name"):
        create_token(store=sqlite_store, name=" ", actor="x", roles=["viewer"])
    with pytest.raises(ValueError, match="needs an actor"):
        create_token(store=sqlite_store, name="x", actor="", roles=["viewer"])


def test_validate_roles_normalizes() -> None:
    assert validate_roles([" Editor", "viewer", "editor"]) == ("editor", "viewer")


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("  Bearer   abc  ") == "abc"
    assert bearer_token("Basic abc") is None


def test_hash_token_is_sha256() -> None:
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()


def test_allowed_roles_complete() -> None:
    assert set(ALLOWED_ROLES) == {
        "viewer",
        "editor",
        "biomed",
        "change_manager",
        "cab",
        "ecab",
        "clinical_informatics",
        "clinical_operations",
        "compliance",
        "pharmacy",
        "admin",
    }
