"""Change history on every write path, on every backend, sync and async:
the exact records (operation, row key, old and new values, actor), and no
record when the transaction rolls back."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlmodel import Session, SQLModel

from sqlmodel_crud_utils import (
    Q,
    QueryError,
    TransactionError,
    a_get_change_history,
    acting_as,
    get_change_history,
    transaction,
)
from sqlmodel_crud_utils.tracking import change_history_table, is_tracked_model, row_key
from tests.legacy_helpers import S, legacy, stored
from tests.models import Hero
from tests.models_tracking import TrackedDoc, TrackedItem, TrackedPair


def history(db, model=None, pk=None):
    """``(operation, row_pk, changes, changed_by)`` of every record (of one
    row when ``model``/``pk`` are given), oldest first."""
    with Session(db.backend.engine) as session:
        if model is not None:
            ok, records = get_change_history(session, model, pk)
            assert ok
        else:
            stmt = select(change_history_table).order_by(change_history_table.c.id)
            records = [dict(row._mapping) for row in session.execute(stmt)]
    return [(r["operation"], r["row_pk"], r["changes"], r["changed_by"]) for r in records]


def seeded(db, *rows):
    """``db.seed(*rows)``, with the history of the seeding itself dropped."""
    rows = db.seed(*rows)
    with db.backend.engine.begin() as conn:
        conn.execute(change_history_table.delete())
    return rows


def items(db, *names):
    return seeded(db, *(TrackedItem(name=name, qty=index) for index, name in enumerate(names, 1)))


def session_of(db):
    return db.session if db.async_session is None else db.async_session


async def test_write_row_records_an_insert_without_excluded_fields(db):
    with acting_as("ada"):
        ok, row = await legacy(db, "write_row", TrackedItem(name="a", qty=2, secret="s"), S)
    assert ok
    assert history(db, TrackedItem, row.id) == [
        (
            "insert",
            str(row.id),
            {"id": [None, row.id], "name": [None, "a"], "qty": [None, 2]},
            "ada",
        )
    ]


async def test_update_row_records_only_the_changed_fields_with_old_values(db):
    (row,) = items(db, "a")
    ok, _ = await legacy(
        db, "update_row", row.id, {"qty": 5, "name": "a", "secret": "x"}, S, TrackedItem
    )
    assert ok
    assert history(db) == [("update", str(row.id), {"qty": [1, 5]}, None)]


async def test_update_with_the_same_values_records_nothing(db):
    (row,) = items(db, "a")
    await legacy(db, "update_row", row.id, {"qty": 1}, S, TrackedItem)
    assert history(db) == []


async def test_delete_row_records_the_last_values(db):
    (row,) = items(db, "a")
    db.session.info["changed_by"] = 42  # not text: stored as text
    if db.async_session is not None:
        db.async_session.info["changed_by"] = 42
    assert await legacy(db, "delete_row", row.id, S, TrackedItem) is True
    assert history(db) == [
        ("delete", str(row.id), {"id": [row.id, None], "name": ["a", None], "qty": [1, None]}, "42")
    ]


async def test_plain_orm_flush_records_insert_update_delete(db):
    session = session_of(db)
    row = TrackedItem(name="orm", qty=1)
    session.add(row)
    await db.commit()
    if db.async_session is not None:
        await session.refresh(row)  # expired by the commit; async code cannot lazy-load
    row_id = row.id
    row.qty = 7  # expired by the commit: setting it loads nothing (async code relies on it)
    await db.commit()
    await session.delete(row) if db.async_session is not None else session.delete(row)
    await db.commit()
    assert [(op, changes) for op, _, changes, _ in history(db, TrackedItem, row_id)] == [
        ("insert", {"id": [None, row_id], "name": [None, "orm"], "qty": [None, 1]}),
        ("update", {"qty": [1, 7]}),
        ("delete", {"id": [row_id, None], "name": ["orm", None], "qty": [7, None]}),
    ]


async def test_q_update_records_each_changed_row(db):
    _a, b, _c = items(db, "a", "b", "c")
    with acting_as("bot"):
        matched = await db.run(Q(TrackedItem).where(qty__gte=2), "update", qty=3)
    await db.commit()
    assert matched == 2
    # c already had qty 3: matched, but nothing changed, so no record
    assert history(db) == [("update", str(b.id), {"qty": [2, 3]}, "bot")]


async def test_q_update_of_many_rows_records_every_row(db):
    db.seed_many(TrackedItem, [{"name": f"n{i}", "qty": i} for i in range(250)])
    assert await db.run(Q(TrackedItem), "update", qty=-1) == 250
    await db.commit()
    records = history(db)
    assert len(records) == 250
    assert all(op == "update" and changes["qty"][1] == -1 for op, _, changes, _ in records)


async def test_q_delete_hard_records_deletes(db):
    a, _b = items(db, "a", "b")
    assert await db.run(Q(TrackedItem).where(name="a"), "delete", hard=True) == 1
    await db.commit()
    assert history(db) == [
        ("delete", str(a.id), {"id": [a.id, None], "name": ["a", None], "qty": [1, None]}, None)
    ]
    assert [row.name for row in stored(db, TrackedItem)] == ["b"]


async def test_soft_delete_and_restore_are_updates_of_the_flags(db):
    (doc,) = seeded(db, TrackedDoc(title="t"))
    with acting_as("eve"):
        assert await db.run(Q(TrackedDoc).where(id=doc.id), "delete") == 1
        await db.commit()
        assert await legacy(db, "restore_row", doc.id, S, TrackedDoc) is True
    (deleted, restored) = history(db, TrackedDoc, doc.id)
    assert deleted[0] == "update"
    assert deleted[3] == "eve"
    assert deleted[2]["is_deleted"] == [False, True]
    assert deleted[2]["deleted_by"] == [None, "eve"]
    assert deleted[2]["deleted_at"][0] is None
    assert deleted[2]["deleted_at"][1]
    assert restored[0] == "update"
    assert restored[2]["is_deleted"] == [True, False]
    assert restored[2]["deleted_at"][1] is None


async def test_soft_delete_row_records_an_update(db):
    (doc,) = seeded(db, TrackedDoc(title="t"))
    assert await legacy(db, "soft_delete_row", doc.id, S, TrackedDoc) is True
    ((op, key, changes, _),) = history(db)
    assert (op, key, changes["is_deleted"]) == ("update", str(doc.id), [False, True])


async def test_bulk_upsert_records_inserts_and_updates(db):
    (row,) = items(db, "a")
    payload = [
        {"id": row.id, "name": "a2", "qty": 1},
        {"id": row.id + 100, "name": "new", "qty": 9},
    ]
    rows = await legacy(db, "bulk_upsert_mappings", payload, S, TrackedItem)
    assert rows[0] is True
    await db.commit()
    assert history(db) == [
        ("update", str(row.id), {"name": ["a", "a2"]}, None),
        (
            "insert",
            str(row.id + 100),
            {"id": [None, row.id + 100], "name": [None, "new"], "qty": [None, 9]},
            None,
        ),
    ]


async def test_bulk_update_rows_records_updates(db):
    a, b = items(db, "a", "b")
    assert await legacy(db, "bulk_update_rows", [a.id, b.id], {"qty": 1}, S, TrackedItem) == (
        True,
        2,
    )
    assert history(db) == [("update", str(b.id), {"qty": [2, 1]}, None)]


async def test_delete_rows_within_id_list_records_hard_and_soft_deletes(db):
    a, _b = items(db, "a", "b")
    (doc,) = seeded(db, TrackedDoc(title="t"))
    assert await legacy(db, "delete_rows_within_id_list", [a.id], S, TrackedItem) == (True, 1)
    result = await legacy(
        db, "delete_rows_within_id_list", [doc.id], S, TrackedDoc, soft=True, deleted_by="ops"
    )
    assert result == (True, 1)
    first, second = history(db)
    assert first == (
        "delete",
        str(a.id),
        {"id": [a.id, None], "name": ["a", None], "qty": [1, None]},
        None,
    )
    assert second[0] == "update"
    assert second[2]["deleted_by"] == [None, "ops"]


async def test_insert_data_rows_records_every_row(db):
    ok, rows = await legacy(
        db, "insert_data_rows", [TrackedItem(name="x", qty=1), TrackedItem(name="y")], S
    )
    assert ok is True
    assert sorted(history(db)) == sorted(
        [
            (
                "insert",
                str(rows[0].id),
                {"id": [None, rows[0].id], "name": [None, "x"], "qty": [None, 1]},
                None,
            ),
            (
                "insert",
                str(rows[1].id),
                {"id": [None, rows[1].id], "name": [None, "y"], "qty": [None, 0]},
                None,
            ),
        ]
    )


async def test_composite_keys_are_joined_by_commas(db):
    await legacy(db, "write_row", TrackedPair(a=1, b=2, label="x"), S)
    with Session(db.backend.engine) as session:
        ok, records = get_change_history(session, TrackedPair, (1, 2))
    assert ok
    assert [r["row_pk"] for r in records] == ["1,2"]
    assert records[0]["changes"] == {"a": [None, 1], "b": [None, 2], "label": [None, "x"]}


async def test_a_rolled_back_transaction_leaves_no_history(db):
    (_row,) = items(db, "a")
    session = session_of(db)
    await db.run(Q(TrackedItem), "update", qty=50)
    session.add(TrackedItem(name="gone"))
    if db.async_session is None:
        session.flush()
        session.rollback()
    else:
        await session.flush()
        await session.rollback()
    assert history(db) == []
    assert [(r.name, r.qty) for r in stored(db, TrackedItem)] == [("a", 1)]


def test_a_failed_block_leaves_neither_rows_nor_history(session):
    (row,) = [TrackedItem(name="a", qty=1)]
    session.add(row)
    session.commit()
    with pytest.raises(TransactionError), transaction(session):  # noqa: PT012 - the whole block fails
        Q(TrackedItem).update(session, qty=2)
        raise RuntimeError("boom")
    operations = session.execute(select(change_history_table.c.operation)).scalars().all()
    assert operations == ["insert"]  # the committed insert only
    assert session.get(TrackedItem, row.id).qty == 1


async def test_async_history_reader(db):
    if db.async_session is None:
        pytest.skip("the async reader needs an async session")
    (row,) = items(db, "a")
    await legacy(db, "update_row", row.id, {"qty": 2}, S, TrackedItem)
    ok, records = await a_get_change_history(db.async_session, TrackedItem, row.id)
    assert ok
    assert [r["operation"] for r in records] == ["update"]
    assert records[0]["changed_at"].tzinfo is not None


def test_untracked_models_record_nothing(session):
    session.add(Hero(name="h"))
    session.commit()
    assert not is_tracked_model(Hero)
    assert session.execute(select(change_history_table)).all() == []


def test_reading_history_without_its_table_fails_cleanly(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'none.db'}")
    SQLModel.metadata.create_all(engine, tables=[TrackedItem.__table__])
    with Session(engine) as session:
        assert get_change_history(session, TrackedItem, 1) == (False, [])
        assert not session.in_transaction()
    engine.dispose()


def test_row_key_joins_values():
    assert row_key((1, "b")) == "1,b"


async def test_a_field_set_to_a_sql_expression_records_the_stored_value(db):
    (row,) = items(db, "a")
    session = session_of(db)
    if db.async_session is None:
        loaded = session.get(TrackedItem, row.id)
    else:
        loaded = await session.get(TrackedItem, row.id)
    loaded.qty = TrackedItem.qty + 10
    await db.commit()
    assert history(db) == [("update", str(row.id), {"qty": [1, 11]}, None)]


async def test_a_set_based_update_of_a_tracked_primary_key_is_refused(db):
    (row,) = items(db, "a")
    with pytest.raises(QueryError, match="primary key"):
        await db.run(Q(TrackedItem).where(id=row.id), "update", id=row.id + 100)
    assert [r.id for r in stored(db, TrackedItem)] == [row.id]
    assert history(db) == []
