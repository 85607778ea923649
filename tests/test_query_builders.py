"""Builders are immutable and compose as documented."""

from __future__ import annotations

import pytest
from sqlalchemy import func

from sqlmodel_crud_utils import Q, QueryError
from tests.models import Hero, Team

BUILDERS = [
    ("where", lambda q: q.where(Hero.age > 1, name="x")),
    ("where_any", lambda q: q.where_any(age__lt=1, age__gt=9)),
    ("exclude", lambda q: q.exclude(name__icontains="x")),
    ("order_by", lambda q: q.order_by("-age", Hero.name, func.lower(Hero.bio))),
    ("order_by_clear", lambda q: q.order_by(None)),
    ("include", lambda q: q.include("team.members", strategy="joined")),
    ("only", lambda q: q.only("name")),
    ("soft", lambda q: q.soft("include")),
    ("limit", lambda q: q.limit(3)),
    ("offset", lambda q: q.offset(4)),
    ("page", lambda q: q.page(2, size=5)),
]


@pytest.mark.parametrize(("name", "build"), BUILDERS, ids=[b[0] for b in BUILDERS])
def test_builder_returns_new_query_and_leaves_receiver_unchanged(name, build):
    base = Q(Hero).where(age__gte=18).order_by("name").include("team")
    before = {d: base.sql(d, literal=True) for d in ("sqlite", "postgresql", "mysql")}
    state = (base._criteria, base._order, base._includes, base._only, base._limit, base._offset)
    derived = build(base)
    assert derived is not base
    assert isinstance(derived, Q)
    assert {d: base.sql(d, literal=True) for d in before} == before
    assert (
        base._criteria,
        base._order,
        base._includes,
        base._only,
        base._limit,
        base._offset,
    ) == state
    if name not in ("soft", "include"):  # soft: Hero has no soft delete; include: loader only
        assert derived.sql("sqlite", literal=True) != before["sqlite"]


def test_every_builder_chained_leaves_every_receiver_unchanged():
    steps = [Q(Hero)]
    for _, build in BUILDERS:
        steps.append(build(steps[-1]))
    sqls = [q.sql("sqlite", literal=True) for q in steps]
    for _, build in BUILDERS:
        for q in steps:
            build(q)
    assert [q.sql("sqlite", literal=True) for q in steps] == sqls


def test_q_is_frozen():
    q = Q(Hero)
    with pytest.raises(AttributeError):
        q._limit = 5  # type: ignore[misc]


def test_shared_partial_query_extends_independently():
    adults = Q(Hero).where(age__gte=18)
    young = adults.where(age__lt=30)
    old = adults.where(age__gte=60)
    assert "hero.age < 30" in young.sql(literal=True)
    assert "hero.age < 30" not in old.sql(literal=True)
    assert "hero.age >= 60" not in adults.sql(literal=True)


def test_order_by_appends_and_none_clears():
    q = Q(Hero).order_by("name").order_by("-age")
    assert q.sql().split("ORDER BY")[1].strip() == "hero.name, hero.age DESC"
    assert "ORDER BY" not in q.order_by(None).sql()


def test_order_by_accepts_sqlalchemy_expressions():
    q = Q(Hero).order_by(Hero.age.desc(), func.lower(Hero.name), Hero.id)
    assert q.sql().split("ORDER BY")[1].strip() == "hero.age DESC, lower(hero.name), hero.id"


def test_order_by_rejects_other_models_columns():
    with pytest.raises(QueryError, match="Hero") as info:
        Q(Hero).order_by(Team.name)
    assert info.value.key == "order_by"


def test_empty_builders_change_nothing():
    q = Q(Hero)
    assert q.where().sql() == q.sql()
    assert q.where_any().sql() == q.sql()
    assert q.exclude().sql() == q.sql()


def test_only_keeps_primary_key_and_limit_none_removes_limit():
    assert Q(Hero).only("age").sql().splitlines()[0].strip() == "SELECT hero.id, hero.age"
    assert "LIMIT" not in Q(Hero).limit(3).limit(None).sql()
    assert "OFFSET" not in Q(Hero).offset(3).offset(None).sql()


def test_q_is_generic_and_rejects_non_models():
    assert Q[Hero](Hero).model is Hero
    with pytest.raises(QueryError, match="not a mapped table model"):
        Q(int)


async def test_where_any_and_exclude_combine_on_the_database(db):
    db.seed(
        Hero(name="a", age=1, is_active=True),
        Hero(name="b", age=50, is_active=False),
        Hero(name="c", age=99, is_active=True),
        Hero(name="d", age=30, is_active=True),
    )
    q = Q(Hero).where_any(age__lt=10, age__gt=40).exclude(is_active=False).order_by("name")
    assert [h.name for h in await db.run(q, "all")] == ["a", "c"]


async def test_only_loads_listed_columns(db):
    db.seed(Hero(name="a", age=5, bio="long text"))
    row = await db.run(Q(Hero).only("name"), "one")
    assert row.name == "a"
    state = row._sa_instance_state
    assert "bio" in state.unloaded
    assert "name" not in state.unloaded
