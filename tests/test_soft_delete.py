"""Soft delete holds on every read path, on every backend, sync and async.

The seed has live and deleted rows at both levels: a live author with a
live and a deleted book, a deleted author with a live and a deleted book,
and a folder tree whose deleted child has a live grandchild.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload, subqueryload

from sqlmodel_crud_utils import Q, acting_as, live_only, with_deleted
from tests.models_softaudit import SaAuthor as Author
from tests.models_softaudit import SaBook as Book
from tests.models_softaudit import SaFolder as Folder

STRATEGIES = ["selectin", "joined", "subquery", "lazy"]
LIVE_BOOKS = {"Alive", "Orphan"}
DELETED_BOOKS = {"Gone", "Ghost"}


def seed(db: Any) -> dict[str, int]:
    ann = Author(name="Ann", books=[Book(title="Alive"), Book(title="Gone", is_deleted=True)])
    zed = Author(
        name="Zed",
        is_deleted=True,
        books=[Book(title="Orphan"), Book(title="Ghost", is_deleted=True)],
    )
    root = Folder(name="root")
    kept = Folder(name="kept", parent=root)
    dropped = Folder(name="dropped", parent=root, is_deleted=True)
    Folder(name="grandchild", parent=dropped)
    db.seed(ann, zed, root, kept)
    assert None not in (ann.id, zed.id, root.id)
    return {"ann": ann.id, "zed": zed.id, "root": root.id}  # type: ignore[dict-item]


async def in_session(db: Any, fn: Any) -> Any:
    """Run ``fn(sync_session)`` on the session under test (inside
    ``run_sync`` in async mode, so plain lazy loads work there too)."""
    if db.async_session is None:
        return fn(db.session)
    return await db.async_session.run_sync(fn)


def names(rows: Any) -> set[str]:
    return {row.name for row in rows}


def titles(rows: Any) -> set[str]:
    return {row.title for row in rows}


# ------------------------------------------------------------------ root paths


async def test_root_queries_hide_deleted_rows(db: Any) -> None:
    ids = seed(db)
    assert names(await db.run(Q(Author), "all")) == {"Ann"}
    assert titles(await db.run(Q(Book), "all")) == LIVE_BOOKS
    assert (await db.run(Q(Author).order_by("-name"), "first")).name == "Ann"
    assert await db.run(Q(Author).where(name="Zed"), "one_or_none") is None
    assert await db.run(Q(Author), "get", ids["zed"]) is None
    assert (await db.run(Q(Author), "get", ids["ann"])).name == "Ann"


async def test_counts_and_exists_hide_deleted_rows(db: Any) -> None:
    seed(db)
    assert await db.run(Q(Author), "count") == 1
    assert await db.run(Q(Book), "count") == 2
    assert await db.run(Q(Book).limit(10), "count") == 2
    assert await db.run(Q(Book).offset(1).limit(10), "count") == 1
    assert await db.run(Q(Author).where(name="Zed"), "exists") is False
    assert await db.run(Q(Book).where(title="Gone"), "exists") is False
    assert await db.run(Q(Book).where(title="Alive"), "exists") is True


async def test_paginate_keyset_and_stream_hide_deleted_rows(db: Any) -> None:
    seed(db)
    page = await db.run(Q(Book).order_by("title"), "paginate", 1, 1)
    assert (page.total, page.pages, titles(page.items)) == (2, 2, {"Alive"})
    full = await db.run(Q(Book).order_by("title"), "paginate", 1, 10)
    assert (full.total, titles(full.items)) == (2, LIVE_BOOKS)
    first = await db.run(Q(Book).order_by("title"), "keyset", 1)
    second = await db.run(Q(Book).order_by("title"), "keyset", 1, first.next_cursor)
    assert titles(first.items) | titles(second.items) == LIVE_BOOKS
    assert second.has_next is False
    if db.async_session is None:
        streamed = list(Q(Book).stream(db.session, batch_size=1))
    else:
        streamed = [row async for row in Q(Book).a_stream(db.async_session, batch_size=1)]
    assert titles(streamed) == LIVE_BOOKS


async def test_relationship_filters_do_not_match_through_deleted_rows(db: Any) -> None:
    seed(db)
    assert await db.run(Q(Author).where(books__title="Gone"), "all") == []
    assert await db.run(Q(Author).where(books__title="Gone"), "count") == 0
    assert await db.run(Q(Author).where(books__title="Gone"), "exists") is False
    assert names(await db.run(Q(Author).where(books__title="Alive"), "all")) == {"Ann"}
    # a live book of a deleted author does not match its author either
    assert await db.run(Q(Book).where(author__name="Zed"), "all") == []
    shown = Q(Author).soft("include").where(books__title="Gone")
    assert names(await db.run(shown, "all")) == {"Ann"}


# ------------------------------------------------------------- relationship loads


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_every_include_strategy_hides_deleted_children(db: Any, strategy: str) -> None:
    seed(db)

    def load(session: Session) -> dict[str, set[str]]:
        authors = Q(Author).include("books", strategy=strategy).all(session)
        return {author.name: titles(author.books) for author in authors}

    assert await in_session(db, load) == {"Ann": {"Alive"}}


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_include_from_the_child_side_hides_deleted_parents(db: Any, strategy: str) -> None:
    seed(db)

    def load(session: Session) -> dict[str, str | None]:
        books = Q(Book).include("author", strategy=strategy).all(session)
        return {book.title: book.author.name if book.author else None for book in books}

    assert await in_session(db, load) == {"Alive": "Ann", "Orphan": None}


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_self_referencing_includes_hide_deleted_children(db: Any, strategy: str) -> None:
    ids = seed(db)

    def load(session: Session) -> tuple[set[str], set[str]]:
        root = Q(Folder).include("children.children", strategy=strategy).get(session, ids["root"])
        assert root is not None
        grandchildren = {g.name for child in root.children for g in child.children}
        return names(root.children), grandchildren

    assert await in_session(db, load) == ({"kept"}, set())


@pytest.mark.parametrize(
    "loader", [None, selectinload, subqueryload], ids=["lazy", "selectinload", "subqueryload"]
)
async def test_relationship_loads_of_objects_loaded_any_way_are_live_only(
    db: Any, loader: Any
) -> None:
    ids = seed(db)

    def load(session: Session) -> tuple[set[str], set[str], set[str]]:
        by_get = session.get(Author, ids["ann"])
        assert by_get is not None
        stmt = select(Author).where(Author.id == ids["zed"])
        if loader is not None:
            stmt = stmt.options(loader(Author.books))  # type: ignore[arg-type]
        deleted_author = session.scalars(stmt).one()
        folder = session.get(Folder, ids["root"])
        assert folder is not None
        return titles(by_get.books), titles(deleted_author.books), names(folder.children)

    assert await in_session(db, load) == ({"Alive"}, {"Orphan"}, {"kept"})


async def test_lazy_loads_after_q_follow_the_query_scope(db: Any) -> None:
    seed(db)

    def load(session: Session) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        live = {a.name: titles(a.books) for a in Q(Author).all(session)}
        session.expunge_all()
        every = {a.name: titles(a.books) for a in Q(Author).soft("include").all(session)}
        return live, every

    live, every = await in_session(db, load)
    assert live == {"Ann": {"Alive"}}
    assert every == {"Ann": {"Alive", "Gone"}, "Zed": {"Orphan", "Ghost"}}


async def test_async_refresh_of_a_relationship_is_live_only(db: Any) -> None:
    ids = seed(db)
    if db.async_session is None:
        author = db.session.get(Author, ids["ann"])
        db.session.refresh(author, ["books"])
    else:
        author = await db.async_session.get(Author, ids["ann"])
        await db.async_session.refresh(author, ["books"])
    assert titles(author.books) == {"Alive"}


async def test_opting_out_shows_deleted_children(db: Any) -> None:
    ids = seed(db)

    def load(session: Session) -> tuple[set[str], set[str]]:
        stmt = select(Author).where(Author.id == ids["ann"]).options(with_deleted())
        lazily = titles(session.scalars(stmt).one().books)
        session.expunge_all()
        eager = (
            select(Author)
            .where(Author.id == ids["ann"])
            .options(selectinload(Author.books))  # type: ignore[arg-type]
            .execution_options(include_deleted=True)
        )
        return lazily, titles(session.scalars(eager).one().books)

    assert await in_session(db, load) == ({"Alive", "Gone"}, {"Alive", "Gone"})


async def test_plain_selects_are_not_filtered_unless_asked(db: Any) -> None:
    """Decision: a statement you write yourself returns what you asked for;
    ``live_only()`` applies the library's filter to it."""
    ids = seed(db)

    def load(session: Session) -> tuple[set[str], set[str], bool, set[str]]:
        plain = names(session.scalars(select(Author)))
        filtered = names(session.scalars(select(Author).options(live_only())))
        deleted = session.get(Author, ids["zed"])
        session.expunge_all()
        joined = (
            select(Author)
            .where(Author.id == ids["ann"])
            .options(joinedload(Author.books), live_only())  # type: ignore[arg-type]
        )
        eager = titles(session.scalars(joined).unique().one().books)
        return plain, filtered, deleted is not None, eager

    assert await in_session(db, load) == ({"Ann", "Zed"}, {"Ann"}, True, {"Alive"})


# ------------------------------------------------------------------ soft modes


async def test_soft_only_and_include_return_exact_sets(db: Any) -> None:
    seed(db)
    assert names(await db.run(Q(Author).soft("only"), "all")) == {"Zed"}
    assert names(await db.run(Q(Author).soft("include"), "all")) == {"Ann", "Zed"}
    assert titles(await db.run(Q(Book).soft("only"), "all")) == DELETED_BOOKS
    assert titles(await db.run(Q(Book).soft("include"), "all")) == LIVE_BOOKS | DELETED_BOOKS
    assert await db.run(Q(Book).soft("only"), "count") == 2
    assert await db.run(Q(Book).soft("include"), "count") == 4
    assert (await db.run(Q(Book).soft("only").order_by("title"), "paginate", 1, 1)).total == 2
    assert await db.run(Q(Book).soft("only").where(title="Alive"), "exists") is False


async def test_soft_only_loads_live_children_of_deleted_parents(db: Any) -> None:
    seed(db)

    def load(session: Session) -> dict[str, set[str]]:
        authors = Q(Author).soft("only").include("books").all(session)
        return {a.name: titles(a.books) for a in authors}

    assert await in_session(db, load) == {"Zed": {"Orphan"}}


# ------------------------------------------------------------------ writes


async def test_update_leaves_deleted_rows_alone(db: Any) -> None:
    seed(db)
    assert await db.run(Q(Book), "update", title="Renamed") == 2
    await db.commit()
    every = await db.run(Q(Book).soft("include"), "all")
    assert titles(every) == {"Renamed", "Gone", "Ghost"}
    assert await db.run(Q(Book).soft("include").where(title="Gone"), "update", title="Back") == 1


async def test_delete_soft_deletes_with_details(db: Any) -> None:
    seed(db)
    with acting_as("auditor"):
        assert await db.run(Q(Book).where(title="Alive"), "delete") == 1
    await db.commit()
    book = await db.run(Q(Book).soft("only").where(title="Alive"), "one")
    assert book.is_deleted is True
    assert book.deleted_by == "auditor"
    assert book.deleted_at.tzinfo is dt.timezone.utc
    assert await db.run(Q(Book), "count") == 1
    # already-deleted rows are not deleted again (their details are kept)
    assert await db.run(Q(Book).where(title="Gone"), "delete") == 0


async def test_delete_hard_removes_rows(db: Any) -> None:
    seed(db)
    assert (
        await db.run(
            Q(Book).soft("include").where(title__in=["Gone", "Ghost"]), "delete", hard=True
        )
        == 2
    )
    await db.commit()
    assert titles(await db.run(Q(Book).soft("include"), "all")) == LIVE_BOOKS


async def test_restore_through_soft_only_update(db: Any) -> None:
    seed(db)
    restored = await db.run(Q(Book).soft("only").where(title="Gone"), "update", is_deleted=False)
    assert restored == 1
    await db.commit()
    assert titles(await db.run(Q(Book), "all")) == LIVE_BOOKS | {"Gone"}


def test_orm_flag_fills_deleted_details(session: Session) -> None:
    book = Book(title="Flagged")
    session.add(book)
    session.commit()
    with acting_as("ada"):
        book.is_deleted = True
        session.commit()
    session.expire_all()
    assert (book.deleted_by, book.deleted_at is not None) == ("ada", True)
    assert book.deleted_at.tzinfo is not None
