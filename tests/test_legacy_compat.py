"""Every v0.1 function called the v0.1 way, on every backend, sync and async."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from sqlmodel_crud_utils import (
    BulkOperationError,
    MultipleRecordsError,
    Q,
    QueryError,
    RecordNotFoundError,
    TransactionError,
    _bulk,
)
from tests.legacy_helpers import S, legacy, stored
from tests.models import City, Hero, Team
from tests.models_legacy import LegacyDoc, LegacyTag


async def test_write_row_returns_the_written_row(db):
    ok, tag = await legacy(db, "write_row", LegacyTag(name="a"), S)
    assert ok is True
    assert (tag.id, tag.name, tag.status) == (tag.id, "a", "new")
    ok, other = await legacy(db, "write_row", data_row=LegacyTag(name="b"), session_inst=S)
    assert ok is True
    assert other.id != tag.id
    assert [row.name for row in stored(db, LegacyTag)] == ["a", "b"]


async def test_write_row_integrity_error_rolls_back_and_session_stays_usable(db):
    await legacy(db, "write_row", LegacyTag(name="a"), S)
    assert await legacy(db, "write_row", LegacyTag(name="a"), S) == (False, None)
    ok, tag = await legacy(db, "write_row", LegacyTag(name="b"), S)
    assert ok
    assert tag.name == "b"
    with pytest.raises(TransactionError) as info:
        await legacy(db, "write_row", LegacyTag(name="b"), S, raise_on_error=True)
    assert isinstance(info.value.__cause__, IntegrityError)
    ok, tag = await legacy(db, "write_row", LegacyTag(name="c"), S)
    assert ok
    assert tag.name == "c"
    assert [row.name for row in stored(db, LegacyTag)] == ["a", "b", "c"]


async def test_insert_data_rows_returns_the_callers_persistent_objects(db):
    rows = [LegacyTag(name=f"t{i}") for i in range(3)]
    ok, written = await legacy(db, "insert_data_rows", rows, S)
    assert ok is True
    assert written == rows
    assert all(a is b for a, b in zip(written, rows, strict=True))
    assert all(row.id is not None and row.status == "new" for row in rows)
    session = db.session if db.async_session is None else db.async_session
    assert all(row in session for row in rows)
    rows[0].note = "changed later"
    await db.commit()
    assert [row.note for row in stored(db, LegacyTag)] == ["changed later", "", ""]


async def test_insert_data_rows_retries_row_by_row(db):
    db.seed(LegacyTag(name="taken"))
    rows = [LegacyTag(name="x"), LegacyTag(name="taken"), LegacyTag(name="y")]
    ok, result = await legacy(db, "insert_data_rows", data_rows=rows, session_inst=S)
    assert ok is True
    assert [row.name for row in result["success"]] == ["x", "y"]
    assert [row.name for row in result["failed"]] == ["taken"]
    assert sorted(row.name for row in stored(db, LegacyTag)) == ["taken", "x", "y"]
    ok, result = await legacy(db, "insert_data_rows", [LegacyTag(name="x")], S)
    assert ok == (False,)  # as in every upstream release: the tuple (False,)
    assert [row.name for row in result["failed"]] == ["x"]
    assert result["success"] == []


async def test_insert_data_rows_raise_on_error_says_which_rows_failed(db):
    db.seed(LegacyTag(name="taken"))
    rows = [LegacyTag(name="ok"), LegacyTag(name="taken")]
    with pytest.raises(BulkOperationError) as info:
        await legacy(db, "insert_data_rows", rows, S, raise_on_error=True)
    error = info.value
    assert (error.total, error.failed) == (2, 1)
    assert error.errors[0]["index"] == 1
    assert error.errors[0]["row"] is rows[1]
    assert error.errors[0]["error"]
    assert isinstance(error.__cause__, IntegrityError)
    assert [row.name for row in error.succeeded] == ["ok"]
    ok, _ = await legacy(db, "write_row", LegacyTag(name="next"), S)
    assert ok is True
    assert sorted(row.name for row in stored(db, LegacyTag)) == ["next", "ok", "taken"]


async def test_insert_data_rows_is_a_handful_of_statements(db):
    rows = [LegacyTag(name=f"n{i:04}") for i in range(1000)]
    with db.count_statements() as seen:
        ok, written = await legacy(db, "insert_data_rows", rows, S)
    inserts = [sql for sql in seen if sql.lstrip().upper().startswith("INSERT")]
    assert ok is True
    assert len(written) == 1000
    assert len(inserts) <= 2, len(inserts)
    assert len(seen) <= 5, seen[:10]
    assert len({row.id for row in rows}) == 1000
    by_id = {row.id: row.name for row in stored(db, LegacyTag)}
    assert all(by_id[row.id] == row.name for row in rows)


async def test_get_row_v01_calls(db):
    team = db.seed(Team(name="Avengers"))[0]
    hero = db.seed(Hero(name="Thor", age=1500, team_id=team.id))[0]
    found, row = await legacy(db, "get_row", hero.id, S, Hero)
    assert found is True
    assert row.name == "Thor"
    if db.mode == "sync":  # v0.1's sync order
        found, row = await legacy(db, "get_row", str(hero.id), S, Hero, True, False, None, ["team"])
    else:  # v0.1's async order: select_in_keys right after selectin
        found, row = await legacy(db, "get_row", str(hero.id), S, Hero, True, ["team"])
    assert found
    assert row.team.name == "Avengers"
    found, row = await legacy(
        db,
        "get_row",
        id_str=hero.id,
        session_inst=S,
        model=Hero,
        selectin=True,
        select_in_keys="team",
    )
    assert row.team.name == "Avengers"
    found, row = await legacy(db, "get_row", "Thor", S, Hero, pk_field="name")
    assert found
    assert row.id == hero.id
    assert await legacy(db, "get_row", 999, S, Hero) == (False, None)
    with pytest.raises(RecordNotFoundError, match="999"):
        await legacy(db, "get_row", 999, S, Hero, raise_on_error=True)


async def test_get_row_with_several_matches(db):
    db.seed(Hero(name="Twin"), Hero(name="Twin"))
    assert await legacy(db, "get_row", "Twin", S, Hero, pk_field="name") == (False, None)
    with pytest.raises(MultipleRecordsError):
        await legacy(db, "get_row", "Twin", S, Hero, pk_field="name", raise_on_error=True)


async def _seed_heroes(db):
    team = db.seed(Team(name="Avengers"))[0]
    db.seed(
        Hero(name="Spider-Man", age=17, team_id=team.id),
        Hero(name="Iron Man", age=48, team_id=team.id),
        Hero(name="Batman", age=40),
        Hero(name="Ant-Man", age=50),
    )
    return team


async def test_get_rows_v01_kwargs(db):
    await _seed_heroes(db)
    found, rows = await legacy(db, "get_rows", S, Hero, name__like="-Man", sort_field="age")
    assert found
    assert [row.name for row in rows] == ["Spider-Man", "Ant-Man"]
    found, rows = await legacy(
        db, "get_rows", S, Hero, age__gte="40", age__lt=50, sort_field="age", sort_desc=True
    )
    assert [row.name for row in rows] == ["Iron Man", "Batman"]
    found, rows = await legacy(db, "get_rows", S, Hero, age__gt=17, age__lte=48, sort_field="name")
    assert [row.name for row in rows] == ["Batman", "Iron Man"]
    found, rows = await legacy(db, "get_rows", S, Hero, name__in=["Batman", "Ant-Man"])
    assert sorted(row.name for row in rows) == ["Ant-Man", "Batman"]
    found, rows = await legacy(db, "get_rows", S, Hero, age=40)
    assert [row.name for row in rows] == ["Batman"]
    found, rows = await legacy(db, "get_rows", S, Hero, name="Nobody")
    assert (found, rows) == (False, [])


async def test_get_rows_paging_loading_and_q_lookups(db):
    await _seed_heroes(db)
    found, rows = await legacy(
        db, "get_rows", S, Hero, False, None, False, None, 2, 2, sort_field="age"
    )
    assert [row.name for row in rows] == ["Iron Man", "Ant-Man"]
    found, rows = await legacy(
        db,
        "get_rows",
        session_inst=S,
        model=Hero,
        selectin=True,
        select_in_keys=["team"],
        team__name="Avengers",
        sort_field="age",
    )
    assert [(row.name, row.team.name) for row in rows] == [
        ("Spider-Man", "Avengers"),
        ("Iron Man", "Avengers"),
    ]
    found, rows = await legacy(db, "get_rows", S, Hero, name__istartswith="ant", age__isnull=False)
    assert found is True
    assert [row.name for row in rows] == ["Ant-Man"]
    _found, rows = await legacy(db, "get_rows", S, Hero, age__between=(18, 45))
    assert [row.name for row in rows] == ["Batman"]


async def test_get_rows_applies_filters_on_top_of_a_custom_statement(db):
    await _seed_heroes(db)
    stmnt = select(Hero).where(Hero.age > 20)
    found, rows = await legacy(
        db, "get_rows", S, Hero, stmnt=stmnt, name__like="-Man", sort_field="age"
    )
    assert found is True
    assert [row.name for row in rows] == ["Ant-Man"]
    # the caller's statement keeps its own paging (v0.1, upstream 0.4): page_size is not applied
    _found, rows = await legacy(
        db, "get_rows", S, Hero, stmnt=stmnt, page_size=1, page=1, sort_field="age"
    )
    assert len(rows) == len(await db.run(Q(Hero).where(age__gt=20), "all")) > 1
    limited = select(Hero).where(Hero.age > 20).order_by(Hero.age).limit(1).offset(1)
    _found, rows = await legacy(db, "get_rows", S, Hero, stmnt=limited)
    assert [row.name for row in rows] == ["Iron Man"]
    _found, pairs = await legacy(
        db, "get_rows", S, Hero, stmnt=select(Hero.name, Hero.age).where(Hero.age > 20)
    )
    assert sorted(tuple(pair) for pair in pairs) == sorted(
        (row.name, row.age) for row in await db.run(Q(Hero).where(age__gt=20), "all")
    )
    _found, names = await legacy(db, "get_rows", S, Hero, stmnt=select(Hero.name))
    assert all(isinstance(name, str) for name in names)


async def test_bad_filters_raise_query_error_and_session_stays_usable(db):
    await _seed_heroes(db)
    with pytest.raises(QueryError, match="nope"):
        await legacy(db, "get_rows", S, Hero, nope=1)
    with pytest.raises(QueryError):
        await legacy(db, "get_rows", S, Hero, age__gte="old")
    with pytest.raises(QueryError):
        await legacy(db, "get_rows", S, Hero, page=0)
    with pytest.raises(QueryError):
        await legacy(db, "get_row", 1, S, Hero, pk_field="metadata")
    with pytest.raises(QueryError):
        await legacy(db, "update_row", 1, {"nope": 1}, S, Hero)
    found, rows = await legacy(db, "get_rows", S, Hero, age=40)
    assert found
    assert rows[0].name == "Batman"


async def test_get_rows_within_id_list(db):
    heroes = db.seed(Hero(name="A"), Hero(name="B"), Hero(name="C"))
    ids = [heroes[0].id, heroes[2].id]
    found, rows = await legacy(db, "get_rows_within_id_list", ids, S, Hero)
    assert found
    assert sorted(row.name for row in rows) == ["A", "C"]
    found, rows = await legacy(
        db,
        "get_rows_within_id_list",
        id_str_list=["B"],
        session_inst=S,
        model=Hero,
        pk_field="name",
    )
    assert [row.name for row in rows] == ["B"]
    # v0.1: sync says whether rows were found, async whether the query ran
    nothing = (False, []) if db.async_session is None else (True, [])
    assert await legacy(db, "get_rows_within_id_list", [], S, Hero) == nothing
    assert await legacy(db, "get_rows_within_id_list", [999], S, Hero) == nothing


async def test_update_row(db):
    tags = db.seed(LegacyTag(name="a"), LegacyTag(name="b"))
    ok, row = await legacy(db, "update_row", tags[0].id, {"note": "hello"}, S, LegacyTag)
    assert ok
    assert row.note == "hello"
    ok, row = await legacy(
        db,
        "update_row",
        id_str="b",
        data={"note": "by name"},
        session_inst=S,
        model=LegacyTag,
        pk_field="name",
    )
    assert ok
    assert row.note == "by name"
    assert [row.note for row in stored(db, LegacyTag)] == ["hello", "by name"]
    assert await legacy(db, "update_row", 999, {"note": "x"}, S, LegacyTag) == (False, None)
    with pytest.raises(RecordNotFoundError):
        await legacy(db, "update_row", 999, {"note": "x"}, S, LegacyTag, raise_on_error=True)
    ok, row = await legacy(db, "update_row", tags[0].id, {"note": "after"}, S, LegacyTag)
    assert ok is True
    assert stored(db, LegacyTag)[0].note == "after"


async def test_update_row_integrity_error_leaves_the_row_unchanged(db):
    tags = db.seed(LegacyTag(name="a"), LegacyTag(name="b"))
    ok, failed = await legacy(db, "update_row", tags[1].id, {"name": "a"}, S, LegacyTag)
    assert ok is False
    assert (failed.id, failed.name) == (tags[1].id, "a")  # v0.1: the attempted values
    ok, row = await legacy(db, "update_row", tags[1].id, {"note": "fine"}, S, LegacyTag)
    assert ok
    assert row.name == "b"
    with pytest.raises(TransactionError):
        await legacy(db, "update_row", tags[1].id, {"name": "a"}, S, LegacyTag, raise_on_error=True)
    assert [(row.name, row.note) for row in stored(db, LegacyTag)] == [("a", ""), ("b", "fine")]


async def test_delete_row(db):
    tags = db.seed(LegacyTag(name="a"), LegacyTag(name="b"))
    assert await legacy(db, "delete_row", tags[0].id, S, LegacyTag) is True
    assert await legacy(db, "delete_row", "b", S, LegacyTag, "name") is True
    assert stored(db, LegacyTag) == []
    assert await legacy(db, "delete_row", tags[0].id, S, LegacyTag) is False
    with pytest.raises(RecordNotFoundError):
        await legacy(db, "delete_row", tags[0].id, S, LegacyTag, raise_on_error=True)
    ok, _ = await legacy(db, "write_row", LegacyTag(name="after"), S)
    assert ok is True
    assert [row.name for row in stored(db, LegacyTag)] == ["after"]


async def test_soft_delete_restore_and_hard_delete(db):
    docs = db.seed(LegacyDoc(title="a"), LegacyDoc(title="b"))
    assert await legacy(db, "delete_row", docs[0].id, S, LegacyDoc) is True
    (kept,) = stored(db, LegacyDoc, LegacyDoc.id == docs[0].id)
    assert kept.is_deleted
    assert kept.deleted_at is not None
    assert await legacy(db, "get_row", docs[0].id, S, LegacyDoc) == (False, None)
    found, row = await legacy(db, "get_row", docs[0].id, S, LegacyDoc, include_deleted=True)
    assert found
    assert row.is_deleted
    found, rows = await legacy(db, "get_rows", S, LegacyDoc)
    assert [row.title for row in rows] == ["b"]
    found, rows = await legacy(db, "get_rows", S, LegacyDoc, include_deleted=True)
    assert len(rows) == 2
    found, rows = await legacy(db, "get_rows_within_id_list", [d.id for d in docs], S, LegacyDoc)
    assert [row.title for row in rows] == ["b"]
    assert await legacy(db, "soft_delete_row", docs[0].id, S, LegacyDoc) is False
    assert await legacy(db, "restore_row", docs[0].id, S, LegacyDoc) is True
    assert await legacy(db, "restore_row", docs[0].id, S, LegacyDoc) is False
    assert not stored(db, LegacyDoc, LegacyDoc.id == docs[0].id)[0].is_deleted
    assert await legacy(db, "soft_delete_row", docs[1].id, S, LegacyDoc) is True
    assert await legacy(db, "delete_row", docs[1].id, S, LegacyDoc, hard=True) is True
    assert [row.title for row in stored(db, LegacyDoc)] == ["a"]
    with pytest.raises(QueryError):
        await legacy(db, "soft_delete_row", 1, S, LegacyTag)


async def test_get_one_or_create(db):
    city = db.seed(City(name="Gotham"))[0]
    team = db.seed(Team(name="Avengers"))[0]
    db.seed(Hero(name="Hulk", team_id=team.id))
    row, existed = await legacy(db, "get_one_or_create", S, LegacyTag, name="new")
    assert (row.name, row.status, existed) == ("new", "new", False)
    again, existed = await legacy(db, "get_one_or_create", S, LegacyTag, name="new")
    assert existed is True
    assert again.id == row.id
    row, existed = await legacy(
        db,
        "get_one_or_create",
        session_inst=S,
        model=LegacyTag,
        create_method_kwargs={"note": "made"},
        name="other",
    )
    assert (row.note, existed) == ("made", False)
    hero, existed = await legacy(db, "get_one_or_create", S, Hero, None, True, "team", name="Hulk")
    assert existed
    assert hero.team.name == "Avengers"
    # the create path loads the relationship too (async code cannot lazy-load it)
    team, existed = await legacy(
        db, "get_one_or_create", S, Team, {"city_id": city.id}, True, "city", name="Bats"
    )
    assert existed is False
    assert team.city.name == "Gotham"
    assert sorted(row.name for row in stored(db, LegacyTag)) == ["new", "other"]


async def test_get_result_from_query(db):
    db.seed(Hero(name="A", age=1), Hero(name="B", age=1))
    docs = db.seed(LegacyDoc(title="gone", is_deleted=True))
    row = await legacy(db, "get_result_from_query", select(Hero).where(Hero.age == 1), S)
    assert row.name in {"A", "B"}
    row = await legacy(
        db, "get_result_from_query", query=select(Hero).where(Hero.age == 2), session=S
    )
    assert row is None
    assert await legacy(db, "get_result_from_query", select(LegacyDoc), S) is None
    row = await legacy(db, "get_result_from_query", select(LegacyDoc), S, include_deleted=True)
    assert row.id == docs[0].id


async def test_insert_data_rows_failure_in_a_later_batch_retries_every_row(db, monkeypatch):
    monkeypatch.setattr(_bulk, "ROWS_PER_STATEMENT", 10)  # several batches from 30 rows
    db.seed(LegacyTag(name="n25"))
    rows = [LegacyTag(name=f"n{i}") for i in range(30)]  # n25 is taken
    ok, result = await legacy(db, "insert_data_rows", rows, S)
    assert ok is True
    assert len(result["success"]) == 29
    assert [row.name for row in result["failed"]] == ["n25"]
    assert all(row.id is not None for row in result["success"])
    names = [row.name for row in stored(db, LegacyTag)]
    assert sorted(names) == sorted(f"n{i}" for i in range(30))


async def test_insert_data_rows_runs_flush_and_mapper_events(db):
    session = db.session if db.async_session is None else db.async_session.sync_session

    def stamp(flushing, context, instances):
        for obj in flushing.new:
            if isinstance(obj, LegacyTag) and not obj.note:
                obj.note = "stamped"

    def upper(mapper, connection, target):
        target.name = target.name.upper()

    event.listen(session, "before_flush", stamp)
    try:
        ok, _ = await legacy(db, "insert_data_rows", [LegacyTag(name="a")], S)
        assert ok is True
        event.listen(LegacyTag, "before_insert", upper)
        try:
            ok, _ = await legacy(db, "insert_data_rows", [LegacyTag(name="b")], S)
            assert ok is True
        finally:
            event.remove(LegacyTag, "before_insert", upper)
    finally:
        event.remove(session, "before_flush", stamp)
    assert [(row.name, row.note) for row in stored(db, LegacyTag)] == [
        ("a", "stamped"),
        ("B", "stamped"),
    ]


async def test_insert_data_rows_gives_your_flush_listeners_a_real_flush(db):
    """With listeners of your own, the rows go through an ORM flush on every
    backend: a flush context, and after_flush, as for session.add_all()."""
    session = db.session if db.async_session is None else db.async_session.sync_session
    seen: list[tuple[str, bool]] = []

    def before(flushing, context, instances):
        seen.append(("before", context is not None))

    def after(flushing, context):
        seen.append(("after", context is not None))

    event.listen(session, "before_flush", before)
    event.listen(session, "after_flush", after)
    try:
        ok, rows = await legacy(db, "insert_data_rows", [LegacyTag(name="a")], S)
    finally:
        event.remove(session, "before_flush", before)
        event.remove(session, "after_flush", after)
    assert ok is True
    assert rows[0].id is not None
    assert ("before", True) in seen
    assert ("after", True) in seen


async def test_get_rows_within_id_list_takes_lists_beyond_bind_parameter_limits(db):
    heroes = db.seed(Hero(name="a"), Hero(name="b"), Hero(name="c"))
    ids = [hero.id for hero in heroes] + list(range(10**6, 10**6 + 70_000))
    found, rows = await legacy(db, "get_rows_within_id_list", ids, S, Hero)
    assert found is True
    assert sorted(row.name for row in rows) == ["a", "b", "c"]


async def test_insert_data_rows_stamps_audited_rows_in_a_mixed_batch(db):
    """The batched insert skips the library's own ``before_flush`` listener only
    for models it does not stamp: audited rows still get their audit fields."""
    from sqlmodel_crud_utils import acting_as
    from tests.models_softaudit import SaAuthor

    with acting_as("importer"):
        ok, authors = await legacy(db, "insert_data_rows", [SaAuthor(name="a")], S)
        ok_tags, tags = await legacy(db, "insert_data_rows", [LegacyTag(name="plain")], S)
    assert ok is True
    assert ok_tags is True
    assert authors[0].created_by == "importer"
    assert authors[0].created_at is not None
    assert tags[0].id is not None
    row = stored(db, SaAuthor)[0]
    assert (row.created_by, row.updated_by) == ("importer", None)  # not updated yet
    assert row.created_at is not None
