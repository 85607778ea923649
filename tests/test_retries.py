"""`run_transaction` / `a_run_transaction` against real conflicts: two
concurrent SERIALIZABLE transactions on PostgreSQL that cannot both commit
(write skew: each takes a doctor off call after seeing two on call), and a
real deadlock on MariaDB (two transactions locking two rows in opposite
orders). Each ends with exactly one retry and the right rows; a unit of work
that always conflicts ends in `TransactionError` after ``retries`` attempts
with nothing of it written."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import registry, sessionmaker
from sqlalchemy.pool import NullPool
from sqlmodel import Field, Session, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import (
    Q,
    TransactionError,
    UsageError,
    a_run_transaction,
    run_transaction,
    write_row,
)
from sqlmodel_crud_utils.retry import retryable_error
from tests.conftest import Backend


class RetryModel(SQLModel, registry=registry()):
    """Its own registry: these tables live apart from the suite's schema."""


class Doctor(RetryModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=20)
    on_call: bool = True
    shifts: int = 0


class Note(RetryModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(max_length=50)


def needs_concurrent_writers(backend: Backend) -> None:
    if backend.name == "sqlite":
        pytest.skip("SQLite runs one writer at a time: nothing to conflict with")


@pytest.fixture
def doctors(backend: Backend) -> Iterator[Engine]:
    RetryModel.metadata.drop_all(backend.engine)
    RetryModel.metadata.create_all(backend.engine)
    with Session(backend.engine) as session:
        session.add_all([Doctor(name="Alice"), Doctor(name="Bob")])
        session.commit()
    yield backend.engine
    RetryModel.metadata.drop_all(backend.engine)


def final(engine: Engine) -> list[tuple[str, bool, int]]:
    with Session(engine) as session:
        rows = Q(Doctor).order_by("id").all(session)
        return [(d.name, d.on_call, d.shifts) for d in rows]


def notes(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [n.text for n in Q(Note).all(session)]


class Scenario:
    """The two units of work of a conflict, sync and async: each meets the
    other at a barrier on its first attempt only, so the first attempts
    overlap and the retry runs alone."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "skew" (SERIALIZABLE) or "deadlock"
        self.calls = {"Alice": 0, "Bob": 0}

    def steps(self, me: str) -> list[Any]:
        """What ``me`` runs, as (statement, parameters); None marks the barrier."""
        first = self.calls[me] == 1
        meet = [None] if first else []
        if self.kind == "skew":
            on_call = "SELECT count(*) FROM doctor WHERE on_call"
            off = "UPDATE doctor SET on_call = false WHERE name = :me AND :others >= 2"
            return [(on_call, {}), *meet, (off, {"me": me})]
        bump = "UPDATE doctor SET shifts = shifts + 1 WHERE name = :name"
        mine, theirs = (me, "Bob" if me == "Alice" else "Alice")
        return [(bump, {"name": mine}), *meet, (bump, {"name": theirs})]

    def expected(self) -> list[tuple[str, bool, int]]:
        """The deadlock's rows: each unit bumped both doctors once."""
        return [("Alice", True, 2), ("Bob", True, 2)]


def sync_factory(engine: Engine, kind: str) -> sessionmaker[Session]:
    isolation = "SERIALIZABLE" if kind == "skew" else "READ COMMITTED"
    return sessionmaker(engine.execution_options(isolation_level=isolation), class_=Session)


def expected_retry_code(backend: Backend, kind: str) -> str:
    """The error that must have caused the one retry of a scenario."""
    if kind == "skew":
        return "40001"  # serialization failure
    return "40P01" if backend.name.startswith("postgresql") else "1213"  # deadlock


def retried_codes(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The error codes of the retries `run_transaction` logged."""
    return [
        str(record.args[2])
        for record in caplog.records
        if record.name == "sqlmodel_crud_utils.retry" and isinstance(record.args, tuple)
    ]


@pytest.mark.parametrize("kind", ["skew", "deadlock"])
def test_conflicting_transactions_retry_once(
    backend: Backend, doctors: Engine, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sqlmodel_crud_utils.retry")
    needs_concurrent_writers(backend)
    if kind == "skew" and backend.name != "postgresql":
        pytest.skip("write skew needs SERIALIZABLE snapshots (MariaDB's locks instead)")
    scenario = Scenario(kind)
    barrier = threading.Barrier(2, timeout=30)
    factory = sync_factory(doctors, kind)
    errors: list[BaseException] = []

    def unit(me: str) -> Callable[[Session], None]:
        def work(session: Session) -> None:
            scenario.calls[me] += 1
            seen = 0
            for step in scenario.steps(me):
                if step is None:
                    barrier.wait()
                    continue
                statement, params = step
                if ":others" in statement:
                    params = {**params, "others": seen}
                result = session.exec(text(statement), params=params)
                if statement.startswith("SELECT"):
                    seen = result.scalar_one()

        return work

    def worker(me: str) -> None:
        try:
            run_transaction(factory, unit(me), backoff=0.01)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("Alice", "Bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(scenario.calls.values()) == [1, 2]  # exactly one retry
    assert retried_codes(caplog) == [expected_retry_code(backend, kind)]
    rows = final(doctors)
    if kind == "skew":
        assert sorted(on for _, on, _ in rows) == [False, True]  # one left, one stayed
    else:
        assert rows == scenario.expected()


class AsyncBarrier:
    """asyncio.Barrier for two parties (Python 3.10 has none)."""

    def __init__(self) -> None:
        self.arrived = 0
        self.ready = asyncio.Event()

    async def wait(self) -> None:
        self.arrived += 1
        if self.arrived >= 2:
            self.ready.set()
        await asyncio.wait_for(self.ready.wait(), 30)


@pytest.mark.parametrize("kind", ["skew", "deadlock"])
def test_conflicting_async_transactions_retry_once(
    backend: Backend, doctors: Engine, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sqlmodel_crud_utils.retry")
    needs_concurrent_writers(backend)
    if kind == "skew" and backend.name != "postgresql":
        pytest.skip("write skew needs SERIALIZABLE snapshots (MariaDB's locks instead)")
    scenario = Scenario(kind)

    async def run() -> None:
        engine: AsyncEngine = backend.async_engine(poolclass=NullPool)
        isolation = "SERIALIZABLE" if kind == "skew" else "READ COMMITTED"
        factory = async_sessionmaker(
            engine.execution_options(isolation_level=isolation), class_=AsyncSession
        )
        barrier = AsyncBarrier()

        def unit(me: str) -> Callable[[AsyncSession], Awaitable[None]]:
            async def work(session: AsyncSession) -> None:
                scenario.calls[me] += 1
                seen = 0
                for step in scenario.steps(me):
                    if step is None:
                        await barrier.wait()
                        continue
                    statement, params = step
                    if ":others" in statement:
                        params = {**params, "others": seen}
                    result = await session.exec(text(statement), params=params)
                    if statement.startswith("SELECT"):
                        seen = result.scalar_one()

            return work

        try:
            await asyncio.gather(
                *(a_run_transaction(factory, unit(me), backoff=0.01) for me in ("Alice", "Bob"))
            )
        finally:
            await engine.dispose()

    asyncio.run(run())
    assert sorted(scenario.calls.values()) == [1, 2]
    assert retried_codes(caplog) == [expected_retry_code(backend, kind)]
    rows = final(doctors)
    if kind == "skew":
        assert sorted(on for _, on, _ in rows) == [False, True]
    else:
        assert rows == scenario.expected()


class Interloper:
    """Another connection that, on every attempt, changes the row the unit
    of work is about to change (PostgreSQL: a concurrent update of a row
    read under REPEATABLE READ, 40001), or holds its lock until the unit
    times out waiting (MariaDB: 1205)."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.name = name
        self.holding: Any = None

    def strike(self) -> None:
        if self.dialect == "postgresql":
            with self.engine.begin() as conn:
                conn.execute(text("UPDATE doctor SET shifts = shifts + 10 WHERE name = 'Alice'"))
        else:
            self.holding = self.engine.connect()
            self.holding.begin()
            self.holding.execute(text("SELECT * FROM doctor WHERE name = 'Alice' FOR UPDATE"))

    def release(self) -> None:
        if self.holding is not None:
            self.holding.rollback()
            self.holding.close()
            self.holding = None


def test_a_unit_that_always_conflicts_ends_in_transaction_error(
    backend: Backend, doctors: Engine
) -> None:
    needs_concurrent_writers(backend)
    interloper = Interloper(doctors, "Alice")
    # no pool: the lock wait timeout set on MariaDB leaves with the connection
    engine = backend.sync_engine(poolclass=NullPool)
    factory = sessionmaker(engine.execution_options(isolation_level="REPEATABLE READ"))
    calls = 0

    def work(session: Session) -> None:
        nonlocal calls
        calls += 1
        assert write_row(Note(text=f"attempt {calls}"), session)[0]  # flushed, not committed
        if backend.name == "mariadb":
            session.execute(text("SET SESSION innodb_lock_wait_timeout = 1"))
        assert len(Q(Doctor).all(session)) == 2  # the snapshot starts here
        interloper.strike()
        try:
            Q(Doctor).where(name="Alice").update(session, shifts=Doctor.shifts + 1)
        finally:
            interloper.release()

    with pytest.raises(TransactionError, match=r"after 3 attempt\(s\)") as raised:
        run_transaction(factory, work, retries=3, backoff=0.01)
    attempts = raised.value.attempts
    assert [a.number for a in attempts] == [1, 2, 3]
    assert {a.code for a in attempts} == ({"40001"} if backend.name == "postgresql" else {"1205"})
    assert attempts[-1].delay == 0
    assert all(0 <= a.delay <= 0.01 * 2**i for i, a in enumerate(attempts[:-1]))
    assert retryable_error(raised.value) in ("40001", "1205")
    assert calls == 3
    assert notes(doctors) == []  # nothing of any attempt was written
    expected_shifts = 30 if backend.name == "postgresql" else 0  # only the interloper's
    assert final(doctors)[0] == ("Alice", True, expected_shifts)
    engine.dispose()


def test_other_errors_are_not_retried(backend: Backend, doctors: Engine) -> None:
    factory = sessionmaker(doctors, class_=Session)
    calls = 0

    def work(session: Session) -> None:
        nonlocal calls
        calls += 1
        write_row(Note(text="kept?"), session)
        raise LookupError("mine")

    with pytest.raises(LookupError, match="mine"):
        run_transaction(factory, work)
    assert calls == 1
    assert notes(doctors) == []


def test_the_result_of_fn_is_returned_and_committed(backend: Backend, doctors: Engine) -> None:
    factory = sessionmaker(doctors, class_=Session)

    def work(session: Session) -> int:
        write_row(Note(text="kept"), session)
        return Q(Note).count(session)

    assert run_transaction(factory, work) == 1
    assert notes(doctors) == ["kept"]
    with pytest.raises(ValueError, match="retries"):
        run_transaction(factory, work, retries=0)


def test_retryable_codes_are_read_through_the_chain() -> None:
    class Driver(Exception):
        sqlstate = "40P01"

    class MySQL(Exception):
        pass

    wrapped = TransactionError("failed", original_error=Driver())
    assert retryable_error(wrapped) == "40P01"
    assert retryable_error(MySQL(1213, "Deadlock found")) == "1213"
    assert retryable_error(MySQL(1062, "Duplicate entry")) is None
    assert retryable_error(ValueError("no code")) is None


def test_rows_returned_by_fn_stay_readable(backend: Backend, doctors: Engine) -> None:
    factory = sessionmaker(doctors, class_=Session)

    def work(session: Session) -> Doctor:
        session.add(Note(text="read me"))
        return Q(Doctor).where(name="Alice").one(session)

    alice = run_transaction(factory, work)
    assert (alice.name, alice.on_call) == ("Alice", True)  # detached, still loaded


def test_an_async_function_is_refused(backend: Backend, doctors: Engine) -> None:
    async def work(session: Any) -> None:
        return None

    with pytest.raises(UsageError, match="use a_run_transaction"):
        run_transaction(sessionmaker(doctors), work)  # type: ignore[arg-type]


def test_an_async_unit_that_always_conflicts_ends_in_transaction_error(
    backend: Backend, doctors: Engine
) -> None:
    needs_concurrent_writers(backend)
    interloper = Interloper(doctors, "Alice")
    calls = 0

    async def run() -> TransactionError:
        engine = backend.async_engine(poolclass=NullPool)
        factory = async_sessionmaker(
            engine.execution_options(isolation_level="REPEATABLE READ"), class_=AsyncSession
        )

        async def work(session: AsyncSession) -> None:
            nonlocal calls
            calls += 1
            session.add(Note(text=f"attempt {calls}"))
            if backend.name == "mariadb":
                await session.exec(text("SET SESSION innodb_lock_wait_timeout = 1"))
            assert len(await Q(Doctor).a_all(session)) == 2  # the snapshot starts here
            interloper.strike()
            try:
                await Q(Doctor).where(name="Alice").a_update(session, shifts=Doctor.shifts + 1)
            finally:
                interloper.release()

        try:
            with pytest.raises(TransactionError) as raised:
                await a_run_transaction(factory, work, retries=2, backoff=0.01)
            return raised.value
        finally:
            await engine.dispose()

    error = asyncio.run(run())
    assert [a.number for a in error.attempts] == [1, 2]
    assert calls == 2
    assert notes(doctors) == []
