"""Typed wrappers of ``strawberry.field`` and ``strawberry.mutation`` for resolvers with options.

Called with keyword options only, strawberry's decorators are annotated as
returning ``Any``, which ``mypy --strict`` reports as an untyped decorator.
These wrappers apply the same decorator and keep the resolver's type for mypy.
At runtime the class attribute is strawberry's field object wrapping the resolver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry

ResolverT = TypeVar("ResolverT", bound=Callable[..., Any])


def field(*, name: str | None = None, description: str | None = None) -> Callable[[ResolverT], ResolverT]:
    """Return a decorator that makes a method a GraphQL field resolver."""

    def decorate(resolver: ResolverT) -> ResolverT:
        return cast(ResolverT, strawberry.field(resolver, name=name, description=description))

    return decorate


def mutation(*, name: str | None = None, description: str | None = None) -> Callable[[ResolverT], ResolverT]:
    """Return a decorator that makes a method a GraphQL mutation resolver."""

    def decorate(resolver: ResolverT) -> ResolverT:
        return cast(ResolverT, strawberry.mutation(resolver, name=name, description=description))

    return decorate
