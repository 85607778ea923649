"""What a database error means for the caller, in one place.

`translated` is the one mapping from a database error to the library's
exceptions; `database_errors` applies it to every statement `Q` runs (its
terminals, and so the legacy functions built on them) and leaves the
session usable; `sqlmodel_crud_utils._legacy.legacy_failures` applies it to
the legacy functions' writes. (A `transaction` block reports every failure
as `TransactionError`.) Errors the caller's data caused become our
exceptions:

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
from typing import Any, TypeVar

from sqlalchemy import ForeignKeyConstraint, PrimaryKeyConstraint, Table, UniqueConstraint
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from ._unsupported import UnsupportedSQL
from .coercion import utf8_encodable
from .exceptions import (
    ConstraintError,
    DatabaseConnectionError,
    QueryError,
    QueryExecutionError,
    SQLModelCRUDError,
    TenantError,
    ValidationError,
    _model_name,
)
from .transactions import in_transaction, note_uncontained_failure

__all__ = [
    "DATABASE_ERRORS",
    "database_errors",
    "first_line",
    "is_database_error",
    "translated",
    "translated_rows",
]

_T = TypeVar("_T")

_MYSQL_COLUMN = re.compile(r"column (?:'([^']+)'|(?:`[^`]*`\.)*`([^`]+)`)", re.IGNORECASE)
_MYSQL_KEY = re.compile(r"for key '(?:[^'.]*\.)?([^']+)'")
_MYSQL_CONSTRAINT = re.compile(r"CONSTRAINT `([^`]+)`")
_SQLITE_CONSTRAINT = re.compile(r"^(\w+(?: \w+)?) constraint failed(?:: (.*))?$")
_PYTHON_VALUE_ERRORS = (OverflowError, UnicodeEncodeError)
#: What a statement can raise because of the database or of the values sent
#: to it (a driver refuses some values with a plain Python error).
DATABASE_ERRORS = (sa_exc.SQLAlchemyError, *_PYTHON_VALUE_ERRORS)


class database_errors:  # lower case: used like a @contextmanager, but cheaper per call
    """Raise the library's error for a database error the block raises:
    `translated`, else `QueryExecutionError` (the original as ``__cause__``).

    With a ``session``, the session is first made usable again: rolled back
    (PostgreSQL refuses every statement in an aborted transaction), or,
    inside a `transaction` block, the block is doomed instead (it rolls back
    on exit rather than committing what the database may have aborted).
    ``values`` (the row's or the update's values) let the message name the
    offending value when the database does not.

    Example:
        >>> from sqlalchemy import create_engine, text
        >>> engine = create_engine("sqlite://")
        >>> with engine.connect() as conn:
        ...     _ = conn.execute(text("CREATE TABLE pet (name VARCHAR NOT NULL)"))
        ...     try:
        ...         with database_errors(model="Pet", values={"name": None}):
        ...             _ = conn.execute(text("INSERT INTO pet VALUES (NULL)"))
        ...     except ConstraintError as exc:
        ...         print(exc.constraint, exc.field)
        NOT NULL name
    """

    __slots__ = ("model", "session", "values")

    def __init__(
        self,
        session: Session | None = None,
        model: Any = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        self.session = session
        self.model = model
        self.values = values

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: Any, traceback: Any) -> None:
        if kind is None:
            return
        if isinstance(error, sa_exc.StatementError) and isinstance(error.orig, TenantError):
            raise error.orig from None  # fail closed: no tenant when the statement ran
        if isinstance(error, UnsupportedSQL):  # refused while compiling: nothing was sent
            raise QueryError(str(error), model=self.model, key="dialect") from error
        if not is_database_error(error):
            return
        if self.session is not None:
            if not in_transaction(self.session):
                self.session.rollback()
            elif isinstance(error, sa_exc.DBAPIError):
                note_uncontained_failure(self.session, error)
        raise translated(error, self.model, self.values) or QueryExecutionError(
            f"{_model_name(self.model) + ': ' if self.model is not None else ''}"
            f"the database refused the statement: {first_line(error)}",
            original_error=error,
        ) from error


def is_database_error(error: BaseException) -> bool:
    """Whether the database (or the driver, refusing a value) raised
    ``error``, rather than SQLAlchemy refusing how it was used (a mapper
    misconfiguration, a lazy load outside the greenlet, ...), which
    `database_errors` lets through unchanged.

    Example:
        >>> is_database_error(OverflowError()), is_database_error(sa_exc.InvalidRequestError())
        (True, False)
    """
    if isinstance(error, SQLModelCRUDError):  # translated already (ConstraintError is a DBAPIError)
        return False
    if isinstance(error, (sa_exc.DBAPIError, sa_exc.TimeoutError, *_PYTHON_VALUE_ERRORS)):
        return True
    return isinstance(error, sa_exc.StatementError) and isinstance(error.orig, _PYTHON_VALUE_ERRORS)


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
        return DatabaseConnectionError(
            f"database connection lost: {first_line(exc)}",
            original_error=exc if isinstance(exc, Exception) else None,
        )
    given = _values(exc, values)
    if isinstance(exc, sa_exc.IntegrityError):
        constraint, column = _constraint(exc.orig)
        column = column or _constrained_column(model, constraint)
        return ConstraintError(
            first_line(exc.orig),
            model=model,
            constraint=constraint,
            field=column,
            value=given.get(column) if column else None,
        ).caused_by(exc)
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


_CONSTRAINT_SUFFIXES = {
    PrimaryKeyConstraint: "pkey",
    UniqueConstraint: "key",
    ForeignKeyConstraint: "fkey",
}


def _constrained_column(model: Any, constraint: str | None) -> str | None:
    """The one column of ``model``'s table that ``constraint`` covers, found
    by the constraint's name: its own, PostgreSQL's default
    (``{table}_{columns}_key`` / ``_fkey`` / ``_pkey``) or MySQL's (a unique
    key named after its first column)."""
    table = getattr(model, "__table__", None)
    if constraint is None or not isinstance(table, Table):
        return None
    covered: list[tuple[set[str], list[str]]] = []
    items: list[Any] = [*table.constraints, *table.indexes]
    for item in items:
        columns = [column.name for column in getattr(item, "columns", ())]
        if not columns:
            continue
        names = {item.name} if isinstance(item.name, str) else set()
        suffix = _CONSTRAINT_SUFFIXES.get(type(item))
        if suffix:
            names.add(f"{table.name}_{'_'.join(columns)}_{suffix}")
        if isinstance(item, UniqueConstraint) or getattr(item, "unique", False):
            names.add(columns[0])
        covered.append((names, columns))
    for names, columns in covered:
        if constraint in names and len(columns) == 1:
            return columns[0]
    return None


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
            if isinstance(error, UnicodeEncodeError) and not utf8_encodable(value):
                return key
        elif out_of_range and _is_int(value) and not -(2**31) <= value < 2**31:
            return key
    return None


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


def translated_rows(rows: Iterator[_T], session: Session, model: Any) -> Iterator[_T]:
    """``rows`` (a stream), with `database_errors` around each fetch.

    Example:
        >>> list(translated_rows(iter([1, 2]), None, "Hero"))
        [1, 2]
    """
    with database_errors(session, model):
        yield from rows
