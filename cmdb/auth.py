"""API tokens: creation, Bearer authentication and the roles a token carries.

A token is shown once, when it is created; the store keeps only its SHA-256
hash. The actor recorded in history comes from the token, never from a header.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from cmdb.store.base import ApiToken, GraphStore

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
BEARER_SCHEME = "bearer"


class Role(StrEnum):
    """Roles a token can carry; writes and approvals check them."""

    VIEWER = "viewer"
    EDITOR = "editor"
    BIOMED = "biomed"
    CHANGE_MANAGER = "change_manager"
    CAB = "cab"
    ECAB = "ecab"
    CLINICAL_INFORMATICS = "clinical_informatics"
    CLINICAL_OPERATIONS = "clinical_operations"
    COMPLIANCE = "compliance"
    PHARMACY = "pharmacy"
    ADMIN = "admin"


ALLOWED_ROLES: tuple[str, ...] = tuple(role.value for role in Role)

# Roles that may write any CI or relationship through the API.
WRITE_ROLES: frozenset[str] = frozenset({Role.EDITOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a valid token: the token's name, the actor written into history, its roles."""

    token_name: str
    actor: str
    roles: frozenset[str]

    def has_any(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)


def hash_token(token: str) -> str:
    """Return the hex SHA-256 digest under which ``token`` is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def validate_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """Return ``roles`` sorted and without duplicates; raise ValueError naming unknown ones."""
    cleaned = sorted({role.strip().lower() for role in roles})
    unknown = [role for role in cleaned if role not in ALLOWED_ROLES]
    if unknown:
        raise ValueError(
            f"unknown role(s) {', '.join(repr(r) for r in unknown)}; use one of: {', '.join(ALLOWED_ROLES)}"
        )
    if not cleaned:
        raise ValueError(f"a token needs at least one role; use one of: {', '.join(ALLOWED_ROLES)}")
    return tuple(cleaned)


def create_token(*, store: GraphStore, name: str, actor: str, roles: Iterable[str]) -> str:
    """Create an API token for ``actor`` with ``roles`` and return it; only its hash is stored.

    The returned token cannot be recovered later. Raises ValueError for an empty
    name or actor and for unknown roles.
    """
    if not name.strip():
        raise ValueError("a token needs a name, e.g. 'service-desk'")
    if not actor.strip():
        raise ValueError("a token needs an actor, e.g. 'jdoe' or 'svc-monitoring'")
    checked_roles = validate_roles(roles)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    store.save_token(
        ApiToken(
            name=name.strip(),
            token_hash=hash_token(token),
            actor=actor.strip(),
            roles=checked_roles,
        )
    )
    logger.info("created API token %r for actor %r with roles %s", name, actor, ",".join(checked_roles))
    return token


def bearer_token(authorization_header: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer TOKEN`` header, or None for any other value."""
    if not authorization_header:
        return None
    scheme, _, credentials = authorization_header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != BEARER_SCHEME or not credentials or " " in credentials:
        return None
    return credentials


def authenticate(*, store: GraphStore, authorization_header: str | None) -> Principal | None:
    """Return the principal of a Bearer token, or None when the header is missing, malformed or unknown."""
    token = bearer_token(authorization_header)
    if token is None:
        return None
    stored = store.find_token(hash_token(token))
    if stored is None:
        return None
    return Principal(token_name=stored.name, actor=stored.actor, roles=frozenset(stored.roles))
