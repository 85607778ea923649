"""Your own row scopes: a criterion every read of some models must satisfy.

Soft delete and tenants are built-in row scopes; `register_scope` adds
yours through the same machinery. Once registered, every statement a
session runs about a model deriving from ``base`` — `Q` terminals (their
projections and aggregates too), relationship filters, ``include`` and lazy
loads, legacy functions, ``session.get``, a plain ``select(Model)``,
``Q.update`` / ``Q.delete`` — sees only the rows matching the criterion.
Scopes compose: a model can be soft-deletable, tenant-scoped and
published-only at once. ``with without_scopes("published"):`` lifts one
scope (or, without names, every registered one) for a block.

    >>> from sqlmodel import Field, SQLModel
    >>> class Publishable:
    ...     published: bool = Field(default=False)
    >>> register_scope("published", Publishable, lambda cls: cls.published == True)  # noqa: E712
    >>> scope_names()
    ['published']
    >>> unregister_scope("published")

The criterion receives the mapped class (or an alias of it) and returns a
SQL boolean expression. It must not depend on per-request Python values
(it is compiled once and cached); use a bound parameter with a
``callable_`` for those, as the tenant scope does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.interfaces import ORMOption

from ._registry import Registry
from .exceptions import UsageError

__all__ = [
    "RowScope",
    "active_scope_options",
    "register_scope",
    "related_scope_criteria",
    "scope_key",
    "scope_names",
    "unregister_scope",
    "without_scopes",
]


@dataclass(frozen=True)
class RowScope:
    """One registered scope: its name, the class whose mapped subclasses it
    confines, the criterion and the loader option applying it.

    Example: ``RowScope("published", Publishable, criterion, option)``.
    """

    name: str
    base: type[Any]
    criterion: Callable[[Any], ColumnElement[bool]]
    option: ORMOption


_scopes: Registry[RowScope] = Registry()
_lifted: ContextVar[frozenset[str] | None] = ContextVar(
    "sqlmodel_crud_utils_lifted_scopes", default=frozenset()
)


def register_scope(
    name: str, base: type[Any], criterion: Callable[[Any], ColumnElement[bool]]
) -> None:
    """Confine every model deriving from ``base`` (a mixin or a model) to
    the rows matching ``criterion(cls)`` (see the module docs). Registering
    a name again replaces the scope.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Visible:
        ...     hidden: bool = Field(default=False)
        >>> register_scope("visible", Visible, lambda cls: cls.hidden == False)  # noqa: E712
        >>> unregister_scope("visible")
    """
    if not isinstance(name, str) or not name:
        raise UsageError(f"scope names are non-empty strings, got {name!r}")
    if not isinstance(base, type) or not callable(criterion):
        raise UsageError("register_scope takes a name, a class and a criterion function")
    option = with_loader_criteria(base, criterion, include_aliases=True)
    _replace(name, RowScope(name, base, criterion, option))
    _install()


def unregister_scope(name: str) -> None:
    """Remove a registered scope (unknown names are ignored).

    Example:
        >>> unregister_scope("never-registered")
    """
    _replace(name, None)


def scope_names() -> list[str]:
    """The registered scope names, sorted.

    Example:
        >>> scope_names()
        []
    """
    return sorted(_scopes.current)


@contextmanager
def without_scopes(*names: str) -> Iterator[None]:
    """Lift the named scopes (none named: every registered scope) for the
    block; each thread and asyncio task keeps its own setting.

    Example:
        >>> with without_scopes():
        ...     scope_key()
        ()
    """
    lifted = _lifted.get()
    token = _lifted.set(None if not names or lifted is None else lifted | set(names))
    try:
        yield
    finally:
        _lifted.reset(token)


def _replace(name: str, scope: RowScope | None) -> None:
    _scopes.replace(name, scope)  # clears the memos: templates carry the options


def _active() -> list[RowScope]:
    lifted = _lifted.get()
    if lifted is None:
        return []
    return [scope for name, scope in _scopes.current.items() if name not in lifted]


def active_scope_options(model: type[Any]) -> tuple[ORMOption, ...]:
    """The options of the scopes in force that apply to ``model`` or to a
    model it reaches through relationships (what `Q` bakes into its
    statements, so projections on the connection are scoped too).

    Example:
        >>> active_scope_options(int)
        ()
    """
    if not _scopes.current:
        return ()
    from .lookups import relationship_targets

    try:
        reached = relationship_targets(model)
    except Exception:
        return ()
    return tuple(
        scope.option
        for scope in _active()
        if any(issubclass(target, scope.base) for target in reached)
    )


def scope_key() -> tuple[str, ...]:
    """What the scopes in force add to a statement: part of `Q`'s statement
    template key.

    Example:
        >>> scope_key()
        ()
    """
    if not _scopes.current:
        return ()
    return tuple(sorted(scope.name for scope in _active()))


def related_scope_criteria(target: type[Any]) -> list[ColumnElement[bool]]:
    """The criteria of the scopes in force for ``target`` (for relationship
    filters' EXISTS, which loader criteria do not reach on SQLAlchemy 2.0).

    Example:
        >>> related_scope_criteria(int)
        []
    """
    return [scope.criterion(target) for scope in _active() if issubclass(target, scope.base)]


def _apply_scopes(state: ORMExecuteState) -> None:
    """``do_orm_execute``: the scopes in force on every ORM statement."""
    if not (state.is_select or state.is_update or state.is_delete) or not _scopes.current:
        return
    present = getattr(state.statement, "_with_options", ())
    missing = [scope.option for scope in _active() if scope.option not in present]
    if missing:
        state.statement = state.statement.options(*missing)


def _install() -> None:
    if not event.contains(Session, "do_orm_execute", _apply_scopes):
        event.listen(Session, "do_orm_execute", _apply_scopes)
