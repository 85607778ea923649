"""Lookups: ``field__op=value`` keys parsed, validated and turned into SQL.

A key is parsed once per model and key (`parse_lookup` is cached); building
the clause for a value is the only per-call work. Everything a user can get
wrong raises `QueryError` naming the model, the key and, for an unknown
field, the valid ones.

    >>> from sqlmodel import Field, SQLModel
    >>> class Pet(SQLModel, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     age: int = 0
    >>> lookup = parse_lookup(Pet, "age__gte")
    >>> lookup.field, lookup.op
    ('age', 'gte')
    >>> str(lookup.clause("3"))
    'pet.age >= :age_1'
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import math
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, and_, false, inspect
from sqlalchemy.orm import InstrumentedAttribute, Mapper, RelationshipProperty
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.expression import ColumnElement as _ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    SmallInteger,
    Time,
    TypeDecorator,
)

from ._compat import compiles
from .exceptions import QueryError

__all__ = [
    "OPERATORS",
    "Lookup",
    "RelatedCriteria",
    "coerce_value",
    "mapper_of",
    "parse_field",
    "parse_lookup",
    "parse_order_key",
    "parse_relationship_path",
    "relationship_targets",
]

#: Every operator a lookup key may end with (``field__op``).
OPERATORS: frozenset[str] = frozenset(
    {
        "eq",
        "ne",
        "lt",
        "lte",
        "gt",
        "gte",
        "in",
        "not_in",
        "like",
        "ilike",
        "contains",
        "icontains",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
        "isnull",
        "between",
        "match",
    }
)

_TEXT_OPERATORS = frozenset(
    {
        "like",
        "ilike",
        "contains",
        "icontains",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
        "match",
    }
)

#: Values accepted for a column of a Python type, beyond its own instances.
_ACCEPTED: dict[type[Any], tuple[type[Any], ...]] = {
    int: (int, float, decimal.Decimal),
    float: (int, float, decimal.Decimal),
    decimal.Decimal: (int, float, decimal.Decimal),
    dt.datetime: (dt.date,),
}

#: Most values an ``in`` / ``not_in`` lookup takes: each is a bound parameter,
#: and SQLite allows 32,766 per statement (PostgreSQL and MySQL 65,535).
MAX_IN_VALUES = 30_000

_TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})

#: Extra criteria for a related model reached through a relationship filter
#: (used for the soft-delete scope); ``None`` adds nothing.
RelatedCriteria = Callable[[type[Any]], "ColumnElement[bool] | None"]


_R = TypeVar("_R")


def memoized(function: Callable[[type[Any], str], _R]) -> Callable[[type[Any], str], _R]:
    """Cache ``function(model, key)`` forever: valid keys are bounded by the
    schema, and invalid ones raise before anything is stored."""
    memo: dict[tuple[type[Any], str], _R] = {}

    @functools.wraps(function)
    def lookup(model: type[Any], key: str) -> _R:
        try:
            return memo[model, key]
        except KeyError:
            result = memo[model, key] = function(model, key)
            return result

    return lookup


def mapper_of(model: Any) -> Mapper[Any]:
    """Return the SQLAlchemy mapper of a table model, or raise `QueryError`.

    Example:
        >>> mapper_of(int)
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils.exceptions.QueryError: int is not a mapped table model
    """
    mapper = inspect(model, raiseerr=False) if isinstance(model, type) else None
    if not isinstance(mapper, Mapper):
        name = getattr(model, "__name__", repr(model))
        raise QueryError(f"{name} is not a mapped table model", model=None, key=None)
    return mapper


def _valid_fields(mapper: Mapper[Any]) -> str:
    return ", ".join(sorted(mapper.column_attrs.keys()))


def _valid_relationships(mapper: Mapper[Any]) -> str:
    return ", ".join(sorted(mapper.relationships.keys())) or "(none)"


def _naive_utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, dt.time) and value.tzinfo is not None:
        moment = dt.datetime.combine(dt.date(2000, 1, 1), value)
        return moment.astimezone(dt.timezone.utc).time()
    return value


def _aware_utc(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.time)) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _temporal_timezone(attr: InstrumentedAttribute[Any]) -> bool | None:
    try:
        column_type = attr.property.columns[0].type
    except (AttributeError, IndexError):
        return None
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, (DateTime, Time)):
        return bool(column_type.timezone)
    return None


def _column_python_type(attr: InstrumentedAttribute[Any]) -> type[Any] | None:
    try:
        column_type = attr.property.columns[0].type
        if isinstance(column_type, TypeDecorator) and not _own_python_type(column_type):
            column_type = column_type.impl_instance
        python_type = column_type.python_type
    except (NotImplementedError, AttributeError, IndexError):
        return None
    return None if python_type is object else cast("type[Any]", python_type)


def _own_python_type(column_type: TypeDecorator[Any]) -> bool:
    return type(column_type).python_type is not TypeDecorator.python_type


def _type_checked(attr: InstrumentedAttribute[Any]) -> bool:
    """Whether values can be checked against the column's Python type: not
    for a `TypeDecorator` that converts values on the way in
    (``process_bind_param``) without saying what it takes (``python_type``),
    like SQLAlchemy's GUID recipe over ``CHAR(32)``."""
    column_type = attr.property.columns[0].type
    if not isinstance(column_type, TypeDecorator):
        return True
    converts = type(column_type).process_bind_param is not TypeDecorator.process_bind_param
    return not converts or _own_python_type(column_type)


@dataclass(frozen=True, slots=True)
class _Hop:
    attribute: InstrumentedAttribute[Any]
    target: type[Any]
    collection: bool


@dataclass(frozen=True, slots=True)
class Lookup:
    """A parsed and validated lookup key.

    Attributes:
        model: the model the key starts from.
        key: the key as given (``"team__name__icontains"``).
        hops: the relationships walked before the field.
        field: the column name on the last model.
        op: the operator (``"eq"`` when none was given).
        column: the mapped column attribute.
        python_type: the column's Python type, used to coerce strings.
        timezone: for a date-time or time column, whether it has a time
            zone; ``None`` for other columns.
        type_checked: whether values are checked against ``python_type``
            (not for a `TypeDecorator` converting values it does not type).
        int_range: for an integer column, the smallest and largest value
            every backend stores in it (32-bit ``INTEGER`` unless declared
            ``SMALLINT`` / ``BIGINT``); ``None`` for other columns.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Cat(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> parse_lookup(Cat, "id__in").clause(["1", "2"]).right.value
        [1, 2]
    """

    model: type[Any]
    key: str
    hops: tuple[_Hop, ...]
    field: str
    op: str
    column: InstrumentedAttribute[Any]
    python_type: type[Any] | None

    timezone: bool | None = None
    int_range: tuple[int, int] | None = None
    type_checked: bool = True

    def coerce(self, value: Any) -> Any:
        """Coerce one value to this lookup's column type (see `coerce_value`).

        Strings for date-time and time columns are aligned with the column's
        time-zone handling, so web parameters compare the same way on every
        backend: for a column with time zone (SQLModel's default for
        ``datetime`` fields) a string without an offset is taken as UTC; for
        a column without time zone a string with an offset (``...Z``,
        ``...+02:00``) is converted to UTC and made naive.
        """
        coerced = coerce_value(self.python_type, value, model=self.model, key=self.key)
        self._check_storable(coerced)
        if self.timezone is None or not isinstance(value, str):
            return coerced
        return _aware_utc(coerced) if self.timezone else _naive_utc(coerced)

    def _check_storable(self, value: Any) -> None:
        """Refuse a value the column cannot be compared with on every backend
        (so it is a `QueryError`, not a driver error): a value of the wrong
        type (a list, a dict, text for a number ...; any number fits a numeric
        column, a date fits a date-time one), a NaN or infinite float, an
        integer beyond the column's range, or text with a NUL character
        (PostgreSQL rejects it). ``None`` and SQL expressions pass."""
        kind = type(value)
        if (
            kind is self.python_type
            and kind is not float
            and self.int_range is None
            and (kind is not str or "\x00" not in value)
        ):
            return  # the common case: a value of the column's own type
        if (
            value is None
            or isinstance(value, ClauseElement)
            or hasattr(value, "__clause_element__")
        ):
            return
        problem = None
        expected = self.python_type
        if isinstance(value, str) and "\x00" in value:
            problem = "contains a NUL character"
        elif isinstance(value, float) and not math.isfinite(value):
            problem = "is not a finite number"
        elif (
            expected is not None
            and self.type_checked
            and not isinstance(value, _ACCEPTED.get(expected, expected))
        ):
            problem = f"must be {expected.__name__}, got {type(value).__name__}"
        elif self.int_range is not None and isinstance(value, int) and not isinstance(value, bool):
            low, high = self.int_range
            if not low <= value <= high:
                problem = f"is out of range ({low} to {high})"
        if problem is not None:
            raise QueryError(
                f"value {value!r} for '{self.key}' {problem}",
                model=self.model,
                key=self.key,
                value=value,
            )

    def clause(
        self, value: Any, related_criteria: RelatedCriteria | None = None
    ) -> ColumnElement[bool]:
        """Build the boolean SQL clause for ``value``.

        ``related_criteria`` adds criteria for each related model reached
        through a relationship (used to keep soft-deleted rows out).
        """
        condition = self._column_clause(value)
        for hop in reversed(self.hops):
            extra = related_criteria(hop.target) if related_criteria else None
            if extra is not None:
                condition = and_(condition, extra)
            if hop.collection:
                condition = hop.attribute.any(condition)
            else:
                condition = hop.attribute.has(condition)
        return condition

    def _column_clause(self, value: Any) -> ColumnElement[bool]:
        column = self.column
        op = self.op
        if op in ("in", "not_in"):
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise QueryError(
                    f"lookup '{self.key}' takes a list of values, got {value!r}",
                    model=self.model,
                    key=self.key,
                    value=value,
                )
            values = [self.coerce(item) for item in value]
            if len(values) > MAX_IN_VALUES:
                raise QueryError(
                    f"lookup '{self.key}' takes at most {MAX_IN_VALUES:,} values (each is a "
                    f"bound parameter), got {len(values):,}; query in chunks",
                    model=self.model,
                    key=self.key,
                )
            return column.in_(values) if op == "in" else column.not_in(values)
        if op == "isnull":
            flag = coerce_value(bool, value, model=self.model, key=self.key)
            if not isinstance(flag, bool):
                raise QueryError(
                    f"lookup '{self.key}' takes true or false, got {value!r}",
                    model=self.model,
                    key=self.key,
                    value=value,
                )
            return column.is_(None) if flag else column.is_not(None)
        if op == "between":
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise QueryError(
                    f"lookup '{self.key}' takes a pair (low, high), got {value!r}",
                    model=self.model,
                    key=self.key,
                    value=value,
                )
            pair = list(value)
            if len(pair) != 2:
                raise QueryError(
                    f"lookup '{self.key}' takes a pair (low, high), got {len(pair)} values",
                    model=self.model,
                    key=self.key,
                    value=value,
                )
            return column.between(self.coerce(pair[0]), self.coerce(pair[1]))
        if op in _TEXT_OPERATORS:
            if not isinstance(value, str):
                raise QueryError(
                    f"lookup '{self.key}' takes a string, got {value!r}",
                    model=self.model,
                    key=self.key,
                    value=value,
                )
            self._check_storable(value)
            return _text_clause(column, op, value)
        return _COMPARISONS[op](column, self.coerce(value))


def _text_clause(column: InstrumentedAttribute[Any], op: str, value: str) -> ColumnElement[bool]:
    if op == "like":
        return column.like(value)
    if op == "ilike":
        return column.ilike(value)
    if op == "contains":
        return column.contains(value, autoescape=True)
    if op == "icontains":
        return column.icontains(value, autoescape=True)
    if op == "startswith":
        return column.startswith(value, autoescape=True)
    if op == "istartswith":
        return column.istartswith(value, autoescape=True)
    if op == "endswith":
        return column.endswith(value, autoescape=True)
    if op == "iendswith":
        return column.iendswith(value, autoescape=True)
    return FullTextMatch(column, value)


_COMPARISONS: dict[str, Callable[[InstrumentedAttribute[Any], Any], ColumnElement[bool]]] = {
    "eq": lambda column, value: column == value,
    "ne": lambda column, value: column != value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
}


#: InnoDB's default full-text stopwords: a required (``+``) stopword or a
#: word shorter than ``innodb_ft_min_token_size`` (3) would match nothing.
_INNODB_STOPWORD_TEXT = (
    "a about an are as at be by com de en for from how i in is it la of on or "
    "that the this to was what when where who will with und www"
)
_INNODB_STOPWORDS = frozenset(_INNODB_STOPWORD_TEXT.split())
_MIN_WORD = 3


def _words(value: str) -> list[str]:
    return re.findall(r"\w+", value)


class FullTextMatch(_ColumnElement[bool]):
    """Full-text search of one text column: a row matches when its text
    contains every *searchable word* of the value, case-insensitively.

    The searchable words are the same on every backend: the value's runs of
    letters and digits, without words shorter than 3 characters and
    without InnoDB's default stopwords (``the``, ``of``, ``with``...), which
    MariaDB does not index. Anything else in the value (quotes, ``+ - * ~``
    and other boolean-mode operators) is ignored, so user input is safe to
    pass. A value without a searchable word (``""``, ``"%"``, ``"the"``,
    ``"x' OR 1=1 --"``) matches nothing. Compiled per dialect:

    * PostgreSQL: ``column @@ plainto_tsquery(:words)`` with the server's
      ``default_text_search_config`` (usually ``english``: words are
      stemmed, so ``wizards`` also finds ``wizard``).
    * MySQL/MariaDB: ``MATCH (column) AGAINST (:terms IN BOOLEAN MODE)``
      with ``+word`` for each word (the column needs a ``FULLTEXT`` index).
      Whole words, no stemming; InnoDB indexes rows at commit, so rows
      written in the current transaction are not found yet.
    * SQLite has no full-text search on ordinary tables: each word must
      occur as a case-insensitive substring, so ``wiz`` finds ``wizard``
      there only.

    The number of searchable words is part of the statement's shape:
    values with the same word count share one cached compiled statement.

    Example:
        >>> from sqlalchemy import column
        >>> from sqlalchemy.dialects.postgresql import psycopg
        >>> str(FullTextMatch(column("bio"), "wizard").compile(dialect=psycopg.dialect()))
        'bio @@ plainto_tsquery(%(bio_1)s::VARCHAR)'
        >>> match = FullTextMatch(column("bio"), "the -old 'wizard' of Oz")
        >>> match.words, match.mysql_terms
        ('old wizard', '+old +wizard')
    """

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True
    # Lets SQLAlchemy copy and adapt the element (e.g. inside ``has()``/``any()``).
    _traverse_internals = [  # noqa: RUF012 (declared so on the base class)
        ("_expression", InternalTraversal.dp_clauseelement),
        ("_mysql", InternalTraversal.dp_clauseelement),
        ("_fallback", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, value: str) -> None:
        self.column = column
        self.value = value
        words = [
            word
            for word in _words(value)
            if len(word) >= _MIN_WORD and word.lower() not in _INNODB_STOPWORDS
        ]
        self.words = " ".join(words)
        self.mysql_terms = " ".join(f"+{word}" for word in words)
        self._expression = column.match(self.words) if words else false()
        self._mysql = column.match(self.mysql_terms) if words else false()
        substrings = [column.icontains(word, autoescape=True) for word in words]
        self._fallback = and_(*substrings) if substrings else false()

    @property
    def _from_objects(self) -> list[Any]:
        return list(self._expression._from_objects)

    def _gen_cache_key(self, anon_map: Any, bindparams: list[Any]) -> Any:
        # Every rendering goes into the key, so that the bound values of
        # whichever one a dialect compiles are refreshed on a cache hit.
        return (
            FullTextMatch,
            self._expression._gen_cache_key(anon_map, bindparams),
            self._mysql._gen_cache_key(anon_map, bindparams),
            self._fallback._gen_cache_key(anon_map, bindparams),
        )


@compiles(FullTextMatch)
def _compile_match(element: FullTextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element._expression, **kw)


@compiles(FullTextMatch, "mysql")
@compiles(FullTextMatch, "mariadb")
def _compile_match_mysql(element: FullTextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element._mysql, **kw)


@compiles(FullTextMatch, "sqlite")
def _compile_match_sqlite(element: FullTextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element._fallback, **kw)


def coerce_value(
    python_type: type[Any] | None, value: Any, *, model: Any = None, key: str | None = None
) -> Any:
    """Coerce a string to ``python_type``; any other value passes unchanged.

    Web query parameters arrive as strings; this turns ``"42"`` into ``42``
    for an integer column, ``"2024-01-31"`` into a `date`, ``"true"`` into
    ``True`` and so on (int, float, Decimal, bool, date, datetime in ISO 8601,
    time, UUID, Enum by value or name), a number to the Enum member with
    that value, and 0/1 to a bool. A value that cannot be coerced raises `QueryError`.

    Example:
        >>> coerce_value(int, "42"), coerce_value(bool, "off")
        (42, False)
    """
    if python_type is None or python_type is str:
        return value
    try:
        if isinstance(value, str):
            return _parse(python_type, value)
        if (
            _is_enum(python_type)
            and isinstance(value, (int, float))
            and not isinstance(value, python_type)
        ):
            return python_type(value)  # a member's value, e.g. 2 for an IntEnum
        if python_type is bool and type(value) is int and value in (0, 1):
            return bool(value)
        return value
    except (ValueError, TypeError, ArithmeticError, KeyError) as exc:
        raise QueryError(
            f"cannot use {value!r} for '{key}': expected {python_type.__name__}",
            model=model,
            key=key,
            value=value,
        ) from exc


def _is_enum(python_type: type[Any]) -> bool:
    return isinstance(python_type, type) and issubclass(python_type, enum.Enum)


def _parse(python_type: type[Any], text: str) -> Any:
    if python_type is bool:
        word = text.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise ValueError(text)
    if python_type is int:
        return int(text)
    if python_type is float:
        real = float(text)
        if not math.isfinite(real):
            raise ValueError(text)
        return real
    if python_type is decimal.Decimal:
        number = decimal.Decimal(text)
        if not number.is_finite():
            raise ValueError(text)
        return number
    if python_type is dt.datetime:
        return dt.datetime.fromisoformat(_iso(text))
    if python_type is dt.date:
        return dt.date.fromisoformat(text)
    if python_type is dt.time:
        return dt.time.fromisoformat(_iso(text))
    if python_type is uuid.UUID:
        return uuid.UUID(text)
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        return _parse_enum(python_type, text)
    return text


def _parse_enum(enum_type: type[enum.Enum], text: str) -> enum.Enum:
    # A value matches first (also a non-string one by its text, ``"2"`` for
    # ``IntEnum``), then a member name.
    for member in enum_type:
        if member.value == text or str(member.value) == text:
            return member
    return enum_type[text]


def _iso(text: str) -> str:
    return text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text


def _split_operator(key: str) -> tuple[list[str], str]:
    parts = key.split("__")
    if len(parts) > 1 and parts[-1] in OPERATORS:
        return parts[:-1], parts[-1]
    return parts, "eq"


def _check_name(model: type[Any], key: str, name: str) -> None:
    if not name or name.startswith("_") or not name.isidentifier():
        raise QueryError(
            f"invalid field name {name!r} in '{key}'; valid fields: "
            f"{_valid_fields(mapper_of(model))}",
            model=model,
            key=key,
        )


def _walk(model: type[Any], key: str, names: list[str]) -> tuple[tuple[_Hop, ...], type[Any]]:
    hops: list[_Hop] = []
    current = model
    for name in names:
        _check_name(current, key, name)
        mapper = mapper_of(current)
        prop = mapper.relationships.get(name)
        if prop is None:
            raise QueryError(
                f"unknown relationship {name!r} in '{key}'; "
                f"relationships of {current.__name__}: {_valid_relationships(mapper)}",
                model=current,
                key=key,
            )
        target = prop.mapper.class_
        hops.append(_Hop(getattr(current, name), target, bool(prop.uselist)))
        current = target
    return tuple(hops), current


@memoized
def parse_lookup(model: type[Any], key: str) -> Lookup:
    """Parse ``field``, ``field__op`` or ``rel__field__op`` for ``model``.

    Cached per model and key. Raises `QueryError` for an unknown field,
    relationship or operator, and for names that are not columns (methods,
    ``metadata``, ``model_config``, anything starting with ``_``).

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Dog(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> parse_lookup(Dog, "name")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils.exceptions.QueryError: Dog: unknown field 'name' ... id
    """
    if not isinstance(key, str):
        raise QueryError(f"lookup keys are strings, got {key!r}", model=model, key=str(key))
    names, op = _split_operator(key)
    *path, field = names
    if path and op == "eq":
        _, owner = _walk(model, key, path[:-1])
        _check_name(owner, key, path[-1])
        if path[-1] in mapper_of(owner).column_attrs:
            raise QueryError(
                f"unknown operator {field!r} in '{key}'; operators: {', '.join(sorted(OPERATORS))}",
                model=owner,
                key=key,
            )
    hops, target = _walk(model, key, path)
    _check_name(target, key, field)
    mapper = mapper_of(target)
    if field not in mapper.column_attrs:
        hint = (
            f" ({field!r} is a relationship: filter on one of its fields)"
            if field in mapper.relationships
            else ""
        )
        raise QueryError(
            f"unknown field {field!r} in '{key}'{hint}; valid fields of "
            f"{target.__name__}: {_valid_fields(mapper)}",
            model=target,
            key=key,
        )
    column: InstrumentedAttribute[Any] = getattr(target, field)
    python_type = _column_python_type(column)
    if op in _TEXT_OPERATORS and python_type is not None and python_type is not str:
        raise QueryError(
            f"operator '{op}' in '{key}' needs a text field; {field!r} is {python_type.__name__}",
            model=target,
            key=key,
        )
    return Lookup(
        model,
        key,
        hops,
        field,
        op,
        column,
        python_type,
        _temporal_timezone(column),
        _integer_range(column),
        _type_checked(column),
    )


def _integer_range(attr: InstrumentedAttribute[Any]) -> tuple[int, int] | None:
    column_type = attr.property.columns[0].type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if not isinstance(column_type, Integer):
        return None
    if isinstance(column_type, BigInteger):
        bits = 64
    elif isinstance(column_type, SmallInteger):
        bits = 16
    else:
        bits = 32
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


@memoized
def parse_field(model: type[Any], name: str) -> InstrumentedAttribute[Any]:
    """The column attribute ``name`` of ``model``, or `QueryError`.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Eel(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> parse_field(Eel, "id").key
        'id'
    """
    if not isinstance(name, str):
        raise QueryError(f"field names are strings, got {name!r}", model=model, key=str(name))
    _check_name(model, name, name)
    mapper = mapper_of(model)
    if name not in mapper.column_attrs:
        raise QueryError(
            f"unknown field {name!r}; valid fields: {_valid_fields(mapper)}",
            model=model,
            key=name,
        )
    return cast("InstrumentedAttribute[Any]", getattr(model, name))


@memoized
def parse_order_key(model: type[Any], key: str) -> tuple[InstrumentedAttribute[Any], bool]:
    """Parse an ordering key: ``"age"`` (ascending) or ``"-age"`` (descending).

    Returns the column attribute and whether the order is descending.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Owl(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> parse_order_key(Owl, "-id")[1]
        True
    """
    descending = key.startswith("-")
    name = key[1:] if descending or key.startswith("+") else key
    return parse_field(model, name), descending


@memoized
def parse_relationship_path(model: type[Any], path: str) -> tuple[InstrumentedAttribute[Any], ...]:
    """Parse a dotted relationship path (``"team.members"``).

    Example:
        >>> parse_relationship_path(int, "x")
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils.exceptions.QueryError: int is not a mapped table model
    """
    mapper_of(model)
    names = path.split(".") if isinstance(path, str) else []
    if not names or not all(names):
        raise QueryError(f"invalid relationship path {path!r}", model=model, key=str(path))
    hops, _ = _walk(model, path, names)
    return tuple(hop.attribute for hop in hops)


def relationship_targets(model: type[Any]) -> Iterable[type[Any]]:
    """Every model reachable from ``model`` through relationships, ``model``
    included (each once).

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Bee(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> list(relationship_targets(Bee)) == [Bee]
        True
    """
    seen: dict[type[Any], None] = {}
    pending = [model]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen[current] = None
        prop: RelationshipProperty[Any]
        for prop in mapper_of(current).relationships:
            pending.append(prop.mapper.class_)
    return list(seen)
