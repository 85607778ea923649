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

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Boolean, ColumnElement, Integer, func, literal
from sqlalchemy.sql import operators
from sqlalchemy.sql.visitors import InternalTraversal

from ._compat import compiles
from ._registry import Registry
from ._unsupported import UnsupportedSQL
from .coercion import coerce_value
from .exceptions import QueryError
from .fulltext import FullTextMatch

if TYPE_CHECKING:
    from .lookups import Lookup

__all__ = [
    "MAX_IN_VALUES",
    "OPERATORS",
    "Bind",
    "LookupBuilder",
    "Operator",
    "Parameterised",
    "get_operator",
    "operator_names",
    "register_lookup",
    "unregister_lookup",
]

#: Builds the clause of one lookup: called with the parsed `Lookup` (its
#: ``column``, ``key``, ``model``, and ``coerce`` for values) and the value.
LookupBuilder = Callable[["Lookup", Any], "ColumnElement[bool]"]

#: ``bind(index, operator)``: value ``index`` of a prepared lookup as the
#: operand of SQLAlchemy ``operator`` (``operators.eq``, ``operators.in_op``,
#: ...): a bound parameter typed as ``column <operator> value`` would type
#: it (a list for ``IN`` as one expanding parameter), or the value itself
#: when it is a SQL expression.
Bind = Callable[[int, Callable[..., Any]], Any]


@dataclass(frozen=True, slots=True)
class Parameterised:
    """A built-in operator in two steps, so that one statement serves every
    value of a query shape (see `sqlmodel_crud_utils._templates`).

    Attributes:
        prepare: ``prepare(lookup, value) -> (shape, values)``: checks and
            converts the value (raising `QueryError`) into what changes the
            SQL (``shape``: ``None`` for ``IS NULL``, the flag of ``isnull``)
            and the values to bind.
        render: ``render(lookup, shape, bind) -> clause``: the clause, each
            value the operand made by ``bind(index, operator)`` (see `Bind`).

    Example:
        >>> get_operator("gt").parameterised is not None
        True
    """

    prepare: Callable[[Lookup, Any], tuple[Hashable, tuple[Any, ...]]]
    render: Callable[[Lookup, Hashable, Bind], ColumnElement[bool]]

    def build(self, lookup: Lookup, value: Any) -> ColumnElement[bool]:
        """The clause with ``value`` bound: the operator's `LookupBuilder`."""
        shape, values = self.prepare(lookup, value)
        return self.render(
            lookup, shape, lambda index, expanding: lookup.bind(values[index], expanding)
        )


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
        parameterised: for the built-ins, the operator in two steps (see
            `Parameterised`); ``None`` for operators added with `register_lookup`.

    Example:
        >>> get_operator("gte").types is None, get_operator("like").types
        (True, (<class 'str'>,))
    """

    name: str
    build: LookupBuilder
    types: tuple[type[Any], ...] | None = None
    parameterised: Parameterised | None = None

    def applies_to(self, python_type: type[Any] | None) -> bool:
        """Whether a column of ``python_type`` takes this operator: ``types``
        names it exactly, or either is unknown (``None``).

        Example:
            >>> get_operator("like").applies_to(int)
            False
        """
        return self.types is None or python_type is None or python_type in self.types


_registry: Registry[Operator] = Registry()


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
    _registry.replace(name, operator)


def array_operator(name: str) -> Operator | None:
    """The operator ``name`` of a PostgreSQL ARRAY column, if it has one
    (see `ARRAY_OPERATORS`).

    Example:
        >>> array_operator("overlap").name, array_operator("gt")
        ('overlap', None)
    """
    return ARRAY_OPERATORS.get(name)


def get_operator(name: str) -> Operator | None:
    """The operator registered as ``name``, or ``None``.

    Example:
        >>> get_operator("nope") is None
        True
    """
    return _registry.current.get(name)


def operator_names() -> list[str]:
    """Every registered operator name, sorted.

    Example:
        >>> "icontains" in operator_names()
        True
    """
    return sorted(_registry.current)


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


_BOUND = "bound"  # the shape of a lookup whose value is a parameter
_ESCAPE = "/"


def _flag(lookup: Lookup, value: Any) -> bool:
    flag = coerce_value(bool, value, model=lookup.model, key=lookup.key)
    if not isinstance(flag, bool):
        raise _refuse(lookup, value, "true or false")
    return flag


def _pair(lookup: Lookup, value: Any) -> tuple[Any, Any]:
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
    return _ordered(lookup, pair[0]), _ordered(lookup, pair[1])


def _equality(lookup: Lookup, value: Any) -> tuple[Hashable, tuple[Any, ...]]:
    """``None`` and booleans are written into the SQL (``IS NULL``,
    ``= true``), as SQLAlchemy writes them; other values are bound."""
    coerced = lookup.coerce(value)
    if coerced is None or isinstance(coerced, bool):
        return coerced, ()
    return _BOUND, (coerced,)


def _compared(op: Callable[..., Any]) -> Parameterised:
    """``eq`` / ``ne``: ``column == value``, ``None`` as ``IS NULL``."""

    def render(lookup: Lookup, shape: Hashable, bind: Bind) -> ColumnElement[bool]:
        clause: ColumnElement[bool] = op(lookup.column, bind(0, op) if shape == _BOUND else shape)
        return clause

    return Parameterised(_equality, render)


def _ordering(op: Callable[..., Any]) -> Parameterised:
    """``lt`` ... ``gte``: never ``None`` or a boolean."""

    def render(lookup: Lookup, _: Hashable, bind: Bind) -> ColumnElement[bool]:
        clause: ColumnElement[bool] = op(lookup.column, bind(0, op))
        return clause

    return Parameterised(lambda lookup, value: (_BOUND, (_ordered(lookup, value),)), render)


def _membership(op: Callable[..., Any]) -> Parameterised:
    """``in`` / ``not_in``: the list is one expanding parameter."""

    def render(lookup: Lookup, _: Hashable, bind: Bind) -> ColumnElement[bool]:
        clause: ColumnElement[bool] = op(lookup.column, bind(0, op))
        return clause

    return Parameterised(lambda lookup, value: (_BOUND, (_values(lookup, value),)), render)


_ISNULL = Parameterised(
    lambda lookup, value: (_flag(lookup, value), ()),
    lambda lookup, flag, _: lookup.column.is_(None) if flag else lookup.column.is_not(None),
)

_BETWEEN = Parameterised(
    lambda lookup, value: (_BOUND, _pair(lookup, value)),
    # SQLAlchemy types the bounds of BETWEEN as operands of ``and_``
    lambda lookup, _, bind: lookup.column.between(bind(0, operators.and_), bind(1, operators.and_)),
)


def _pattern_operator(method: str) -> Parameterised:
    """``like`` / ``ilike``: the value is the pattern, as given."""

    def render(lookup: Lookup, _: Hashable, bind: Bind) -> ColumnElement[bool]:
        return cast(
            "ColumnElement[bool]", getattr(lookup.column, method)(bind(0, operators.like_op))
        )

    return Parameterised(lambda lookup, value: (_BOUND, (_pattern(lookup, value),)), render)


def _escaped(lookup: Lookup, value: Any) -> tuple[Hashable, tuple[Any, ...]]:
    """The value with ``%``, ``_`` and the escape character made literal
    (what SQLAlchemy's ``autoescape=True`` does to a literal string)."""
    text = _text(lookup, value)
    text = (
        text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )
    return _BOUND, (text,)


def _substring_operator(method: str) -> Parameterised:
    """``contains`` and the like: ``%`` and ``_`` in the value are literal."""

    def render(lookup: Lookup, _: Hashable, bind: Bind) -> ColumnElement[bool]:
        clause: ColumnElement[bool] = getattr(lookup.column, method)(
            bind(0, operators.like_op), escape=_ESCAPE
        )
        return clause

    return Parameterised(_escaped, render)


_TEXT = (str,)


def _parameterised(
    name: str, form: Parameterised, types: tuple[type[Any], ...] | None = None
) -> Operator:
    return Operator(name, form.build, types, form)


_BUILT_IN: dict[str, Operator] = {
    operator.name: operator
    for operator in (
        _parameterised("eq", _compared(operators.eq)),
        _parameterised("ne", _compared(operators.ne)),
        _parameterised("lt", _ordering(operators.lt)),
        _parameterised("lte", _ordering(operators.le)),
        _parameterised("gt", _ordering(operators.gt)),
        _parameterised("gte", _ordering(operators.ge)),
        _parameterised("in", _membership(operators.in_op)),
        _parameterised("not_in", _membership(operators.not_in_op)),
        _parameterised("isnull", _ISNULL),
        _parameterised("between", _BETWEEN),
        *(_parameterised(name, _pattern_operator(name), _TEXT) for name in ("like", "ilike")),
        *(
            _parameterised(name, _substring_operator(name), _TEXT)
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


def _elements(lookup: Lookup, value: Any) -> list[Any]:
    """The items of a value compared with a PostgreSQL ARRAY column: a list
    (or tuple) of values of the array's item type."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise _refuse(lookup, value, "a list of values")
    item_type = _array_item_type(lookup)
    for item in value:
        if item_type is not None and (
            not isinstance(item, item_type) or isinstance(item, bool) is not (item_type is bool)
        ):
            raise _refuse(lookup, value, f"a list of {item_type.__name__} values")
    if len(value) > MAX_IN_VALUES:
        raise _refuse(lookup, value, f"at most {MAX_IN_VALUES:,} values")
    return list(value)


def _array_item_type(lookup: Lookup) -> type[Any] | None:
    try:
        item_type: type[Any] = lookup.column.type.item_type.python_type
    except (AttributeError, NotImplementedError):
        return None
    return item_type


class PostgresOnly(ColumnElement[bool]):
    """A condition only PostgreSQL can run (the ARRAY operators): compiled
    for any other dialect it raises `UnsupportedSQL` (`Q.sql` and the
    terminals turn that into `QueryError`) instead of SQL the database would refuse.

    Example:
        >>> from sqlalchemy import column
        >>> from sqlalchemy.dialects import sqlite
        >>> PostgresOnly(column("a") == 1).compile(dialect=sqlite.dialect())
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils._unsupported.UnsupportedSQL: ARRAY lookups need PostgreSQL, not sqlite
    """

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True
    _traverse_internals = [  # noqa: RUF012 (declared so on the base class)
        ("clause", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, clause: ColumnElement[bool]) -> None:
        self.clause = clause

    @property
    def _from_objects(self) -> list[Any]:
        return list(self.clause._from_objects)


@compiles(PostgresOnly)
def _refuse_array(element: PostgresOnly, compiler: Any, **kw: Any) -> str:
    if compiler.dialect.name == "default":  # str(q), repr(q): readable
        return _compile_array(element, compiler, **kw)
    raise UnsupportedSQL(f"ARRAY lookups need PostgreSQL, not {compiler.dialect.name}")


@compiles(PostgresOnly, "postgresql")
def _compile_array(element: PostgresOnly, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clause, **kw))


def _array(method: str) -> Parameterised:
    """``contains`` / ``overlap`` / ``contained_by`` on an ARRAY column
    (PostgreSQL's ``@>``, ``&&``, ``<@``): the list is one parameter."""

    def render(lookup: Lookup, _: Hashable, bind: Bind) -> ColumnElement[bool]:
        return PostgresOnly(getattr(lookup.column, method)(bind(0, operators.eq)))

    return Parameterised(lambda lookup, value: (_BOUND, (_elements(lookup, value),)), render)


def _cardinality(lookup: Lookup, value: Any) -> ColumnElement[bool]:
    """``len``: how many items the array holds (``cardinality()``)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _refuse(lookup, value, "a non-negative integer")
    return PostgresOnly(func.cardinality(lookup.column) == literal(value, Integer()))


#: Operators of PostgreSQL ARRAY columns; they take the place of the
#: built-in operator of the same name (``contains``) on such a column.
ARRAY_OPERATORS: dict[str, Operator] = {
    **{
        name: _parameterised(name, _array(name), (list,))
        for name in ("contains", "overlap", "contained_by")
    },
    "len": Operator("len", _cardinality, (list,)),
}


#: The built-in operators (``field__op``); `register_lookup` adds more.
OPERATORS: frozenset[str] = frozenset(_BUILT_IN)

for _operator in _BUILT_IN.values():
    _replace(_operator.name, _operator)
