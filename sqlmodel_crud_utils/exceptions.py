"""The exception tree of sqlmodel-crud-utils.

Every error this library raises on purpose derives from `SQLModelCRUDError`::

    SQLModelCRUDError
    ├── RecordNotFoundError      a row that had to exist does not
    ├── MultipleRecordsError     several rows where one was expected
    ├── ValidationError          input the library refuses
    │   ├── QueryError           bad field, operator, value, page or cursor
    │   └── ConstraintError      a write broke a constraint (also a TransactionError)
    ├── UsageError               the library was called the wrong way (also a TypeError)
    │   └── SessionTypeError     a sync Session for an a_* method, or the reverse
    ├── BulkOperationError       some rows of a bulk write failed
    ├── TransactionError         a transaction block or the database failed
    ├── DatabaseConnectionError  the connection to the database was lost
    └── QueryExecutionError      the database refused a `Q` statement for another reason

Catch `SQLModelCRUDError` to handle all of them at once:

    >>> try:
    ...     raise RecordNotFoundError("Hero", 42)
    ... except SQLModelCRUDError as exc:
    ...     print(exc)
    Hero with id=42 not found

Database errors are translated in one place (``sqlmodel_crud_utils._translate``):
a value the database refuses becomes `ValidationError`, a broken constraint
`ConstraintError`, a lost connection `DatabaseConnectionError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

__all__ = [
    "BulkOperationError",
    "ConflictError",
    "ConstraintError",
    "DatabaseConnectionError",
    "MultipleRecordsError",
    "QueryError",
    "QueryExecutionError",
    "RecordNotFoundError",
    "SQLModelCRUDError",
    "SessionTypeError",
    "TenantError",
    "TransactionError",
    "UsageError",
    "ValidationError",
    "multiple_found",
    "not_found",
    "validation_error",
]


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
        filters: the query's filters (a dict, or the described lookups).

    Example:
        >>> str(MultipleRecordsError("Hero", 5, {"team": "Avengers"}))
        "Expected 1 Hero, found 5 (filters: {'team': 'Avengers'})"
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
        message = f"Expected 1 {_model_name(model)}, found {count}"
        if filters:
            shown = filters if isinstance(filters, Mapping) else _describe_filters(filters)
            message += f" (filters: {shown})"
        super().__init__(message)


class ValidationError(SQLModelCRUDError, ValueError):
    """Input that the library refuses before it reaches the database (or
    that the database refused); also a ``ValueError``, as Python's own bad
    values are and as upstream 0.4 raises for bad arguments.

    Attributes:
        field: the field at fault, when one is.
        value: the value at fault, when one is.
        errors: per-field messages, when several fields are at fault.

    Example:
        >>> print(ValidationError("must be positive", field="age", value=-5))
        Validation failed for field 'age': must be positive (value: -5)
        >>> print(ValidationError("bad input", errors={"age": "must be positive"}))
        Validation failed: bad input
          - age: must be positive
    """

    def __init__(
        self,
        message: str = "",
        field: str | None = None,
        value: Any = None,
        errors: Mapping[str, str] | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.errors = errors
        if field:
            text = f"Validation failed for field '{field}': {message}"
            if value is not None:
                text += f" (value: {value!r})"
        else:
            text = f"Validation failed: {message}"
        if errors:
            text += "\n" + "\n".join(f"  - {name}: {error}" for name, error in errors.items())
        super().__init__(text)


class QueryError(ValidationError):
    """A query could not be built: unknown field, operator or relationship,
    a value that cannot be coerced, a bad page number or a bad cursor.

    Attributes:
        model: the model the query is about (``None`` when not known).
        key: the offending key (field, lookup, path or parameter name);
            also available as ``field``.
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
        self.field = key
        self.value = value
        self.errors = None
        prefix = f"{_model_name(model)}: " if model is not None else ""
        SQLModelCRUDError.__init__(self, prefix + message)


class UsageError(SQLModelCRUDError, TypeError):
    """The library was called the wrong way: an ``async def`` hook met by a
    sync call, a sync session given to an async function or the reverse. A
    programming error: the legacy functions raise it whatever
    ``raise_on_error`` says. Also a `TypeError`.

    Example:
        >>> issubclass(UsageError, TypeError)
        True
    """


class TenantError(SQLModelCRUDError, PermissionError):
    """A tenant-scoped model was read or written with no tenant set, or a
    write would touch another tenant's row (see
    `sqlmodel_crud_utils.tenancy`). Nothing was read or written. Also a
    `PermissionError`.

    Attributes:
        model: the model concerned, when known.
        tenant: the other tenant's id, for a cross-tenant write.

    Example:
        >>> error = TenantError("row of tenant 2 written in tenant 1's scope", tenant=2)
        >>> error.tenant, isinstance(error, PermissionError)
        (2, True)
    """

    def __init__(self, message: str, *, model: Any = None, tenant: Any = None) -> None:
        self.model = model
        self.tenant = tenant
        super().__init__(message)


class SessionTypeError(UsageError):
    """A terminal got the wrong kind of session: an ``a_*`` method a sync
    `Session`, or a sync method an `AsyncSession`. The message names the
    method to call instead. A `UsageError`, so also a `TypeError`.

    Example:
        >>> str(SessionTypeError("Q.all", "AsyncSession", "await q.a_all(session)"))
        'Q.all() cannot run on AsyncSession; call await q.a_all(session)'
    """

    def __init__(self, method: str, got: str, instead: str) -> None:
        self.method = method
        self.instead = instead
        super().__init__(f"{method}() cannot run on {got}; call {instead}")


class BulkOperationError(SQLModelCRUDError):
    """Some or all rows of a bulk write failed.

    Attributes:
        total: how many rows were submitted.
        failed: how many of them failed.
        errors: one entry per failed row: a message, an exception, or (from
            the library's own bulk writes) a dict with the row's ``index``,
            the ``row``, the ``error`` text and the ``exception``.
        successful: the rows (or keys) that were written, when reported
            (also as ``succeeded``, a list, empty when not reported).
        failed_records: the rows that failed, when reported.

    Example:
        >>> error = BulkOperationError(10, 2, ["row 3: duplicate key", ValueError("bad")])
        >>> str(error)
        'Bulk operation failed: 2/10 records failed (80.0% success rate)'
        >>> print(error.get_error_summary())
        Bulk operation failed: 2/10 records failed (80.0% success rate)
        <BLANKLINE>
        Error details:
          1. row 3: duplicate key
          2. ValueError: bad
    """

    def __init__(
        self,
        total: int,
        failed: int,
        errors: Sequence[Any],
        successful: list[Any] | None = None,
        failed_records: list[Any] | None = None,
        *,
        succeeded: list[Any] | None = None,
    ) -> None:
        self.total = total
        self.failed = failed
        self.errors = list(errors)
        self.successful = successful if successful is not None else succeeded
        self.failed_records = failed_records
        rate = (total - failed) / total * 100 if total > 0 else 0
        super().__init__(
            f"Bulk operation failed: {failed}/{total} records failed ({rate:.1f}% success rate)"
        )

    @property
    def succeeded(self) -> list[Any]:
        """The rows that were written (``successful``; empty when not reported).

        Example:
            >>> BulkOperationError(2, 1, [], successful=["a"]).succeeded
            ['a']
        """
        return list(self.successful or [])

    def get_error_summary(self) -> str:
        """The message, then one numbered line per error.

        Example:
            >>> print(BulkOperationError(1, 1, [KeyError("id")]).get_error_summary())
            Bulk operation failed: 1/1 records failed (0.0% success rate)
            <BLANKLINE>
            Error details:
              1. KeyError: 'id'
        """
        lines = [str(self), "\nError details:"]
        for number, error in enumerate(self.errors, 1):
            lines.append(f"  {number}. {_describe_error(error)}")
        return "\n".join(lines)


def _describe_error(error: Any) -> str:
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    if isinstance(error, Mapping) and "error" in error:
        where = f"row {error['index']}: " if "index" in error else ""
        return f"{where}{error['error']}"
    return str(error)


class TransactionError(SQLModelCRUDError):
    """A transaction failed: the database refused it, or (by default) an
    exception ended a `transaction` block. The original error is the
    ``__cause__`` and ``original_error``.

    Attributes:
        operation: the operation that failed (``"commit"``, ``"rollback"``,
            ...), when known.
        original_error: the underlying exception, when there is one.
        attempts: every failed attempt (`sqlmodel_crud_utils.retry.Attempt`)
            when `run_transaction` gave up; empty otherwise.

    Example:
        >>> str(TransactionError("commit failed"))
        'commit failed'
        >>> str(TransactionError(operation="commit", original_error=ValueError("no")))
        "Transaction operation 'commit' failed: ValueError(no)"
    """

    attempts: tuple[Any, ...] = ()

    def __init__(
        self,
        message: str | None = None,
        operation: str | None = None,
        original_error: BaseException | None = None,
        attempts: tuple[Any, ...] = (),
    ) -> None:
        self.operation = operation
        self.original_error = original_error
        self.attempts = attempts
        if message:
            text = message
        elif operation and original_error is not None:
            text = (
                f"Transaction operation '{operation}' failed: "
                f"{type(original_error).__name__}({original_error})"
            )
        elif operation:
            text = f"Transaction operation '{operation}' failed"
        elif original_error is not None:
            text = f"Transaction failed: {original_error}"
        else:
            text = "Transaction operation failed"
        super().__init__(text)


class ConflictError(TransactionError):
    """An optimistic-locking conflict: the row changed since it was read
    (its ``version`` is not the one the write expected), so nothing was
    written (see `sqlmodel_crud_utils.versioning.VersionMixin`).

    Attributes:
        model: the model's name.
        key: the row's primary key.
        expected: the version the write expected.
        current: the row's version in the database, when known.

    Example:
        >>> error = ConflictError("Doc", 1, expected=2, current=3)
        >>> str(error)
        'Doc 1 was changed by another writer: expected version 2, the row has version 3'
    """

    def __init__(
        self,
        model: Any,
        key: Any,
        *,
        expected: Any = None,
        current: Any = None,
        original_error: BaseException | None = None,
    ) -> None:
        self.model = _model_name(model)
        self.key = key
        self.expected = expected
        self.current = current
        now = "" if current is None else f", the row has version {current}"
        super().__init__(
            f"{self.model} {key!r} was changed by another writer: expected version {expected}{now}",
            operation="flush",
            original_error=original_error,
        )


class ConstraintError(ValidationError, TransactionError, sa_exc.IntegrityError):
    """The database refused a write because of a constraint: unique, foreign
    key, not null or check. Also a `TransactionError`, which is what the
    legacy functions raised for it before (``raise_on_error=True``), and a
    SQLAlchemy ``IntegrityError``, so ``except IntegrityError`` written for
    upstream or plain SQLAlchemy still catches it (``orig``, ``statement``
    and ``params`` are the original error's).

    Attributes:
        model: the model written (``None`` when not known).
        constraint: the constraint's name as the database reports it, or its
            kind (``"NOT NULL"``, ``"UNIQUE"``, ...) when it has no name.
        field: the column at fault, when the database says which.
        value: the value written to that column, when known.

    Example:
        >>> error = ConstraintError("duplicate", model="Hero", constraint="uq", field="name")
        >>> print(error)
        Validation failed for field 'name': Hero: constraint 'uq' violated: duplicate
    """

    def __init__(
        self,
        message: str,
        *,
        model: Any = None,
        constraint: str | None = None,
        field: str | None = None,
        value: Any = None,
    ) -> None:
        self.model = model
        self.constraint = constraint
        prefix = f"{_model_name(model)}: " if model is not None else ""
        named = f"constraint {constraint!r} violated: " if constraint else ""
        super().__init__(prefix + named + message, field=field, value=value)
        self.operation: str | None = None
        self.original_error: BaseException | None = None
        # what SQLAlchemy's IntegrityError carries (its __init__ is not run)
        self.statement = None
        self.params = None
        self.orig = None
        self.hide_parameters = False
        self.detail = []
        self.connection_invalidated = False
        self.ismulti = None
        self.code = sa_exc.IntegrityError.code

    def __str__(self) -> str:
        return Exception.__str__(self)

    def __reduce__(self) -> Any:
        return (_restored, (type(self), self.args, self.__dict__))

    def caused_by(self, original: BaseException) -> ConstraintError:
        """Record ``original`` (a SQLAlchemy ``IntegrityError``) as the cause.

        Example:
            >>> ConstraintError("dup").caused_by(ValueError("x")).original_error
            ValueError('x')
        """
        self.original_error = original
        self.orig = getattr(original, "orig", None)
        self.statement = getattr(original, "statement", None)
        self.params = getattr(original, "params", None)
        return self


def _restored(cls: type[Exception], args: tuple[Any, ...], state: dict[str, Any]) -> Exception:
    """Unpickle an exception without re-running its ``__init__``."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


def _hide_password(url: str | None) -> str | None:
    """``url`` with its password masked (unchanged when it has none or is
    not a database URL)."""
    if not url:
        return url
    try:
        parsed = make_url(url)
    except Exception:
        return url
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


class DatabaseConnectionError(SQLModelCRUDError):
    """The connection to the database was lost or could not be had (the
    pool timed out): raised by `Q` terminals and by the legacy functions
    with ``raise_on_error=True``. v0.2's name and constructor.

    Attributes:
        database_url: the URL, with any password masked.
        original_error: the underlying exception, when there is one.

    Example:
        >>> str(DatabaseConnectionError(database_url="postgresql://u:secret@db/app",
        ...                             original_error=TimeoutError("timed out")))
        'Failed to connect to database at postgresql://u:***@db/app: TimeoutError(timed out)'
    """

    def __init__(
        self,
        message: str | None = None,
        database_url: str | None = None,
        original_error: BaseException | None = None,
    ) -> None:
        self.database_url = _hide_password(database_url)
        self.original_error = original_error
        where = self.database_url
        if message:
            text = message
        elif where and original_error is not None:
            text = (
                f"Failed to connect to database at {where}: "
                f"{type(original_error).__name__}({original_error})"
            )
        elif where:
            text = f"Failed to connect to database at {where}"
        elif original_error is not None:
            text = f"Database connection failed: {original_error}"
        else:
            text = "Database connection failed"
        super().__init__(text)


class QueryExecutionError(SQLModelCRUDError):
    """The database refused a statement of a `Q` terminal for a reason that
    is not the caller's data or the connection (those are `ValidationError`,
    `ConstraintError`, `DatabaseConnectionError`); the legacy functions
    report such failures as `TransactionError`. v0.2's name and constructor;
    the query text is cut to 200 characters in the message.

    Attributes:
        query: the query text, when given.
        original_error: the underlying exception, when there is one.

    Example:
        >>> print(QueryExecutionError(query="SELECT 1", original_error=ValueError("no")))
        Query execution failed: ValueError(no)
        Query: SELECT 1
    """

    def __init__(
        self,
        message: str | None = None,
        query: str | None = None,
        original_error: BaseException | None = None,
    ) -> None:
        self.query = query
        self.original_error = original_error
        shown = (query[:200] + ("..." if len(query) > 200 else "")) if query else ""
        if message:
            text = message
        elif query and original_error is not None:
            text = (
                f"Query execution failed: {type(original_error).__name__}({original_error})"
                f"\nQuery: {shown}"
            )
        elif query:
            text = f"Query execution failed: {shown}"
        elif original_error is not None:
            text = f"Query execution failed: {original_error}"
        else:
            text = "Query execution failed"
        super().__init__(text)


def not_found(model: Any, id_value: Any, pk_field: str = "id") -> RecordNotFoundError:
    """A `RecordNotFoundError` for ``model`` and key ``id_value``.

    Example:
        >>> str(not_found("Hero", 7))
        'Hero with id=7 not found'
    """
    return RecordNotFoundError(model, id_value, pk_field)


def multiple_found(
    model: Any, count: int, filters: Mapping[str, Any] | None = None
) -> MultipleRecordsError:
    """A `MultipleRecordsError` for ``count`` rows of ``model``.

    Example:
        >>> str(multiple_found("Hero", 3))
        'Expected 1 Hero, found 3'
    """
    return MultipleRecordsError(model, count, filters)


def validation_error(
    message: str,
    field: str | None = None,
    value: Any = None,
    errors: Mapping[str, str] | None = None,
) -> ValidationError:
    """A `ValidationError` with the given details.

    Example:
        >>> str(validation_error("not an email", field="email"))
        "Validation failed for field 'email': not an email"
    """
    return ValidationError(message, field=field, value=value, errors=errors)


def __getattr__(name: str) -> Any:
    """0.2.0 exported its error-handling helpers from this module; they live
    in `sqlmodel_crud_utils.transactions` and `sqlmodel_crud_utils._legacy` now."""
    if name == "translate_errors":
        from .transactions import translate_errors

        return translate_errors
    if name == "legacy_failures":
        from ._legacy import legacy_failures

        return legacy_failures
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
