"""Engines declared without SAVEPOINT (``savepoints=False``, as for
databases that lack it): outermost blocks of legacy writes work and never
send SAVEPOINT; a failed write dooms its block; what needs a SAVEPOINT says
so before touching the database. On every backend, sync and async."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.pool import NullPool
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import (
    Q,
    TransactionError,
    UsageError,
    a_transaction,
    a_write_row,
    get_one_or_create,
    insert_data_rows,
    transaction,
    update_row,
    write_row,
)
from sqlmodel_crud_utils.transactions import savepoints_available
from tests.conftest import Backend
from tests.models import Hero, Team


def sent(engine: Engine) -> list[str]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    return statements


@pytest.fixture
def engine(backend: Backend) -> Iterator[Engine]:
    backend.clean()
    engine = backend.sync_engine(savepoints=False)
    yield engine
    engine.dispose()


def names(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [hero.name for hero in Q(Hero).order_by("name").all(session)]


def test_a_block_of_legacy_writes_commits_without_savepoints(engine: Engine) -> None:
    statements = sent(engine)
    with Session(engine) as session:
        assert not savepoints_available(session)
        with transaction(session):
            ok, ant = write_row(Hero(name="Ant-Man"), session)
            assert ok
            assert write_row(Hero(name="Wasp"), session)[0]
            assert update_row(ant.id, {"age": 40}, session, Hero)[0]
    assert names(engine) == ["Ant-Man", "Wasp"]
    with Session(engine) as session:
        assert Q(Hero).where(name="Ant-Man").one(session).age == 40
    assert "SAVEPOINT" not in statements


def write_two(session: Session) -> None:
    """The second write fails in the database (a team that does not exist),
    and the block goes on reading."""
    with transaction(session):
        assert write_row(Hero(name="Kept?"), session)[0]
        ok, _ = write_row(Hero(name="Lost", team_id=999_999), session)
        assert ok is False
        Q(Hero).count(session)  # the session waits for its rollback: this fails too


def nest(session: Session) -> None:
    with transaction(session):
        session.add(Team(name="Outer"))
        with transaction(session):
            pytest.fail("a nested block ran without its SAVEPOINT")


def test_a_failed_write_dooms_the_block(engine: Engine) -> None:
    with Session(engine) as session:
        with pytest.raises(TransactionError, match="failed earlier") as raised:
            write_two(session)
        assert "FOREIGN KEY" in str(raised.value).upper()
        assert Q(Hero).count(session) == 0  # the session is usable again
    assert names(engine) == []


def test_what_needs_a_savepoint_says_so(engine: Engine) -> None:
    statements = sent(engine)
    with Session(engine) as session:
        with pytest.raises(UsageError, match="a nested transaction block needs a SAVEPOINT"):
            nest(session)
        assert "SAVEPOINT" not in statements
        assert Q(Team).count(session) == 0

        hero, found = get_one_or_create(session, Hero, name="Solo")
        assert (hero.name, found) == ("Solo", False)
        assert get_one_or_create(session, Hero, name="Solo")[1] is True
        taken = hero.id
    batch = [Hero(name="ok"), Hero(id=taken, name="same key")]  # fails on the key
    with Session(engine) as session:  # no row-by-row retry: the batch's failure
        assert insert_data_rows(batch, session)[0] == (False,)  # nothing inserted
    assert names(engine) == ["Solo"]


def test_async_blocks_work_without_savepoints(backend: Backend, engine: Engine) -> None:
    async def run() -> None:
        async_engine = backend.async_engine(savepoints=False, poolclass=NullPool)
        statements = sent(async_engine.sync_engine)
        async with AsyncSession(async_engine) as session:
            async with a_transaction(session):
                assert (await a_write_row(Hero(name="Async A"), session))[0]
                assert (await a_write_row(Hero(name="Async B"), session))[0]
            with pytest.raises(UsageError, match="needs a SAVEPOINT"):
                async with a_transaction(session), a_transaction(session):
                    pass
        await async_engine.dispose()
        assert "SAVEPOINT" not in statements

    asyncio.run(run())
    assert names(engine) == ["Async A", "Async B"]
