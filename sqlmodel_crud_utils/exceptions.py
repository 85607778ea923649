"""The exception tree of sqlmodel-crud-utils.

Every error this library raises on purpose derives from `SQLModelCRUDError`::

    SQLModelCRUDError
    ├── RecordNotFoundError      a row that had to exist does not
    ├── MultipleRecordsError     several rows where one was expected
    ├── ValidationError          input the library refuses
    │   └── QueryError           bad field, operator, value, page or cursor
    ├── BulkOperationError       some rows of a bulk write failed
    └── TransactionError         the database refused a transaction

Catch `SQLModelCRUDError` to handle all of them at once:

    >>> try:
    ...     raise RecordNotFoundError("Hero", 42)
    ... except SQLModelCRUDError as exc:
    ...     print(exc)
    Hero with id=42 not found

Database errors are translated in exactly one place, `translate_errors`;
the legacy functions' failure conventions live in `legacy_failures`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

__all__ = [
    "BulkOperationError",
    "MultipleRecordsError",
    "QueryError",
    "RecordNotFoundError",
    "SQLModelCRUDError",
    "TransactionError",
    "ValidationError",
    "legacy_failures",
    "translate_errors",
]

logger = logging.getLogger("sqlmodel_crud_utils")


def _model_name(model: Any) -> str:
    if isinstance(model, str):
        return model
    return getattr(model, "__name__", type(model).__name__)


def _describe_filters(filters: Mapping[str, Any] | Sequence[str] | str | None) -> str:
    if filters is None:
        return ""
    if isinstance(filters, str):
        return filters
    if isinstance(filters, Mapping):
        return ", ".join(f"{key}={value!r}" for key, value in filters.items())
    return ", ".join(str(part) for part in filters)


class SQLModelCRUDError(Exception):
    """Base class of every error raised by sqlmodel-crud-utils.

    Example:
        >>> issubclass(QueryError, SQLModelCRUDError)
        True
    """


class RecordNotFoundError(SQLModelCRUDError):
    """A row that had to exist was not found.

    Attributes:
        model: the model class (or its name).
        id_value: the key that was looked up, or ``None`` for a query.
        pk_field: the name of the key field.
        filters: a description of the query's filters, when there was no key.

    Example:
        >>> str(RecordNotFoundError("Hero", 7))
        'Hero with id=7 not found'
    """

    def __init__(
        self,
        model: Any,
        id_value: Any = None,
        pk_field: str = "id",
        *,
        filters: Mapping[str, Any] | Sequence[str] | str | None = None,
    ) -> None:
        self.model = model
        self.id_value = id_value
        self.pk_field = pk_field
        self.filters = filters
        name = _model_name(model)
        if id_value is None and filters is not None:
            described = _describe_filters(filters)
            message = f"No {name} matches the query" + (f" ({described})" if described else "")
        else:
            message = f"{name} with {pk_field}={id_value!r} not found"
        super().__init__(message)


class MultipleRecordsError(SQLModelCRUDError):
    """Several rows were found where exactly one was expected.

    Attributes:
        model: the model class (or its name).
        count: how many rows matched.
        filters: a description of the query's filters.

    Example:
        >>> str(MultipleRecordsError("Hero", 3))
        'Expected one Hero, found 3'
    """

    def __init__(
        self,
        model: Any,
        count: int,
        filters: Mapping[str, Any] | Sequence[str] | str | None = None,
    ) -> None:
        self.model = model
        self.count = count
        self.filters = filters
        described = _describe_filters(filters)
        suffix = f" matching {described}" if described else ""
        super().__init__(f"Expected one {_model_name(model)}, found {count}{suffix}")


class ValidationError(SQLModelCRUDError):
    """Input that the library refuses before it reaches the database.

    Example:
        >>> isinstance(QueryError("bad"), ValidationError)
        True
    """


class QueryError(ValidationError):
    """A query could not be built: unknown field, operator or relationship,
    a value that cannot be coerced, a bad page number or a bad cursor.

    Attributes:
        model: the model the query is about (``None`` when not known).
        key: the offending key (field, lookup, path or parameter name).
        value: the offending value, when a value was at fault.

    Example:
        >>> str(QueryError("unknown field 'nope'", model="Hero", key="nope"))
        "Hero: unknown field 'nope'"
    """

    def __init__(
        self,
        message: str,
        *,
        model: Any = None,
        key: str | None = None,
        value: Any = None,
    ) -> None:
        self.model = model
        self.key = key
        self.value = value
        prefix = f"{_model_name(model)}: " if model is not None else ""
        super().__init__(prefix + message)


class BulkOperationError(SQLModelCRUDError):
    """Some or all rows of a bulk write failed.

    Attributes:
        total: how many rows were submitted.
        failed: how many of them failed.
        errors: one entry per failed row (the row and the reason).
        succeeded: the rows that were written (when the operation reports them).

    Example:
        >>> str(BulkOperationError(10, 2, []))
        'Bulk operation failed: 2/10 records failed'
    """

    def __init__(
        self,
        total: int,
        failed: int,
        errors: list[Any],
        succeeded: list[Any] | None = None,
    ) -> None:
        self.total = total
        self.failed = failed
        self.errors = errors
        self.succeeded = succeeded if succeeded is not None else []
        super().__init__(f"Bulk operation failed: {failed}/{total} records failed")


class TransactionError(SQLModelCRUDError):
    """The database refused to complete a transaction (the original database
    error is the ``__cause__``).

    Example:
        >>> str(TransactionError("commit failed"))
        'commit failed'
    """


@contextmanager
def translate_errors(message: str) -> Iterator[None]:
    """Re-raise SQLAlchemy errors raised in the block as `TransactionError`.

    The original exception stays available as ``__cause__``; errors that are
    not database errors (including the library's own) pass through unchanged.

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
    except SQLAlchemyError as exc:
        raise TransactionError(f"{message}: {exc}") from exc


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an error's message, cut to ``limit`` characters: a
    database error's full text repeats the SQL and every parameter (user
    data, megabytes for a large IN list), which a log line must not carry."""
    text = str(exc).partition("\n")[0]
    return text if len(text) <= limit else text[:limit] + "..."


@contextmanager
def legacy_failures(operation: str, raise_on_error: bool) -> Iterator[None]:
    """The failure convention of the legacy functions, in one place.

    With ``raise_on_error=False`` a failure in the block is logged and
    swallowed, so the code after the ``with`` returns the v0.1 failure value.
    With ``raise_on_error=True`` library errors propagate, database errors
    become `TransactionError` (original as ``__cause__``) and anything else
    (say, a hook's own exception) propagates unchanged.

    Programming errors always propagate: `QueryError` (bad filters or
    fields) and `TypeError` (an ``async def`` hook met by a sync call).

    Example:
        >>> def find():
        ...     with legacy_failures("get_row", raise_on_error=False):
        ...         raise RecordNotFoundError("Hero", 7)
        ...     return False, None
        >>> find()
        (False, None)
    """
    try:
        yield
    except (QueryError, TypeError):
        raise
    except SQLAlchemyError as exc:
        if raise_on_error:
            raise TransactionError(f"{operation} failed: {exc}") from exc
        logger.warning("%s failed: %s", operation, _first_line(exc))
    except SQLModelCRUDError as exc:
        if raise_on_error:
            raise
        logger.debug("%s: %s", operation, exc)  # a missing row is an expected outcome
    except Exception as exc:
        if raise_on_error:
            raise
        logger.warning("%s failed: %s: %s", operation, type(exc).__name__, _first_line(exc))


class SessionTypeError(SQLModelCRUDError, TypeError):
    """A terminal got the wrong kind of session: an ``a_*`` method a sync
    `Session`, or a sync method an `AsyncSession`. The message names the
    method to call instead. Also a `TypeError`.

    Example:
        >>> str(SessionTypeError("Q.all", "AsyncSession", "await q.a_all(session)"))
        'Q.all() cannot run on AsyncSession; call await q.a_all(session)'
    """

    def __init__(self, method: str, got: str, instead: str) -> None:
        self.method = method
        self.instead = instead
        super().__init__(f"{method}() cannot run on {got}; call {instead}")
