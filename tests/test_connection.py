"""`create_pooled_engine` / `create_async_pooled_engine`: settings, SQLite
sharing and threads, and many threads on the server backends."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.pool import (
    AsyncAdaptedQueuePool,
    NullPool,
    QueuePool,
    SingletonThreadPool,
    StaticPool,
)
from sqlmodel import Session, SQLModel, func, select

from sqlmodel_crud_utils import (
    Q,
    TransactionError,
    create_async_pooled_engine,
    create_pooled_engine,
    transaction,
)
from tests.models_safety import Account

# --- settings (no connection needed) ----------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://u@localhost/db",
        "mysql+pymysql://u@localhost/db",
        "sqlite:///some/file.db",
    ],
)
def test_pool_settings_are_visible_on_the_engine(url: str) -> None:
    engine = create_pooled_engine(url, pool_size=7, max_overflow=3, pool_timeout=12)
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert (pool.size(), pool._max_overflow, pool._timeout) == (7, 3, 12)
    assert pool._pre_ping is True
    engine.dispose()


def test_defaults_match_the_contract() -> None:
    engine = create_pooled_engine("postgresql+psycopg://u@localhost/db")
    assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._timeout) == (5, 10, 30)  # type: ignore[attr-defined]
    assert engine.pool._recycle == -1


def test_mysql_connections_are_recycled_below_the_server_idle_timeout() -> None:
    assert create_pooled_engine("mysql+pymysql://u@h/db").pool._recycle == 3600
    assert create_pooled_engine("mysql+pymysql://u@h/db", pool_recycle=60).pool._recycle == 60


def test_async_engine_gets_the_async_queue_pool() -> None:
    engine = create_async_pooled_engine("postgresql+psycopg://u@h/db", pool_size=4)
    assert isinstance(engine.pool, AsyncAdaptedQueuePool)
    assert (engine.pool.size(), engine.pool._pre_ping) == (4, True)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_gets_one_static_connection(url: str) -> None:
    engine = create_pooled_engine(url, pool_size=50)  # size does not apply: not passed
    assert isinstance(engine.pool, StaticPool)
    assert isinstance(create_async_pooled_engine("sqlite+aiosqlite://").pool, StaticPool)


@pytest.mark.parametrize("poolclass", [NullPool, StaticPool])
def test_pool_arguments_are_not_passed_to_pools_that_do_not_take_them(poolclass: Any) -> None:
    engine = create_pooled_engine("postgresql+psycopg://u@h/db", poolclass=poolclass)
    assert type(engine.pool) is poolclass
    async_engine = create_async_pooled_engine("postgresql+psycopg://u@h/db", poolclass=poolclass)
    assert type(async_engine.pool) is poolclass


def test_singleton_thread_pool_takes_only_the_size() -> None:
    engine = create_pooled_engine("sqlite://", pool_size=3, poolclass=SingletonThreadPool)
    assert isinstance(engine.pool, SingletonThreadPool)
    assert engine.pool.size == 3


def test_caller_keywords_override_the_defaults() -> None:
    engine = create_pooled_engine(
        "sqlite://", pool_pre_ping=False, connect_args={"timeout": 1}, echo=False
    )
    assert engine.pool._pre_ping is False
    with engine.connect() as conn:  # check_same_thread=False is kept beside timeout
        assert threading.current_thread() is threading.main_thread()
        assert conn.execute(text("SELECT 1")).scalar() == 1


# --- SQLite ------------------------------------------------------------------


def _run_in_thread(fn: Callable[[], Any]) -> Any:
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(fn).result()


def test_in_memory_sqlite_is_shared_across_sessions_and_threads() -> None:
    engine = create_pooled_engine("sqlite://")
    SQLModel.metadata.create_all(engine)

    def write(email: str) -> None:
        with Session(engine) as session:
            session.add(Account(email=email))
            session.commit()

    def emails() -> list[str]:
        with Session(engine) as session:
            return sorted(a.email for a in session.exec(select(Account)).all())

    write("main@x.io")
    _run_in_thread(lambda: write("thread@x.io"))
    assert emails() == ["main@x.io", "thread@x.io"]
    assert _run_in_thread(emails) == ["main@x.io", "thread@x.io"]
    engine.dispose()


def test_file_sqlite_takes_concurrent_writers_from_many_threads(tmp_path: Path) -> None:
    engine = create_pooled_engine(f"sqlite:///{tmp_path / 'app.db'}", pool_size=4)
    SQLModel.metadata.create_all(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"

    def worker(owner: int) -> None:
        for i in range(25):
            with Session(engine) as session, transaction(session):
                session.add(Account(email=f"{owner}-{i}@x.io", owner=owner))
            with Session(engine) as session:  # reads from other threads meanwhile
                assert Q(Account).where(owner=owner).count(session) == i + 1

    with ThreadPoolExecutor(max_workers=8) as executor:
        list(executor.map(worker, range(8)))
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Account)).one() == 200
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    engine.dispose()


def test_sqlite_wal_can_be_turned_off(tmp_path: Path) -> None:
    engine = create_pooled_engine(f"sqlite:///{tmp_path / 'app.db'}", sqlite_wal=False)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "delete"
    engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///{tmp}/app.db"])
def test_sqlite_savepoint_opened_before_any_write_really_rolls_back(
    url: str, tmp_path: Path
) -> None:
    # With the drivers' default (deferred BEGIN) the RELEASE below commits the row.
    engine = create_pooled_engine(url.format(tmp=tmp_path))
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        with session.begin_nested():
            session.add(Account(email="a@x.io"))
        session.rollback()
        assert session.exec(select(Account)).all() == []
    engine.dispose()


def test_sqlite_autocommit_engine_is_left_alone() -> None:
    engine = create_pooled_engine("sqlite://", isolation_level="AUTOCOMMIT")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Account(email="a@x.io"))
        session.commit()
        assert [a.email for a in session.exec(select(Account)).all()] == ["a@x.io"]
    engine.dispose()


async def test_async_sqlite_memory_shared_across_sessions() -> None:
    from sqlmodel.ext.asyncio.session import AsyncSession

    engine = create_async_pooled_engine("sqlite+aiosqlite://")
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    async with AsyncSession(engine) as session:
        session.add(Account(email="a@x.io"))
        await session.commit()
    async with AsyncSession(engine) as session:
        assert [a.email for a in (await session.exec(select(Account))).all()] == ["a@x.io"]
    await engine.dispose()


# --- many threads on a server ------------------------------------------------

THREADS = 32
OPERATIONS = 100


@pytest.fixture
def server_engine(backend: Any) -> Iterator[Engine]:
    if backend.name == "sqlite":
        pytest.skip("a server backend test (SQLite is covered above)")
    backend.clean()
    engine = create_pooled_engine(backend.sync_url, pool_size=5, max_overflow=5)
    yield engine
    engine.dispose()


def _retry_on_deadlock(session: Session, write: Callable[[], None]) -> None:
    """Run ``write`` in a transaction block; a deadlock victim retries (what
    InnoDB asks for: its gap locks make concurrent insert/delete deadlock)."""
    for attempt in range(10):
        try:
            with transaction(session):
                write()
            return
        except TransactionError as exc:
            if "deadlock" not in str(exc.__cause__).lower():
                raise
            time.sleep(random.uniform(0, 0.005 * 2**attempt))  # jittered backoff
    raise AssertionError("still deadlocked after 10 attempts")


def _mixed_operations(engine: Engine, owner: int) -> dict[str, int]:
    """100 operations through one session, each write its own transaction;
    returns the email -> balance this thread expects to find at the end."""
    expected: dict[str, int] = {}
    mine = Q(Account).where(owner=owner)
    with Session(engine) as session:
        for i in range(OPERATIONS):
            step = i % 5
            email = f"{owner}-{i}@x.io"
            if step == 0:
                row = Account(email=email, owner=owner)
                _retry_on_deadlock(session, lambda: session.add(row))  # noqa: B023
                expected[email] = 0
            elif step == 1:
                _retry_on_deadlock(session, lambda: mine.update(session, balance=i))  # noqa: B023
                expected = dict.fromkeys(expected, i)
            elif step == 2:
                assert mine.count(session) == len(expected)
                assert {a.email for a in mine.all(session)} == set(expected)
                session.rollback()
            elif step == 3:
                oldest = min(expected, key=lambda e: int(e.split("-")[1].split("@")[0]))

                def add_and_delete() -> None:
                    session.add(Account(email=email, owner=owner, balance=i))  # noqa: B023
                    assert Q(Account).where(email=oldest).delete(session) == 1  # noqa: B023

                _retry_on_deadlock(session, add_and_delete)  # two writes, one commit
                del expected[oldest]
                expected[email] = i
            else:
                assert mine.where(balance__gte=0).exists(session) == bool(expected)
                session.rollback()
    return expected


def test_32_threads_of_mixed_operations_through_a_small_pool(server_engine: Engine) -> None:
    with ThreadPoolExecutor(max_workers=THREADS) as executor:
        futures = [executor.submit(_mixed_operations, server_engine, t) for t in range(THREADS)]
        expected: dict[str, int] = {}
        for future in futures:
            expected.update(future.result())
    with Session(server_engine) as session:
        found = {a.email: a.balance for a in session.exec(select(Account)).all()}
    assert found == expected
    assert len(found) == THREADS * (OPERATIONS // 5)  # one net insert per 5 operations
    assert server_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_overlapping_sessions_on_in_memory_sqlite_share_the_connection() -> None:
    engine = create_pooled_engine("sqlite://")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as first, Session(engine) as second:
        assert first.exec(select(Account)).all() == []  # opens the shared transaction
        second.add(Account(email="a@x.io"))
        second.commit()  # joins it rather than failing on a second BEGIN
        assert [a.email for a in first.exec(select(Account)).all()] == ["a@x.io"]
    engine.dispose()


async def test_overlapping_async_sessions_on_in_memory_sqlite() -> None:
    from sqlmodel.ext.asyncio.session import AsyncSession

    engine = create_async_pooled_engine("sqlite+aiosqlite://")
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    async with AsyncSession(engine) as first, AsyncSession(engine) as second:
        assert (await first.exec(select(Account))).all() == []
        second.add(Account(email="a@x.io"))
        await second.commit()
        assert [a.email for a in (await first.exec(select(Account))).all()] == ["a@x.io"]
    await engine.dispose()
