"""TimestampMixin: created_at / updated_at stamped on every write path, on
every backend, sync and async, by the database too."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, text, update
from sqlmodel import Session

from sqlmodel_crud_utils import Q, TimestampMixin
from sqlmodel_crud_utils import mixins as mixins_module
from tests.legacy_helpers import S, legacy, stored
from tests.models_timestamp import TsNote

LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def aged(db, *texts):
    """Rows whose stamps are in 2000, so any stamp a write makes is newer."""
    db.seed_many(
        TsNote,
        [{"text": t, "created_at": LONG_AGO, "updated_at": LONG_AGO} for t in texts],
    )
    return stored(db, TsNote)


def test_exported_and_columns_are_not_null():
    assert mixins_module.TimestampMixin is TimestampMixin
    columns = TsNote.__table__.c
    assert not columns.created_at.nullable
    assert not columns.updated_at.nullable
    assert columns.created_at.server_default is not None
    assert columns.updated_at.onupdate is not None


async def test_insert_paths_stamp_both_columns_in_utc(db):
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    await legacy(db, "write_row", TsNote(text="orm"), S)
    with db.backend.engine.begin() as conn:
        conn.execute(insert(TsNote).values(text="core"))
        conn.execute(text("INSERT INTO tsnote (text) VALUES ('raw')"))
    rows = {row.text: row for row in stored(db, TsNote)}
    assert set(rows) == {"orm", "core", "raw"}
    for row in rows.values():
        assert row.created_at.tzinfo == dt.timezone.utc
        assert (
            before <= row.created_at <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
        )
        assert row.updated_at >= row.created_at - dt.timedelta(seconds=1)


async def test_every_update_path_refreshes_updated_at_only(db):
    rows = aged(db, "a", "b", "c", "d", "e", "f")
    ids = [row.id for row in rows]
    await legacy(db, "update_row", ids[0], {"text": "a2"}, S, TsNote)
    await db.run(Q(TsNote).where(id=ids[1]), "update", text="b2")
    await db.commit()
    await legacy(db, "bulk_update_rows", [ids[2]], {"text": "c2"}, S, TsNote)
    await legacy(db, "bulk_upsert_mappings", [{"id": ids[3], "text": "d2"}], S, TsNote)
    with Session(db.backend.engine) as session:
        row = session.get(TsNote, ids[4])
        row.text = "e2"
        session.commit()
    with db.backend.engine.begin() as conn:
        conn.execute(update(TsNote).where(TsNote.id == ids[5]).values(text="f2"))
    for row in stored(db, TsNote):
        assert row.text.endswith("2")
        assert row.created_at == LONG_AGO
        assert row.updated_at > LONG_AGO + dt.timedelta(days=365), row.text


async def test_a_value_you_set_wins(db):
    (row,) = aged(db, "a")
    chosen = dt.datetime(2010, 5, 5, tzinfo=dt.timezone.utc)
    await db.run(Q(TsNote).where(id=row.id), "update", text="x", updated_at=chosen)
    await db.commit()
    assert stored(db, TsNote)[0].updated_at == chosen
