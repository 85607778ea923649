"""The v0.1 failure conventions of the legacy functions, in one place.

`legacy_failures` turns a failure into v0.1's return value (logged) or,
with ``raise_on_error=True``, into the library's exception; `legacy_write`
adds what a failed write means inside a `transaction` block.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from ._pins import pinned
from ._translate import DATABASE_ERRORS, first_line, translated
from .exceptions import (
    QueryError,
    QueryExecutionError,
    RecordNotFoundError,
    SQLModelCRUDError,
    TenantError,
    TransactionError,
    UsageError,
)
from .transactions import note_uncontained_failure
from .utils import logger

__all__ = ["failed_writes_doom_the_block", "legacy_failures", "legacy_write", "note_failed_write"]


@contextmanager
def legacy_failures(
    operation: str, raise_on_error: bool, log: logging.Logger | None = None, model: Any = None
) -> Iterator[None]:
    """The failure convention of the legacy functions, in one place.

    With ``raise_on_error=False`` a failure in the block is logged at ERROR
    level on ``log`` (default: the ``sqlmodel_crud_utils`` logger; the
    legacy modules pass their own ``logger`` attribute) and swallowed, so the
    code after the ``with`` returns the v0.1 failure value; a missing row is
    an expected outcome and only logged at DEBUG. With ``raise_on_error=True``
    library errors propagate; a database error becomes what
    `sqlmodel_crud_utils._translate.translated` says (`ValidationError`
    naming ``model``'s column and value, `ConstraintError`,
    `DatabaseConnectionError`) or else `TransactionError`, with the original
    as ``__cause__``; anything else (say, a hook's own exception) propagates
    unchanged.

    Programming errors always propagate: `QueryError` (bad filters or
    fields), `UsageError` (e.g. an ``async def`` hook met by a sync call) and
    `TenantError` (no tenant set, or another tenant's row: fail closed).

    Example:
        >>> def find():
        ...     with legacy_failures("get_row", raise_on_error=False):
        ...         raise RecordNotFoundError("Hero", 7)
        ...     return False, None
        >>> find()
        (False, None)
    """
    log = logger if log is None else log
    try:
        yield
    except (QueryError, UsageError, TenantError):
        raise
    except QueryExecutionError as exc:
        # a `Q` statement the database refused is reported as the database error itself
        _database_failure(operation, exc.original_error or exc, raise_on_error, log, model)
    except RecordNotFoundError as exc:
        if raise_on_error:
            raise
        log.debug("%s: %s", operation, exc)  # a missing row is an expected outcome
    except SQLModelCRUDError as exc:  # before DATABASE_ERRORS: ConstraintError is one too
        if raise_on_error:
            raise
        log.error("%s failed: %s", operation, first_line(exc))
    except DATABASE_ERRORS as exc:
        _database_failure(operation, exc, raise_on_error, log, model)
    except Exception as exc:
        if raise_on_error:
            raise
        log.error("%s failed: %s: %s", operation, type(exc).__name__, first_line(exc))


def _database_failure(
    operation: str, cause: BaseException, raise_on_error: bool, log: logging.Logger, model: Any
) -> None:
    if raise_on_error:
        error = translated(cause, model) or TransactionError(
            f"{operation} failed: {first_line(cause)}", original_error=cause
        )
        raise error from cause
    log.error("%s failed: %s", operation, first_line(cause))


@contextmanager
def failed_writes_doom_the_block(session: Session) -> Iterator[None]:
    """Inside a `transaction` block, a legacy write that fails (for any
    reason but not finding its row) dooms the innermost block: the write
    itself is already undone (its SAVEPOINT), the session stays usable, and
    the block rolls back on exit with `TransactionError` instead of
    committing the rest. No block ever commits half of its writes silently.
    Outside a block this does nothing."""
    try:
        yield
    except (RecordNotFoundError, QueryError, UsageError):
        raise
    except Exception as exc:
        note_failed_write(session, exc)
        raise


@contextmanager
def legacy_write(
    operation: str,
    raise_on_error: bool,
    session: Session,
    log: logging.Logger | None = None,
    model: Any = None,
) -> Iterator[None]:
    """The failure handling of a legacy write: `legacy_failures` (the v0.1
    return conventions, failures reported on ``log``) plus
    `failed_writes_doom_the_block`; every statement of the write, its reads
    included, goes to the primary of a routed session."""
    with (
        legacy_failures(operation, raise_on_error, log, model),
        failed_writes_doom_the_block(session),
        pinned(session),
    ):
        yield


def note_failed_write(session: Session, error: BaseException) -> None:
    """Doom the innermost `transaction` block (if any) for a failed write
    reported as a value rather than raised (see `failed_writes_doom_the_block`)."""
    note_uncontained_failure(session, error)
