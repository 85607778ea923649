"""Transaction blocks are atomic on SQLite even with a plain engine.

pysqlite and aiosqlite begin a transaction only before the first
INSERT/UPDATE/DELETE, so a SAVEPOINT opened first would be an outermost
transaction whose RELEASE commits. The library begins the driver's
transaction before every SAVEPOINT it opens; these tests use engines made
with plain ``create_engine`` / ``create_async_engine`` (no recipe) to prove it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import Session, SQLModel, create_engine, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import (
    TransactionError,
    a_transaction,
    a_write_row,
    transaction,
    write_row,
)
from tests.models_legacy import LegacyTag


class Boom(Exception):
    pass


def names(path: Path) -> list[str]:
    engine = create_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        found = sorted(tag.name for tag in session.exec(select(LegacyTag)))
    engine.dispose()
    return found


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain.db"
    engine = create_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine, tables=[LegacyTag.__table__])
    engine.dispose()
    return path


def test_sync_block_with_legacy_writes_rolls_back_on_a_plain_engine(db_file: Path) -> None:
    engine = create_engine(f"sqlite:///{db_file}")
    with Session(engine) as session:
        with pytest.raises(Boom), transaction(session, wrap_errors=False):  # noqa: PT012
            assert write_row(LegacyTag(name="a"), session)[0] is True
            with transaction(session):
                assert write_row(LegacyTag(name="b"), session)[0] is True
            raise Boom
        with pytest.raises(TransactionError), transaction(session):  # noqa: PT012
            write_row(LegacyTag(name="c"), session)
            write_row(LegacyTag(name="c"), session)  # fails: dooms the block
        with transaction(session):
            write_row(LegacyTag(name="d"), session)
    engine.dispose()
    assert names(db_file) == ["d"]


async def test_async_block_with_legacy_writes_rolls_back_on_a_plain_engine(
    db_file: Path,
) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{db_file}")
    async with AsyncSession(engine) as session:
        with pytest.raises(Boom):  # noqa: PT012
            async with a_transaction(session, wrap_errors=False):
                assert (await a_write_row(LegacyTag(name="a"), session))[0] is True
                async with a_transaction(session):
                    assert (await a_write_row(LegacyTag(name="b"), session))[0] is True
                raise Boom
        async with a_transaction(session):
            await a_write_row(LegacyTag(name="d"), session)
    await engine.dispose()
    assert names(db_file) == ["d"]
