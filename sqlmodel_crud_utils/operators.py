"""The lookup operator registry: what ``field__op=value`` means for each ``op``.

Every operator, built-in or added with `register_lookup`, is an entry here:
a name, a function building the SQL clause, and optionally the column types
it applies to. `parse_lookup` resolves fields first and only then reads the
operator from this registry, so a column named like an operator
(``match``) is still a column.

    >>> from sqlalchemy import func
    >>> def iexact_trim(lookup, value):
    ...     return func.lower(func.trim(lookup.column)) == lookup.coerce(value).strip().lower()
    >>> register_lookup("iexact_trim", iexact_trim, types=(str,))
    >>> "iexact_trim" in operator_names()
    True
    >>> unregister_lookup("iexact_trim")
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement

from ._memo import clear_memos
from .coercion import coerce_value
from .exceptions import QueryError
from .fulltext import FullTextMatch

if TYPE_CHECKING:
    from .lookups import Lookup

__all__ = [
    "MAX_IN_VALUES",
    "OPERATORS",
    "LookupBuilder",
    "Operator",
    "get_operator",
    "operator_names",
    "register_lookup",
    "unregister_lookup",
]

#: Builds the clause of one lookup: called with the parsed `Lookup` (its
#: ``column``, ``key``, ``model``, and ``coerce`` for values) and the value.
LookupBuilder = Callable[["Lookup", Any], "ColumnElement[bool]"]

#: Most values an ``in`` / ``not_in`` lookup takes: each is a bound parameter,
#: and SQLite allows 32,766 per statement (PostgreSQL and MySQL 65,535).
MAX_IN_VALUES = 30_000


@dataclass(frozen=True, slots=True)
class Operator:
    """One registered lookup operator.

    Attributes:
        name: what follows the last ``__`` in a key (``"icontains"``).
        build: the `LookupBuilder` making the clause.
        types: the column Python types it applies to (``None``: every column).

    Example:
        >>> get_operator("gte").types is None, get_operator("like").types
        (True, (<class 'str'>,))
    """

    name: str
    build: LookupBuilder
    types: tuple[type[Any], ...] | None = None

    def applies_to(self, python_type: type[Any] | None) -> bool:
        """Whether a column of ``python_type`` takes this operator: ``types``
        names it exactly, or either is unknown (``None``).

        Example:
            >>> get_operator("like").applies_to(int)
            False
        """
        return self.types is None or python_type is None or python_type in self.types


# Copy-on-write: writers replace the dict under the lock, readers use
# whichever dict they find (no lock on the query path).
_registry: dict[str, Operator] = {}
_lock = threading.Lock()


def register_lookup(
    name: str, build: LookupBuilder, *, types: Iterable[type[Any]] | None = None
) -> None:
    """Add (or replace) the lookup operator ``name``: ``field__name=value``
    then filters with ``build(lookup, value)``.

    ``build`` receives the parsed `Lookup` (``lookup.column`` is the column
    attribute, ``lookup.coerce(value)`` coerces a value to the column's type
    and refuses one it cannot hold, as `QueryError`) and the value, and
    returns a SQLAlchemy boolean clause. Raise `QueryError` for a value the
    operator cannot take. The operator works in `Q.where`, `Q.exclude` and
    `Q.where_any`, through relationship paths, sync and async.

    ``types`` restricts the operator to columns whose Python type is one of
    them, exactly (``(str,)`` for a text operator; list ``datetime`` and
    ``date`` separately); using it on another column raises `QueryError`
    when the key is parsed. Columns whose type has no Python type accept
    every operator. ``None`` (the default): every column.

    A field always wins over an operator of the same name. Registering
    replaces an operator of the same name, built-ins included, and clears the
    parsed-key memo, so the next query uses it.

    Example:
        >>> from sqlalchemy import func
        >>> register_lookup(
        ...     "iexact_trim",
        ...     lambda lookup, value: func.lower(func.trim(lookup.column))
        ...     == lookup.coerce(value).strip().lower(),
        ...     types=(str,),
        ... )
        >>> unregister_lookup("iexact_trim")
    """
    if not isinstance(name, str) or not name.isidentifier() or "__" in name or name[0] == "_":
        raise QueryError(
            f"operator names are identifiers without '__' or a leading '_', got {name!r}",
            key="register_lookup",
            value=name,
        )
    if not callable(build):
        raise QueryError(f"build must be callable, got {build!r}", key=name, value=build)
    allowed = None if types is None else tuple(types)
    if allowed is not None and not all(isinstance(kind, type) for kind in allowed):
        raise QueryError(f"types must be Python types, got {types!r}", key=name, value=types)
    _replace(name, Operator(name, build, allowed))


def unregister_lookup(name: str) -> None:
    """Remove a registered operator; a built-in one goes back to its built-in
    meaning. Unknown names are ignored.

    Example:
        >>> unregister_lookup("no_such_operator")
    """
    _replace(name, _BUILT_IN.get(name))


def _replace(name: str, operator: Operator | None) -> None:
    global _registry
    with _lock:
        registry = dict(_registry)
        if operator is None:
            registry.pop(name, None)
        else:
            registry[name] = operator
        _registry = registry
    clear_memos()


def get_operator(name: str) -> Operator | None:
    """The operator registered as ``name``, or ``None``.

    Example:
        >>> get_operator("nope") is None
        True
    """
    return _registry.get(name)


def operator_names() -> list[str]:
    """Every registered operator name, sorted.

    Example:
        >>> "icontains" in operator_names()
        True
    """
    return sorted(_registry)


# ------------------------------------------------------------------ built-ins


def _refuse(lookup: Lookup, value: Any, expected: str) -> QueryError:
    return QueryError(
        f"lookup '{lookup.key}' takes {expected}, got {value!r}",
        model=lookup.model,
        key=lookup.key,
        value=value,
    )


def _ordered(lookup: Lookup, value: Any) -> Any:
    """A value an ordering comparison can bind: not NULL, not a boolean."""
    coerced = lookup.coerce(value)
    if coerced is None or isinstance(coerced, bool):
        raise _refuse(lookup, value, "a value to compare with (not None or a boolean)")
    return coerced


def _values(lookup: Lookup, value: Any) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise _refuse(lookup, value, "a list of values")
    values = [lookup.coerce(item) for item in value]
    if len(values) > MAX_IN_VALUES:
        raise QueryError(
            f"lookup '{lookup.key}' takes at most {MAX_IN_VALUES:,} values (each is a "
            f"bound parameter), got {len(values):,}; query in chunks",
            model=lookup.model,
            key=lookup.key,
        )
    return values


def _text(lookup: Lookup, value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse(lookup, value, "a string")
    lookup.check(value)
    return value


def _pattern(lookup: Lookup, value: Any) -> str:
    """A LIKE pattern; one ending in a lone backslash (an escape with nothing
    to escape) is refused: PostgreSQL rejects it and the others differ."""
    pattern = _text(lookup, value)
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    if trailing % 2:
        raise _refuse(lookup, value, "a LIKE pattern not ending in a lone backslash")
    return pattern


def _isnull(lookup: Lookup, value: Any) -> ColumnElement[bool]:
    flag = coerce_value(bool, value, model=lookup.model, key=lookup.key)
    if not isinstance(flag, bool):
        raise _refuse(lookup, value, "true or false")
    return lookup.column.is_(None) if flag else lookup.column.is_not(None)


def _between(lookup: Lookup, value: Any) -> ColumnElement[bool]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise _refuse(lookup, value, "a pair (low, high)")
    pair = list(value)
    if len(pair) != 2:
        raise QueryError(
            f"lookup '{lookup.key}' takes a pair (low, high), got {len(pair)} values",
            model=lookup.model,
            key=lookup.key,
            value=value,
        )
    return lookup.column.between(_ordered(lookup, pair[0]), _ordered(lookup, pair[1]))


_TEXT = (str,)


def _pattern_builder(method: str) -> LookupBuilder:
    """``like`` / ``ilike``: the value is the pattern, as given."""

    def build(lookup: Lookup, value: Any) -> ColumnElement[bool]:
        return cast("ColumnElement[bool]", getattr(lookup.column, method)(_pattern(lookup, value)))

    return build


def _substring_builder(method: str) -> LookupBuilder:
    """``contains`` and the like: ``%`` and ``_`` in the value are literal."""

    def build(lookup: Lookup, value: Any) -> ColumnElement[bool]:
        clause = getattr(lookup.column, method)(_text(lookup, value), autoescape=True)
        return cast("ColumnElement[bool]", clause)

    return build


_BUILT_IN: dict[str, Operator] = {
    operator.name: operator
    for operator in (
        Operator("eq", lambda lookup, value: lookup.column == lookup.coerce(value)),
        Operator("ne", lambda lookup, value: lookup.column != lookup.coerce(value)),
        Operator("lt", lambda lookup, value: lookup.column < _ordered(lookup, value)),
        Operator("lte", lambda lookup, value: lookup.column <= _ordered(lookup, value)),
        Operator("gt", lambda lookup, value: lookup.column > _ordered(lookup, value)),
        Operator("gte", lambda lookup, value: lookup.column >= _ordered(lookup, value)),
        Operator("in", lambda lookup, value: lookup.column.in_(_values(lookup, value))),
        Operator("not_in", lambda lookup, value: lookup.column.not_in(_values(lookup, value))),
        Operator("isnull", _isnull),
        Operator("between", _between),
        *(Operator(name, _pattern_builder(name), _TEXT) for name in ("like", "ilike")),
        *(
            Operator(name, _substring_builder(name), _TEXT)
            for name in (
                "contains",
                "icontains",
                "startswith",
                "istartswith",
                "endswith",
                "iendswith",
            )
        ),
        Operator(
            "match", lambda lookup, value: FullTextMatch(lookup.column, _text(lookup, value)), _TEXT
        ),
    )
}

#: The built-in operators (``field__op``); `register_lookup` adds more.
OPERATORS: frozenset[str] = frozenset(_BUILT_IN)

for _operator in _BUILT_IN.values():
    register_lookup(_operator.name, _operator.build, types=_operator.types)
