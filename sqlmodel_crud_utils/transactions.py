"""Transaction blocks that make several calls atomic.

    with transaction(session):
        write_row(hero, session)           # only flushes inside the block
        update_row(7, {"age": 40}, session, Hero)
    # committed here; any exception rolled everything back

What a block guarantees:

* success commits, once, when the outermost block exits;
* any exception rolls the block back, then propagates. Your own exceptions
  (and non-database SQLAlchemy errors such as ``NoResultFound``) come out
  unchanged, the very same object. Errors raised by the database
  (`sqlalchemy.exc.DBAPIError`: a unique violation, a deadlock, a lost
  connection; and the ORM's ``StaleDataError``) come out as
  `TransactionError` with the original as ``__cause__``. A failing commit is
  always a `TransactionError`;
* blocks nest: an inner block is a SAVEPOINT, so a failing inner block that
  the caller catches rolls back only itself and the outer block goes on;
* after any failure the session is usable again.

Inside a block, writes only flush: `Q.update` / `Q.delete` run in the
block's transaction, and the library's legacy write functions flush instead
of committing, each in its own SAVEPOINT. A legacy write that fails is
undone at once and reports the failure as usual (``(False, None)``, or its
exception with ``raise_on_error=True``); the session goes on, but the block
is doomed: it rolls back on exit with `TransactionError` rather than commit
half of its writes (a nested block around a write you can do without keeps
the doom to itself). Do not call ``session.commit()`` inside a block: it
would end the block's transaction early.

No silent half-commits: a database error that a legacy function reports as
its failure value but that its transaction may not survive (a failed legacy
*read*, which runs without a SAVEPOINT: PostgreSQL then refuses every further
statement and turns the final COMMIT into a silent ROLLBACK; or a write whose
SAVEPOINT is gone, as after a MariaDB deadlock, which rolls back the whole
transaction) is remembered, and the block it happened in rolls back on exit
and raises `TransactionError` instead of committing.

Databases without SAVEPOINT (an engine created with
``create_pooled_engine(..., savepoints=False)``, or any engine given the
execution option ``SAVEPOINTS_OPTION: False``): an outermost block works as
above, and its legacy writes run without a SAVEPOINT; a write that fails then
cannot be undone alone, so it dooms the block at once (it rolls back on exit
with `TransactionError` naming that failure; later statements in the block
may fail too). A nested block needs a SAVEPOINT and says so with a
`UsageError` before touching the database. `insert_data_rows` raises the
failure of its batch instead of retrying the rows one by one, and
`get_one_or_create` the conflict of a concurrent insert instead of reading
the winner's row.

SQLite note: the ``pysqlite``/``aiosqlite`` drivers defer ``BEGIN`` until
the first INSERT/UPDATE/DELETE, so a SAVEPOINT opened before it would be an
outermost transaction whose release commits. Before each SAVEPOINT it opens
(nested blocks, legacy writes in a block), the library begins the driver's
transaction itself, so blocks are atomic on any SQLite engine. Your own
``session.begin_nested()`` outside these paths needs an engine from
`create_pooled_engine` (see `sqlmodel_crud_utils.connection`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager, nullcontext

from sqlalchemy.exc import DBAPIError, SQLAlchemyError, UnboundExecutionError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .exceptions import SessionTypeError, TransactionError, UsageError
from .versioning import conflict_of

__all__ = [
    "SAVEPOINTS_OPTION",
    "a_transaction",
    "begin_for_the_driver",
    "in_transaction",
    "keeping_loaded",
    "nested",
    "note_uncontained_failure",
    "savepoints_available",
    "transaction",
    "unit_of_work",
]

#: Engine execution option: ``False`` declares a database without SAVEPOINT.
SAVEPOINTS_OPTION = "sqlmodel_crud_utils_savepoints"
_DEPTH = "sqlmodel_crud_utils.transaction_depth"
_FAILURE = "sqlmodel_crud_utils.uncontained_failure"
_DATABASE_ERRORS = (DBAPIError, StaleDataError)
_COMMIT_FAILED = "commit failed, transaction rolled back"


@contextmanager
def translate_errors(message: str, session: Session | None = None) -> Iterator[None]:
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
    except TransactionError:
        raise  # says so already (a ConstraintError is a SQLAlchemy error too)
    except SQLAlchemyError as exc:
        raise conflict_of(exc, session) or TransactionError(
            f"{message}: {exc}", original_error=exc
        ) from exc


def _sync(session: Session | AsyncSession) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


def in_transaction(session: Session | AsyncSession) -> bool:
    """Whether ``session`` is inside a `transaction` / `a_transaction` block.

    Example:
        >>> from sqlalchemy.orm import Session
        >>> in_transaction(Session())
        False
    """
    return _depth(session) > 0


def _depth(session: Session | AsyncSession) -> int:
    """How many `transaction` blocks ``session`` is in (0 when its ``info``
    holds no count, or something else than one, as a stand-in session's may)."""
    depth = session.info.get(_DEPTH, 0)
    return depth if isinstance(depth, int) else 0


def note_uncontained_failure(
    session: Session | AsyncSession, error: BaseException, level: int | None = None
) -> None:
    """Remember a database error, swallowed inside a block, that the block's
    transaction may not have survived (internal; used by the legacy layer).

    The block at nesting ``level`` (default: the innermost open block) then
    rolls back on exit and raises `TransactionError` instead of committing.
    Outside any block this does nothing.

    Example:
        >>> from sqlalchemy.orm import Session
        >>> note_uncontained_failure(Session(), RuntimeError("lost"))  # no block: ignored
    """
    level = _depth(session) if level is None else level
    noted = session.info.get(_FAILURE)
    if level and (noted is None or level < noted[0]):
        session.info[_FAILURE] = (level, error)


def _raise_if_failed(session: Session | AsyncSession, depth: int) -> None:
    """Called where the block at ``depth + 1`` would commit or release: refuse
    if an uncontained failure happened inside it."""
    noted = session.info.get(_FAILURE)
    if noted is not None and noted[0] > depth:
        undone = "savepoint" if depth else "transaction"
        message = f"{undone} rolled back: a statement in the block failed earlier: {noted[1]}"
        raise TransactionError(message, original_error=noted[1]) from noted[1]


def _lost_savepoint(exc: BaseException) -> BaseException | None:
    """When ``exc`` is (or was raised while handling) a failed ``ROLLBACK TO
    SAVEPOINT``, the SAVEPOINT is gone together with the work before it (a
    MariaDB deadlock rolls back the whole transaction). Returns the error
    that took it (the deadlock), or the failed rollback itself; else ``None``."""
    chain: list[BaseException] = [exc]
    for error in chain:  # every error linked by __cause__ / __context__, nearest first
        for linked in (error.__cause__, error.__context__):
            if linked is not None and all(linked is not seen for seen in chain):
                chain.append(linked)
    database_errors = [error for error in chain if isinstance(error, DBAPIError)]
    lost = [e for e in database_errors if _statement(e).startswith("ROLLBACK TO SAVEPOINT")]
    if not lost:
        return None
    reasons = [e for e in database_errors if "SAVEPOINT" not in _statement(e)]
    return reasons[0] if reasons else lost[0]


def _statement(error: DBAPIError) -> str:
    return (error.statement or "").lstrip().upper()


def begin_for_the_driver(session: Session) -> None:
    """SQLite's Python drivers (pysqlite, aiosqlite) begin a transaction only
    before INSERT/UPDATE/DELETE; a SAVEPOINT opened first would itself be the
    outermost transaction, whose RELEASE commits. Begin it for them, so
    SAVEPOINTs nest inside the session's transaction on any SQLite engine
    (engines from `create_pooled_engine` have begun already). A session with
    several binds and no default one is left alone (internal)."""
    try:
        connection = session.connection()
    except UnboundExecutionError:
        return
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    if driver is not None and getattr(driver, "in_transaction", True) is False:
        connection.exec_driver_sql("BEGIN")


def savepoints_available(session: Session | AsyncSession) -> bool:
    """Whether ``session``'s engine offers SAVEPOINT (see `SAVEPOINTS_OPTION`).

    Example:
        >>> from sqlalchemy import create_engine
        >>> from sqlalchemy.orm import Session
        >>> engine = create_engine("sqlite://")
        >>> savepoints_available(Session(engine))
        True
        >>> savepoints_available(Session(engine.execution_options(**{SAVEPOINTS_OPTION: False})))
        False
    """
    try:
        bind = session.get_bind()
    except UnboundExecutionError:
        return True
    return bool(bind.get_execution_options().get(SAVEPOINTS_OPTION, True))


def _needs_savepoint(session: Session | AsyncSession, what: str) -> None:
    if not savepoints_available(session):
        raise UsageError(
            f"{what} needs a SAVEPOINT, and this session's engine is declared "
            f"without them ({SAVEPOINTS_OPTION}=False)"
        )


@contextmanager
def nested(session: Session, what: str = "this operation") -> Iterator[None]:
    """``session.begin_nested()`` that nests on any SQLite engine too (see
    `begin_for_the_driver`); for SAVEPOINTs of the library's own (internal).
    ``what`` names the operation in the `UsageError` of an engine without
    SAVEPOINT."""
    _needs_savepoint(session, what)
    begin_for_the_driver(session)
    with session.begin_nested():
        yield


@contextmanager
def _lost_savepoint_dooms(session: Session | AsyncSession, level: int) -> Iterator[None]:
    """Around a SAVEPOINT: one that cannot be rolled back dooms the block at
    ``level`` and surfaces as the error that destroyed it."""
    try:
        yield
    except SQLAlchemyError as exc:
        lost = _lost_savepoint(exc)
        if lost is None:
            raise
        note_uncontained_failure(session, lost, level)
        error = lost
    else:
        return
    raise error


@contextmanager
def _savepoint(session: Session, level: int) -> Iterator[None]:
    """A SAVEPOINT for a nested block or a legacy write (see `nested`)."""
    with _lost_savepoint_dooms(session, level), nested(session, "a nested transaction block"):
        yield


@contextmanager
def _block(session: Session | AsyncSession, wrap_errors: bool) -> Iterator[int]:
    """What `transaction` and `a_transaction` share: the nesting depth (yields
    the depth outside this block, ``0`` for the outermost), the translation
    of errors leaving the block (see `transaction`), and forgetting the
    failures noted inside it once it is over."""
    depth = _depth(session)
    session.info[_DEPTH] = depth + 1
    try:
        yield depth
    except (TransactionError, UsageError):
        raise  # already says the transaction failed; or a programming error
    except Exception as exc:
        if wrap_errors or isinstance(exc, _DATABASE_ERRORS):
            raise conflict_of(exc, _sync(session)) or TransactionError(
                f"Transaction failed: {exc}", original_error=exc
            ) from exc
        raise
    finally:
        session.info[_DEPTH] = depth
        noted = session.info.get(_FAILURE)
        if noted is not None and noted[0] > depth:
            del session.info[_FAILURE]


@contextmanager
def transaction(session: Session, *, wrap_errors: bool = True) -> Iterator[Session]:
    """Run the block atomically: commit on success, roll back on any
    exception and raise `TransactionError("Transaction failed: ...")` with
    the original exception as ``__cause__`` (and ``original_error``), as
    v0.2 did. A nested block uses a SAVEPOINT.

    With ``wrap_errors=False`` your own exceptions (say, FastAPI's
    ``HTTPException``) propagate unchanged after the rollback; database
    errors (`sqlalchemy.exc.DBAPIError`, ``StaleDataError``) are
    `TransactionError` either way. A `TransactionError` is never wrapped
    again, and ``KeyboardInterrupt`` / task cancellation (not ``Exception``
    subclasses) roll back and propagate unchanged.

    The outermost block commits the session's current transaction, so work
    done on the session just before the block is committed (or rolled back)
    with it. Passing an ``AsyncSession`` raises `TypeError` (it could not
    commit); use `a_transaction`.

    Example::

        with transaction(session):
            session.add(Hero(name="Deadpond"))
            Q(Team).where(name="Z-Force").delete(session)
    """
    if isinstance(session, AsyncSession):
        raise SessionTypeError("transaction", "AsyncSession", "a_transaction(session)")
    with _block(session, wrap_errors) as depth, _atomic(session, depth, keep_loaded=False):
        yield session


@asynccontextmanager
async def a_transaction(
    session: AsyncSession, *, wrap_errors: bool = True
) -> AsyncIterator[AsyncSession]:
    """Async twin of `transaction` for an ``AsyncSession`` (same
    ``wrap_errors``).

    A task cancelled inside the block has its work rolled back (and its
    connection returned to the pool) before the cancellation propagates.

    The commit does not expire the session's objects (whatever the session's
    ``expire_on_commit`` says): an expired attribute could only be reloaded
    by a lazy load, which async code cannot do (``MissingGreenlet``). So rows
    added in the block, or returned by the ``a_*`` legacy functions inside
    it, stay readable after it, as they are after those functions outside a
    block. Call ``await session.refresh(row)`` to re-read one.

    Example::

        async with a_transaction(session):
            session.add(Hero(name="Deadpond"))
            await Q(Team).where(name="Z-Force").a_delete(session)
    """
    if not isinstance(session, AsyncSession):
        raise SessionTypeError("a_transaction", "a sync Session", "transaction(session)")
    with _block(session, wrap_errors) as depth:
        # the same steps as `transaction`, each run through run_sync
        atomic = _atomic(session.sync_session, depth, keep_loaded=True)
        await session.run_sync(lambda _: atomic.__enter__())
        try:
            yield session
        except BaseException as exc:
            if not await session.run_sync(_leave, atomic, exc):
                raise
        else:
            await session.run_sync(_leave, atomic, None)


def _leave(
    _: Session, atomic: AbstractContextManager[None], error: BaseException | None
) -> bool | None:
    """Exit ``atomic`` as a ``with`` statement would, ``error`` raised in it."""
    if error is None:
        return atomic.__exit__(None, None, None)
    return atomic.__exit__(type(error), error, error.__traceback__)


@contextmanager
def _atomic(session: Session, depth: int, *, keep_loaded: bool) -> Iterator[None]:
    """The transaction work around a block's body, for `transaction` and
    (step by step, through ``run_sync``) `a_transaction`: a SAVEPOINT for a
    nested block; for the outermost, a commit on success (``keep_loaded``:
    one that does not expire the session's objects) and a rollback on any
    exception."""
    if depth:
        with _savepoint(session, depth):  # refuses an engine without SAVEPOINT
            yield
            _raise_if_failed(session, depth)
        return
    try:
        yield
        _raise_if_failed(session, depth)
        with (
            translate_errors(_COMMIT_FAILED, session),
            keeping_loaded(session) if keep_loaded else nullcontext(),
        ):
            session.commit()
    except Exception as exc:
        session.rollback()
        if isinstance(exc, SQLAlchemyError) and not isinstance(exc, DBAPIError):
            # what a statement after an earlier, noted failure raises (the
            # session was waiting for its rollback): report the failure itself
            _raise_if_failed(session, depth)
        raise
    except BaseException:
        session.rollback()
        raise


@contextmanager
def keeping_loaded(session: Session) -> Iterator[None]:
    """Commits made in the block do not expire ``session``'s objects
    (internal; the one place ``expire_on_commit`` is switched): async code
    cannot reload an expired attribute, and bulk writes should not reload
    every row they wrote. The session's own setting is restored on exit.

    Example::

        with keeping_loaded(session):
            session.commit()  # rows keep their loaded values
    """
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = expire


@contextmanager
def unit_of_work(session: Session) -> Iterator[None]:
    """The transaction scope of one legacy write (internal).

    Outside a `transaction` block the write commits on success and rolls
    back on failure, as in v0.1. Inside one it runs in a SAVEPOINT and only
    flushes, so a failure undoes just this write (a SAVEPOINT that cannot
    be rolled back dooms the block, see `note_uncontained_failure`).
    """
    level = _depth(session)
    if level and not savepoints_available(session):
        try:
            yield
        except BaseException as exc:  # not undone alone: the block is over
            note_uncontained_failure(session, exc, level)
            raise
        return
    if level:
        with _savepoint(session, level):
            yield
        return
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
