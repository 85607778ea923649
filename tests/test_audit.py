"""Audit columns: aware UTC timestamps on every backend, stamped on ORM
flushes and set-based updates, and `acting_as` isolated per thread / task."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import Q, acting_as
from sqlmodel_crud_utils.mixins import current_user, utc_now
from tests.models_softaudit import SaAuthor as Author

UTC = dt.timezone.utc


async def add(db: Any, *rows: Any) -> None:
    """``session.add()`` + commit on the session under test."""
    session = db.async_session or db.session
    session.add_all(rows)
    await db.commit()


async def reload(db: Any, name: str) -> Author:
    """A fresh copy of the author named ``name``, read from the database."""
    if db.async_session is not None:
        db.async_session.expunge_all()
    db.session.expunge_all()
    row: Author = await db.run(Q(Author).soft("include").where(name=name), "one")
    return row


def assert_aware_utc(value: Any) -> None:
    assert isinstance(value, dt.datetime)
    assert value.tzinfo is UTC


async def test_timestamps_are_aware_utc_after_a_round_trip(db: Any) -> None:
    before = utc_now().replace(microsecond=0)
    await add(db, Author(name="Ann"))
    row = await reload(db, "Ann")
    assert_aware_utc(row.created_at)
    assert before <= row.created_at <= utc_now()
    assert row.updated_at is None  # v0.2: None until the first update
    row.name = "Anna"
    await db.commit()
    row = await reload(db, "Anna")
    assert_aware_utc(row.updated_at)
    assert row.created_at <= row.updated_at <= utc_now()


async def test_aware_values_keep_their_instant_and_microseconds(db: Any) -> None:
    tokyo = dt.timezone(dt.timedelta(hours=9))
    instant = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=tokyo)
    await add(db, Author(name="Ann", is_deleted=True, deleted_at=instant))
    row = await reload(db, "Ann")
    assert_aware_utc(row.deleted_at)
    assert row.deleted_at == instant
    assert row.deleted_at.hour == 22  # 07:08 in Tokyo is 22:08 UTC the day before


async def test_naive_values_are_taken_as_utc(db: Any) -> None:
    await add(db, Author(name="Ann", created_at=dt.datetime(2024, 1, 2, 3, 4, 5)))
    row = await reload(db, "Ann")
    assert row.created_at == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


async def test_filters_on_audit_columns_compare_instants(db: Any) -> None:
    await add(db, Author(name="Old", created_at=dt.datetime(2020, 1, 1, tzinfo=UTC)))
    await add(db, Author(name="New", created_at=dt.datetime(2024, 1, 1, tzinfo=UTC)))
    paris = dt.timezone(dt.timedelta(hours=1))
    since = dt.datetime(2022, 1, 1, 1, tzinfo=paris)
    assert [a.name for a in await db.run(Q(Author).where(created_at__gte=since), "all")] == ["New"]
    iso = Q(Author).where(created_at__lt="2022-01-01T00:00:00+00:00")
    assert [a.name for a in await db.run(iso, "all")] == ["Old"]


async def test_core_inserts_get_the_column_defaults(db: Any) -> None:
    db.seed_many(Author, [{"name": "Bulk"}])
    row = await reload(db, "Bulk")
    assert_aware_utc(row.created_at)
    assert row.updated_at is None


async def test_orm_flush_updates_updated_at_only(db: Any) -> None:
    await add(db, Author(name="Ann"))
    row = await reload(db, "Ann")
    created = row.created_at
    assert row.updated_at is None
    await asyncio.sleep(0.01)
    with acting_as("editor"):
        row.name = "Anna"
        await db.commit()
    row = await reload(db, "Anna")
    assert row.created_at == created
    assert row.updated_at > created
    assert (row.created_by, row.updated_by) == (None, "editor")


async def test_orm_flush_keeps_values_the_caller_set(db: Any) -> None:
    await add(db, Author(name="Ann"))
    row = await reload(db, "Ann")
    chosen = dt.datetime(2030, 1, 1, tzinfo=UTC)
    with acting_as("editor"):
        row.updated_at = chosen
        row.updated_by = "import-job"
        await db.commit()
    row = await reload(db, "Ann")
    assert (row.updated_at, row.updated_by) == (chosen, "import-job")


async def test_q_update_sets_updated_at_and_updated_by(db: Any) -> None:
    await add(db, Author(name="Ann"))
    created = (await reload(db, "Ann")).created_at
    await asyncio.sleep(0.01)
    with acting_as("bulk-editor"):
        assert await db.run(Q(Author).where(name="Ann"), "update", name="Anna") == 1
    await db.commit()
    row = await reload(db, "Anna")
    assert row.created_at == created
    assert row.updated_at > created
    assert row.updated_by == "bulk-editor"
    # without acting_as, updated_by keeps its value; an explicit one wins
    assert await db.run(Q(Author), "update", name="Annie") == 1
    await db.commit()
    assert (await reload(db, "Annie")).updated_by == "bulk-editor"
    with acting_as("ignored"):
        await db.run(Q(Author), "update", updated_by="named")
    await db.commit()
    assert (await reload(db, "Annie")).updated_by == "named"


async def test_q_delete_stamps_the_soft_delete_and_the_update(db: Any) -> None:
    await add(db, Author(name="Ann"))
    with acting_as("remover"):
        assert await db.run(Q(Author), "delete") == 1
    await db.commit()
    row = await reload(db, "Ann")
    assert (row.is_deleted, row.deleted_by, row.updated_by) == (True, "remover", "remover")
    assert_aware_utc(row.deleted_at)
    assert row.updated_at >= row.created_at


async def test_acting_as_fills_creators_on_plain_add(db: Any) -> None:
    with acting_as("creator"):
        await add(db, Author(name="Ann"), Author(name="Bob", created_by="explicit"))
    ann, bob = await reload(db, "Ann"), await reload(db, "Bob")
    assert (ann.created_by, ann.updated_by) == ("creator", None)  # updated_by: on updates
    assert (bob.created_by, bob.updated_by) == ("explicit", None)


async def test_acting_as_is_isolated_between_concurrent_tasks(db: Any) -> None:
    if db.async_session is None:
        engine = db.backend.engine

        async def write(name: str, user: str) -> str | None:
            with acting_as(user):
                await asyncio.sleep(0.01)  # let the other task switch users meanwhile
                with Session(engine) as session:
                    session.add(Author(name=name))
                    session.commit()
                return current_user()
    else:
        async_engine = db.async_session.bind

        async def write(name: str, user: str) -> str | None:
            with acting_as(user):
                await asyncio.sleep(0.01)
                async with AsyncSession(async_engine) as session:
                    session.add(Author(name=name))
                    await asyncio.sleep(0.01)
                    await session.commit()
                return current_user()

    seen = await asyncio.gather(write("A", "alice"), write("B", "bob"))
    assert seen == ["alice", "bob"]
    assert current_user() is None
    assert (await reload(db, "A")).created_by == "alice"
    assert (await reload(db, "B")).created_by == "bob"


def test_acting_as_is_isolated_between_threads(session: Session) -> None:
    engine = session.get_bind()
    barrier = threading.Barrier(2)
    seen: dict[str, str | None] = {}
    errors: list[BaseException] = []

    def write(name: str, user: str) -> None:
        try:
            with acting_as(user):
                barrier.wait(timeout=10)  # both threads are inside their block now
                with Session(engine) as own:
                    own.add(Author(name=name))
                    own.commit()
                seen[name] = current_user()
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=args) for args in (("A", "alice"), ("B", "bob"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert seen == {"A": "alice", "B": "bob"}
    rows = {a.name: a.created_by for a in Q(Author).all(session)}
    assert rows == {"A": "alice", "B": "bob"}


async def test_keyset_pages_by_created_at(db: Any) -> None:
    base = dt.datetime(2024, 1, 1, tzinfo=UTC)
    await add(
        db,
        *(Author(name=f"a{i}", created_at=base + dt.timedelta(microseconds=i)) for i in range(5)),
    )
    q = Q(Author).order_by("-created_at")
    page = await db.run(q, "keyset", 2)
    seen = [a.name for a in page.items]
    while page.has_next:
        page = await db.run(q, "keyset", 2, page.next_cursor)
        seen += [a.name for a in page.items]
    assert seen == ["a4", "a3", "a2", "a1", "a0"]
