"""Differences between SQLAlchemy versions, in one place.

SQLAlchemy 2.1 renamed ``await_only`` to ``await_`` (the old name is
deprecated there); 2.0 has only ``await_only``.

SQLAlchemy 2.1 applies ``with_loader_criteria`` inside the EXISTS subquery
of ``has()``/``any()``; 2.0 does not, so there the soft-delete scope of a
relationship filter is written into the EXISTS explicitly
(`LOADER_CRITERIA_IN_EXISTS`). A ``has()``/``any()`` a user writes
in ``where()`` is theirs: on 2.0 it is not scoped (documented).

On SQLAlchemy 2.0 a ``selectin`` eager load run while a ``yield_per``
stream is open inherits ``yield_per`` and fails; `Q.stream` then loads such
queries in batches of primary keys (`SELECTIN_UNDER_YIELD_PER`).

    >>> in_greenlet()
    False
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy.ext import compiler as _compiler
from sqlalchemy.orm import attributes as _attributes
from sqlalchemy.util import concurrency as _concurrency
from sqlalchemy.util.concurrency import in_greenlet as _in_greenlet

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])

# SQLAlchemy >= 2.1 has ``await_``; 2.0 only ``await_only`` (read through
# getattr so the module type-checks against either version)
_await: Any = getattr(_concurrency, "await_", None) or _concurrency.await_only

#: ``sqlalchemy.ext.compiler.compiles``, typed (2.0 leaves it unannotated).
compiles: Callable[..., Callable[[_F], _F]] = _compiler.compiles

#: ``sqlalchemy.orm.attributes.set_committed_value``, typed (2.0 leaves it unannotated).
set_committed_value: Callable[[Any, str, Any], None] = _attributes.set_committed_value


def construct(cls: type[_T], *args: Any, **kwargs: Any) -> _T:
    """``cls(*args, **kwargs)`` for SQLAlchemy classes whose constructors
    2.0 leaves unannotated (dialects, some types), typed as ``cls``.

        >>> from sqlalchemy.dialects import sqlite
        >>> construct(sqlite.dialect).name
        'sqlite'
    """
    return cls(*args, **kwargs)


__all__ = [
    "LOADER_CRITERIA_IN_EXISTS",
    "SELECTIN_UNDER_YIELD_PER",
    "SQLALCHEMY_VERSION",
    "await_",
    "compiles",
    "construct",
    "in_greenlet",
    "set_committed_value",
]

_major, _minor = sqlalchemy.__version__.split(".")[:2]
#: The installed SQLAlchemy's ``(major, minor)``.
SQLALCHEMY_VERSION = (int(_major), int(_minor))

#: Whether ``with_loader_criteria`` reaches into ``has()``/``any()`` EXISTS clauses.
LOADER_CRITERIA_IN_EXISTS = SQLALCHEMY_VERSION >= (2, 1)

#: Whether a ``selectin`` eager load works inside a ``yield_per`` stream.
SELECTIN_UNDER_YIELD_PER = SQLALCHEMY_VERSION >= (2, 1)


def await_(awaitable: Awaitable[_T]) -> _T:
    """Await ``awaitable`` from sync code running inside ``AsyncSession.run_sync``."""
    result: Any = _await(awaitable)
    return result  # type: ignore[no-any-return]


def in_greenlet() -> bool:
    """Whether this sync code runs inside ``run_sync`` (so `await_` works)."""
    return bool(_in_greenlet())
