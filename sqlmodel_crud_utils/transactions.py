"""Transaction blocks that make several calls atomic.

    with transaction(session):
        write_row(hero, session)           # only flushes inside the block
        update_row(7, {"age": 40}, session, Hero)
    # committed here; any exception rolled everything back

Inside a block, the library's legacy write functions flush instead of
committing, and each runs in its own SAVEPOINT: a write that fails rolls
back only itself and reports the failure as usual (``(False, None)``, or
its exception with ``raise_on_error=True``), leaving the block's earlier
work intact and the session usable. Any exception that leaves the block
rolls the whole block back.

Blocks nest: an inner block is a SAVEPOINT, so a failing inner block that
the caller catches rolls back only itself.

SQLite note: the ``pysqlite``/``aiosqlite`` drivers defer ``BEGIN`` and
mishandle SAVEPOINT unless the engine is set up for it; engines made with
`create_pooled_engine` are (see `sqlmodel_crud_utils.connection`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from .exceptions import TransactionError

__all__ = ["a_transaction", "in_transaction", "transaction", "unit_of_work"]

_DEPTH = "sqlmodel_crud_utils.transaction_depth"


def in_transaction(session: Session | AsyncSession) -> bool:
    """Whether ``session`` is inside a `transaction` / `a_transaction` block.

    Example:
        >>> from sqlalchemy.orm import Session
        >>> in_transaction(Session())
        False
    """
    return bool(session.info.get(_DEPTH, 0))


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Run the block atomically: commit on success, roll back on any
    exception. Database errors (including a failed commit) are re-raised as
    `TransactionError` with the original as ``__cause__``; other exceptions
    propagate unchanged. A nested block uses a SAVEPOINT.

    The outermost block commits the session's current transaction, so work
    done on the session just before the block is committed with it.

    Example::

        with transaction(session):
            write_row(Hero(name="Deadpond"), session)
            Q(Team).where(name="Z-Force").delete(session)
    """
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        if depth:
            with session.begin_nested():
                yield session
        else:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    except SQLAlchemyError as exc:
        raise TransactionError(f"transaction rolled back: {exc}") from exc
    finally:
        session.info[_DEPTH] = depth


@asynccontextmanager
async def a_transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Async twin of `transaction` for an ``AsyncSession``.

    A task cancelled inside the block has its work rolled back before the
    cancellation propagates.

    Example::

        async with a_transaction(session):
            await a_write_row(Hero(name="Deadpond"), session)
    """
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        if depth:
            async with session.begin_nested():
                yield session
        else:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
    except SQLAlchemyError as exc:
        raise TransactionError(f"transaction rolled back: {exc}") from exc
    finally:
        session.info[_DEPTH] = depth


@contextmanager
def unit_of_work(session: Session) -> Iterator[None]:
    """The transaction scope of one legacy write (internal).

    Outside a `transaction` block the write commits on success and rolls
    back on failure, as in v0.1. Inside one it runs in a SAVEPOINT and only
    flushes, so a failure undoes just this write.
    """
    if in_transaction(session):
        with session.begin_nested():
            yield
        return
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
