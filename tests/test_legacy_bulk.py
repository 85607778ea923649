"""bulk_upsert_mappings: correct, one statement per chunk, on every backend."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from sqlmodel_crud_utils import BulkOperationError, QueryError
from tests.legacy_helpers import S, legacy, stored
from tests.models import Hero, Membership
from tests.models_legacy import LegacyScore, LegacyTag


async def test_upsert_inserts_and_updates_and_returns_rows(db):
    tags = db.seed(LegacyTag(name="a", note="keep"), LegacyTag(name="b", note="old"))
    payload = [
        {"id": tags[1].id, "name": "b", "note": "new"},
        {"id": tags[1].id + 100, "name": "c", "note": "fresh"},
    ]
    ok, rows = await legacy(db, "bulk_upsert_mappings", payload, S, LegacyTag)
    assert ok is True
    assert sorted((row.name, row.note) for row in rows) == [("b", "new"), ("c", "fresh")]
    assert [(row.name, row.note) for row in stored(db, LegacyTag)] == [
        ("a", "keep"),
        ("b", "new"),
        ("c", "fresh"),
    ]


async def test_upsert_only_updates_the_fields_given(db):
    tag = db.seed(LegacyTag(name="a", note="keep"))[0]
    ok, rows = await legacy(
        db,
        "bulk_upsert_mappings",
        payload=[{"id": tag.id, "name": "a", "status": "done"}],
        session_inst=S,
        model=LegacyTag,
    )
    assert ok
    assert rows[0].note == "keep"
    assert rows[0].status == "done"
    (row,) = stored(db, LegacyTag)
    assert (row.name, row.note, row.status) == ("a", "keep", "done")


async def test_upsert_writes_none_as_null(db):
    """A None in a mapping is written as NULL, not left out of the INSERT
    (which would apply the column's server default instead)."""
    tag = db.seed(LegacyTag(name="a", status="done"))[0]
    payload = [
        {"id": tag.id, "name": "a", "status": None},
        {"id": tag.id + 100, "name": "b", "status": None},
    ]
    ok, rows = await legacy(db, "bulk_upsert_mappings", payload, S, LegacyTag)
    assert ok
    assert sorted((row.name, row.status) for row in rows) == [("a", None), ("b", None)]
    assert [(row.name, row.status) for row in stored(db, LegacyTag)] == [("a", None), ("b", None)]


async def test_upsert_of_key_only_mappings_returns_existing_rows_too(db):
    db.seed(LegacyScore(player="ann", game="chess", points=7))
    payload = [{"player": "ann", "game": "chess"}, {"player": "bob", "game": "go"}]
    ok, rows = await legacy(
        db, "bulk_upsert_mappings", payload, S, LegacyScore, pk_fields=["player", "game"]
    )
    assert ok
    assert sorted((row.player, row.points) for row in rows) == [("ann", 7), ("bob", 0)]


async def test_upsert_composite_key_and_repeated_keys(db):
    db.seed(LegacyScore(player="ann", game="chess", points=1))
    payload = [
        {"player": "ann", "game": "chess", "points": 5},
        {"player": "ann", "game": "go", "points": 2},
        {"player": "ann", "game": "go", "points": 3},  # repeated key: the last one wins
    ]
    ok, rows = await legacy(db, "bulk_upsert_mappings", payload, S, LegacyScore, ["player", "game"])
    assert ok
    assert sorted((row.game, row.points) for row in rows) == [("chess", 5), ("go", 3)]
    assert sorted((r.game, r.points) for r in stored(db, LegacyScore)) == [("chess", 5), ("go", 3)]
    ok, rows = await legacy(
        db,
        "bulk_upsert_mappings",
        [{"hero_id": 1, "year": 2, "role": "x"}],
        S,
        Membership,
        pk_fields=["hero_id", "year"],
    )
    assert ok
    assert rows[0].role == "x"


async def test_upsert_empty_payload_and_bad_input(db):
    assert await legacy(db, "bulk_upsert_mappings", [], S, LegacyTag) == (True, [])
    with pytest.raises(QueryError, match="nope"):
        await legacy(db, "bulk_upsert_mappings", [{"id": 1, "nope": 2}], S, LegacyTag)
    with pytest.raises(QueryError):
        await legacy(db, "bulk_upsert_mappings", [{"name": "x"}], S, LegacyTag)


async def test_upsert_failure_rolls_back(db):
    db.seed(LegacyTag(name="a"))
    payload = [{"id": 10**6, "name": "z"}, {"id": 10**6 + 1, "note": "no name"}]  # NOT NULL
    assert await legacy(db, "bulk_upsert_mappings", payload, S, LegacyTag) == (False, [])
    with pytest.raises(BulkOperationError) as info:
        await legacy(db, "bulk_upsert_mappings", payload, S, LegacyTag, raise_on_error=True)
    assert (info.value.total, info.value.failed) == (2, 2)
    assert info.value.__cause__ is not None
    assert [row.name for row in stored(db, LegacyTag)] == ["a"]
    ok, rows = await legacy(db, "bulk_upsert_mappings", payload[:1], S, LegacyTag)
    assert ok
    assert rows[0].name == "z"


@pytest.mark.slow
async def test_upsert_20000_mappings_one_statement_per_1000_rows(db):
    db.seed_many(Hero, [{"id": i, "name": f"old{i}", "age": 1} for i in range(1, 10_001)])
    payload = [{"id": i, "name": f"new{i}", "age": 2} for i in range(1, 20_001)]
    with db.count_statements() as seen:
        ok, rows = await legacy(db, "bulk_upsert_mappings", payload, S, Hero)
    writes = [sql for sql in seen if sql.lstrip().upper().startswith("INSERT")]
    assert ok is True
    assert len(rows) == 20_000
    assert len(writes) <= 20, len(writes)
    assert len(seen) <= 20, [sql[:60] for sql in seen]
    assert {row.name for row in rows} == {f"new{i}" for i in range(1, 20_001)}
    with Session(db.backend.engine) as session:
        assert session.scalar(select(func.count()).select_from(Hero)) == 20_000
        assert session.scalar(select(func.count()).where(Hero.name.like("new%"))) == 20_000
        assert session.scalar(select(func.min(Hero.age))) == 2
