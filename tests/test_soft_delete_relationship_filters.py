"""Relationship filters never match through soft-deleted rows, on every
supported SQLAlchemy (2.0 writes the scope into each EXISTS itself; 2.1 gets
it from the loader criteria), for every terminal that filters: ``all``,
``count``, ``exists``, ``update`` and ``delete``.

Seed: Ann (live) has the live book "Alive" and the deleted book "Gone";
Zed (deleted) has the live book "Orphan".
"""

from __future__ import annotations

from typing import Any

import pytest

from sqlmodel_crud_utils import Q
from tests.models_softaudit import SaAuthor as Author
from tests.models_softaudit import SaBook as Book


def seed(db: Any) -> None:
    db.seed(
        Author(name="Ann", books=[Book(title="Alive"), Book(title="Gone", is_deleted=True)]),
        Author(name="Zed", is_deleted=True, books=[Book(title="Orphan")]),
    )


async def authors(db: Any) -> dict[str, str]:
    rows = await db.run(Q(Author).soft("include").order_by("name"), "all")
    return {row.name: row.name for row in rows}


# one-to-many: Author.books (the deleted book "Gone" must not match)
ONE_TO_MANY = [
    pytest.param(Q(Author).where(books__title="Gone"), 0, id="where"),
    pytest.param(Q(Author).where_any(books__title="Gone", name="nobody"), 0, id="where_any"),
    pytest.param(Q(Author).where(books__title__in=["Gone", "Alive"]), 1, id="in-live-and-gone"),
    pytest.param(Q(Author).exclude(books__title="Gone"), 1, id="exclude"),
    pytest.param(Q(Author).where(books__title="Alive"), 1, id="live-match"),
]
# many-to-one: Book.author (the deleted author "Zed" must not match)
MANY_TO_ONE = [
    pytest.param(Q(Book).where(author__name="Zed"), 0, id="where"),
    pytest.param(Q(Book).where_any(author__name="Zed", title="nothing"), 0, id="where_any"),
    # Alive and Orphan: Orphan has no *live* author named Zed (Gone is deleted itself)
    pytest.param(Q(Book).exclude(author__name="Zed"), 2, id="exclude"),
    pytest.param(Q(Book).where(author__name="Ann"), 1, id="live-match"),
]


@pytest.mark.parametrize(("q", "expected"), ONE_TO_MANY + MANY_TO_ONE)
async def test_reads_do_not_match_through_deleted_rows(db: Any, q: Q[Any], expected: int) -> None:
    seed(db)
    assert len(await db.run(q, "all")) == expected
    assert await db.run(q, "count") == expected
    assert await db.run(q.limit(5), "count") == expected
    assert await db.run(q, "exists") is (expected > 0)


@pytest.mark.parametrize(("q", "expected"), ONE_TO_MANY + MANY_TO_ONE)
async def test_writes_do_not_match_through_deleted_rows(db: Any, q: Q[Any], expected: int) -> None:
    seed(db)
    field = "name" if q.model is Author else "title"
    assert await db.run(q, "update", **{field: "changed"}) == expected
    await db.commit()
    changed = await db.run(Q(q.model).soft("include").where(**{field: "changed"}), "count")
    assert changed == expected
    assert await db.run(q, "delete") == expected  # soft delete, same filter
    await db.commit()
    deleted = Q(q.model).soft("only").where(**{field: "changed"})
    assert await db.run(deleted, "count") == expected


async def test_hard_delete_does_not_match_through_deleted_rows(db: Any) -> None:
    seed(db)
    assert await db.run(Q(Book).where(author__name="Zed"), "delete") == 0
    assert await db.run(Q(Book).where(author__name="Zed"), "delete", hard=True) == 0
    assert await db.run(Q(Author).where(books__title="Gone"), "delete", hard=True) == 0
    await db.commit()
    assert await db.run(Q(Book).soft("include"), "count") == 3
    assert await db.run(Q(Author).soft("include"), "count") == 2


async def test_the_final_scope_decides_even_after_where(db: Any) -> None:
    """``soft()`` called after ``where()`` still governs the relationship filter."""
    seed(db)
    through_gone = Q(Author).where(books__title="Gone")
    assert [a.name for a in await db.run(through_gone.soft("include"), "all")] == ["Ann"]
    assert await db.run(through_gone.soft("include"), "count") == 1
    assert await db.run(through_gone, "count") == 0
    # soft("only"): deleted root rows, related rows still live
    orphan_of_zed = Q(Author).soft("only").where(books__title="Orphan")
    assert [a.name for a in await db.run(orphan_of_zed, "all")] == ["Zed"]
    assert await db.run(Q(Book).soft("only").where(author__name="Ann"), "count") == 1
    assert await db.run(Q(Book).soft("only").where(author__name="Zed"), "count") == 0


def test_each_predicate_is_written_once() -> None:
    """The scope is in the SQL once: no repeated ``is_deleted`` predicates."""
    for sql in (
        Q(Author).where(books__title="Gone").sql(),
        Q(Book).where(author__name="Zed").sql(),
    ):
        where = sql.split("WHERE", 1)[1]
        assert where.count("is_deleted") == 2, sql  # root + inside the EXISTS


def test_set_based_writes_state_the_scope_once() -> None:
    """Regression: ``UPDATE ... WHERE hero.is_deleted = 0 AND hero.is_deleted = 0``."""
    from sqlalchemy import create_engine, event
    from sqlmodel import Session, SQLModel

    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine, tables=[Author.__table__, Book.__table__])
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as session:
        Q(Author).where(name="x").update(session, name="y")
        Q(Author).where(name="x").delete(session)
        Q(Author).where(name="x").delete(session, hard=True)
        Q(Author).where(books__title="x").update(session, name="y")
    writes = [s for s in statements if s.startswith(("UPDATE", "DELETE"))]
    assert len(writes) == 4
    for sql in writes[:3]:
        assert sql.count("is_deleted = 0") == 1, sql
    assert writes[3].count("is_deleted = 0") == 2, writes[3]  # root + the EXISTS


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_relationship_filter_sql_is_the_same_on_every_sqlalchemy(
    dialect: str, snapshot: Any
) -> None:
    """2.0 (explicit criteria) and 2.1 (loader criteria) compile to one SQL text."""
    assert Q(Author).where(books__title="Gone").sql(dialect) == snapshot
    assert Q(Book).exclude(author__name="Zed").soft("only").sql(dialect) == snapshot
    from tests.models_softaudit import SaFolder as Folder

    assert Q(Folder).soft("only").where(parent__name="root").sql(dialect) == snapshot


async def test_only_scope_keeps_related_rows_of_the_root_model_live(db: Any) -> None:
    """``soft("only")`` on a self-reference: deleted rows, but related rows
    (of the same model) still live, on SQLAlchemy 2.0 and 2.1 alike."""
    from tests.models_softaudit import SaFolder as Folder

    live_root = Folder(name="root")
    gone_root = Folder(name="gone-root", is_deleted=True)
    db.seed(
        Folder(name="under-live", parent=live_root, is_deleted=True),
        Folder(name="under-gone", parent=gone_root, is_deleted=True),
    )
    under_live = Q(Folder).soft("only").where(parent__name="root")
    assert [f.name for f in await db.run(under_live, "all")] == ["under-live"]
    assert await db.run(Q(Folder).soft("only").where(parent__name="gone-root"), "count") == 0
    assert await db.run(Q(Folder).soft("include").where(parent__name="gone-root"), "count") == 1
    # two hops back to the root model: Book -> author -> books
    seed(db)
    through_gone = Q(Book).soft("only").where(author__books__title="Gone")
    assert await db.run(through_gone, "count") == 0


async def test_a_base_statement_keeps_its_own_scope(db: Any) -> None:
    """A caller's statement with ``with_deleted()`` (legacy ``stmnt=``) keeps
    its scope for relationship filters too."""
    from sqlmodel import select

    from sqlmodel_crud_utils import get_rows, with_deleted

    seed(db)
    base = select(Author).options(with_deleted())
    if db.async_session is None:
        found, rows = get_rows(db.session, Author, stmnt=base, books__title="Gone")
    else:
        from sqlmodel_crud_utils import a_get_rows

        found, rows = await a_get_rows(db.async_session, Author, stmnt=base, books__title="Gone")
    assert found is True
    assert [a.name for a in rows] == ["Ann"]
