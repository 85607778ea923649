"""Optimistic locking (`VersionMixin`): two sessions load one row and both
update it; the second gets `ConflictError` naming model, key and versions,
on every backend, sync and async, and the row keeps the first update. The
FastAPI router answers 409 with the current version."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import (
    ConflictError,
    Q,
    a_transaction,
    all_tenants,
    bulk_upsert_mappings,
    tenant_scope,
    transaction,
    update_row,
)
from sqlmodel_crud_utils._fastapi_problems import problem_for
from tests.models_tenancy import TnUser


def one_user(backend: Any) -> int:
    backend.clean()
    with tenant_scope(1), Session(backend.engine) as session:
        user = TnUser(name="a1", age=1)
        session.add(user)
        session.commit()
        assert user.version == 1
        return int(user.id)  # type: ignore[arg-type]


@contextlib.contextmanager
def sessions(backend: Any) -> Iterator[tuple[Session, Session]]:
    """Two sessions that have both read the row (version 1) and ended their
    read transactions (SQLite would otherwise lock the second writer out)."""
    with (
        Session(backend.engine, expire_on_commit=False) as first,
        Session(backend.engine, expire_on_commit=False) as second,
    ):
        for session in (first, second):
            assert session.exec(select(TnUser)).one().version == 1
            session.commit()
        yield first, second


def stored(backend: Any, key: int) -> tuple[str, int, int]:
    with all_tenants(), Session(backend.engine) as session:
        row = session.get(TnUser, key)
        assert row is not None
        return row.name, row.age, row.version


def test_the_second_writer_gets_a_conflict(backend: Any) -> None:
    key = one_user(backend)
    with tenant_scope(1), sessions(backend) as (first, second):
        mine, theirs = first.get(TnUser, key), second.get(TnUser, key)
        assert mine is not None
        assert theirs is not None
        # no read transaction left open: on SQLite (WAL) a snapshot older than
        # the other writer's commit cannot write at all ("database is locked")
        first.commit()
        second.commit()
        with transaction(first):
            mine.name = "first"
        with pytest.raises(ConflictError) as caught, transaction(second):
            theirs.name, theirs.age = "second", 7
    error = caught.value
    assert (error.model, error.key, error.expected, error.current) == ("TnUser", key, 1, 2)
    assert isinstance(error.original_error, StaleDataError)
    assert stored(backend, key) == ("first", 1, 2)
    # the losing session is usable again
    with tenant_scope(1):
        assert Q(TnUser).get(second, key).version == 2


def test_a_stale_version_from_a_client_is_refused(backend: Any) -> None:
    key = one_user(backend)
    with tenant_scope(1), Session(backend.engine) as session:
        update_row(key, {"age": 2, "version": 1}, session, TnUser, raise_on_error=True)
        with pytest.raises(ConflictError, match="expected version 1, the row has version 2"):
            update_row(key, {"age": 3, "version": 1}, session, TnUser, raise_on_error=True)
    assert stored(backend, key) == ("a1", 2, 2)


def test_set_based_updates_bump_the_version(backend: Any) -> None:
    key = one_user(backend)
    with tenant_scope(1), Session(backend.engine) as session:
        assert Q(TnUser).where(id=key).update(session, age=5) == 1
        session.commit()
    assert stored(backend, key) == ("a1", 5, 2)


async def test_the_second_async_writer_gets_a_conflict(backend: Any) -> None:
    key = one_user(backend)
    engine = backend.async_engine(poolclass=NullPool)
    try:
        with tenant_scope(1):
            async with (
                AsyncSession(engine, expire_on_commit=False) as first,
                AsyncSession(engine, expire_on_commit=False) as second,
            ):
                loaded = []
                for session in (first, second):
                    loaded.append(await session.get(TnUser, key))
                    await session.commit()
                mine, theirs = loaded
                async with a_transaction(first):
                    mine.name = "first"
                with pytest.raises(ConflictError) as caught:
                    async with a_transaction(second):
                        theirs.name = "second"
    finally:
        await engine.dispose()
    assert (caught.value.model, caught.value.key, caught.value.expected) == ("TnUser", key, 1)
    assert stored(backend, key)[0] == "first"


def test_a_conflict_is_a_409_problem_with_the_current_version() -> None:
    problem = problem_for(ConflictError("TnUser", 7, expected=1, current=3))
    assert problem is not None
    assert (problem.status, problem.current_version, problem.model) == (409, 3, "TnUser")


def test_an_upsert_that_updates_bumps_the_version(backend: Any) -> None:
    key = one_user(backend)
    with tenant_scope(1), Session(backend.engine) as session:
        ok, _ = bulk_upsert_mappings(
            [{"id": key, "name": "a1", "age": 9}, {"id": key + 100, "name": "a9"}],
            session,
            TnUser,
            raise_on_error=True,
        )
        session.commit()
    assert ok
    assert stored(backend, key) == ("a1", 9, 2)
    assert stored(backend, key + 100)[2] == 1  # inserted: the first version
