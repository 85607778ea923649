"""Upstream 0.4's keyed bulk writes, on every backend, sync and async:
``bulk_update_rows``, ``delete_rows_within_id_list`` and
``bulk_upsert_mappings(update_columns=...)``."""

from __future__ import annotations

import inspect

import pytest

from sqlmodel_crud_utils import ConstraintError, QueryError, a_sync, acting_as, sync
from tests.legacy_helpers import S, legacy, stored
from tests.models import Hero, Team
from tests.models_legacy import LegacyTag
from tests.models_softaudit import SaAuthor, SaBook


def heroes(db, count=4):
    return db.seed(*(Hero(name=f"h{i}", age=10 * i) for i in range(1, count + 1)))


def ages(db):
    return [(hero.name, hero.age) for hero in stored(db, Hero)]


async def test_bulk_update_sets_data_on_the_listed_rows_only(db):
    rows = heroes(db)
    result = await legacy(
        db, "bulk_update_rows", [rows[0].id, rows[2].id, 10_000], {"age": 99}, S, Hero
    )
    assert result == (True, 2)
    assert ages(db) == [("h1", 99), ("h2", 20), ("h3", 99), ("h4", 40)]


async def test_bulk_update_sends_one_update_per_chunk_and_counts_each_key_once(db):
    rows = heroes(db, 5)
    keys = [row.id for row in rows] + [rows[0].id, 10_000]
    with db.count_statements() as seen:
        result = await legacy(db, "bulk_update_rows", keys, {"bio": "x"}, S, Hero, chunk_size=2)
    assert result == (True, 5)
    assert sum(statement.lstrip().upper().startswith("UPDATE") for statement in seen) == 3
    assert {hero.bio for hero in stored(db, Hero)} == {"x"}


async def test_bulk_update_with_no_keys_writes_nothing(db):
    heroes(db, 1)
    with db.count_statements() as seen:
        assert await legacy(db, "bulk_update_rows", [], {"age": 1}, S, Hero) == (True, 0)
    assert not [s for s in seen if s.lstrip().upper().startswith("UPDATE")]


@pytest.mark.parametrize(
    ("args", "kwargs", "named"),
    [
        (({},), {}, "data"),
        (({"nope": 1},), {}, "nope"),
        (({"id": 7},), {}, "primary key"),
        (({"age": 1},), {"pk_field": "name"}, "pk_field"),
        (({"age": 1},), {"chunk_size": 0}, "chunk_size"),
        (({"name": "x" * 101},), {}, "100 characters"),
        (({"age": 2**40},), {}, "age"),
    ],
)
async def test_bulk_update_refuses_bad_arguments_before_any_statement(db, args, kwargs, named):
    rows = heroes(db, 2)
    with db.count_statements() as seen, pytest.raises(QueryError, match=named) as caught:
        await legacy(db, "bulk_update_rows", [rows[0].id], *args, S, Hero, **kwargs)
    assert isinstance(caught.value, ValueError)
    assert "Hero" in str(caught.value)
    assert not [s for s in seen if s.lstrip().upper().startswith("UPDATE")]
    assert ages(db) == [("h1", 10), ("h2", 20)]


async def test_bulk_update_a_refused_value_writes_nothing(db):
    if db.name == "sqlite":
        pytest.skip("this SQLite engine does not enforce foreign keys")
    rows = heroes(db, 3)
    with pytest.raises(ConstraintError):
        await legacy(
            db, "bulk_update_rows", [r.id for r in rows], {"team_id": 10_000}, S, Hero, chunk_size=1
        )
    assert [hero.team_id for hero in stored(db, Hero)] == [None, None, None]
    assert await legacy(db, "bulk_update_rows", [rows[0].id], {"age": 5}, S, Hero) == (True, 1)


async def test_bulk_update_reaches_soft_deleted_rows_and_stamps_audit_columns(db):
    author = db.seed(SaAuthor(name="Ada"))[0]
    books = db.seed(SaBook(title="a", author_id=author.id), SaBook(title="b", author_id=author.id))
    await legacy(db, "soft_delete_row", books[0].id, S, SaBook)
    result = await legacy(db, "bulk_update_rows", [b.id for b in books], {"title": "t"}, S, SaBook)
    assert result == (True, 2)
    assert [(b.title, b.is_deleted) for b in stored(db, SaBook)] == [("t", True), ("t", False)]
    with acting_as("grace"):
        await legacy(db, "bulk_update_rows", [author.id], {"name": "Ada L."}, S, SaAuthor)
    (stamped,) = stored(db, SaAuthor)
    assert stamped.name == "Ada L."
    assert stamped.updated_at is not None
    assert stamped.updated_by == "grace"


async def test_delete_is_hard_by_default_even_on_soft_delete_models(db):
    books = db.seed(*(SaBook(title=f"b{i}") for i in range(3)))
    result = await legacy(db, "delete_rows_within_id_list", [books[0].id, 10_000], S, SaBook)
    assert result == (True, 1)
    assert [b.title for b in stored(db, SaBook)] == ["b1", "b2"]


async def test_soft_delete_flags_live_rows_once_and_records_who(db):
    books = db.seed(*(SaBook(title=f"b{i}") for i in range(3)))
    keys = [books[0].id, books[1].id]
    first = await legacy(
        db, "delete_rows_within_id_list", keys, S, SaBook, soft=True, deleted_by="ada"
    )
    assert first == (True, 2)
    again = await legacy(
        db, "delete_rows_within_id_list", keys, S, SaBook, soft=True, deleted_by="bob"
    )
    assert again == (True, 0)
    rows = stored(db, SaBook)
    assert [(b.is_deleted, b.deleted_by) for b in rows] == [
        (True, "ada"),
        (True, "ada"),
        (False, None),
    ]
    assert all(b.deleted_at is not None for b in rows[:2])
    with acting_as("carol"):
        await legacy(db, "delete_rows_within_id_list", [books[2].id], S, SaBook, soft=True)
    assert stored(db, SaBook)[2].deleted_by == "carol"


async def test_delete_sends_one_statement_per_chunk(db):
    rows = heroes(db, 5)
    with db.count_statements() as seen:
        result = await legacy(
            db, "delete_rows_within_id_list", [r.id for r in rows], S, Hero, chunk_size=2
        )
    assert result == (True, 5)
    assert sum(statement.lstrip().upper().startswith("DELETE") for statement in seen) == 3
    assert stored(db, Hero) == []


@pytest.mark.parametrize(
    ("model", "kwargs", "named"),
    [
        (SaBook, {"deleted_by": "ada"}, "soft=True"),
        (Hero, {"soft": True}, "is_deleted, deleted_at, deleted_by"),
        (SaBook, {"pk_field": "title"}, "pk_field"),
        (SaBook, {"chunk_size": -1}, "chunk_size"),
    ],
)
async def test_delete_refuses_bad_arguments_and_deletes_nothing(db, model, kwargs, named):
    row = db.seed(model(name="x") if model is Hero else model(title="x"))[0]
    with pytest.raises(QueryError, match=named):
        await legacy(db, "delete_rows_within_id_list", [row.id], S, model, **kwargs)
    assert len(stored(db, model)) == 1


async def test_a_string_is_one_key_not_a_list_of_characters(db):
    heroes(db, 2)
    with pytest.raises(QueryError, match="list of keys"):
        await legacy(db, "delete_rows_within_id_list", "12", S, Hero)
    assert len(stored(db, Hero)) == 2


def test_signatures_are_upstream_0_4s_and_the_twins_match():
    for name, expected in {
        "bulk_update_rows": [
            "id_str_list",
            "data",
            "session_inst",
            "model",
            "pk_field",
            "chunk_size",
        ],
        "delete_rows_within_id_list": [
            "id_str_list",
            "session_inst",
            "model",
            "pk_field",
            "chunk_size",
            "soft",
            "deleted_by",
        ],
    }.items():
        sync_parameters = inspect.signature(getattr(sync, name)).parameters
        async_parameters = inspect.signature(getattr(a_sync, name)).parameters
        assert list(sync_parameters) == expected
        assert [(p.name, p.default) for p in sync_parameters.values()] == [
            (p.name, p.default) for p in async_parameters.values()
        ]


# ------------------------------------------------------- update_columns


async def test_update_columns_limits_what_a_conflict_updates(db):
    tag = db.seed(LegacyTag(name="a", note="keep"))[0]
    payload = [
        {"id": tag.id, "name": "renamed", "note": "ignored"},
        {"id": tag.id + 1, "name": "new", "note": "inserted"},
    ]
    with db.count_statements() as seen:
        ok, rows = await legacy(
            db, "bulk_upsert_mappings", payload, S, LegacyTag, update_columns=["name", "name"]
        )
    assert ok is True
    assert sorted((row.name, row.note) for row in rows) == [
        ("new", "inserted"),
        ("renamed", "keep"),
    ]
    assert [(t.name, t.note) for t in stored(db, LegacyTag)] == [
        ("renamed", "keep"),
        ("new", "inserted"),
    ]
    upsert = next(s for s in seen if s.lstrip().upper().startswith("INSERT"))
    updated = upsert.upper().split("UPDATE", 1)[1].split("RETURNING")[0]
    assert "NAME" in updated
    assert "NOTE" not in updated


@pytest.mark.parametrize(
    ("columns", "named"),
    [
        (["nope"], "nope"),
        ([], "non-empty"),
        ("name", "list of field names"),
        (["name", 2], "field names"),
        (["id"], "Conflict-target"),
        (["status"], "which no mapping sets"),
    ],
)
async def test_update_columns_are_checked_before_any_statement(db, columns, named):
    tag = db.seed(LegacyTag(name="a", note="keep"))[0]
    with db.count_statements() as seen, pytest.raises(QueryError, match=named) as caught:
        await legacy(
            db,
            "bulk_upsert_mappings",
            [{"id": tag.id, "name": "b"}],
            S,
            LegacyTag,
            update_columns=columns,
        )
    assert "LegacyTag" in str(caught.value)
    assert not [s for s in seen if s.lstrip().upper().startswith("INSERT")]
    assert [t.name for t in stored(db, LegacyTag)] == ["a"]


def test_update_columns_follows_pk_fields_in_both_twins():
    for module in (sync, a_sync):
        names = list(inspect.signature(module.bulk_upsert_mappings).parameters)
        assert names[:5] == ["payload", "session_inst", "model", "pk_fields", "update_columns"]


async def test_team_rows_unaffected_by_hero_keyed_writes(db):
    team = db.seed(Team(name="T"))[0]
    rows = db.seed(Hero(name="a", team_id=team.id))
    await legacy(db, "delete_rows_within_id_list", [rows[0].id], S, Hero)
    assert [t.name for t in stored(db, Team)] == ["T"]


async def test_keys_naming_one_row_count_once_across_chunks(db):
    rows = heroes(db, 2)
    key = rows[0].id
    result = await legacy(
        db, "bulk_update_rows", [key, str(key), key], {"age": 7}, S, Hero, chunk_size=1
    )
    assert result == (True, 1)
    assert ages(db)[0] == ("h1", 7)


async def test_upsert_names_fields_whose_columns_are_named_otherwise(db):
    from tests.models_legacy import LegacyLabel

    first = await legacy(
        db, "bulk_upsert_mappings", [{"code": "a", "note": "1"}], S, LegacyLabel, pk_fields=["code"]
    )
    assert first[0] is True
    again = await legacy(
        db,
        "bulk_upsert_mappings",
        [{"code": "a", "note": "2"}, {"code": "b", "note": "3"}],
        S,
        LegacyLabel,
        pk_fields=["code"],
        update_columns=["note"],
    )
    assert again[0] is True
    assert [(row.code, row.note) for row in stored(db, LegacyLabel)] == [("a", "2"), ("b", "3")]


async def test_bulk_update_refuses_null_for_a_not_null_column_as_a_constraint(db):
    from sqlalchemy.exc import IntegrityError

    rows = heroes(db, 2)
    with pytest.raises(IntegrityError) as caught:  # ConstraintError is one
        await legacy(db, "bulk_update_rows", [rows[0].id], {"name": None}, S, Hero)
    assert isinstance(caught.value, ConstraintError)
    assert (caught.value.constraint, caught.value.field) == ("NOT NULL", "name")
    assert [name for name, _ in ages(db)] == ["h1", "h2"]


async def test_upsert_on_mariadb_never_moves_a_row_hit_by_another_unique_key(db):
    from tests.models_legacy import LegacyLabel

    if db.name != "mariadb":
        pytest.skip("only ON DUPLICATE KEY fires on a unique key other than the conflict target")
    (label,) = db.seed(LegacyLabel(code="a", note="old"))
    payload = [{"id": label.id + 50, "code": "a", "note": "new"}]
    result = await legacy(db, "bulk_upsert_mappings", payload, S, LegacyLabel)
    assert result[0] is True
    assert [(row.id, row.note) for row in stored(db, LegacyLabel)] == [(label.id, "new")]
