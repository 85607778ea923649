"""`transaction` / `a_transaction` on every backend, sync and async.

Each test drives a block through `Tx`, which hides whether the block is
``transaction(session)`` or ``async with a_transaction(async_session)``; the
steps inside are real writes (``session.add`` + flush, ``Q.update``,
``Q.delete``, and the legacy functions of `sqlmodel_crud_utils.sync` /
``a_sync``). What the database holds is always read back through a fresh
session on its own connection, so only committed data counts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import delete, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import (
    BulkOperationError,
    Q,
    RecordNotFoundError,
    TransactionError,
    a_transaction,
    a_update_row,
    in_transaction,
    transaction,
    update_row,
)
from tests.legacy_helpers import S, legacy
from tests.models_safety import Account


class Boom(Exception):
    """The caller's own exception."""


class Tx:
    """One test body for both modes: ``async with tx.block():`` is
    ``transaction(db.session)`` in sync mode and ``a_transaction(...)`` in
    async mode; the helpers run one step on the block's session.

    The tests of the block mechanics use ``wrap_errors=False`` so that the
    caller's own exceptions come out as themselves; the default (every
    exception wrapped in `TransactionError`) has tests of its own."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.session: Any = db.async_session if db.async_session is not None else db.session

    @asynccontextmanager
    async def block(self, *, wrap_errors: bool = False) -> AsyncIterator[Any]:
        if self.db.async_session is None:
            with transaction(self.db.session, wrap_errors=wrap_errors) as session:
                yield session
        else:
            async with a_transaction(self.db.async_session, wrap_errors=wrap_errors) as session:
                yield session

    async def add(self, *rows: Account, flush: bool = True) -> None:
        self.session.add_all(rows)
        if flush:
            await self.flush()

    async def flush(self) -> None:
        if self.db.async_session is None:
            self.session.flush()
        else:
            await self.session.flush()

    async def update(self, q: Q[Any], **values: Any) -> int:
        return int(await self.db.run(q, "update", **values))

    async def delete(self, q: Q[Any]) -> int:
        return int(await self.db.run(q, "delete"))

    async def legacy(self, function: str, /, *args: Any, **kwargs: Any) -> Any:
        """A legacy function (``S`` marks the session), sync or ``a_sync``."""
        return await legacy(self.db, function, *args, **kwargs)

    async def emails(self) -> list[str]:
        """Read through the block's own session (proves it is usable)."""
        rows = await self.db.run(Q(Account).order_by("email"), "all")
        return [row.email for row in rows]

    def committed(self) -> dict[str, int]:
        """email -> balance as another connection sees it."""
        with Session(self.db.backend.engine) as fresh:
            return {a.email: a.balance for a in fresh.exec(select(Account)).all()}

    def id_of(self, email: str) -> int:
        with Session(self.db.backend.engine) as fresh:
            return int(fresh.exec(select(Account.id).where(Account.email == email)).one())


@pytest.fixture
def tx(db: Any) -> Tx:
    db.seed(Account(email="ann@x.io", balance=10), Account(email="bob@x.io", balance=20))
    return Tx(db)


BEFORE = {"ann@x.io": 10, "bob@x.io": 20}


async def test_successful_block_commits_every_step(tx: Tx) -> None:
    async with tx.block():
        await tx.add(Account(email="cat@x.io", balance=30))
        assert await tx.update(Q(Account).where(email="ann@x.io"), balance=11) == 1
        assert await tx.delete(Q(Account).where(email="bob@x.io")) == 1
        assert tx.committed() == BEFORE  # nothing visible before the commit
    assert tx.committed() == {"ann@x.io": 11, "cat@x.io": 30}


async def test_failing_block_leaves_no_trace_and_caller_exception_is_unchanged(tx: Tx) -> None:
    boom = Boom("stop")

    async def failing() -> None:
        async with tx.block():
            await tx.add(Account(email="cat@x.io"))
            await tx.update(Q(Account).where(email="ann@x.io"), balance=99)
            await tx.delete(Q(Account).where(email="bob@x.io"))
            raise boom

    with pytest.raises(Boom) as raised:
        await failing()
    assert raised.value is boom
    assert raised.value.__cause__ is None
    assert tx.committed() == BEFORE
    assert not in_transaction(tx.session)
    assert await tx.emails() == ["ann@x.io", "bob@x.io"]  # the session is usable


async def test_by_default_any_exception_is_wrapped_in_transaction_error(tx: Tx) -> None:
    """v0.2's (and the seed's) contract: ``TransactionError("Transaction
    failed: ...")`` with the original as ``__cause__``, after the rollback."""
    boom = Boom("stop")

    async def failing() -> None:
        async with tx.block(wrap_errors=True):
            await tx.add(Account(email="cat@x.io"))
            await tx.update(Q(Account).where(email="ann@x.io"), balance=99)
            raise boom

    with pytest.raises(TransactionError, match=r"^Transaction failed: stop$") as raised:
        await failing()
    assert raised.value.__cause__ is boom
    assert raised.value.original_error is boom
    assert tx.committed() == BEFORE
    assert not in_transaction(tx.session)
    assert await tx.emails() == ["ann@x.io", "bob@x.io"]


async def test_default_wrapping_is_what_transaction_does_without_arguments(db: Any) -> None:
    db.seed(Account(email="ann@x.io", balance=10))

    async def missing_row_in_a_block() -> None:
        if db.async_session is None:
            with transaction(db.session):
                Q(Account).where(email="nobody@x.io").one(db.session)
        else:
            async with a_transaction(db.async_session):
                await Q(Account).where(email="nobody@x.io").a_one(db.async_session)

    with pytest.raises(TransactionError, match=r"^Transaction failed: No Account") as raised:
        await missing_row_in_a_block()
    assert isinstance(raised.value.__cause__, RecordNotFoundError)


async def test_wrapped_nested_failure_is_not_wrapped_twice(tx: Tx) -> None:
    async def failing() -> None:
        async with tx.block(wrap_errors=True):
            await tx.add(Account(email="cat@x.io"))
            async with tx.block(wrap_errors=True):
                raise Boom("inner")

    with pytest.raises(TransactionError) as raised:
        await failing()
    assert str(raised.value) == "Transaction failed: inner"
    assert isinstance(raised.value.__cause__, Boom)
    assert tx.committed() == BEFORE


async def test_database_errors_are_wrapped_with_or_without_wrap_errors(tx: Tx) -> None:
    async def duplicate(wrap_errors: bool) -> None:
        async with tx.block(wrap_errors=wrap_errors):
            await tx.add(Account(email="bob@x.io"))  # duplicate unique email

    for wrap_errors in (True, False):
        with pytest.raises(TransactionError, match=r"^Transaction failed: ") as raised:
            await duplicate(wrap_errors)
        assert isinstance(raised.value.__cause__, IntegrityError)
        assert tx.committed() == BEFORE


async def test_library_and_sqlalchemy_non_database_errors_propagate_unchanged(tx: Tx) -> None:
    async def failing() -> None:
        async with tx.block():
            await tx.add(Account(email="cat@x.io"))
            await tx.db.run(Q(Account).where(email="nobody@x.io"), "one")

    with pytest.raises(RecordNotFoundError):
        await failing()
    assert tx.committed() == BEFORE


async def test_unique_violation_at_flush_is_a_transaction_error(tx: Tx) -> None:
    async def failing() -> None:
        async with tx.block():
            await tx.update(Q(Account).where(email="ann@x.io"), balance=0)
            await tx.add(Account(email="cat@x.io"))
            await tx.add(Account(email="bob@x.io"))  # duplicate unique email

    with pytest.raises(TransactionError, match=r"^Transaction failed: ") as raised:
        await failing()
    assert isinstance(raised.value.__cause__, IntegrityError)
    assert tx.committed() == BEFORE
    async with tx.block():  # the session is usable again
        await tx.add(Account(email="dan@x.io"))
    assert set(tx.committed()) == {"ann@x.io", "bob@x.io", "dan@x.io"}


async def test_duplicate_primary_key_at_commit_is_a_transaction_error(tx: Tx) -> None:
    eve_id = tx.db.seed(Account(email="eve@x.io"))[0].id

    async def failing() -> None:
        async with tx.block():
            await tx.update(Q(Account).where(email="ann@x.io"), balance=0)
            await tx.add(Account(id=eve_id, email="new@x.io"), flush=False)  # fails at commit

    with pytest.raises(TransactionError, match="commit failed") as raised:
        await failing()
    assert isinstance(raised.value.__cause__, IntegrityError)
    assert tx.committed() == {**BEFORE, "eve@x.io": 0}
    assert not in_transaction(tx.session)
    assert await tx.emails() == ["ann@x.io", "bob@x.io", "eve@x.io"]


async def test_failing_nested_block_caught_by_caller_rolls_back_only_itself(tx: Tx) -> None:
    async def failing_inner() -> None:
        async with tx.block():
            await tx.add(Account(email="dan@x.io"))
            await tx.update(Q(Account).where(email="ann@x.io"), balance=0)
            await tx.delete(Q(Account).where(email="bob@x.io"))
            raise Boom

    async with tx.block():
        await tx.add(Account(email="cat@x.io"))
        with pytest.raises(Boom):
            await failing_inner()
        assert await tx.emails() == ["ann@x.io", "bob@x.io", "cat@x.io"]
        await tx.update(Q(Account).where(email="bob@x.io"), balance=21)
    assert tx.committed() == {"ann@x.io": 10, "bob@x.io": 21, "cat@x.io": 0}


@pytest.mark.parametrize("flush", [True, False], ids=["in-block", "at-release"])
async def test_nested_database_error_caught_by_caller_rolls_back_only_itself(
    tx: Tx, flush: bool
) -> None:
    async def failing_inner() -> None:
        async with tx.block():
            await tx.update(Q(Account).where(email="ann@x.io"), balance=0)
            await tx.add(Account(email="bob@x.io"), flush=flush)  # duplicate

    async with tx.block():
        await tx.add(Account(email="cat@x.io"))
        with pytest.raises(TransactionError, match=r"^Transaction failed: ") as raised:
            await failing_inner()
        assert isinstance(raised.value.__cause__, IntegrityError)
        await tx.add(Account(email="dan@x.io"))
    assert tx.committed() == {**BEFORE, "cat@x.io": 0, "dan@x.io": 0}


async def test_nested_success_is_undone_when_the_outer_block_fails(tx: Tx) -> None:
    async def failing_outer() -> None:
        async with tx.block():
            async with tx.block():
                await tx.add(Account(email="cat@x.io"))
                await tx.delete(Q(Account).where(email="ann@x.io"))
            assert await tx.emails() == ["bob@x.io", "cat@x.io"]
            raise Boom

    with pytest.raises(Boom):
        await failing_outer()
    assert tx.committed() == BEFORE


async def test_three_levels_each_roll_back_only_themselves(tx: Tx) -> None:
    async def failing_third_level() -> None:
        async with tx.block():
            await tx.add(Account(email="l3@x.io"))
            raise Boom

    async with tx.block():
        await tx.add(Account(email="l1@x.io"))
        async with tx.block():
            await tx.add(Account(email="l2@x.io"))
            with pytest.raises(Boom):
                await failing_third_level()
    assert set(tx.committed()) == {*BEFORE, "l1@x.io", "l2@x.io"}


async def test_in_transaction_is_true_inside_and_false_after(tx: Tx) -> None:
    assert not in_transaction(tx.session)
    async with tx.block():
        assert in_transaction(tx.session)
        async with tx.block():
            assert in_transaction(tx.session)
        assert in_transaction(tx.session)
    assert not in_transaction(tx.session)
    with pytest.raises(Boom):
        async with tx.block():
            raise Boom
    assert not in_transaction(tx.session)


async def test_work_done_just_before_the_block_is_committed_with_it(tx: Tx) -> None:
    tx.session.add(Account(email="cat@x.io"))  # pending when the block starts
    async with tx.block():
        await tx.add(Account(email="dan@x.io"))
    assert set(tx.committed()) == {*BEFORE, "cat@x.io", "dan@x.io"}


# --- cancellation (async only) ----------------------------------------------


@pytest.fixture
async def small_pool(backend: Any) -> AsyncIterator[Any]:
    """An async engine whose pool holds one connection, so the connection a
    cancelled task used is the one the next session gets."""
    backend.clean()
    engine = backend.async_engine(pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_cancelled_task_rolls_back_and_returns_a_clean_connection(small_pool: Any) -> None:
    inside = asyncio.Event()

    async def work() -> None:
        async with AsyncSession(small_pool) as session, a_transaction(session):
            session.add(Account(email="cat@x.io"))
            await session.flush()
            await Q(Account).where(email="cat@x.io").a_update(session, balance=5)
            inside.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(work())
    await inside.wait()
    assert small_pool.pool.checkedout() == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert small_pool.pool.checkedout() == 0
    async with AsyncSession(small_pool) as fresh:  # the same (only) connection
        assert (await fresh.exec(select(Account))).all() == []
        async with a_transaction(fresh):
            fresh.add(Account(email="dan@x.io"))
        assert [a.email for a in (await fresh.exec(select(Account))).all()] == ["dan@x.io"]
    assert small_pool.pool.checkedout() == 0


async def test_cancelled_nested_block_rolls_back_everything(small_pool: Any) -> None:
    inside = asyncio.Event()

    async def work() -> None:
        async with AsyncSession(small_pool) as session, a_transaction(session):
            session.add(Account(email="cat@x.io"))
            async with a_transaction(session):
                session.add(Account(email="dan@x.io"))
                await session.flush()
                inside.set()
                await asyncio.sleep(30)

    task = asyncio.create_task(work())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert small_pool.pool.checkedout() == 0
    async with AsyncSession(small_pool) as fresh:
        assert (await fresh.exec(select(Account))).all() == []


SLEEP = {"postgresql": "SELECT pg_sleep(30)", "mariadb": "SELECT SLEEP(30)"}


async def test_task_cancelled_during_a_statement_leaves_a_clean_pool(
    small_pool: Any, backend: Any
) -> None:
    if backend.name not in SLEEP:
        pytest.skip("needs a server-side sleep")
    inside = asyncio.Event()

    async def work() -> None:
        async with AsyncSession(small_pool) as session, a_transaction(session):
            session.add(Account(email="cat@x.io"))
            await session.flush()
            inside.set()
            await (await session.connection()).exec_driver_sql(SLEEP[backend.name])

    task = asyncio.create_task(work())
    await inside.wait()
    await asyncio.sleep(0.2)  # the sleep statement is running on the server
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert small_pool.pool.checkedout() == 0
    async with AsyncSession(small_pool) as fresh:
        assert (await fresh.exec(select(Account))).all() == []


async def test_the_wrong_kind_of_session_is_refused_before_anything_runs() -> None:
    # Sessions without an engine: a refusal that touched the database would fail differently.
    async_session, sync_session = AsyncSession(), Session()
    with pytest.raises(TypeError, match="a_transaction"), transaction(async_session):  # type: ignore[arg-type]
        pass
    with pytest.raises(TypeError, match="call transaction"):
        async with a_transaction(sync_session):  # type: ignore[arg-type]
            pass
    assert not in_transaction(async_session)
    assert not in_transaction(sync_session)


async def test_row_changed_by_another_connection_is_a_transaction_error(tx: Tx) -> None:
    ann = await tx.db.run(Q(Account).where(email="ann@x.io"), "one")

    async def failing() -> None:
        async with tx.block():
            with tx.db.backend.engine.begin() as other:  # someone else deletes the row
                other.execute(delete(Account).where(Account.email == "ann@x.io"))
            ann.balance = 1
            await tx.add(Account(email="cat@x.io"))

    with pytest.raises(TransactionError) as raised:
        await failing()
    # PostgreSQL / MariaDB: the ORM's StaleDataError (UPDATE matched no row);
    # SQLite: the write conflicts with the reader's snapshot (database is locked).
    assert isinstance(raised.value.__cause__, (StaleDataError, OperationalError))
    assert tx.committed() == {"bob@x.io": 20}
    assert await tx.emails() == ["bob@x.io"]


# --- legacy functions inside blocks -------------------------------------------


async def _every_legacy_write(tx: Tx) -> dict[str, int]:
    """One call of each legacy write on the block's session, each checked for
    its success value; returns email -> balance as the block should leave it."""
    ann, bob = tx.id_of("ann@x.io"), tx.id_of("bob@x.io")
    ok, cat = await tx.legacy("write_row", Account(email="cat@x.io", balance=30), S)
    assert ok is True
    assert cat.id is not None
    ok, row = await tx.legacy("update_row", ann, {"balance": 11}, S, Account)
    assert (ok, row.balance) == (True, 11)
    assert await tx.legacy("delete_row", bob, S, Account) is True
    new_rows = [Account(email="dan@x.io", balance=40), Account(email="eve@x.io", balance=50)]
    ok, rows = await tx.legacy("insert_data_rows", new_rows, S)
    assert ok is True
    assert [r.email for r in rows] == ["dan@x.io", "eve@x.io"]
    row, existed = await tx.legacy(
        "get_one_or_create", S, Account, {"balance": 60}, email="fay@x.io"
    )
    assert (existed, row.balance) == (False, 60)
    upserts = [
        {"id": ann, "email": "ann@x.io", "balance": 12},
        {"id": ann + 10**6, "email": "gil@x.io"},
    ]
    ok, rows = await tx.legacy("bulk_upsert_mappings", upserts, S, Account)
    assert ok is True
    assert len(rows) == 2
    expected = {"ann@x.io": 12, "cat@x.io": 30, "dan@x.io": 40, "eve@x.io": 50}
    return {**expected, "fay@x.io": 60, "gil@x.io": 0}


async def test_legacy_writes_in_a_failing_block_leave_no_trace(tx: Tx) -> None:
    async def writes_then_fails() -> None:
        async with tx.block():
            expected = await _every_legacy_write(tx)
            assert tx.committed() == BEFORE  # each call only flushed
            assert set(await tx.emails()) == set(expected)  # visible to the block itself
            raise Boom

    with pytest.raises(Boom):
        await writes_then_fails()
    assert tx.committed() == BEFORE
    assert await tx.emails() == ["ann@x.io", "bob@x.io"]


async def test_legacy_writes_in_a_successful_block_commit_together_at_its_end(tx: Tx) -> None:
    async with tx.block():
        expected = await _every_legacy_write(tx)
        assert tx.committed() == BEFORE
    assert tx.committed() == expected


async def test_rows_returned_in_a_block_stay_readable_after_it(tx: Tx) -> None:
    # Async: the block's commit must not expire them (no lazy load without a greenlet).
    async with tx.block():
        _, cat = await tx.legacy("write_row", Account(email="cat@x.io", balance=3), S)
        _, rows = await tx.legacy("insert_data_rows", [Account(email="dan@x.io")], S)
        _, ann = await tx.legacy("update_row", tx.id_of("ann@x.io"), {"balance": 4}, S, Account)
        added = Account(email="eve@x.io", balance=5)
        await tx.add(added)
    assert (cat.email, cat.balance, cat.id) == ("cat@x.io", 3, tx.id_of("cat@x.io"))
    assert [(row.email, row.id) for row in rows] == [("dan@x.io", tx.id_of("dan@x.io"))]
    assert (ann.email, ann.balance) == ("ann@x.io", 4)
    assert (added.email, added.balance) == ("eve@x.io", 5)


async def test_legacy_writes_outside_a_block_commit_each_on_its_own(tx: Tx) -> None:
    await tx.legacy("write_row", Account(email="cat@x.io"), S)
    assert tx.committed() == {**BEFORE, "cat@x.io": 0}
    await tx.legacy("update_row", tx.id_of("ann@x.io"), {"balance": 1}, S, Account)
    assert tx.committed() == {**BEFORE, "ann@x.io": 1, "cat@x.io": 0}


async def test_nested_block_of_legacy_writes_caught_by_caller_rolls_back_only_itself(
    tx: Tx,
) -> None:
    async def failing_inner() -> None:
        async with tx.block():
            await _every_legacy_write(tx)
            raise Boom

    async with tx.block():
        await tx.legacy("write_row", Account(email="hal@x.io"), S)
        with pytest.raises(Boom):
            await failing_inner()
        assert await tx.emails() == ["ann@x.io", "bob@x.io", "hal@x.io"]
        await tx.legacy("update_row", tx.id_of("bob@x.io"), {"balance": 21}, S, Account)
    assert tx.committed() == {"ann@x.io": 10, "bob@x.io": 21, "hal@x.io": 0}


async def test_nested_block_of_legacy_writes_is_undone_when_the_outer_block_fails(
    tx: Tx,
) -> None:
    async def failing_outer() -> None:
        async with tx.block():
            async with tx.block():
                await _every_legacy_write(tx)
            raise Boom

    with pytest.raises(Boom):
        await failing_outer()
    assert tx.committed() == BEFORE


# Each legacy write failing at the database inside a block, with the v0.1
# failure value it still returns there.
FAILED_WRITES: dict[str, tuple[Callable[[int], tuple[Any, ...]], dict[str, Any], Any]] = {
    "write_row": (lambda ann: (Account(email="bob@x.io"), S), {}, (False, None)),
    # v0.1: the row, carrying the values that were attempted (detached)
    "update_row": (
        lambda ann: (ann, {"email": "bob@x.io"}, S, Account),
        {},
        lambda result: result[0] is False and result[1].email == "bob@x.io",
    ),
    "get_one_or_create": (
        lambda ann: (S, Account, {"id": ann}),
        {"email": "e@x.io"},
        (None, False),
    ),
    "bulk_upsert_mappings": (
        lambda ann: ([{"id": ann, "email": "bob@x.io"}], S, Account),
        {},
        (False, []),
    ),
}


@pytest.mark.parametrize("function", [*FAILED_WRITES, "insert_data_rows"])
async def test_a_failed_legacy_write_dooms_its_block(tx: Tx, function: str) -> None:
    """The failed write undoes only itself at once (the session goes on and
    sees the block's other work), but the block then refuses to commit: no
    block commits half of its writes silently."""
    ann = tx.id_of("ann@x.io")

    async def block() -> None:
        async with tx.block():
            assert (await tx.legacy("write_row", Account(email="cat@x.io"), S))[0] is True
            if function == "insert_data_rows":  # the second row clashes with cat
                batch = [Account(email="dan@x.io"), Account(email="cat@x.io")]
                _, report = await tx.legacy("insert_data_rows", batch, S)
                assert [row.email for row in report["failed"]] == ["cat@x.io"]
            else:
                make_args, kwargs, failure = FAILED_WRITES[function]
                result = await tx.legacy(function, *make_args(ann), **kwargs)
                assert failure(result) if callable(failure) else result == failure
            assert "cat@x.io" in await tx.emails()  # usable, earlier work visible
            assert (await tx.legacy("update_row", ann, {"balance": 1}, S, Account))[0] is True

    with pytest.raises(TransactionError, match="failed earlier") as raised:
        await block()
    assert raised.value.__cause__ is not None
    assert tx.committed() == BEFORE
    async with tx.block():  # the session and the next block work again
        await tx.legacy("write_row", Account(email="dan@x.io"), S)
    assert set(tx.committed()) == {*BEFORE, "dan@x.io"}


async def test_a_failed_legacy_write_in_a_caught_nested_block_dooms_only_that_block(
    tx: Tx,
) -> None:
    async def inner() -> None:
        async with tx.block():
            await tx.legacy("write_row", Account(email="dan@x.io"), S)
            assert await tx.legacy("write_row", Account(email="bob@x.io"), S) == (False, None)

    async with tx.block():
        assert (await tx.legacy("write_row", Account(email="cat@x.io"), S))[0] is True
        with pytest.raises(TransactionError, match="failed earlier"):
            await inner()
    assert tx.committed() == {**BEFORE, "cat@x.io": 0}


async def test_a_legacy_write_that_finds_no_row_does_not_doom_its_block(tx: Tx) -> None:
    ann = tx.id_of("ann@x.io")
    async with tx.block():
        assert await tx.legacy("delete_row", ann + 10**6, S, Account) is False
        assert await tx.legacy("update_row", ann + 10**6, {"balance": 5}, S, Account) == (
            False,
            None,
        )
        assert (await tx.legacy("update_row", ann, {"balance": 1}, S, Account))[0] is True
    assert tx.committed() == {**BEFORE, "ann@x.io": 1}


# Each call fails at the database (a unique violation) or finds no row.
FAILING_CALLS: dict[
    str, tuple[Callable[[int], tuple[Any, ...]], dict[str, Any], type[Exception]]
] = {
    "write_row": (lambda ann: (Account(email="bob@x.io"), S), {}, TransactionError),
    "update_row": (lambda ann: (ann, {"email": "bob@x.io"}, S, Account), {}, TransactionError),
    "insert_data_rows": (lambda ann: ([Account(email="bob@x.io")], S), {}, BulkOperationError),
    "get_one_or_create": (
        lambda ann: (S, Account, {"id": ann}),  # a taken primary key
        {"email": "e@x.io"},
        TransactionError,
    ),
    "bulk_upsert_mappings": (
        lambda ann: ([{"id": ann, "email": "bob@x.io"}], S, Account),
        {},
        BulkOperationError,
    ),
    "delete_row": (lambda ann: (ann + 10**6, S, Account), {}, RecordNotFoundError),
}


@pytest.mark.parametrize("function", list(FAILING_CALLS))
async def test_raise_on_error_in_a_block_propagates_and_rolls_back_the_whole_block(
    tx: Tx, function: str
) -> None:
    make_args, kwargs, error = FAILING_CALLS[function]
    args = make_args(tx.id_of("ann@x.io"))

    async def failing() -> None:
        async with tx.block():
            await tx.legacy("write_row", Account(email="cat@x.io"), S)
            await tx.legacy("update_row", tx.id_of("bob@x.io"), {"balance": 0}, S, Account)
            await tx.legacy(function, *args, raise_on_error=True, **kwargs)

    with pytest.raises(error) as raised:
        await failing()
    if error is not RecordNotFoundError:
        assert isinstance(raised.value.__cause__, IntegrityError)
    assert tx.committed() == BEFORE
    assert await tx.emails() == ["ann@x.io", "bob@x.io"]


async def test_commit_failure_after_legacy_writes_is_a_transaction_error(tx: Tx) -> None:
    eve = tx.db.seed(Account(email="eve@x.io"))[0].id

    async def failing() -> None:
        async with tx.block():
            await tx.legacy("write_row", Account(email="cat@x.io"), S)
            await tx.legacy("update_row", tx.id_of("ann@x.io"), {"balance": 0}, S, Account)
            await tx.legacy("delete_row", tx.id_of("bob@x.io"), S, Account)
            await tx.add(Account(id=eve, email="new@x.io"), flush=False)  # fails at commit

    with pytest.raises(TransactionError, match="commit failed") as raised:
        await failing()
    assert isinstance(raised.value.__cause__, IntegrityError)
    assert tx.committed() == {**BEFORE, "eve@x.io": 0}
    assert await tx.emails() == ["ann@x.io", "bob@x.io", "eve@x.io"]


# A read the database refuses on every backend (PostgreSQL then aborts the
# whole transaction and would turn the block's COMMIT into a silent ROLLBACK).
BROKEN_READ = select(Account).where(text("no_such_column = 1"))


async def test_block_refuses_to_commit_after_a_failed_legacy_read(tx: Tx) -> None:
    async def reads_badly() -> None:
        async with tx.block():
            await tx.legacy("write_row", Account(email="cat@x.io"), S)
            assert await tx.legacy("get_result_from_query", BROKEN_READ, S) is None

    with pytest.raises(TransactionError, match="failed earlier") as raised:
        await reads_badly()
    assert raised.value.__cause__ is not None
    assert tx.committed() == BEFORE
    async with tx.block():  # the session (and the next block) work again
        await tx.legacy("write_row", Account(email="dan@x.io"), S)
    assert set(tx.committed()) == {*BEFORE, "dan@x.io"}


async def test_failed_legacy_read_in_a_nested_block_rolls_back_only_that_block(tx: Tx) -> None:
    async def failing_inner() -> None:
        async with tx.block():
            await tx.legacy("write_row", Account(email="dan@x.io"), S)
            await tx.legacy("get_result_from_query", BROKEN_READ, S)

    async with tx.block():
        await tx.legacy("write_row", Account(email="cat@x.io"), S)
        with pytest.raises(TransactionError, match=r"^savepoint rolled back"):
            await failing_inner()
        await tx.legacy("write_row", Account(email="eve@x.io"), S)
    assert set(tx.committed()) == {*BEFORE, "cat@x.io", "eve@x.io"}


async def _second_write(session: Any, row_id: Any, balance: int, how: str) -> bool:
    """The write that may be picked as the deadlock victim: a legacy
    `update_row`, a `Q.update` in a nested block the caller catches, or a
    legacy `update_row` in such a nested block."""
    is_async = isinstance(session, AsyncSession)

    async def write() -> bool:
        if how == "nested block":
            query = Q(Account).where(id=row_id)
            await query.a_update(session, balance=balance) if is_async else query.update(
                session, balance=balance
            )
            return True
        args = (row_id, {"balance": balance}, session, Account)
        ok, _ = await a_update_row(*args) if is_async else update_row(*args)
        return bool(ok)

    if how == "legacy call":
        return await write()
    try:
        if is_async:
            async with a_transaction(session):
                return await write()
        with transaction(session):
            return await write()
    except TransactionError:
        return False


@pytest.mark.parametrize("how", ["legacy call", "nested block", "legacy call in nested block"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_deadlock_victim_inside_a_block_never_commits_half_its_work(
    backend: Any, mode: str, how: str
) -> None:
    """Two blocks update the same two rows in opposite order; the database
    picks a victim. PostgreSQL rolls back only the victim's SAVEPOINT: a
    nested block around the second write, caught by the caller, lets the
    outer block commit the first; a plain failed legacy write dooms the
    block. MariaDB rolls back the victim's whole transaction (the SAVEPOINT
    with it): the block must then refuse to commit rather than commit what
    came after."""
    if backend.name == "sqlite":
        pytest.skip("SQLite serialises writers: no deadlock to lose")
    backend.clean()
    with Session(backend.engine, expire_on_commit=False) as seeding:
        first, second = Account(email="a@x.io"), Account(email="b@x.io")
        seeding.add_all([first, second])
        seeding.commit()
    both_locked = threading.Barrier(2, timeout=20)
    outcomes: dict[str, Any] = {}

    async def a_work(name: str, ids: tuple[Any, Any], balances: tuple[int, int]) -> None:
        engine = backend.async_engine(poolclass=NullPool)
        try:
            async with AsyncSession(engine) as session, a_transaction(session):
                ok, _ = await a_update_row(ids[0], {"balance": balances[0]}, session, Account)
                both_locked.wait()  # this thread's own event loop: blocking it is fine
                outcomes[name] = (ok, await _second_write(session, ids[1], balances[1], how))
        except TransactionError as exc:
            outcomes[name] = exc
        finally:
            await engine.dispose()

    def work(name: str, ids: tuple[Any, Any], balances: tuple[int, int]) -> None:
        if mode == "async":
            asyncio.run(a_work(name, ids, balances))
            return
        with Session(backend.engine) as session:
            try:
                with transaction(session):
                    ok, _ = update_row(ids[0], {"balance": balances[0]}, session, Account)
                    both_locked.wait()
                    done = asyncio.run(_second_write(session, ids[1], balances[1], how))
                    outcomes[name] = (ok, done)
            except TransactionError as exc:
                outcomes[name] = exc

    threads = [
        threading.Thread(target=work, args=("one", (first.id, second.id), (11, 12))),
        threading.Thread(target=work, args=("two", (second.id, first.id), (22, 21))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [name for name, outcome in outcomes.items() if outcome == (True, True)]
    assert len(winners) == 1, outcomes
    victim = outcomes["two" if winners == ["one"] else "one"]
    if backend.name == "postgresql" and how != "legacy call":
        assert victim == (True, False)  # the caught nested block alone was undone
    else:  # a failed legacy write dooms its block; on MariaDB the whole transaction is lost
        assert isinstance(victim, TransactionError), victim
        assert "failed earlier" in str(victim)
        assert "deadlock" in str(victim.__cause__).lower()  # the real reason, not the savepoint
    with Session(backend.engine) as fresh:
        found = {a.email: a.balance for a in fresh.exec(select(Account)).all()}
    # The winner wrote both rows last, whatever the victim managed before.
    assert found == (
        {"a@x.io": 11, "b@x.io": 12} if winners == ["one"] else {"a@x.io": 21, "b@x.io": 22}
    )
