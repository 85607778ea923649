"""`transaction` / `a_transaction` on every backend, sync and async.

Each test drives a block through `Tx`, which hides whether the block is
``transaction(session)`` or ``async with a_transaction(async_session)``; the
steps inside are real writes (``session.add`` + flush, ``Q.update``,
``Q.delete``). What the database holds is always read back through a fresh
session on its own connection, so only committed data counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import (
    Q,
    RecordNotFoundError,
    TransactionError,
    a_transaction,
    create_async_pooled_engine,
    in_transaction,
    transaction,
)
from tests.models_safety import Account


class Boom(Exception):
    """The caller's own exception."""


class Tx:
    """One test body for both modes: ``async with tx.block():`` is
    ``transaction(db.session)`` in sync mode and ``a_transaction(...)`` in
    async mode; the helpers run one step on the block's session."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.session: Any = db.async_session if db.async_session is not None else db.session

    @asynccontextmanager
    async def block(self) -> AsyncIterator[Any]:
        if self.db.async_session is None:
            with transaction(self.db.session) as session:
                yield session
        else:
            async with a_transaction(self.db.async_session) as session:
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

    async def emails(self) -> list[str]:
        """Read through the block's own session (proves it is usable)."""
        rows = await self.db.run(Q(Account).order_by("email"), "all")
        return [row.email for row in rows]

    def committed(self) -> dict[str, int]:
        """email -> balance as another connection sees it."""
        with Session(self.db.backend.engine) as fresh:
            return {a.email: a.balance for a in fresh.exec(select(Account)).all()}


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

    with pytest.raises(TransactionError, match=r"^transaction rolled back") as raised:
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
        with pytest.raises(TransactionError, match=r"^savepoint rolled back") as raised:
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
    engine = create_async_pooled_engine(backend.async_url, pool_size=1, max_overflow=0)
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


async def test_the_wrong_kind_of_session_is_refused_before_anything_runs(db: Any) -> None:
    if db.async_session is None:
        pytest.skip("needs both kinds of session")
    with pytest.raises(TypeError, match="a_transaction"), transaction(db.async_session):
        pass
    with pytest.raises(TypeError, match="needs an AsyncSession"):
        async with a_transaction(db.session):
            pass


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
