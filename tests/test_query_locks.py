"""`Q.for_update`: row locks between two real transactions on PostgreSQL and
MariaDB (``skip_locked`` takes the next free row, ``nowait`` fails at once
with the library's error and leaves the session usable), sync and async; a
documented no-op on SQLite; never on COUNT / EXISTS; the SQL per dialect."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import registry
from sqlalchemy.pool import NullPool
from sqlmodel import Field, Session, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import Q, QueryError, QueryExecutionError
from sqlmodel_crud_utils._compile import DIALECTS as DIALECT_OBJECTS
from sqlmodel_crud_utils._compile import counted
from tests.conftest import Backend
from tests.models import Hero

DIALECTS = ("sqlite", "postgresql", "mysql")


class LockModel(SQLModel, registry=registry()):
    """Its own registry: these tables live apart from the suite's schema."""


class Task(LockModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(default="new", max_length=20)


@pytest.fixture
def tasks(backend: Backend) -> Iterator[Engine]:
    LockModel.metadata.drop_all(backend.engine)
    LockModel.metadata.create_all(backend.engine)
    with Session(backend.engine) as session:
        session.add_all([Task() for _ in range(3)])
        session.commit()
    yield backend.engine
    LockModel.metadata.drop_all(backend.engine)


NEXT = Q(Task).where(state="new").order_by("id").limit(1)


def test_skip_locked_takes_the_next_free_row(backend: Backend, tasks: Engine) -> None:
    with Session(tasks) as first, Session(tasks) as second:
        taken = NEXT.for_update(skip_locked=True).one(first)
        other = NEXT.for_update(skip_locked=True).one(second)
        if backend.name == "sqlite":  # no row locks: both see the first row
            assert other.id == taken.id
            return
        assert other.id == taken.id + 1
        assert NEXT.for_update(skip_locked=True).count(second) == 1  # COUNT never locks
        first.rollback()
        second.rollback()


def test_nowait_fails_at_once_and_the_session_goes_on(backend: Backend, tasks: Engine) -> None:
    if backend.name == "sqlite":
        pytest.skip("SQLite has no row locks to wait for")
    with Session(tasks) as first, Session(tasks) as second:
        locked = NEXT.for_update().one(first)
        with pytest.raises(QueryExecutionError) as raised:
            Q(Task).where(id=locked.id).for_update(nowait=True).all(second)
        assert "Task" in str(raised.value)
        assert Q(Task).count(second) == 3  # the session is usable again
        first.rollback()
        assert Q(Task).where(id=locked.id).for_update(nowait=True).one(second).id == locked.id


def test_async_workers_take_different_rows(backend: Backend, tasks: Engine) -> None:
    async def run() -> list[int]:
        engine = backend.async_engine(poolclass=NullPool)
        started = asyncio.Event()
        release = asyncio.Event()

        async def worker(hold: bool) -> int:
            async with AsyncSession(engine) as session:
                if not hold:
                    await started.wait()
                task = await NEXT.for_update(skip_locked=True).a_one(session)
                taken = task.id
                if hold:
                    started.set()
                    await release.wait()
                else:
                    release.set()
                await session.rollback()
                assert taken is not None
                return taken

        try:
            return list(await asyncio.gather(worker(True), worker(False)))
        finally:
            await engine.dispose()

    holder, taker = asyncio.run(run())
    assert taker == (holder if backend.name == "sqlite" else holder + 1)


def test_lock_options_are_checked() -> None:
    with pytest.raises(QueryError, match="nowait or skip_locked, not both"):
        Q(Task).for_update(nowait=True, skip_locked=True)
    with pytest.raises(QueryError, match="takes table models"):
        Q(Task).for_update(of="task")
    assert "FOR UPDATE OF task" in Q(Task).for_update(of=Task).sql("postgresql")
    assert "FOR UPDATE" not in Q(Task).for_update().sql("sqlite")  # documented no-op
    count = counted(Q(Task).for_update().limit(2), paging=True)
    assert "FOR UPDATE" not in str(count.compile(dialect=DIALECT_OBJECTS["postgresql"]))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_lock_sql(snapshot: Any, dialect: str) -> None:
    q = Q(Hero).only("name").where(age__gte=18).order_by("id").limit(5)
    assert q.for_update(skip_locked=True).sql(dialect) == snapshot
    assert q.for_update(nowait=True).sql(dialect) == snapshot
