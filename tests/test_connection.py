"""`create_pooled_engine` / `create_async_pooled_engine`: settings, SQLite
sharing and threads, and many threads on the server backends."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.pool import (
    AsyncAdaptedQueuePool,
    NullPool,
    QueuePool,
    SingletonThreadPool,
    StaticPool,
)
from sqlmodel import Session, SQLModel, func, select

from sqlmodel_crud_utils import (
    BulkOperationError,
    Q,
    TransactionError,
    bulk_upsert_mappings,
    create_async_pooled_engine,
    create_pooled_engine,
    delete_row,
    get_one_or_create,
    get_row,
    get_rows,
    get_rows_within_id_list,
    insert_data_rows,
    transaction,
    update_row,
    write_row,
)
from tests.conftest import Backend
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
    engine = backend.sync_engine(pool_size=5, max_overflow=5)
    yield engine
    engine.dispose()


def _is_deadlock(exc: BaseException) -> bool:
    error: BaseException | None = exc
    while error is not None:
        if "deadlock" in str(error).lower():
            return True
        error = error.__cause__ or error.__context__
    return False


def _retry_on_deadlock(write: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``write(*args, **kwargs)``: one legacy write with ``raise_on_error=True``
    (which commits or rolls back on its own) or a whole `transaction` block;
    a deadlock victim is retried with a jittered backoff.

    This is what InnoDB asks for ("try restarting transaction"): its gap
    locks on the ``owner`` index make concurrent inserts and deletes of
    neighbouring keys deadlock, and the victim's whole transaction is rolled
    back, so the write is safe to run again. PostgreSQL rarely needs it here
    (each thread writes only its own rows).
    """
    for attempt in range(10):
        try:
            return write(*args, **kwargs)
        except (TransactionError, BulkOperationError) as exc:
            if not _is_deadlock(exc):
                raise
            time.sleep(random.uniform(0, 0.005 * 2**attempt))
    raise AssertionError("still deadlocked after 10 attempts")


def _insert_pair(session: Session, rows: list[Account]) -> Any:
    with transaction(session):  # a partial failure undoes both rows
        return insert_data_rows(rows, session, raise_on_error=True)


def _swap(session: Session, new: Account, gone_id: int) -> Account:
    with transaction(session):  # two legacy writes, one commit
        _, row = write_row(new, session, raise_on_error=True)
        delete_row(gone_id, session, Account, raise_on_error=True)
    return cast(Account, row)


def _mixed_operations(engine: Engine, owner: int) -> dict[str, int]:
    """100 legacy operations through one session: writes outside a block
    (each commits on its own), writes inside `transaction` blocks, and reads
    checking what this thread wrote. Returns the email -> balance this
    thread expects to find at the end."""
    expected: dict[str, int] = {}
    ids: dict[str, int] = {}  # email -> id of this thread's live rows, oldest first
    last_created = ""
    raising = {"raise_on_error": True}

    def email_of(i: int, suffix: str = "") -> str:
        return f"{owner}-{i}{suffix}@x.io"

    with Session(engine) as session:
        for i in range(OPERATIONS):
            step, email, oldest = i % 10, email_of(i), next(iter(ids), "")
            if step == 0:
                new = Account(email=email, owner=owner)
                ok, row = _retry_on_deadlock(write_row, new, session, **raising)
                assert ok is True
                ids[email], expected[email] = row.id, 0
            elif step == 1:
                found, row = get_row(ids[email_of(i - 1)], session, Account)
                assert (found, row.email) == (True, email_of(i - 1))
                session.rollback()  # end the read's transaction: its connection goes back
            elif step == 2:
                target = email_of(i - 2)
                changes = {"balance": i}
                ok, row = _retry_on_deadlock(
                    update_row, ids[target], changes, session, Account, **raising
                )
                assert (ok, row.balance) == (True, i)
                expected[target] = i
            elif step == 3:
                found, rows = get_rows(session, Account, owner=owner, page_size=OPERATIONS)
                assert {row.email: row.balance for row in rows} == expected
                session.rollback()
            elif step == 4:
                row, existed = _retry_on_deadlock(
                    get_one_or_create, session, Account, {"owner": owner}, email=email, **raising
                )
                assert existed is False
                ids[email], expected[email], last_created = row.id, 0, email
            elif step == 5:
                row, existed = get_one_or_create(session, Account, email=last_created)
                assert (existed, row.id) == (True, ids[last_created])
                session.rollback()
            elif step == 6:
                assert _retry_on_deadlock(delete_row, ids[oldest], session, Account, **raising)
                del ids[oldest], expected[oldest]
            elif step == 7:
                pair = [Account(email=email_of(i, s), owner=owner) for s in ("a", "b")]
                ok, rows = _retry_on_deadlock(_insert_pair, session, pair)
                assert ok is True
                for row in rows:
                    ids[row.email], expected[row.email] = row.id, 0
            elif step == 8:
                upsert = [{"id": ids[oldest], "email": oldest, "owner": owner, "balance": i}]
                ok, rows = _retry_on_deadlock(
                    bulk_upsert_mappings, upsert, session, Account, **raising
                )
                assert [(row.email, row.balance) for row in rows] == [(oldest, i)]
                expected[oldest] = i
            else:
                new = Account(email=email, owner=owner, balance=i)
                row = _retry_on_deadlock(_swap, session, new, ids[oldest])
                del ids[oldest], expected[oldest]
                ids[email], expected[email] = row.id, i
                found, rows = get_rows_within_id_list(list(ids.values()), session, Account)
                assert sorted(row.email for row in rows) == sorted(expected)
                session.rollback()
    return expected


def test_32_threads_of_mixed_legacy_operations_through_a_small_pool(server_engine: Engine) -> None:
    with ThreadPoolExecutor(max_workers=THREADS) as executor:
        futures = [executor.submit(_mixed_operations, server_engine, t) for t in range(THREADS)]
        expected: dict[str, int] = {}
        for future in futures:
            expected.update(future.result())
    with Session(server_engine) as session:
        found = {a.email: a.balance for a in session.exec(select(Account)).all()}
    assert found == expected
    assert len(found) == THREADS * 3 * (OPERATIONS // 10)  # three net inserts per 10 operations
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


class _Captured(Exception):
    pass


def connect_parameters(engine: Any) -> dict[str, Any]:
    """What the engine would pass to the driver's connect(), without connecting."""
    seen: dict[str, Any] = {}

    def capture(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        seen.update(cparams)
        raise _Captured

    sync_engine = getattr(engine, "sync_engine", engine)
    event.listen(sync_engine, "do_connect", capture)
    with pytest.raises(_Captured):
        sync_engine.connect()
    return seen


@pytest.mark.parametrize(
    ("url", "options", "prepared"),
    [
        ("postgresql+psycopg://u@h:6432/db", {}, None),  # PgBouncer's port: detected
        ("postgresql+psycopg://u@h:6543/db", {"behind_pgbouncer": True}, None),
        ("postgresql+psycopg://u@h:6432/db", {"behind_pgbouncer": False}, "default"),
        ("postgresql+psycopg://u@h:5432/db", {}, "default"),
    ],
)
def test_behind_pgbouncer_prepares_nothing_on_the_server(
    url: str, options: dict[str, Any], prepared: Any
) -> None:
    for factory in (create_pooled_engine, create_async_pooled_engine):
        params = connect_parameters(factory(url, **options))
        assert params.get("prepare_threshold", "default") == prepared


def test_behind_pgbouncer_needs_postgresql() -> None:
    with pytest.raises(ValueError, match="needs a PostgreSQL URL"):
        create_pooled_engine("mysql+pymysql://u@h/db", behind_pgbouncer=True)


def test_pgbouncer_backend_connections_prepare_nothing(backend: Backend) -> None:
    """Through PgBouncer (TEST_DATABASES=postgresql-pgbouncer) the suite's
    own connections never prepare server-side statements."""
    with backend.engine.connect() as conn:
        threshold = getattr(conn.connection.driver_connection, "prepare_threshold", None)
    if backend.route == "pgbouncer":
        assert threshold is None
    elif backend.name == "postgresql":
        assert threshold == 5  # psycopg's default, straight to the server
