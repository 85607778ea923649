"""Terminals and their ``a_`` twins, on every backend."""

from __future__ import annotations

import pytest

from sqlmodel_crud_utils import MultipleRecordsError, Q, QueryError, RecordNotFoundError
from tests.models import Hero, Membership
from tests.models_query import QItem, QShelf

# Any warning at all (SQLAlchemy, drivers, our code) fails these tests.
pytestmark = pytest.mark.filterwarnings("error")


def seed_heroes(db):
    return db.seed(
        Hero(name="Alpha", age=10),
        Hero(name="Beta", age=20),
        Hero(name="Gamma", age=30),
        Hero(name="Delta", age=30),
    )


async def test_all_returns_model_instances_in_order(db):
    seed_heroes(db)
    rows = await db.run(Q(Hero).order_by("-age", "name"), "all")
    assert [h.name for h in rows] == ["Delta", "Gamma", "Beta", "Alpha"]
    assert all(isinstance(h, Hero) for h in rows)
    assert await db.run(Q(Hero).where(age__gt=99), "all") == []


async def test_first_returns_first_row_or_none(db):
    seed_heroes(db)
    first = await db.run(Q(Hero).order_by("age"), "first")
    assert first.name == "Alpha"
    assert await db.run(Q(Hero).where(age__gt=99), "first") is None
    assert await db.run(Q(Hero).order_by("age").offset(1), "first") is not None
    assert (await db.run(Q(Hero).order_by("age").offset(1), "first")).name == "Beta"
    assert await db.run(Q(Hero).limit(0), "first") is None


async def test_one_returns_the_only_row(db):
    seed_heroes(db)
    hero = await db.run(Q(Hero).where(name="Beta"), "one")
    assert (hero.name, hero.age) == ("Beta", 20)


async def test_one_raises_not_found_naming_model_and_filters(db):
    seed_heroes(db)
    with pytest.raises(RecordNotFoundError) as info:
        await db.run(Q(Hero).where(name="Nobody"), "one")
    assert info.value.model is Hero
    assert "Hero" in str(info.value)
    assert "Nobody" in str(info.value)


async def test_one_and_one_or_none_raise_multiple_with_the_count(db):
    seed_heroes(db)
    for terminal in ("one", "one_or_none"):
        with pytest.raises(MultipleRecordsError) as info:
            await db.run(Q(Hero).where(age=30), terminal)
        assert info.value.count == 2
        assert info.value.model is Hero
        assert "found 2" in str(info.value)
        assert "age=30" in str(info.value)
    with pytest.raises(MultipleRecordsError) as info:
        await db.run(Q(Hero), "one")
    assert info.value.count == 4


async def test_one_or_none(db):
    seed_heroes(db)
    assert await db.run(Q(Hero).where(name="Nobody"), "one_or_none") is None
    assert (await db.run(Q(Hero).where(age=10), "one_or_none")).name == "Alpha"


async def test_get_by_primary_key_with_string_coercion(db):
    alpha, beta, *_ = seed_heroes(db)
    assert (await db.run(Q(Hero), "get", beta.id)).name == "Beta"
    assert (await db.run(Q(Hero), "get", str(alpha.id))).name == "Alpha"
    assert await db.run(Q(Hero), "get", 10**9) is None
    # the query's filters apply
    assert await db.run(Q(Hero).where(age__gt=15), "get", alpha.id) is None
    with pytest.raises(QueryError) as info:
        await db.run(Q(Hero), "get", "abc")
    assert info.value.model is Hero
    assert info.value.key == "id"


async def test_get_with_composite_key(db):
    db.seed(
        Membership(hero_id=1, year=2020, role="rookie"),
        Membership(hero_id=1, year=2021, role="lead"),
        Membership(hero_id=2, year=2020, role="sidekick"),
    )
    assert (await db.run(Q(Membership), "get", (1, 2021))).role == "lead"
    assert (await db.run(Q(Membership), "get", ("2", "2020"))).role == "sidekick"
    assert await db.run(Q(Membership), "get", (2, 2021)) is None
    for bad in (1, (1,), (1, 2, 3)):
        with pytest.raises(QueryError, match="primary key has 2 column"):
            await db.run(Q(Membership), "get", bad)


async def test_get_honours_soft_scope(db):
    live, gone = db.seed(QItem(name="live"), QItem(name="gone", is_deleted=True))
    assert (await db.run(Q(QItem), "get", live.id)).name == "live"
    assert await db.run(Q(QItem), "get", gone.id) is None
    assert (await db.run(Q(QItem).soft("include"), "get", gone.id)).name == "gone"
    assert (await db.run(Q(QItem).soft("only"), "get", gone.id)).name == "gone"
    assert await db.run(Q(QItem).soft("only"), "get", live.id) is None


async def test_count_honours_filters_limit_and_offset(db):
    seed_heroes(db)
    assert await db.run(Q(Hero), "count") == 4
    assert await db.run(Q(Hero).where(age=30), "count") == 2
    assert await db.run(Q(Hero).limit(3), "count") == 3
    assert await db.run(Q(Hero).offset(3), "count") == 1
    assert await db.run(Q(Hero).offset(10), "count") == 0
    assert await db.run(Q(Hero).page(2, size=3), "count") == 1
    assert await db.run(Q(Hero).order_by("name").include("team"), "count") == 4


async def test_exists(db):
    seed_heroes(db)
    assert await db.run(Q(Hero).where(name="Gamma"), "exists") is True
    assert await db.run(Q(Hero).where(name="Nobody"), "exists") is False


async def test_count_and_exists_honour_soft_scope(db):
    """Regression: exists() and count() with limit/offset ignored the soft scope."""
    shelf = db.seed(QShelf(label="s"))[0]
    db.seed(
        QItem(name="a", shelf_id=shelf.id),
        QItem(name="b", shelf_id=shelf.id, is_deleted=True),
        QItem(name="c"),
    )
    q = Q(QItem)
    assert await db.run(q, "count") == 2
    assert await db.run(q.limit(10), "count") == 2
    assert await db.run(q.offset(1), "count") == 1
    assert await db.run(q.where(name="b"), "exists") is False
    assert await db.run(q.soft("include").where(name="b"), "exists") is True
    assert await db.run(q.soft("include").limit(10), "count") == 3
    assert await db.run(q.soft("only"), "count") == 1
    assert await db.run(q.soft("only").limit(5), "count") == 1
    assert await db.run(q.soft("only").where(name="a"), "exists") is False
    # through a relationship filter: the deleted child does not count
    by_child = Q(QShelf).where(items__name="b")
    assert await db.run(by_child, "all") == []
    assert await db.run(by_child, "count") == 0
    assert await db.run(by_child.limit(5), "count") == 0
    assert await db.run(by_child, "exists") is False
    assert await db.run(by_child.soft("include"), "exists") is True
    page = await db.run(Q(QItem).order_by("name"), "paginate", 1, 1)
    assert ([i.name for i in page.items], page.total) == (["a"], 2)


async def test_update_returns_rowcount_and_does_not_commit(db):
    seed_heroes(db)
    n = await db.run(Q(Hero).where(age=30), "update", age="31")
    assert n == 2
    assert await db.run(Q(Hero).where(age=31), "count") == 2  # same transaction sees it
    with db.backend.engine.connect() as other:  # another connection does not
        assert Q(Hero).where(age=31).count(other) == 0
    await db.commit()
    with db.backend.engine.connect() as other:
        assert Q(Hero).where(age=31).count(other) == 2


async def test_update_through_relationship_filter_and_of_nothing(db):
    seed_heroes(db)
    assert await db.run(Q(Hero).where(name="Nobody"), "update", age=1) == 0
    assert await db.run(Q(Hero).where(team__name="X"), "update", age=1) == 0


async def test_delete_hard_returns_rowcount_and_does_not_commit(db):
    seed_heroes(db)
    assert await db.run(Q(Hero).where(age__lt=25), "delete", hard=True) == 2
    assert await db.run(Q(Hero), "count") == 2
    with db.backend.engine.connect() as other:
        assert Q(Hero).count(other) == 4
    await db.commit()
    assert await db.run(Q(Hero), "count") == 2


async def test_delete_soft_deletes_soft_models_unless_hard(db):
    db.seed(QItem(name="a"), QItem(name="b"), QItem(name="c", is_deleted=True))
    assert await db.run(Q(QItem).where(name="a"), "delete") == 1
    assert await db.run(Q(QItem), "count") == 1
    assert await db.run(Q(QItem).soft("include"), "count") == 3
    deleted = await db.run(Q(QItem).soft("only").order_by("name"), "all")
    # "c" was flagged by hand on insert: the flush stamps its deleted_at too
    assert [(i.name, i.is_deleted, i.deleted_at is not None) for i in deleted] == [
        ("a", True, True),
        ("c", True, True),
    ]
    assert await db.run(Q(QItem).soft("include"), "delete", hard=True) == 3
    assert await db.run(Q(QItem).soft("include"), "count") == 0


async def test_read_terminals_do_not_commit_or_leave_pending_changes(db):
    seed_heroes(db)
    for terminal in ("all", "first", "count", "exists"):
        await db.run(Q(Hero), terminal)
    session = db.async_session or db.session
    assert not session.dirty
    assert not session.new


async def test_update_and_delete_honour_soft_scope_through_relationships(db):
    """Regression: set-based writes matched soft-deleted related rows."""
    shelf, other = db.seed(QShelf(label="s"), QShelf(label="t"))
    db.seed(
        QItem(name="gone", is_deleted=True, shelf_id=shelf.id),
        QItem(name="live", shelf_id=other.id),
    )
    assert await db.run(Q(QShelf).where(items__name="gone"), "update", label="z") == 0
    assert await db.run(Q(QShelf).where(items__name="gone"), "delete", hard=True) == 0
    assert await db.run(Q(QShelf).where(items__name="live"), "update", label="z") == 1
    scoped = Q(QShelf).soft("include").where(items__name="gone")
    assert await db.run(scoped, "update", label="y") == 1
    labels = sorted(s.label for s in await db.run(Q(QShelf), "all"))
    assert labels == ["y", "z"]
