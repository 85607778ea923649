"""Lookups into JSON columns: ``data__settings__theme="dark"``.

After a JSON column, the names of a key walk into the document (a name of
digits is an array index) and the last name is the operator when it names
one (``data__settings__theme__icontains``); to compare a key named like an
operator, end with ``__eq`` (``data__in__eq=1``). The value's Python type
decides how the extracted value is compared, the same way on every backend:

* a ``str`` matches JSON strings, a number (``int``, ``float``,
  ``Decimal``) JSON numbers, a ``bool`` JSON booleans: a JSON value of
  another type never matches (``data__n="5"`` does not find ``{"n": 5}``);
* ``None`` (and ``isnull``) matches a key that is absent or holds ``null``;
  on the whole field (``data=None``, ``data__isnull=True``) it matches SQL
  ``NULL`` and the JSON ``null`` SQLAlchemy stores for ``None``, and
  ``data={...}`` compares the whole column as SQLAlchemy does (the
  database decides: PostgreSQL has no ``=`` for ``JSON``, only ``JSONB``);
* ``has_key="k"`` tests that the document (or the object at the path) has
  the key; ``contains={...}`` / ``contains=[...]`` is JSON containment
  (PostgreSQL ``@>``, MySQL/MariaDB ``JSON_CONTAINS``; SQLite has none, so
  it raises `QueryError` there), while ``contains="text"`` on a key is the
  usual substring test.

``match`` and the ARRAY operators do not apply to JSON values
(`QueryError`). Paths are bound as parameters, never written into the SQL.

    >>> from sqlalchemy import JSON, Column
    >>> from sqlmodel import Field, SQLModel
    >>> from sqlmodel_crud_utils.lookups import parse_lookup
    >>> class Profile(SQLModel, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     data: dict = Field(default_factory=dict, sa_column=Column(JSON))
    >>> lookup = parse_lookup(Profile, "data__settings__theme")
    >>> lookup.json_path, lookup.op
    (('settings', 'theme'), 'eq')
    >>> print(lookup.clause("dark").compile(dialect=_SQLITE))
    CASE WHEN (json_type(profile.data, ?) IN ('text')) THEN json_extract(profile.data, ?) END = ?
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import JSON, BindParameter, Boolean, ColumnElement, Numeric, String, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator, TypeEngine

from ._compat import compiles, construct
from ._memo import memoized
from ._unsupported import UnsupportedSQL
from .exceptions import QueryError
from .operators import Operator, get_operator

if TYPE_CHECKING:
    from .lookups import Lookup

__all__ = [
    "JSON_ONLY_OPERATORS",
    "JsonContains",
    "JsonHasKey",
    "JsonValue",
    "is_json_column",
    "json_lookup_parts",
    "typed_json_lookup",
]

_SQLITE = construct(sqlite.dialect)

#: Operators that exist only on JSON columns (the rest come from the registry).
JSON_ONLY_OPERATORS = frozenset({"has_key"})

#: Registered operators that do not apply to a value extracted from JSON.
_NOT_FOR_JSON = frozenset({"match", "overlap", "contained_by", "len"})

#: Operators whose value is a list of values of one kind.
_LISTS = frozenset({"in", "not_in", "between"})

#: Largest number compared with a JSON number (MySQL and MariaDB compare them
#: as ``DECIMAL(65, 30)``, which holds 35 digits before the point).
_NUMBER_LIMIT = Decimal(10) ** 35


class JsonPath(TypeDecorator[Any]):
    """A JSON path bound as one parameter: a real ``TEXT[]`` on PostgreSQL
    (each key one element, whatever it holds), ``$."a"[0]`` elsewhere (keys
    never hold quotes or backslashes, see `json_lookup_parts`).

    Example:
        >>> JsonPath().process_bind_param(("a", 0), _SQLITE)
        '$."a"[0]'
    """

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(Text()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return [str(item) for item in value]
        return "$" + "".join(
            f"[{item}]" if isinstance(item, int) else f'."{item}"' for item in value
        )


class JsonNumber(Numeric):  # type: ignore[type-arg]
    """The SQL type numbers compared with a JSON number bind as: NUMERIC
    for every Python number (an ``int`` beyond 32 bits included).

    Example:
        >>> JsonNumber().coerce_compared_value(None, 2**40)._type_affinity.__name__
        'Numeric'
    """

    cache_ok = True

    def __init__(self) -> None:
        super().__init__(asdecimal=False)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        return self


_PATH_TYPE = JsonPath()


def is_json_column(column: Any) -> bool:
    """Whether ``column`` (a mapped attribute) holds JSON.

    Example:
        >>> from sqlalchemy import Column, Integer
        >>> is_json_column(Column(JSON)), is_json_column(Column(Integer))
        (True, False)
    """
    return isinstance(getattr(column, "type", None), JSON)


def json_lookup_parts(
    model: type[Any], key: str, names: list[str]
) -> tuple[tuple[str | int, ...], str]:
    """The path and operator of the names after a JSON column in ``key``.

    The last name is the operator when it names one (a registered operator
    or ``has_key``); every other name is a key of the document, a name of
    digits an array index. `QueryError` for an empty or quoted name and for
    an operator that does not apply to JSON values.

    Example:
        >>> json_lookup_parts(dict, "data__tags__0__icontains", ["tags", "0", "icontains"])
        (('tags', 0), 'icontains')
    """
    op = "eq"
    if names and (names[-1] in JSON_ONLY_OPERATORS or get_operator(names[-1]) is not None):
        op, names = names[-1], names[:-1]
    elif names and names[-1] in _NOT_FOR_JSON:
        op = names[-1]
    if op in _NOT_FOR_JSON:
        raise QueryError(
            f"operator {op!r} in '{key}' does not apply to JSON values (to compare a key "
            f"named {op!r}, end the lookup with '__eq')",
            model=model,
            key=key,
        )
    return tuple(_path_item(model, key, name) for name in names), op


def _path_item(model: type[Any], key: str, name: str) -> str | int:
    if not name or '"' in name or "\\" in name:
        raise QueryError(
            f"invalid JSON key {name!r} in '{key}' (keys are non-empty, without quotes "
            "or backslashes)",
            model=model,
            key=key,
        )
    return int(name) if name.isascii() and name.isdigit() else name


# ------------------------------------------------------------ per-value lookups


def typed_json_lookup(lookup: Lookup, value: Any) -> Lookup:
    """The lookup comparing ``value`` with what ``lookup`` (a JSON lookup)
    reaches: its column is the extracted value typed by ``value``'s kind
    (see the module docstring), its operator the one that applies.

    Example:
        >>> from sqlalchemy import Column
        >>> from sqlmodel import Field, SQLModel
        >>> from sqlmodel_crud_utils.lookups import parse_lookup
        >>> class Setting(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        ...     data: dict = Field(default_factory=dict, sa_column=Column(JSON))
        >>> typed_json_lookup(parse_lookup(Setting, "data__level__gt"), 3).python_type is None
        True
    """
    return _typed(lookup.model, (lookup.key, _kind(lookup, value)))


def _kind(lookup: Lookup, value: Any) -> str:
    """What ``value`` is compared as: ``text``, ``number``, ``boolean``,
    ``null`` (``None``, ``isnull``), ``key`` (``has_key``) or
    ``document`` (JSON containment)."""
    op = lookup.op
    if op == "isnull":
        return "null"
    if op == "has_key":
        return "key"
    if op == "contains" and isinstance(value, (dict, list)):
        return "document"
    if not lookup.json_path:
        if op in ("eq", "ne"):  # None: SQL or JSON null; else the column compared as before
            return "null" if value is None else "column"
        raise _whole_field(lookup)
    if op in _LISTS:
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, (list, tuple, set)):
            raise _refused(lookup, value, "a list of values")
        kinds = {_scalar_kind(lookup, item) for item in value}
        if "null" in kinds or len(kinds) > 1:
            raise _refused(lookup, value, "values of one kind: strings, numbers or booleans")
        return kinds.pop() if kinds else "text"
    return _scalar_kind(lookup, value)


def _whole_field(lookup: Lookup) -> QueryError:
    if lookup.op == "contains":
        reason = (
            "contains on a JSON field takes a dict or a list (JSON containment); "
            "to search a key's text, name the key first"
        )
    else:
        reason = (
            f"compares a whole JSON field; compare one of its keys ({lookup.field}__<key>=...) "
            "or use has_key, contains or isnull"
        )
    return QueryError(f"'{lookup.key}' {reason}", model=lookup.model, key=lookup.key)


def _scalar_kind(lookup: Lookup, value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        if isinstance(value, float) and not math.isfinite(value):
            raise _refused(lookup, value, "a finite number")
        if abs(Decimal(value)) >= _NUMBER_LIMIT:
            raise _refused(lookup, value, "a number of at most 35 digits before the point")
        return "number"
    if isinstance(value, str):
        return "text"
    raise _refused(lookup, value, "a string, a number, a boolean or None")


def _refused(lookup: Lookup, value: Any, expected: str) -> QueryError:
    return QueryError(
        f"lookup '{lookup.key}' on a JSON field takes {expected}, got {value!r}",
        model=lookup.model,
        key=lookup.key,
        value=value,
    )


_PYTHON_TYPES: dict[str, type[Any] | None] = {"text": str, "number": None, "boolean": bool}
_SQL_TYPES: dict[str, TypeEngine[Any]] = {
    "text": String(),
    "number": JsonNumber(),
    "boolean": Boolean(),
    "null": String(),
}


@memoized
def _typed(model: type[Any], spec: tuple[str, str]) -> Lookup:
    from .lookups import parse_lookup

    key, kind = spec
    lookup = parse_lookup(model, key)
    path = tuple(lookup.json_path or ())
    column = lookup.column
    if kind == "column":
        return replace(lookup, json_path=None)
    if kind in ("key", "document"):
        build = _has_key if kind == "key" else _contains
        json_operator = Operator(lookup.op, functools.partial(build, path))
        return replace(lookup, operator=json_operator, json_path=None)
    extracted = JsonValue(column, path, kind)
    operator = get_operator(lookup.op)
    if operator is None:  # pragma: no cover (parsed keys name registered operators)
        raise QueryError(f"unknown operator {lookup.op!r}", model=lookup.model, key=key)
    python_type = _PYTHON_TYPES.get(kind)
    if not operator.applies_to(python_type if kind != "null" else None):
        raise QueryError(
            f"operator '{lookup.op}' in '{key}' needs text; compare a string with it",
            model=lookup.model,
            key=key,
        )
    return replace(
        lookup,
        column=cast("Any", extracted),
        python_type=python_type,
        timezone=None,
        int_range=None,
        type_checked=python_type is not None,
        operator=operator,
        bind_type=extracted.type,
        json_path=None,
    )


def _element(column: Any) -> Any:
    """The SQL element of a mapped attribute (or the element itself)."""
    return column.__clause_element__() if hasattr(column, "__clause_element__") else column


def _path_bind(path: tuple[str | int, ...]) -> BindParameter[Any]:
    return BindParameter(None, path, type_=_PATH_TYPE, unique=True)


def _has_key(path: tuple[str | int, ...], lookup: Lookup, value: Any) -> ColumnElement[bool]:
    """``has_key``: a string names a key, an integer an array index."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _refused(lookup, value, "a key (a string, or an integer for an array index)")
    if isinstance(value, str):
        _path_item(lookup.model, lookup.key, value)
    return JsonHasKey(lookup.column, (*path, value))


def _contains(path: tuple[str | int, ...], lookup: Lookup, value: Any) -> ColumnElement[bool]:
    """``contains`` with a dict or a list: JSON containment."""
    return JsonContains(lookup.column, path, value)


# ------------------------------------------------------------------ SQL


class _JsonElement(ColumnElement[Any]):
    """What the JSON elements share: the column (a mapped attribute's SQL
    element) and the path, one bound parameter; they read the column's table."""

    inherit_cache = True
    column: Any
    path: BindParameter[Any]

    def _set_column_and_path(self, column: Any, path: tuple[str | int, ...]) -> None:
        self.column = _element(column)
        self.path = _path_bind(path)

    @property
    def _from_objects(self) -> list[Any]:
        return list(self.column._from_objects)


class JsonValue(_JsonElement):
    """The value at ``path`` of a JSON column when it is of JSON type
    ``kind`` (``text``, ``number``, ``boolean``), else NULL; for kind
    ``null`` the value of any type, NULL when absent or ``null``.

    Example:
        >>> from sqlalchemy import Column
        >>> print(JsonValue(Column("data", JSON), ("a",), "number").compile(dialect=_SQLITE))
        CASE WHEN (json_type(data, ?) IN ('integer', 'real')) THEN json_extract(data, ?) END
    """

    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 (declared so on the base class)
        ("column", InternalTraversal.dp_clauseelement),
        ("path", InternalTraversal.dp_clauseelement),
        ("kind", InternalTraversal.dp_string),
    ]

    def __init__(self, column: Any, path: tuple[str | int, ...], kind: str) -> None:
        self._set_column_and_path(column, path)
        self.kind = kind
        self.type = _SQL_TYPES[kind]


class JsonHasKey(_JsonElement):
    """Whether a JSON column has ``path`` (its last item the key tested).

    Example:
        >>> from sqlalchemy import Column
        >>> print(JsonHasKey(Column("data", JSON), ("a",)).compile(dialect=_SQLITE))
        json_type(data, ?) IS NOT NULL
    """

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True
    _traverse_internals = [  # noqa: RUF012 (declared so on the base class)
        ("column", InternalTraversal.dp_clauseelement),
        ("path", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, path: tuple[str | int, ...]) -> None:
        self._set_column_and_path(column, path)


class JsonContains(_JsonElement):
    """Whether the JSON at ``path`` of a column contains ``document``
    (PostgreSQL ``@>``, MySQL/MariaDB ``JSON_CONTAINS``); SQLite has no JSON
    containment, so compiling it there raises.

    Example:
        >>> from sqlalchemy import Column
        >>> JsonContains(Column("data", JSON), (), {"a": 1}).compile(dialect=_SQLITE)
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils._unsupported.UnsupportedSQL: JSON containment ... not sqlite
    """

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True
    _traverse_internals = [  # noqa: RUF012 (declared so on the base class)
        ("column", InternalTraversal.dp_clauseelement),
        ("path", InternalTraversal.dp_clauseelement),
        ("has_path", InternalTraversal.dp_boolean),
        ("document", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, path: tuple[str | int, ...], document: Any) -> None:
        self._set_column_and_path(column, path)
        self.has_path = bool(path)
        self.document = BindParameter(None, document, type_=JSON(), unique=True)


# The JSON type names each backend reports for the kinds compared.
_TYPES: dict[str, dict[str, tuple[str, ...]]] = {
    "postgresql": {"text": ("string",), "number": ("number",), "boolean": ("boolean",)},
    "sqlite": {"text": ("text",), "number": ("integer", "real"), "boolean": ("true", "false")},
    "mysql": {
        "text": ("STRING",),
        "number": ("INTEGER", "UNSIGNED INTEGER", "DOUBLE", "DECIMAL"),
        "boolean": ("BOOLEAN",),
    },
}


def _guarded(type_of: str, kind: str, dialect: str, value: str) -> str:
    names = ", ".join(f"'{name}'" for name in _TYPES[dialect][kind])
    return f"CASE WHEN ({type_of} IN ({names})) THEN {value} END"


def _parts(element: Any, compiler: Any, **kw: Any) -> tuple[str, str]:
    return compiler.process(element.column, **kw), compiler.process(element.path, **kw)


@compiles(JsonValue, "postgresql")
def _value_postgresql(element: JsonValue, compiler: Any, **kw: Any) -> str:
    column, path = _parts(element, compiler, **kw)
    text = f"({column} #>> {path})"
    if element.kind == "null":
        return text
    column_type = element.column.type.dialect_impl(compiler.dialect)
    typeof = "jsonb_typeof" if isinstance(column_type, postgresql.JSONB) else "json_typeof"
    value = {
        "text": text,
        "number": f"CAST({text} AS NUMERIC)",
        "boolean": f"CAST({text} AS BOOLEAN)",
    }
    return _guarded(
        f"{typeof}({column} #> {path})", element.kind, "postgresql", value[element.kind]
    )


@compiles(JsonValue, "sqlite")
def _value_sqlite(element: JsonValue, compiler: Any, **kw: Any) -> str:
    column, path = _parts(element, compiler, **kw)
    extracted = f"json_extract({column}, {path})"
    if element.kind == "null":
        return extracted
    return _guarded(f"json_type({column}, {path})", element.kind, "sqlite", extracted)


@compiles(JsonValue, "mysql")
@compiles(JsonValue, "mariadb")
def _value_mysql(element: JsonValue, compiler: Any, **kw: Any) -> str:
    column, path = _parts(element, compiler, **kw)
    extracted = f"JSON_EXTRACT({column}, {path})"
    type_of = f"JSON_TYPE({extracted})"
    if element.kind == "null":
        return f"CASE WHEN ({type_of} = 'NULL') THEN NULL ELSE {extracted} END"
    text = f"JSON_UNQUOTE({extracted})"
    value = {
        "text": text,
        "number": f"CAST({text} AS DECIMAL(65, 30))",
        "boolean": f"({text} = 'true')",
    }
    return _guarded(type_of, element.kind, "mysql", value[element.kind])


@compiles(JsonHasKey, "postgresql")
def _has_key_postgresql(element: JsonHasKey, compiler: Any, **kw: Any) -> str:
    column, path = _parts(element, compiler, **kw)
    return f"({column} #> {path}) IS NOT NULL"


@compiles(JsonHasKey, "sqlite")
def _has_key_sqlite(element: JsonHasKey, compiler: Any, **kw: Any) -> str:
    column, path = _parts(element, compiler, **kw)
    return f"json_type({column}, {path}) IS NOT NULL"


@compiles(JsonHasKey, "mysql")
@compiles(JsonHasKey, "mariadb")
def _has_key_mysql(element: JsonHasKey, compiler: Any, **kw: Any) -> str:
    column, path = _parts(element, compiler, **kw)
    return f"JSON_CONTAINS_PATH({column}, 'one', {path}) = 1"


@compiles(JsonContains)
def _contains_unsupported(element: JsonContains, compiler: Any, **kw: Any) -> str:
    if compiler.dialect.name == "default":  # str(q), repr(q): the MySQL form, readable
        return _contains_mysql(element, compiler, **kw)
    raise UnsupportedSQL(
        "JSON containment (contains={...}) needs PostgreSQL, MySQL or MariaDB, "
        f"not {compiler.dialect.name}"
    )


@compiles(JsonContains, "postgresql")
def _contains_postgresql(element: JsonContains, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    if element.has_path:
        column = f"({column} #> {compiler.process(element.path, **kw)})"
    document = compiler.process(element.document, **kw)
    return f"CAST({column} AS JSONB) @> CAST({document} AS JSONB)"


@compiles(JsonContains, "mysql")
@compiles(JsonContains, "mariadb")
def _contains_mysql(element: JsonContains, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    document = compiler.process(element.document, **kw)
    on_path = f", {compiler.process(element.path, **kw)}" if element.has_path else ""
    return f"JSON_CONTAINS({column}, {document}{on_path}) = 1"


@compiles(JsonValue)
@compiles(JsonHasKey)
def _unsupported(element: Any, compiler: Any, **kw: Any) -> str:
    if compiler.dialect.name == "default":  # str(q), repr(q): the SQLite form, readable
        render = _value_sqlite if isinstance(element, JsonValue) else _has_key_sqlite
        return render(element, compiler, **kw)
    raise UnsupportedSQL(f"JSON lookups cannot be written for {compiler.dialect.name}")
