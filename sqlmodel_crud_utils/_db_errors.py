"""What a database error means for the caller, in one place.

`database_errors` wraps the statements of `Q` terminals and of the legacy
functions. Errors the caller's data caused become our exceptions:

* a value the database refuses (out of range, too long, NUL, wrong type,
  an integer the driver cannot send) → `ValidationError` naming the model,
  the column and the value;
* a constraint (unique, foreign key, not null, check) → `ConstraintError`,
  naming the constraint too;
* a lost connection or an exhausted pool → `DatabaseConnectionError`.

Anything else passes through unchanged, for the caller's own policy (the
legacy functions report it as `TransactionError`, `Q` as
`QueryExecutionError`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import exc as sa_exc

from .exceptions import (
    ConstraintError,
    DatabaseConnectionError,
    SQLModelCRUDError,
    ValidationError,
    model_name,
)

__all__ = ["database_errors", "translated"]

_MYSQL_COLUMN = re.compile(r"column (?:'([^']+)'|(?:`[^`]*`\.)*`([^`]+)`)", re.IGNORECASE)
_MYSQL_KEY = re.compile(r"for key '(?:[^'.]*\.)?([^']+)'")
_MYSQL_CONSTRAINT = re.compile(r"CONSTRAINT `([^`]+)`")
_SQLITE_CONSTRAINT = re.compile(r"^(\w+(?: \w+)?) constraint failed(?:: (.*))?$")
_PYTHON_VALUE_ERRORS = (OverflowError, UnicodeEncodeError)


@contextmanager
def database_errors(model: Any = None, values: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Raise the library's error for a database error the block raises.

    ``values`` (the row's or the update's values) let the message name the
    offending value when the database does not.

    Example:
        >>> from sqlalchemy import create_engine, text
        >>> engine = create_engine("sqlite://")
        >>> with engine.connect() as conn:
        ...     _ = conn.execute(text("CREATE TABLE pet (name VARCHAR NOT NULL)"))
        ...     try:
        ...         with database_errors("Pet", {"name": None}):
        ...             _ = conn.execute(text("INSERT INTO pet VALUES (NULL)"))
        ...     except ConstraintError as exc:
        ...         print(exc.constraint, exc.field)
        NOT NULL name
    """
    try:
        yield
    except (sa_exc.SQLAlchemyError, *_PYTHON_VALUE_ERRORS) as exc:
        error = translated(exc, model, values)
        if error is None:
            raise
        raise error from exc


def translated(
    exc: BaseException, model: Any = None, values: Mapping[str, Any] | None = None
) -> SQLModelCRUDError | None:
    """The library error for ``exc``, or ``None`` when the database error
    is not one the caller's data or the connection explains.

    Example:
        >>> translated(OverflowError("Python int too large"), "Hero", {"age": 2**70}).field
        'age'
    """
    if isinstance(exc, sa_exc.TimeoutError) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    ):
        return DatabaseConnectionError(f"database connection lost: {_first_line(exc)}")
    given = _values(exc, values)
    if isinstance(exc, sa_exc.IntegrityError):
        constraint, column = _constraint(exc.orig)
        return ConstraintError(
            _first_line(exc.orig),
            model=model,
            constraint=constraint,
            field=column,
            value=given.get(column) if column else None,
        )
    if isinstance(exc, sa_exc.DataError):
        column = _refused_column(exc.orig, given)
    elif isinstance(exc, _PYTHON_VALUE_ERRORS):
        column = _suspect(exc, given)
    elif isinstance(exc, sa_exc.StatementError) and isinstance(exc.orig, _PYTHON_VALUE_ERRORS):
        column = _suspect(exc.orig, given)
    else:
        return None
    value = given.get(column) if column else None
    where = f"{model_name(model)}.{column}" if model is not None and column else column
    reason = _first_line(exc)
    return ValidationError(f"the database refused {where or 'a value'}: {reason}", column, value)


def _values(exc: BaseException, values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if values is not None:
        return values
    params = getattr(exc, "params", None)
    if isinstance(params, list | tuple) and params and isinstance(params[0], Mapping):
        params = params[0]
    return params if isinstance(params, Mapping) else {}


def _constraint(orig: BaseException) -> tuple[str | None, str | None]:
    """``(constraint, column)`` as far as the driver tells them."""
    diag = getattr(orig, "diag", None)
    if diag is not None:  # psycopg
        if diag.constraint_name:
            return diag.constraint_name, diag.column_name
        return ("NOT NULL" if diag.column_name else None), diag.column_name
    text = _first_line(orig)
    sqlite = _SQLITE_CONSTRAINT.match(text)
    if sqlite:
        kind, target = sqlite.groups()
        column = target.rsplit(".", 1)[-1].split(",")[0] if target and "." in target else None
        return kind, column
    column = _mysql_column(text)
    for pattern in (_MYSQL_KEY, _MYSQL_CONSTRAINT):
        found = pattern.search(text)
        if found:
            return found.group(1), column
    return ("NOT NULL" if "cannot be null" in text else None), column


def _refused_column(orig: BaseException, given: Mapping[str, Any]) -> str | None:
    diag = getattr(orig, "diag", None)
    if diag is not None and diag.column_name:
        return str(diag.column_name)
    return _mysql_column(_first_line(orig)) or _suspect(orig, given)


def _mysql_column(text: str) -> str | None:
    found = _MYSQL_COLUMN.search(text)
    return (found.group(1) or found.group(2)) if found else None


def _suspect(error: BaseException, given: Mapping[str, Any]) -> str | None:
    """The value the database's message describes, when it names no column."""
    text = str(error).lower()
    for key, value in given.items():
        if isinstance(value, str):
            if "\x00" in value and "nul" in text:
                return key
            if isinstance(error, UnicodeEncodeError) and not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return key
        if isinstance(value, int) and not isinstance(value, bool) and ("range" in text or "large" in text):
            if not -(2**31) <= value < 2**31:
                return key
    return None


def _first_line(error: BaseException | None, limit: int = 300) -> str:
    """The first line of a driver error's message (of a SQLAlchemy error's
    ``orig``): SQLAlchemy's own text repeats the statement and every
    parameter, which an exception message must not carry."""
    orig = getattr(error, "orig", None)
    if orig is not None:
        error = orig
    args = getattr(error, "args", ())
    if len(args) == 2 and isinstance(args[0], int):  # MySQL drivers: (code, message)
        text = str(args[1])
    else:
        text = str(error).partition("\n")[0]
    return text if len(text) <= limit else text[:limit] + "..."
