"""What every integration's mapping shares: a payload the catalog refuses is bad input."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from pydantic import ValidationError

P = ParamSpec("P")
R = TypeVar("R")


class MappingError(ValueError):
    """The payload is not a resource this topic can carry (answered 4xx, never 5xx)."""


def as_mapping_error(
    error_class: type[MappingError],
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn a catalog ``ValidationError`` (an unknown currency …) into ``error_class``."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return function(*args, **kwargs)
            except ValidationError as error:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
                )
                raise error_class(f"not a valid event: {problems}") from None

        return wrapper

    return decorate
