"""QueryBuilder / AsyncQueryBuilder (upstream 0.4's API) as a façade over
`Q`, on every backend, sync and async."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import or_
from sqlmodel import select

from sqlmodel_crud_utils import AsyncQueryBuilder, Q, QueryBuilder, QueryError
from tests.models import City, Hero, Team
from tests.models_softaudit import SaBook


def builder(db, model, **kwargs):
    if db.async_session is None:
        return QueryBuilder(db.session, model, **kwargs)
    return AsyncQueryBuilder(db.async_session, model, **kwargs)


async def run(db, built, terminal):
    result = getattr(built, terminal)()
    return result if db.async_session is None else await result


def seed(db):
    city = db.seed(City(name="Gotham"))[0]
    team = db.seed(Team(name="Bats", city_id=city.id))[0]
    return db.seed(*(Hero(name=f"h{i}", age=10 * i, team_id=team.id) for i in range(1, 6)))


def ages(rows):
    return [hero.age for hero in rows]


async def test_terminals_answer_in_the_v01_style(db):
    seed(db)
    ok, rows = await run(db, builder(db, Hero).order_by("age"), "all")
    assert ok is True
    assert ages(rows) == [10, 20, 30, 40, 50]
    assert await run(db, builder(db, Hero).where(name="nobody"), "all") == (False, [])
    ok, row = await run(db, builder(db, Hero).order_by("age", desc=True), "first")
    assert (ok, row.age) == (True, 50)
    assert await run(db, builder(db, Hero).where(name="nobody"), "first") == (False, None)
    assert await run(db, builder(db, Hero).where(age__gte=30), "count") == (True, 3)
    assert await run(db, builder(db, Hero).where(name="nobody"), "count") == (False, 0)


async def test_chaining_is_immutable_and_matches_q(db):
    seed(db)
    base = builder(db, Hero)
    narrowed = base.where(Hero.age >= 20, age__lt=50).where(or_(Hero.age == 20, Hero.age == 40))
    assert await run(db, base, "count") == (True, 5)
    _, rows = await run(db, narrowed.order_by(Hero.age, desc=True), "all")
    assert ages(rows) == [40, 20]
    q = Q(Hero).where(age__gte=20, age__lt=50).order_by("-age").limit(2).offset(1)
    expected = await db.run(q, "all")
    _, rows = await run(
        db, base.where(age__gte=20, age__lt=50).order_by("age", desc=True).limit(2).offset(1), "all"
    )
    assert ages(rows) == ages(expected) == [30, 20]
    assert await run(db, base.order_by("age").limit(2).offset(4), "count") == (True, 1)
    assert await run(db, base.limit(0), "all") == (False, [])
    assert await run(db, base.limit(0), "first") == (False, None)


async def test_caller_statement_and_soft_delete_scope(db):
    seed(db)
    books = db.seed(SaBook(title="kept"), SaBook(title="gone"))
    await db.run(Q(SaBook).where(id=books[1].id), "delete")
    await db.commit()
    stmnt = select(Hero).where(Hero.age > 10)
    _, rows = await run(db, builder(db, Hero, stmnt=stmnt).where(age__lt=50).order_by("age"), "all")
    assert ages(rows) == [20, 30, 40]
    _, live = await run(db, builder(db, SaBook), "all")
    assert [b.title for b in live] == ["kept"]


async def test_loaders(db):
    seed(db)
    db.session.expunge_all()
    _, rows = await run(db, builder(db, Hero).selectin("team").selectin("team"), "all")
    assert all("team" in sa_inspect(hero).dict for hero in rows)
    if db.async_session is None:
        db.session.expunge_all()
        _, rows = await run(db, builder(db, Hero).lazy("team"), "all")
        assert not any("team" in sa_inspect(hero).dict for hero in rows)
    with pytest.raises(QueryError, match="team"):
        builder(db, Hero).selectin("team").lazy("team")


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.where(nope=1),
        lambda b: b.where(id__in=5),
        lambda b: b.where(age__bogus=1),
        lambda b: b.order_by("nope"),
        lambda b: b.order_by(Hero.age.desc(), desc=True),
        lambda b: b.order_by("-age", desc=True),
        lambda b: b.limit(-1),
        lambda b: b.limit("3"),
        lambda b: b.offset(1.5),
        lambda b: b.offset(True),
        lambda b: b.selectin("nope"),
        lambda b: b.lazy("name"),
    ],
)
async def test_bad_arguments_raise_value_errors_of_ours(db, call):
    with pytest.raises(QueryError) as caught:
        call(builder(db, Hero))
    assert isinstance(caught.value, ValueError)


def test_exported_where_upstream_0_4_has_them():
    from sqlmodel_crud_utils import a_sync, sync

    assert sync.QueryBuilder is QueryBuilder
    assert a_sync.AsyncQueryBuilder is AsyncQueryBuilder


async def test_a_caller_statement_with_joined_collections_returns_each_row_once(db):
    from sqlalchemy.orm import joinedload

    from tests.legacy_helpers import S, legacy

    seed(db)
    stmnt = select(Team).options(joinedload(Team.members))
    ok, teams = await run(db, builder(db, Team, stmnt=stmnt), "all")
    assert ok is True
    assert [team.name for team in teams] == ["Bats"]
    assert len(teams[0].members) == 5
    found, rows = await legacy(db, "get_rows", S, Team, stmnt=stmnt)
    assert found is True
    assert [team.name for team in rows] == ["Bats"]


async def test_desc_accepts_nulls_ordering_and_refuses_relationships_as_query_errors(db):
    built = builder(db, Hero).order_by(Hero.age.nulls_last(), "name", desc=True)
    assert built.query.sql("postgresql").endswith(
        "ORDER BY hero.age DESC NULLS LAST, hero.name DESC"
    )
    with pytest.raises(QueryError):
        builder(db, Hero).order_by(Hero.team, desc=True)


async def test_caller_statements_keep_their_order_grouping_and_unions(db):
    from sqlalchemy import func

    from tests.legacy_helpers import S, legacy

    seed(db)
    found, counts = await legacy(
        db, "get_rows", S, Hero, stmnt=select(Hero.team_id, func.count()).group_by(Hero.team_id)
    )
    assert found is True
    assert [tuple(row)[1] for row in counts] == [5]
    _, total = await legacy(db, "get_rows", S, Hero, stmnt=select(func.count(Hero.id)))
    assert total == [5]
    _, teams = await legacy(db, "get_rows", S, Hero, stmnt=select(Hero.team_id).distinct())
    assert len(teams) == 1
    both = select(Hero).where(Hero.age < 20).union_all(select(Hero).where(Hero.age > 40))
    with pytest.raises(QueryError, match="from_statement"):
        builder(db, Hero, stmnt=both)
    with pytest.raises(QueryError, match="from_statement"):
        await legacy(db, "get_rows", S, Hero, stmnt=both)
