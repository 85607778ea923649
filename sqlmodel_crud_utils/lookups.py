"""Lookups: ``field__op=value`` keys parsed, validated and turned into SQL.

A key is parsed once per model and key (`parse_lookup` is memoized, see
`_memo`); building the clause for a value is the only per-call work. The
key's names are resolved as fields first: relationships are walked, the
first column ends the path, and only the name after it (if any) is read as
an operator from the registry (`register_lookup`). Everything a user can
get wrong raises `QueryError` naming the model, the key and, for an unknown
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import ARRAY, BindParameter, ColumnElement, and_, inspect
from sqlalchemy.orm import InstrumentedAttribute, Mapper, RelationshipProperty
from sqlalchemy.sql import ClauseElement, operators

from ._json_lookups import is_json_column, json_lookup_parts, typed_json_lookup
from ._memo import memoized
from .coercion import (
    aware_utc,
    check_storable,
    coerce_value,
    column_python_type,
    column_timezone,
    integer_range,
    naive_utc,
    numeric_range,
    type_checked,
)
from .exceptions import QueryError
from .fulltext import FullTextMatch
from .operators import (
    MAX_IN_VALUES,
    OPERATORS,
    Operator,
    array_operator,
    get_operator,
    operator_names,
)

__all__ = [
    "MAX_IN_VALUES",
    "MAX_PATH_DEPTH",
    "OPERATORS",
    "FullTextMatch",
    "Lookup",
    "RelatedCriteria",
    "coerce_value",
    "mapper_of",
    "memoized",
    "parse_field",
    "parse_lookup",
    "parse_order_key",
    "parse_relationship_path",
    "primary_key_names",
    "relationship_targets",
]

#: Most relationships a lookup key or an ``include`` path may walk. Deeper
#: paths nest one EXISTS per hop, which databases cap (SQLite's parser
#: overflows at about 10) and no real schema needs.
MAX_PATH_DEPTH = 6

#: Extra criteria for a related model reached through a relationship filter
#: (used for the soft-delete scope); ``None`` adds nothing.
RelatedCriteria = Callable[[type[Any]], "ColumnElement[bool] | None"]


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


@memoized
def _primary_key_names(model: type[Any], _: str) -> tuple[str, ...]:
    mapper = mapper_of(model)
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)


def primary_key_names(model: type[Any]) -> tuple[str, ...]:
    """The attribute names of ``model``'s primary key columns, in key order
    (memoized per model; `QueryError` for a class that is not mapped).

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Gnu(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> primary_key_names(Gnu)
        ('id',)
    """
    return _primary_key_names(model, "")


def _valid_fields(mapper: Mapper[Any]) -> str:
    return ", ".join(sorted(mapper.column_attrs.keys()))


def _valid_relationships(mapper: Mapper[Any]) -> str:
    return ", ".join(sorted(mapper.relationships.keys())) or "(none)"


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
            ``SMALLINT`` / ``BIGINT``); for a ``NUMERIC(p, s)`` column, its
            range; ``None`` for other columns.
        operator: the registered `Operator` building the clause.
        bind_key, bind_type: the name and SQL type of a bound value of the
            column (what ``column == value`` binds; see `bind`).
        json_path: for a lookup into a JSON column, the keys (and array
            indexes) it walks, ``()`` for the whole document; ``None`` for
            any other lookup. How its value is compared depends on the
            value's type (see `for_value`).

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
    int_range: tuple[Any, Any] | None = None
    type_checked: bool = True
    operator: Operator | None = None
    bind_key: str = ""
    bind_type: Any = None
    json_path: tuple[str | int, ...] | None = None

    def for_value(self, value: Any) -> Lookup:
        """The lookup that compares ``value``: itself, except into a JSON
        column, where the value's type decides what is extracted and which
        operator applies (see `sqlmodel_crud_utils._json_lookups`).

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Gar(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> lookup = parse_lookup(Gar, "id")
            >>> lookup.for_value(3) is lookup
            True
        """
        return self if self.json_path is None else typed_json_lookup(self, value)

    def coerce(self, value: Any) -> Any:
        """Coerce one value to this lookup's column type (see `coerce_value`)
        and refuse, as `QueryError`, one the column cannot hold (see `check`).

        Date-times and times are aligned with the column's time-zone
        handling, so they compare the same way on every backend: for a
        column with time zone (SQLModel's default for ``datetime`` fields) a
        value without an offset (a naive `datetime`, a `date`, or a string)
        is taken as UTC; for a column without time zone a string with an
        offset (``...Z``, ``...+02:00``) is converted to UTC and made naive.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Elk(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> parse_lookup(Elk, "id").coerce("7")
            7
        """
        coerced = coerce_value(self.python_type, value, model=self.model, key=self.key)
        if self.timezone is not None:
            coerced = self._aligned(coerced, isinstance(value, str))
        self.check(coerced)
        return coerced

    def _aligned(self, value: Any, from_text: bool) -> Any:
        if self.timezone:
            if type(value) is dt.date and self.python_type is dt.datetime:
                value = dt.datetime.combine(value, dt.time())
            return aware_utc(value)
        return naive_utc(value) if from_text else value

    def check(self, value: Any) -> None:
        """Refuse a value this column cannot be compared with on every
        backend (see `coercion.check_storable`), as `QueryError`.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Yak(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> parse_lookup(Yak, "id").check(2**40)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            sqlmodel_crud_utils.exceptions.QueryError: Yak: value 1099511627776 for 'id' is out ...
        """
        check_storable(
            value,
            self.python_type,
            bounds=self.int_range,
            checked=self.type_checked,
            model=self.model,
            key=self.key,
        )

    def clause(
        self, value: Any, related_criteria: RelatedCriteria | None = None
    ) -> ColumnElement[bool]:
        """Build the boolean SQL clause for ``value``.

        ``related_criteria`` adds criteria for each related model reached
        through a relationship (used to keep soft-deleted rows out; with it,
        a many-to-many through a soft-delete link model follows live links only).

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Ant(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> str(parse_lookup(Ant, "id__lt").clause(3))
            'ant.id < :id_1'
        """
        lookup = self.for_value(value)
        condition = cast("Operator", lookup.operator).build(lookup, value)
        return self.through_hops(condition, related_criteria)

    def through_hops(
        self, condition: ColumnElement[bool], related_criteria: RelatedCriteria | None = None
    ) -> ColumnElement[bool]:
        """``condition`` on the last model, reached from `model` through
        `hops` (an EXISTS per relationship; ``related_criteria`` as in `clause`).

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Emu(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> lookup = parse_lookup(Emu, "id")
            >>> lookup.through_hops(Emu.id > 1) is not None
            True
        """
        from .scopes import live_link

        for hop in reversed(self.hops):
            extra = related_criteria(hop.target) if related_criteria else None
            if extra is not None:
                condition = and_(condition, extra)
            link = live_link(hop.attribute.property) if related_criteria else None
            if link is not None:  # a many-to-many through a soft-delete link model
                condition = and_(condition, link)
            if hop.collection:
                condition = hop.attribute.any(condition)
            else:
                condition = hop.attribute.has(condition)
        return condition

    def bind(self, value: Any, operator: Callable[..., Any] = operators.eq) -> Any:
        """``value`` as the operand of ``column <operator> value``: a bound
        parameter named after the column and typed as SQLAlchemy types it
        (`compared_type`), a list for ``IN`` as one expanding parameter; a
        SQL expression (``Hero.id``, ``func.now()``) as itself.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Okapi(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> parse_lookup(Okapi, "id").bind(3).value
            3
        """
        if is_expression(value):
            return value
        return BindParameter(
            self.bind_key,
            value,
            type_=self.compared_type(operator, value),
            unique=True,
            expanding=operator in EXPANDING,
        )

    def compared_type(self, operator: Callable[..., Any], value: Any) -> Any:
        """The SQL type of a bound ``value`` compared by ``operator`` with
        the column: the column's type, or the one it picks for that value
        (``coerce_compared_value``: a ``datetime`` against a ``DATE``
        column stays a ``DATETIME``), as ``column <operator> value`` does.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Ibex(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> from sqlalchemy import Float
            >>> isinstance(parse_lookup(Ibex, "id").compared_type(operators.gt, 2.5), Float)
            True
        """
        if operator in EXPANDING:
            value = value[0] if value else None
        return self.bind_type.coerce_compared_value(operator, value)


#: The operators whose operand is a list bound as one expanding parameter.
EXPANDING = frozenset({operators.in_op, operators.not_in_op})


def is_expression(value: Any) -> bool:
    """Whether ``value`` is (or, for a list, holds) a SQL expression rather
    than a value to bind.

    Example:
        >>> from sqlalchemy import func
        >>> is_expression(func.now()), is_expression([1, func.now()]), is_expression(3)
        (True, True, False)
    """
    if isinstance(value, list | tuple):
        return any(is_expression(item) for item in value)
    return isinstance(value, ClauseElement) or hasattr(value, "__clause_element__")


def _check_name(model: type[Any], key: str, name: str) -> None:
    if not name or name.startswith("_") or not name.isidentifier():
        raise QueryError(
            f"invalid field name {name!r} in '{key}'; valid fields: "
            f"{_valid_fields(mapper_of(model))}",
            model=model,
            key=key,
        )


def _hop(current: type[Any], key: str, name: str, depth: int) -> _Hop:
    """The relationship ``name`` of ``current``, or `QueryError`."""
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
    if depth >= MAX_PATH_DEPTH:
        raise QueryError(
            f"'{key}' walks more than {MAX_PATH_DEPTH} relationships (the limit, "
            "MAX_PATH_DEPTH); filter or load through a shorter path",
            model=current,
            key=key,
        )
    return _Hop(getattr(current, name), prop.mapper.class_, bool(prop.uselist))


def _walk(model: type[Any], key: str, names: list[str]) -> tuple[tuple[_Hop, ...], type[Any]]:
    hops: list[_Hop] = []
    current = model
    for name in names:
        hop = _hop(current, key, name, len(hops))
        hops.append(hop)
        current = hop.target
    return tuple(hops), current


def _split_key(key: str) -> list[str]:
    return key.split("__")


def _unknown_operator(owner: type[Any], key: str, name: str) -> QueryError:
    return QueryError(
        f"unknown operator {name!r} in '{key}'; operators: {', '.join(operator_names())}",
        model=owner,
        key=key,
    )


@memoized
def parse_lookup(model: type[Any], key: str) -> Lookup:
    """Parse ``field``, ``field__op`` or ``rel__field__op`` for ``model``.

    Names are resolved as fields first (relationships, then the column that
    ends the path); only a name after that column is an operator. Memoized
    per model and key. Raises `QueryError` for an unknown field,
    relationship or operator, for an operator that does not apply to the
    column's type, for a path of more than `MAX_PATH_DEPTH` relationships,
    and for names that are not columns (methods, ``metadata``,
    ``model_config``, anything starting with ``_``).

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
    names = _split_key(key)
    hops: list[_Hop] = []
    current = model
    for index, name in enumerate(names):
        _check_name(current, key, name)
        mapper = mapper_of(current)
        if name in mapper.column_attrs:
            rest = names[index + 1 :]
            if is_json_column(getattr(current, name)):
                return _json_lookup(model, key, tuple(hops), current, name, rest)
            if len(rest) > 1 or (rest and _operator(current, name, rest[0]) is None):
                raise _unknown_operator(current, key, rest[0])
            return _lookup(model, key, tuple(hops), current, name, rest[0] if rest else "eq")
        last = index == len(names) - 1
        operator_next = index == len(names) - 2 and get_operator(names[-1]) is not None
        if name in mapper.relationships and not last:
            hop = _hop(current, key, name, len(hops))
            hops.append(hop)
            current = hop.target
            continue
        if name not in mapper.relationships and not (last or operator_next):
            _hop(current, key, name, len(hops))  # raises: unknown relationship
        hint = (
            f" ({name!r} is a relationship: filter on one of its fields)"
            if name in mapper.relationships
            else ""
        )
        raise QueryError(
            f"unknown field {name!r} in '{key}'{hint}; valid fields of "
            f"{current.__name__}: {_valid_fields(mapper)}",
            model=current,
            key=key,
        )
    raise QueryError(f"empty lookup key {key!r}", model=model, key=key)  # pragma: no cover


def _operator(model: type[Any], field: str, op: str) -> Operator | None:
    """Operator ``op`` of ``model.field``: an ARRAY column's own first."""
    if isinstance(getattr(model, field).type, ARRAY):
        return array_operator(op) or get_operator(op)
    return get_operator(op)


def _lookup(
    model: type[Any], key: str, hops: tuple[_Hop, ...], target: type[Any], field: str, op: str
) -> Lookup:
    operator = _operator(target, field, op)
    if operator is None:
        raise _unknown_operator(target, key, op)
    column: InstrumentedAttribute[Any] = getattr(target, field)
    python_type = column_python_type(column)
    if not operator.applies_to(python_type):
        kinds = " or ".join(kind.__name__ for kind in operator.types or ())
        raise QueryError(
            f"operator '{op}' in '{key}' needs a {'text' if kinds == 'str' else kinds} field; "
            f"{field!r} is {cast('type[Any]', python_type).__name__}",
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
        column_timezone(column),
        integer_range(column) or numeric_range(column),
        type_checked(column),
        operator,
        getattr(expression := column.expression, "key", None) or field,
        expression.type,
    )


def _json_lookup(
    model: type[Any],
    key: str,
    hops: tuple[_Hop, ...],
    target: type[Any],
    field: str,
    rest: list[str],
) -> Lookup:
    """A lookup into JSON column ``field``: its column facts, the path and
    operator ``rest`` names (see `json_lookup_parts`)."""
    path, op = json_lookup_parts(target, key, rest)
    column = _lookup(model, key, hops, target, field, "eq")
    return replace(column, op=op, operator=get_operator(op) or column.operator, json_path=path)


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
