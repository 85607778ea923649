"""Less common setups on every backend, sync and async: value-converting
TypeDecorators, IntEnum and boolean values, version counters, sessions with
several binds, failures after a batch INSERT, repeated keys."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import inspect
from sqlmodel import Session

from sqlmodel_crud_utils import (
    Q,
    QueryError,
    TransactionError,
    clear_hooks,
    register_hook,
    transaction,
    write_row,
)
from tests.legacy_helpers import S, legacy, stored
from tests.models import Hero
from tests.models_edge import EdgeGadget, EdgeVersioned, Priority
from tests.models_legacy import LegacyTag


@pytest.fixture(autouse=True)
def _no_hooks():
    clear_hooks()
    yield
    clear_hooks()


async def test_values_go_through_a_converting_type_decorator(db):
    ext = uuid.uuid4()
    db.seed(EdgeGadget(ext=ext, priority=Priority.HIGH, flag=True), EdgeGadget(ext=uuid.uuid4()))
    assert await db.run(Q(EdgeGadget).where(ext=ext), "count") == 1
    assert await db.run(Q(EdgeGadget).where(ext__in=[ext, uuid.uuid4()]), "count") == 1
    found, row = await legacy(db, "get_row", ext, S, EdgeGadget, pk_field="ext")
    assert found is True
    assert row.ext == ext


async def test_int_enum_and_boolean_values_as_plain_numbers(db):
    db.seed(
        EdgeGadget(ext=uuid.uuid4(), priority=Priority.HIGH, flag=True),
        EdgeGadget(ext=uuid.uuid4(), priority=Priority.LOW),
        EdgeGadget(ext=uuid.uuid4(), priority=Priority.HIGH),
    )
    assert await db.run(Q(EdgeGadget).where(priority=2), "count") == 2
    assert await db.run(Q(EdgeGadget).where(priority__in=[1, 2]), "count") == 3
    assert await db.run(Q(EdgeGadget).where(flag=1), "count") == 1
    with pytest.raises(QueryError, match="cannot use 7"):
        Q(EdgeGadget).where(priority=7)
    q = Q(EdgeGadget).order_by("priority")
    if db.name == "mariadb":  # an ENUM sorts by position there but compares as text
        with pytest.raises(QueryError, match="ENUM column 'priority'"):
            await db.run(q, "keyset", 1)
        return
    first = await db.run(q, "keyset", 1)
    seen = [row.id for row in first.items]
    page = first
    while page.has_next:  # cursors over an IntEnum sort key round-trip
        page = await db.run(q, "keyset", 1, page.next_cursor)
        seen += [row.id for row in page.items]
    assert len(seen) == len(set(seen)) == 3


async def test_versioned_rows_inserted_in_bulk_keep_their_version_counter(db):
    ok, rows = await legacy(db, "insert_data_rows", [EdgeVersioned(title="a")], S)
    assert ok is True
    assert rows[0].version == 1
    ok, row = await legacy(db, "update_row", rows[0].id, {"title": "b"}, S, EdgeVersioned)
    assert ok is True
    assert row.version == 2
    assert [(r.title, r.version) for r in stored(db, EdgeVersioned)] == [("b", 2)]


class Refuse:
    def after_create(self, instance):
        raise PermissionError("no")


async def test_failed_bulk_insert_hands_back_the_objects_as_they_came(db):
    """After a failure the caller's objects are transient again, with their
    values, so they can be inserted once the cause is gone."""
    rows = [LegacyTag(name="a", note="x"), LegacyTag(name="b")]
    register_hook(LegacyTag, Refuse())
    ok, report = await legacy(db, "insert_data_rows", rows, S)
    assert ok == (False,)  # v0.1's status when no row was written
    assert [row.name for row in report["failed"]] == ["a", "b"]
    assert all(inspect(row).transient for row in rows)
    assert [(row.name, row.note, row.id) for row in rows] == [("a", "x", None), ("b", "", None)]
    assert stored(db, LegacyTag) == []
    clear_hooks()
    ok, written = await legacy(db, "insert_data_rows", rows, S)
    assert ok is True
    assert sorted(row.name for row in stored(db, LegacyTag)) == ["a", "b"]
    assert all(row.id is not None for row in written)


async def test_a_hook_failing_after_the_row_by_row_retry_writes_nothing(db):
    db.seed(LegacyTag(name="dup"))
    register_hook(LegacyTag, Refuse())
    rows = [LegacyTag(name="x1"), LegacyTag(name="dup"), LegacyTag(name="x2")]
    ok, _ = await legacy(db, "insert_data_rows", rows, S)
    assert ok == (False,)  # v0.1's status when no row was written
    assert [row.name for row in stored(db, LegacyTag)] == ["dup"]


async def test_repeated_keys_are_looked_up_once(db):
    hero = db.seed(Hero(name="a"))[0]
    found, rows = await legacy(db, "get_rows_within_id_list", [hero.id] * 10_001, S, Hero)
    assert found is True
    assert [row.name for row in rows] == ["a"]


def test_transaction_blocks_work_on_a_session_with_several_binds(session):
    engine = session.get_bind()
    with Session(binds={LegacyTag: engine, Hero: engine}) as multi:
        with transaction(multi):
            assert write_row(LegacyTag(name="a"), multi)[0] is True
            with transaction(multi):
                assert write_row(LegacyTag(name="b"), multi)[0] is True
        with pytest.raises(TransactionError), transaction(multi):  # noqa: PT012
            write_row(LegacyTag(name="c"), multi)
            write_row(LegacyTag(name="c"), multi)
    with Session(engine) as fresh:
        assert sorted(tag.name for tag in fresh.exec(Q(LegacyTag).statement)) == ["a", "b"]
