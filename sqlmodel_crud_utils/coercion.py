"""Values coerced and checked by column type, before they reach the database.

Web query parameters arrive as strings: `coerce_value` turns them into the
column's Python type. `check_storable` then refuses, as `QueryError`, any
value a backend would reject or compare wrongly (wrong type, NaN, an integer
beyond the column, text with NUL or a lone surrogate ...), so no such value
ever surfaces as a driver error. The ``column_*`` helpers read what a column
takes from its SQLAlchemy type (once per lookup key; `Lookup` keeps it).

    >>> coerce_value(int, "42"), coerce_value(bool, "off")
    (42, False)
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import uuid
from collections.abc import Collection
from typing import Any, cast

from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import (
    BigInteger,
    DateTime,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Time,
    TypeDecorator,
    _Binary,
)

from .exceptions import QueryError

__all__ = [
    "MAX_ROWS",
    "TRUE_WORDS",
    "aware_utc",
    "choice",
    "check_storable",
    "coerce_value",
    "column_python_type",
    "column_timezone",
    "integer_range",
    "naive_utc",
    "numeric_range",
    "positive_int",
    "type_checked",
    "utf8_encodable",
]

#: Values accepted for a column of a Python type, beyond its own instances.
_ACCEPTED: dict[type[Any], tuple[type[Any], ...]] = {
    int: (int, float, decimal.Decimal),
    float: (int, float, decimal.Decimal),
    decimal.Decimal: (int, float, decimal.Decimal),
    dt.datetime: (dt.date,),
}

#: Words read as ``True`` (case-insensitive) where a bool is expected.
TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})


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
        if word in TRUE_WORDS:
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
    if _is_enum(python_type):
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


def naive_utc(value: Any) -> Any:
    """A date-time or time with an offset, converted to UTC and made naive.

    Example:
        >>> naive_utc(dt.datetime(2024, 1, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2))))
        datetime.datetime(2024, 1, 1, 0, 0)
    """
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, dt.time) and value.tzinfo is not None:
        moment = dt.datetime.combine(dt.date(2000, 1, 1), value)
        return moment.astimezone(dt.timezone.utc).time()
    return value


def aware_utc(value: Any) -> Any:
    """A naive date-time or time, taken as UTC.

    Example:
        >>> aware_utc(dt.time(12)).tzinfo
        datetime.timezone.utc
    """
    if isinstance(value, (dt.datetime, dt.time)) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _column_type(attr: InstrumentedAttribute[Any]) -> Any:
    return attr.property.columns[0].type


def _own_python_type(column_type: TypeDecorator[Any]) -> bool:
    return type(column_type).python_type is not TypeDecorator.python_type


def column_timezone(attr: InstrumentedAttribute[Any]) -> bool | None:
    """For a date-time or time column, whether it stores a time zone;
    ``None`` for other columns.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Tick(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> column_timezone(Tick.id) is None
        True
    """
    try:
        column_type = _column_type(attr)
    except (AttributeError, IndexError):
        return None
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, (DateTime, Time)):
        return bool(column_type.timezone)
    return None


def column_python_type(attr: InstrumentedAttribute[Any]) -> type[Any] | None:
    """The Python type a column holds, ``None`` when its type does not say.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Tock(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> column_python_type(Tock.id)
        <class 'int'>
    """
    try:
        column_type = _column_type(attr)
        if isinstance(column_type, TypeDecorator) and not _own_python_type(column_type):
            column_type = column_type.impl_instance
        python_type = column_type.python_type
    except (NotImplementedError, AttributeError, IndexError):
        return None
    return None if python_type is object else cast("type[Any]", python_type)


def type_checked(attr: InstrumentedAttribute[Any]) -> bool:
    """Whether values can be checked against the column's Python type: not
    for a `TypeDecorator` over a text or binary type that converts values on
    the way in (``process_bind_param``) without saying what it takes
    (``python_type``), like SQLAlchemy's GUID recipe over ``CHAR(32)``. A
    converting decorator over any other type (SQLModel's ``UTCDateTime``
    over ``DateTime``) takes that type's values, so they are checked.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Tuck(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> type_checked(Tuck.id)
        True
    """
    column_type = _column_type(attr)
    if not isinstance(column_type, TypeDecorator):
        return True
    converts = type(column_type).process_bind_param is not TypeDecorator.process_bind_param
    stored_as_text = isinstance(column_type.impl_instance, (String, _Binary))
    return not converts or not stored_as_text or _own_python_type(column_type)


def integer_range(attr: InstrumentedAttribute[Any]) -> tuple[int, int] | None:
    """For an integer column, the smallest and largest value every backend
    stores in it (32-bit ``INTEGER`` unless declared ``SMALLINT`` /
    ``BIGINT``); ``None`` for other columns.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Tack(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> integer_range(Tack.id)
        (-2147483648, 2147483647)
    """
    column_type = _column_type(attr)
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


def utf8_encodable(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8 (no lone surrogate).

    Example:
        >>> utf8_encodable("ok"), utf8_encodable("\\ud800")
        (True, False)
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def numeric_range(
    attr: InstrumentedAttribute[Any],
) -> tuple[decimal.Decimal, decimal.Decimal] | None:
    """For a fixed-point ``NUMERIC(precision, scale)`` column, the smallest
    and largest value it holds; ``None`` for other columns.

    Example:
        >>> from sqlalchemy import Numeric
        >>> from sqlmodel import Field, SQLModel
        >>> class Tip(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        ...     amount: float = Field(sa_type=Numeric(5, 2))
        >>> numeric_range(Tip.amount)
        (Decimal('-999.99'), Decimal('999.99'))
    """
    column_type = _column_type(attr)
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if not isinstance(column_type, Numeric) or isinstance(column_type, Float):
        return None
    precision, scale = column_type.precision, column_type.scale or 0
    if precision is None or not 0 <= scale <= precision:
        return None
    high = decimal.Decimal(10) ** (precision - scale) - decimal.Decimal(10) ** -scale
    return -high, high


def check_storable(
    value: Any,
    python_type: type[Any] | None,
    *,
    bounds: tuple[Any, Any] | None = None,
    checked: bool = True,
    model: Any = None,
    key: str | None = None,
) -> None:
    """Refuse a value the column cannot be compared with on every backend
    (so it is a `QueryError`, not a driver error): a value of the wrong
    type (a list, a dict, text for a number ...; any number fits a numeric
    column, a date fits a date-time one), a NaN or infinite float, an
    number outside ``bounds`` (the column's range), a boolean for a
    non-boolean column, or text with a NUL character (PostgreSQL rejects it)
    or a lone surrogate (no encoding holds it). ``None`` and SQL expressions
    pass.

    Example:
        >>> check_storable(float("nan"), float, key="score")
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils.exceptions.QueryError: value nan for 'score' is not a finite number
    """
    kind = type(value)
    if (
        kind is python_type
        and kind is not float
        and bounds is None
        and (
            kind is not str or ("\x00" not in value and (value.isascii() or utf8_encodable(value)))
        )
    ):
        return  # the common case: a value of the column's own type
    if value is None or isinstance(value, ClauseElement) or hasattr(value, "__clause_element__"):
        return
    problem = None
    if isinstance(value, str) and "\x00" in value:
        problem = "contains a NUL character"
    elif isinstance(value, str) and not utf8_encodable(value):
        problem = "is not valid Unicode text (a lone surrogate)"
    elif (isinstance(value, float) and not math.isfinite(value)) or (
        isinstance(value, decimal.Decimal) and not value.is_finite()
    ):
        problem = "is not a finite number"
    elif (
        python_type is not None
        and checked
        and (
            not isinstance(value, _ACCEPTED.get(python_type, python_type))
            or (isinstance(value, bool) and python_type is not bool)
        )
    ):
        problem = f"must be {python_type.__name__}, got {type(value).__name__}"
    elif (
        bounds is not None
        and isinstance(value, (int, float, decimal.Decimal))
        and not isinstance(value, bool)
        and not bounds[0] <= value <= bounds[1]
    ):
        problem = f"is out of range ({bounds[0]} to {bounds[1]})"
    if problem is not None:
        raise QueryError(
            f"value {value!r} for '{key}' {problem}", model=model, key=key, value=value
        )


#: The largest LIMIT/OFFSET every backend accepts (a signed 64-bit integer).
MAX_ROWS = 2**63 - 1


def positive_int(
    value: Any, name: str, model: Any, *, minimum: int, maximum: int = MAX_ROWS
) -> int:
    """``value`` as an integer from ``minimum`` to ``maximum`` (a count of
    rows: limit, offset, page, size), or `QueryError`; strings are coerced.

    Example:
        >>> positive_int("3", "page", "Hero", minimum=1)
        3
    """
    if type(value) is int and minimum <= value <= maximum:  # the common case, on every page()
        return value
    number = coerce_value(int, value, model=model, key=name)
    if isinstance(number, bool) or not isinstance(number, int) or not minimum <= number <= maximum:
        raise QueryError(
            f"{name} must be an integer from {minimum} to {maximum}, got {value!r}",
            model=model,
            key=name,
            value=value,
        )
    return number


def choice(value: Any, choices: Collection[str], what: str, *, model: Any, key: str) -> str:
    """``value`` when it is one of ``choices`` (strings), else `QueryError`
    naming them (checked before hashing, so a list is refused, not a ``TypeError``).

    Example:
        >>> choice("joined", ("selectin", "joined"), "loading strategy", model=None, key="strategy")
        'joined'
    """
    if isinstance(value, str) and value in choices:
        return value
    raise QueryError(
        f"unknown {what} {value!r}; choose one of {', '.join(choices)}",
        model=model,
        key=key,
        value=value,
    )
