"""The legacy functions keep soft delete and audit columns true, on every
backend, sync and async.

The seed has live and deleted rows at both levels: a live post ("alive")
with a live and a deleted comment, a deleted post ("dead") with a live and
a deleted comment, and a live post ("other") without comments. Sorted by
title the deleted post sits between the live ones, so a leak shifts pages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload

from sqlmodel_crud_utils import Q, RecordNotFoundError, TransactionError, acting_as, with_deleted
from tests.legacy_helpers import S, legacy, stored
from tests.models_legacy_softaudit import LsaComment as Comment
from tests.models_legacy_softaudit import LsaPost as Post
from tests.models_legacy_softaudit import LsaTag as Tag

UTC = dt.timezone.utc
LONG_AGO = dt.datetime(2020, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)


def seed(db: Any) -> dict[str, Any]:
    alive = Post(
        title="alive",
        body="dragon tales",
        comments=[Comment(body="kept"), Comment(body="gone", is_deleted=True)],
    )
    dead = Post(
        title="dead",
        body="dragon myths",
        is_deleted=True,
        comments=[Comment(body="orphan"), Comment(body="ghost", is_deleted=True)],
    )
    other = Post(title="other", body="plain words")
    db.seed(alive, dead, other)
    comments = {c.body: c.id for post in (alive, dead) for c in post.comments}
    return {"alive": alive.id, "dead": dead.id, "other": other.id, **comments}


def titles(rows: Any) -> list[str]:
    return [row.title for row in rows]


def bodies(rows: Any) -> set[str]:
    return {row.body for row in rows}


def assert_aware_utc(*values: Any) -> None:
    for value in values:
        assert isinstance(value, dt.datetime)
        assert value.tzinfo is UTC


# ------------------------------------------------------------------ reads


async def test_get_row_hides_deleted_rows_and_children(db: Any) -> None:
    ids = seed(db)
    assert await legacy(db, "get_row", ids["dead"], S, Post) == (False, None)
    assert await legacy(db, "get_row", "dead", S, Post, pk_field="title") == (False, None)
    assert await legacy(db, "get_row", ids["ghost"], S, Comment) == (False, None)
    with pytest.raises(RecordNotFoundError):
        await legacy(db, "get_row", ids["dead"], S, Post, raise_on_error=True)
    found, post = await legacy(
        db, "get_row", str(ids["alive"]), S, Post, selectin=True, select_in_keys=["comments"]
    )
    assert found
    assert bodies(post.comments) == {"kept"}
    # a live comment of a deleted post is a root row of its own: it is live
    found, comment = await legacy(
        db, "get_row", ids["orphan"], S, Comment, selectin=True, select_in_keys="post"
    )
    assert found
    assert comment.post is None  # its post is deleted


async def test_get_row_include_deleted_shows_the_row_and_its_deleted_children(db: Any) -> None:
    ids = seed(db)
    found, post = await legacy(
        db,
        "get_row",
        ids["dead"],
        S,
        Post,
        selectin=True,
        select_in_keys=["comments"],
        include_deleted=True,
    )
    assert found
    assert post.is_deleted
    assert bodies(post.comments) == {"orphan", "ghost"}
    found, comment = await legacy(db, "get_row", ids["ghost"], S, Comment, include_deleted=True)
    assert (found, comment.is_deleted) == (True, True)


def test_get_row_lazy_loads_are_live_only(session: Any) -> None:
    from sqlmodel_crud_utils.sync import get_row

    posts = [Post(title="alive", comments=[Comment(body="kept"), Comment(body="gone")])]
    posts[0].comments[1].is_deleted = True
    session.add_all(posts)
    session.commit()
    post_id = posts[0].id
    session.expunge_all()
    found, post = get_row(post_id, session, Post, lazy=True, lazy_load_keys=["comments"])
    assert found
    assert bodies(post.comments) == {"kept"}
    session.expunge_all()
    found, post = get_row(post_id, session, Post, include_deleted=True)
    assert bodies(post.comments) == {"kept", "gone"}  # lazy loads follow the row's scope


async def test_get_rows_hides_deleted_rows_children_and_relationship_matches(db: Any) -> None:
    ids = seed(db)
    found, rows = await legacy(db, "get_rows", S, Post, sort_field="title")
    assert (found, titles(rows)) == (True, ["alive", "other"])
    _, rows = await legacy(db, "get_rows", S, Comment)
    assert bodies(rows) == {"kept", "orphan"}
    found, rows = await legacy(
        db, "get_rows", S, Post, True, ["comments"], sort_field="title", sort_desc="true"
    )
    assert [(row.title, bodies(row.comments)) for row in rows] == [
        ("other", set()),
        ("alive", {"kept"}),
    ]
    assert await legacy(db, "get_rows", S, Post, comments__body="gone") == (False, [])
    assert await legacy(db, "get_rows", S, Comment, post__title="dead") == (False, [])
    assert await legacy(db, "get_rows", S, Post, title__like="ea") == (False, [])
    assert await legacy(db, "get_rows", S, Post, id=ids["dead"]) == (False, [])


async def test_get_rows_pages_and_text_search_skip_deleted_rows(db: Any) -> None:
    seed(db)
    pages = [
        titles((await legacy(db, "get_rows", S, Post, page_size=1, page=n, sort_field="title"))[1])
        for n in (1, 2, 3)
    ]
    assert pages == [["alive"], ["other"], []]
    _, rows = await legacy(db, "get_rows", S, Post, page_size=1, page=2, sort_field="title")
    assert titles(rows) == ["other"]
    _, rows = await legacy(db, "get_rows", S, Post, text_field="body", body="dragon")
    assert titles(rows) == ["alive"]
    _, rows = await legacy(
        db, "get_rows", S, Post, text_field="body", body="dragon", include_deleted=True
    )
    assert sorted(titles(rows)) == ["alive", "dead"]


async def test_get_rows_include_deleted_shows_rows_and_children(db: Any) -> None:
    seed(db)
    _found, rows = await legacy(
        db,
        "get_rows",
        S,
        Post,
        selectin=True,
        select_in_keys="comments",
        sort_field="title",
        include_deleted=True,
    )
    assert [(row.title, bodies(row.comments)) for row in rows] == [
        ("alive", {"kept", "gone"}),
        ("dead", {"orphan", "ghost"}),
        ("other", set()),
    ]
    _, rows = await legacy(
        db, "get_rows", S, Post, page_size=1, page=2, sort_field="title", include_deleted=True
    )
    assert titles(rows) == ["dead"]


async def test_get_rows_with_a_custom_statement(db: Any) -> None:
    seed(db)
    stmnt = select(Post).where(Post.title != "other")
    assert titles((await legacy(db, "get_rows", S, Post, stmnt=stmnt))[1]) == ["alive"]
    _, rows = await legacy(db, "get_rows", S, Post, stmnt=stmnt, include_deleted=True)
    assert sorted(titles(rows)) == ["alive", "dead"]
    # a join in your statement does not match through deleted rows either
    joined = select(Post).join(Comment).where(Comment.body.in_(["gone", "ghost"]))
    assert await legacy(db, "get_rows", S, Post, stmnt=joined) == (False, [])
    _, rows = await legacy(db, "get_rows", S, Post, stmnt=joined, include_deleted=True)
    assert sorted(titles(rows)) == ["alive", "dead"]
    _, rows = await legacy(
        db,
        "get_rows",
        S,
        Post,
        True,
        "comments",
        stmnt=select(Post),
        page_size=1,
        page=1,
        sort_field="title",
        sort_desc=True,
    )
    # page / page_size do not apply to your statement (it keeps its own paging)
    assert [(row.title, bodies(row.comments)) for row in rows] == [
        ("other", set()),
        ("alive", {"kept"}),
    ]
    # a statement built by Q keeps its own scope
    only = Q(Post).soft("only").statement
    assert titles((await legacy(db, "get_rows", S, Post, stmnt=only))[1]) == ["dead"]


async def test_get_rows_within_id_list(db: Any) -> None:
    ids = seed(db)
    posts = [ids["alive"], ids["dead"], ids["other"]]
    _, rows = await legacy(db, "get_rows_within_id_list", posts, S, Post)
    assert sorted(titles(rows)) == ["alive", "other"]
    nothing = (False, []) if db.async_session is None else (True, [])  # v0.1's async flag
    assert await legacy(db, "get_rows_within_id_list", [ids["dead"]], S, Post) == nothing
    _, rows = await legacy(db, "get_rows_within_id_list", posts, S, Post, include_deleted=True)
    assert sorted(titles(rows)) == ["alive", "dead", "other"]
    comments = [ids[name] for name in ("kept", "gone", "orphan", "ghost")]
    _, rows = await legacy(db, "get_rows_within_id_list", comments, S, Comment)
    assert bodies(rows) == {"kept", "orphan"}
    _, rows = await legacy(
        db, "get_rows_within_id_list", ["alive", "dead"], S, Post, "title", include_deleted=True
    )
    assert sorted(titles(rows)) == ["alive", "dead"]


async def test_get_result_from_query_filters_the_models_it_selects(db: Any) -> None:
    seed(db)
    by_title = select(Post).order_by(Post.title.desc()).where(Post.title != "other")
    assert (await legacy(db, "get_result_from_query", by_title, S)).title == "alive"
    row = await legacy(db, "get_result_from_query", by_title, S, include_deleted=True)
    assert row.title == "dead"
    # a column select of a soft-delete model is filtered too
    titles_only = select(Post.title).order_by(Post.title.desc()).where(Post.title != "other")
    assert await legacy(db, "get_result_from_query", titles_only, S) == "alive"
    # joins and relationship loads in the statement
    joined = select(Post).join(Comment).where(Comment.body == "gone")
    assert await legacy(db, "get_result_from_query", joined, S) is None
    post = await legacy(
        db,
        "get_result_from_query",
        select(Post).where(Post.title == "alive").options(selectinload(Post.comments)),  # type: ignore[arg-type]
        S,
    )
    assert bodies(post.comments) == {"kept"}
    # a statement built by Q (or carrying with_deleted()) keeps its own scope
    row = await legacy(db, "get_result_from_query", Q(Post).soft("only").statement, S)
    assert row.title == "dead"
    row = await legacy(
        db,
        "get_result_from_query",
        select(Post).where(Post.title == "dead").options(with_deleted()),
        S,
    )
    assert row.title == "dead"
    # SQL that names no model (text, counts over a bare table) is run as written
    count = select(func.count()).select_from(Post)
    assert await legacy(db, "get_result_from_query", count, S) == 3
    raw = text("SELECT title FROM lsa_post WHERE title = 'dead'")
    assert (await legacy(db, "get_result_from_query", raw, S)).title == "dead"


async def test_get_one_or_create_does_not_return_a_deleted_row(db: Any) -> None:
    ids = seed(db)
    row, existed = await legacy(db, "get_one_or_create", S, Post, title="dead")
    assert existed is False
    assert row.id != ids["dead"]
    assert row.is_deleted is False
    assert sorted(p.is_deleted for p in stored(db, Post, Post.title == "dead")) == [False, True]
    again, existed = await legacy(db, "get_one_or_create", S, Post, title="dead")
    assert (again.id, existed) == (row.id, True)
    ghost, existed = await legacy(
        db, "get_one_or_create", S, Comment, body="ghost", include_deleted=True
    )
    assert (ghost.id, ghost.is_deleted, existed) == (ids["ghost"], True, True)
    assert len(stored(db, Comment, Comment.body == "ghost")) == 1
    alive, existed = await legacy(
        db, "get_one_or_create", S, Post, None, True, "comments", id=ids["alive"]
    )
    assert (existed, bodies(alive.comments)) == (True, {"kept"})


async def test_get_one_or_create_refuses_a_unique_key_held_by_a_deleted_row(db: Any) -> None:
    tag = db.seed(Tag(name="python", is_deleted=True))[0]
    assert await legacy(db, "get_one_or_create", S, Tag, name="python") == (None, False)
    with pytest.raises(TransactionError, match="soft-deleted") as caught:
        await legacy(db, "get_one_or_create", S, Tag, name="python", raise_on_error=True)
    assert caught.value.__cause__ is not None
    found, existed = await legacy(
        db, "get_one_or_create", S, Tag, name="python", include_deleted=True
    )
    assert (found.id, found.is_deleted, existed) == (tag.id, True, True)
    # the session stays usable, and restoring makes the row the live one
    assert await legacy(db, "restore_row", tag.id, S, Tag) is True
    found, existed = await legacy(db, "get_one_or_create", S, Tag, name="python")
    assert (found.id, existed) == (tag.id, True)
    assert len(stored(db, Tag)) == 1


async def test_legacy_reads_return_aware_utc_timestamps(db: Any) -> None:
    ids = seed(db)
    _, post = await legacy(db, "get_row", ids["dead"], S, Post, include_deleted=True)
    assert_aware_utc(post.created_at, post.deleted_at)
    _, rows = await legacy(db, "get_rows", S, Post)
    assert_aware_utc(*(row.created_at for row in rows))
    _, rows = await legacy(db, "get_rows_within_id_list", [ids["alive"]], S, Post)
    assert_aware_utc(rows[0].created_at)
    row = await legacy(db, "get_result_from_query", select(Post), S)
    assert_aware_utc(row.created_at)
    tag, _ = await legacy(db, "get_one_or_create", S, Tag, name="new")
    assert_aware_utc(tag.created_at)
    assert tag.updated_at is None  # not updated yet


# ------------------------------------------------------------------ writes


async def test_write_row_stamps_creation(db: Any) -> None:
    with acting_as("ada"):
        ok, tag = await legacy(db, "write_row", Tag(name="a"), S)
    assert ok
    assert (tag.created_by, tag.updated_by) == ("ada", None)  # updated_by: on updates
    assert_aware_utc(tag.created_at)
    assert tag.updated_at is None  # v0.2: None until the first update
    _, read = await legacy(db, "get_row", tag.id, S, Tag)
    assert (read.created_at, read.created_by, read.updated_at) == (tag.created_at, "ada", None)
    ok, tag = await legacy(db, "write_row", Tag(name="b", created_by="import"), S)
    assert (tag.created_by, tag.updated_by) == ("import", None)


async def test_update_row_stamps_the_update_only(db: Any) -> None:
    tag = db.seed(Tag(name="a", created_at=LONG_AGO, updated_at=LONG_AGO, created_by="ann"))[0]
    with acting_as("bob"):
        ok, row = await legacy(db, "update_row", tag.id, {"note": "changed"}, S, Tag)
    assert ok
    (kept,) = stored(db, Tag)
    for value in (row, kept):
        assert (value.created_at, value.created_by, value.updated_by) == (LONG_AGO, "ann", "bob")
        assert value.updated_at > LONG_AGO
        assert_aware_utc(value.updated_at)
    # without acting_as, updated_by keeps its value; an explicit value wins
    ok, row = await legacy(db, "update_row", tag.id, {"note": "again"}, S, Tag)
    assert row.updated_by == "bob"
    chosen = dt.datetime(2031, 1, 1, tzinfo=UTC)
    ok, row = await legacy(db, "update_row", tag.id, {"updated_at": chosen}, S, Tag)
    assert stored(db, Tag)[0].updated_at == chosen


async def test_update_row_leaves_deleted_rows_alone(db: Any) -> None:
    tag = db.seed(Tag(name="a", is_deleted=True, updated_at=LONG_AGO))[0]
    assert await legacy(db, "update_row", tag.id, {"note": "x"}, S, Tag) == (False, None)
    with pytest.raises(RecordNotFoundError):
        await legacy(db, "update_row", tag.id, {"note": "x"}, S, Tag, raise_on_error=True)
    (kept,) = stored(db, Tag)
    assert (kept.note, kept.updated_at) == ("", LONG_AGO)


async def test_insert_data_rows_stamps_every_row(db: Any) -> None:
    with acting_as("ada"):
        ok, rows = await legacy(db, "insert_data_rows", [Tag(name="a"), Tag(name="b")], S)
    assert ok
    kept = stored(db, Tag)
    for row in (*rows, *kept):
        assert (row.created_by, row.updated_by, row.updated_at) == ("ada", None, None)
        assert_aware_utc(row.created_at)
    # the row-by-row retry after a failed batch stamps the rows it writes
    with acting_as("retry"):
        ok, result = await legacy(db, "insert_data_rows", [Tag(name="c"), Tag(name="a")], S)
    assert ok
    assert [row.name for row in result["failed"]] == ["a"]
    (written,) = stored(db, Tag, Tag.name == "c")
    assert (written.created_by, written.updated_by, written.updated_at) == ("retry", None, None)
    assert_aware_utc(written.created_at)


async def test_bulk_upsert_stamps_inserted_and_updated_rows(db: Any) -> None:
    old = db.seed(Tag(name="a", created_at=LONG_AGO, updated_at=LONG_AGO, created_by="ann"))[0]
    payload = [{"id": old.id, "name": "a", "note": "new"}, {"id": old.id + 10, "name": "b"}]
    with acting_as("bob"):
        ok, rows = await legacy(db, "bulk_upsert_mappings", payload, S, Tag)
    assert ok
    returned = {row.name: row for row in rows}
    kept = {row.name: row for row in stored(db, Tag)}
    for values in (returned, kept):
        updated, inserted = values["a"], values["b"]
        assert (updated.created_at, updated.created_by, updated.updated_by) == (
            LONG_AGO,
            "ann",
            "bob",
        )
        assert updated.updated_at > LONG_AGO
        assert updated.note == "new"
        assert (inserted.created_by, inserted.updated_by, inserted.updated_at) == (
            "bob",
            None,
            None,
        )
        assert inserted.created_at > LONG_AGO
        assert_aware_utc(updated.updated_at, inserted.created_at)
    # a value the mapping carries wins; no acting_as leaves updated_by as it was
    chosen = dt.datetime(2031, 1, 1, tzinfo=UTC)
    ok, _ = await legacy(
        db, "bulk_upsert_mappings", [{"id": old.id, "name": "a", "updated_at": chosen}], S, Tag
    )
    assert ok
    ok, _ = await legacy(
        db, "bulk_upsert_mappings", [{"id": old.id + 10, "name": "b", "note": "x"}], S, Tag
    )
    assert ok
    kept = {row.name: row for row in stored(db, Tag)}
    assert (kept["a"].updated_at, kept["a"].updated_by) == (chosen, "bob")
    assert (kept["b"].note, kept["b"].updated_by) == ("x", None)  # no acting_as: as it was


async def test_delete_row_soft_deletes_with_details(db: Any) -> None:
    tag = db.seed(Tag(name="a", created_at=LONG_AGO, updated_at=LONG_AGO, created_by="ann"))[0]
    with acting_as("mod"):
        assert await legacy(db, "delete_row", tag.id, S, Tag) is True
    (kept,) = stored(db, Tag)
    assert (kept.is_deleted, kept.deleted_by, kept.updated_by) == (True, "mod", "mod")
    assert_aware_utc(kept.deleted_at, kept.updated_at)
    assert kept.updated_at > LONG_AGO
    assert kept.created_at == LONG_AGO
    # an already deleted row is not deleted again (its details are kept)
    assert await legacy(db, "delete_row", tag.id, S, Tag) is False
    with pytest.raises(RecordNotFoundError):
        await legacy(db, "delete_row", tag.id, S, Tag, raise_on_error=True)
    assert stored(db, Tag)[0].deleted_at == kept.deleted_at


async def test_soft_delete_row_and_restore_row(db: Any) -> None:
    tag = db.seed(Tag(name="a", updated_at=LONG_AGO))[0]
    assert await legacy(db, "restore_row", tag.id, S, Tag) is False  # live: nothing to restore
    with pytest.raises(RecordNotFoundError):
        await legacy(db, "restore_row", tag.id, S, Tag, raise_on_error=True)
    with acting_as("mod"):
        assert await legacy(db, "soft_delete_row", tag.id, S, Tag) is True
    (kept,) = stored(db, Tag)
    assert (kept.is_deleted, kept.deleted_by, kept.updated_by) == (True, "mod", "mod")
    assert_aware_utc(kept.deleted_at)
    assert await legacy(db, "soft_delete_row", tag.id, S, Tag) is False  # already deleted
    with pytest.raises(RecordNotFoundError):
        await legacy(db, "soft_delete_row", tag.id, S, Tag, raise_on_error=True)
    deleted_at = kept.deleted_at
    with acting_as("admin"):
        assert await legacy(db, "restore_row", tag.id, S, Tag) is True
    (kept,) = stored(db, Tag)
    assert (kept.is_deleted, kept.deleted_at, kept.deleted_by) == (False, None, None)
    assert kept.updated_by == "admin"
    assert kept.updated_at >= deleted_at
    found, row = await legacy(db, "get_row", tag.id, S, Tag)
    assert (found, row.is_deleted) == (True, False)


async def test_delete_row_hard_removes_live_and_deleted_rows(db: Any) -> None:
    live, gone = db.seed(Tag(name="live"), Tag(name="gone", is_deleted=True))
    assert await legacy(db, "delete_row", live.id, S, Tag, hard=True) is True
    assert await legacy(db, "delete_row", gone.id, S, Tag, hard=True) is True
    assert stored(db, Tag) == []
    assert await legacy(db, "delete_row", gone.id, S, Tag, hard=True) is False
    # the unique name is free again
    row, existed = await legacy(db, "get_one_or_create", S, Tag, name="gone")
    assert (row.name, existed) == ("gone", False)


async def test_bulk_upsert_on_a_deleted_row_updates_it_and_it_stays_deleted(db: Any) -> None:
    gone = db.seed(Tag(name="gone", is_deleted=True, updated_at=LONG_AGO))[0]
    payload = [{"id": gone.id, "name": "gone", "note": "upserted"}]
    ok, rows = await legacy(db, "bulk_upsert_mappings", payload, S, Tag)
    assert ok
    assert [(row.id, row.note, row.is_deleted) for row in rows] == [(gone.id, "upserted", True)]
    (kept,) = stored(db, Tag)
    assert (kept.note, kept.is_deleted) == ("upserted", True)
    assert kept.updated_at > LONG_AGO
    assert await legacy(db, "get_rows", S, Tag) == (False, [])


async def test_hard_delete_of_a_parent_handles_its_deleted_children_too(db: Any) -> None:
    ids = seed(db)
    assert await legacy(db, "delete_row", ids["alive"], S, Post, hard=True, raise_on_error=True)
    orphans = stored(db, Comment, Comment.body.in_(["kept", "gone"]))  # type: ignore[attr-defined]
    assert [(c.body, c.post_id) for c in orphans] == [("kept", None), ("gone", None)]
