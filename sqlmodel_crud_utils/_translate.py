"""What a database error means for the caller, in one place.

`translated` is the one mapping from a database error to the library's
exceptions; `database_errors` applies it to a block (`Q` terminals),
and `sqlmodel_crud_utils._legacy.legacy_failures` to the legacy functions
(a `transaction` block reports every failure as `TransactionError`,
`translate_errors`). Errors the caller's data caused become our exceptions:

* a value the database refuses (out of range, too long, NUL, wrong type,
  an integer the driver cannot send) → `ValidationError` naming the model,
  the column and the value;
* a constraint (unique, foreign key, not null, check) → `ConstraintError`,
  naming the constraint too;
* a lost connection or an exhausted pool → `DatabaseConnectionError`.

Any other database error is the caller's policy: `database_errors` raises
`QueryExecutionError`, the legacy functions `TransactionError`; errors that
are not database errors pass through.
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
    QueryExecutionError,
    SQLModelCRUDError,
    TransactionError,
    ValidationError,
    _model_name,
)

__all__ = ["DATABASE_ERRORS", "database_errors", "first_line", "translate_errors", "translated"]

_MYSQL_COLUMN = re.compile(r"column (?:'([^']+)'|(?:`[^`]*`\.)*`([^`]+)`)", re.IGNORECASE)
_MYSQL_KEY = re.compile(r"for key '(?:[^'.]*\.)?([^']+)'")
_MYSQL_CONSTRAINT = re.compile(r"CONSTRAINT `([^`]+)`")
_SQLITE_CONSTRAINT = re.compile(r"^(\w+(?: \w+)?) constraint failed(?:: (.*))?$")
_PYTHON_VALUE_ERRORS = (OverflowError, UnicodeEncodeError)
#: What a statement can raise because of the database or of the values sent
#: to it (a driver refuses some values with a plain Python error).
DATABASE_ERRORS = (sa_exc.SQLAlchemyError, *_PYTHON_VALUE_ERRORS)


@contextmanager
def database_errors(model: Any = None, values: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Raise the library's error for a database error the block raises:
    `translated`, or `QueryExecutionError` (original as ``__cause__``).

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
    except DATABASE_ERRORS as exc:
        raise translated(exc, model, values) or QueryExecutionError(
            original_error=exc if isinstance(exc, Exception) else None
        ) from exc


@contextmanager
def translate_errors(message: str) -> Iterator[None]:
    """Re-raise SQLAlchemy errors raised in the block as `TransactionError`
    (a transaction block's failure is a `TransactionError` whatever the
    database said; `translated` tells what it said, from ``__cause__``).

    Errors that are not database errors (including the library's own) pass
    through unchanged.

    Example:
        >>> from sqlalchemy.exc import OperationalError
        >>> try:
        ...     with translate_errors("commit failed"):
        ...         raise OperationalError("COMMIT", {}, Exception("gone"))
        ... except TransactionError as exc:
        ...     type(exc.__cause__).__name__
        'OperationalError'
    """
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise TransactionError(f"{message}: {exc}", original_error=exc) from exc


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
        return DatabaseConnectionError(f"database connection lost: {first_line(exc)}")
    given = _values(exc, values)
    if isinstance(exc, sa_exc.IntegrityError):
        constraint, column = _constraint(exc.orig)
        error = ConstraintError(
            first_line(exc.orig),
            model=model,
            constraint=constraint,
            field=column,
            value=given.get(column) if column else None,
        )
        error.original_error = exc
        return error
    if isinstance(exc, sa_exc.DataError):
        column = _refused_column(exc.orig, given)
    elif isinstance(exc, _PYTHON_VALUE_ERRORS):
        column = _suspect(exc, given)
    elif isinstance(exc, sa_exc.StatementError) and isinstance(exc.orig, _PYTHON_VALUE_ERRORS):
        column = _suspect(exc.orig, given)
    else:
        return None
    value = given.get(column) if column else None
    where = f"{_model_name(model)}.{column}" if model is not None and column else column
    reason = first_line(exc)
    return ValidationError(f"the database refused {where or 'a value'}: {reason}", column, value)


def _values(exc: BaseException, values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if values is not None:
        return values
    params = getattr(exc, "params", None)
    if isinstance(params, list | tuple) and params and isinstance(params[0], Mapping):
        params = params[0]
    return params if isinstance(params, Mapping) else {}


def _constraint(orig: BaseException | None) -> tuple[str | None, str | None]:
    """``(constraint, column)`` as far as the driver tells them."""
    diag = getattr(orig, "diag", None)
    if diag is not None:  # psycopg
        if diag.constraint_name:
            return diag.constraint_name, diag.column_name
        return ("NOT NULL" if diag.column_name else None), diag.column_name
    text = first_line(orig)
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


def _refused_column(orig: BaseException | None, given: Mapping[str, Any]) -> str | None:
    diag = getattr(orig, "diag", None)
    if diag is not None and diag.column_name:
        return str(diag.column_name)
    return _mysql_column(first_line(orig)) or _suspect(orig, given)


def _mysql_column(text: str) -> str | None:
    found = _MYSQL_COLUMN.search(text)
    return (found.group(1) or found.group(2)) if found else None


def _suspect(error: BaseException | None, given: Mapping[str, Any]) -> str | None:
    """The key of the value the error describes, when it names no column."""
    text = str(error).lower()
    out_of_range = "range" in text or "large" in text
    for key, value in given.items():
        if isinstance(value, str):
            if "\x00" in value and "nul" in text:
                return key
            if isinstance(error, UnicodeEncodeError) and not _encodable(value):
                return key
        elif out_of_range and _is_int(value) and not -(2**31) <= value < 2**31:
            return key
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def first_line(error: BaseException | None, limit: int = 300) -> str:
    """The first line of a driver error's message (of a SQLAlchemy error's
    ``orig``): SQLAlchemy's own text repeats the statement and every
    parameter, which an exception message must not carry."""
    orig = getattr(error, "orig", None)
    if orig is not None:
        error = orig
    args: tuple[Any, ...] = getattr(error, "args", ())
    if len(args) == 2 and isinstance(args[0], int):  # MySQL drivers: (code, message)
        text = str(args[1])
    else:
        text = str(error).partition("\n")[0]
    return text if len(text) <= limit else text[:limit] + "..."
