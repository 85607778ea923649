"""Units of work that are retried when the database asks for it.

    def transfer(session):
        Q(Account).where(id=1).update(session, balance=Account.balance - 10)
        Q(Account).where(id=2).update(session, balance=Account.balance + 10)

    run_transaction(Session, transfer)           # sessionmaker in, fn(session) run

Under SERIALIZABLE isolation (PostgreSQL's, CockroachDB's default), two
transactions that could not have run one after the other fail one of them
with SQLSTATE 40001; deadlocks fail one of theirs (PostgreSQL 40P01,
MySQL/MariaDB error 1213; a lock wait timeout is 1205). Nothing is wrong with
such a transaction but its timing: run again, it succeeds. `run_transaction`
runs ``fn(session)`` in a fresh session and transaction, commits, and on one
of those errors rolls back and runs it again after an exponential backoff
with full jitter (a random delay up to ``backoff * 2 ** (attempt - 1)``,
at most ``max_backoff`` seconds). Any other error propagates at once, as
it would leave a `transaction` block with ``wrap_errors=False``: your own
exceptions and the library's errors unchanged, a database error the library
does not translate as `TransactionError`. After
``retries`` attempts the last conflict is raised as `TransactionError`,
with every attempt in ``attempts``. Each retry is logged (INFO, logger
``sqlmodel_crud_utils.retry``) with the attempt, the error code and the delay.

``fn`` runs inside `transaction` / `a_transaction`: the legacy functions and
`Q` writes in it flush instead of committing, so each attempt is all or
nothing. ``fn`` may run several times: keep side effects outside the
database (sending mail, calling other services) out of it, and return what
the caller needs: rows it returns stay readable after the session closes
(the commit does not expire them).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ._translate import first_line
from .exceptions import TransactionError, UsageError
from .transactions import a_transaction, keeping_loaded, transaction

__all__ = ["Attempt", "a_run_transaction", "retryable_error", "run_transaction"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
_S = TypeVar("_S", bound=Session)
_A = TypeVar("_A", bound=AsyncSession)
#: the largest exponent of the backoff (2 ** 30 times ``backoff``: far past any ``max_backoff``)
_MAX_DOUBLINGS = 30

#: PostgreSQL (and CockroachDB, YugabyteDB) SQLSTATEs worth a retry
_RETRY_SQLSTATES = {"40001": "serialization failure", "40P01": "deadlock detected"}
#: MySQL / MariaDB error numbers worth a retry
_RETRY_MYSQL_ERRORS = {1213: "deadlock", 1205: "lock wait timeout"}


@dataclass(frozen=True)
class Attempt:
    """One failed attempt of `run_transaction`: its number (from 1), the
    database's code (``"40001"``, ``"1213"``, ...), the error's first line,
    and the delay before the next attempt (0 after the last).

    Example:
        >>> Attempt(1, "40001", "could not serialize access", 0.02).code
        '40001'
    """

    number: int
    code: str
    error: str
    delay: float


def retryable_error(error: BaseException) -> str | None:
    """The code of the retryable database error behind ``error`` (a
    serialization failure or deadlock, see the module docs), following
    ``__cause__`` and the library's ``original_error``; ``None`` if there is
    none.

    Example:
        >>> retryable_error(ValueError("no")) is None
        True
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = _code(getattr(current, "orig", None)) or _code(current)
        if code is not None:
            return code
        current = getattr(current, "original_error", None) or current.__cause__
    return None


def _code(error: Any) -> str | None:
    # MySQL's error number first: a deadlock (1213) also carries SQLSTATE
    # 40001 where the driver exposes one (aiomysql through SQLAlchemy)
    args = getattr(error, "args", ())
    if args and isinstance(args[0], int) and args[0] in _RETRY_MYSQL_ERRORS:
        return str(args[0])
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if sqlstate in _RETRY_SQLSTATES:
        return str(sqlstate)
    return None


class _Retrying:
    """The retry policy both loops share: which errors retry, the delays,
    the record of attempts, and the final `TransactionError`."""

    def __init__(self, retries: int, backoff: float, max_backoff: float) -> None:
        if retries < 1:
            raise ValueError(f"retries must be at least 1, got {retries}")
        if backoff < 0 or max_backoff < 0:
            raise ValueError("backoff and max_backoff must be >= 0")
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.attempts: list[Attempt] = []

    def delay_after(self, error: Exception) -> float:
        """The delay before the next attempt after ``error``; re-raises an
        error that is not retryable, raises `TransactionError` after the
        last attempt."""
        code = retryable_error(error)
        if code is None:
            raise error
        number = len(self.attempts) + 1
        last = number >= self.retries
        ceiling = min(self.max_backoff, self.backoff * 2 ** min(number - 1, _MAX_DOUBLINGS))
        delay = 0.0 if last else random.uniform(0, ceiling)
        self.attempts.append(Attempt(number, code, first_line(error), delay))
        if not last:
            _log.info(
                "attempt %d of %d failed with %s (%s); retrying in %.3f s",
                number,
                self.retries,
                code,
                first_line(error),
                delay,
            )
        if last:
            raise TransactionError(
                f"transaction failed after {number} attempt(s), the last with "
                f"{code}: {first_line(error)}",
                original_error=error,
                attempts=tuple(self.attempts),
            ) from error
        return delay


def run_transaction(
    session_factory: Callable[[], _S],
    fn: Callable[[_S], _T],
    *,
    retries: int = 5,
    backoff: float = 0.05,
    max_backoff: float = 2.0,
) -> _T:
    """Run ``fn(session)`` in a transaction of a new session from
    ``session_factory`` and commit; retry on serialization failures and
    deadlocks (see the module docs). Returns what ``fn`` returns.

    Example::

        total = run_transaction(Session, lambda s: Q(Account).count(s), retries=3)
    """
    if inspect.iscoroutinefunction(fn):
        raise UsageError("run_transaction got an async function; use a_run_transaction")
    policy = _Retrying(retries, backoff, max_backoff)
    while True:
        with session_factory() as session:
            try:
                with keeping_loaded(session), transaction(session, wrap_errors=False):
                    return fn(session)
            except Exception as exc:
                delay = policy.delay_after(exc)
        time.sleep(delay)


async def a_run_transaction(
    session_factory: Callable[[], _A],
    fn: Callable[[_A], Awaitable[_T]],
    *,
    retries: int = 5,
    backoff: float = 0.05,
    max_backoff: float = 2.0,
) -> _T:
    """Async twin of `run_transaction`: ``await fn(session)`` on a new
    ``AsyncSession`` inside `a_transaction`, with the same retries.

    Example::

        async def rename(session):
            await Q(Hero).where(id=1).a_update(session, name="Deadpool")

        await a_run_transaction(AsyncSession, rename)
    """
    policy = _Retrying(retries, backoff, max_backoff)
    while True:
        async with session_factory() as session:
            try:
                async with a_transaction(session, wrap_errors=False):
                    return await fn(session)
            except Exception as exc:
                delay = policy.delay_after(exc)
        await asyncio.sleep(delay)
