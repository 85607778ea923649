"""Statement templates: one statement per query shape, values re-bound.

Each query runs through a real session on every backend, sync and async,
and is checked for the rows it returns; the template itself is checked
for being shared (same object) exactly when the SQL cannot differ.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, func

from sqlmodel_crud_utils import Q, register_lookup
from sqlmodel_crud_utils._memo import MEMO_SIZE, memo_sizes
from sqlmodel_crud_utils._templates import runnable, template_key
from sqlmodel_crud_utils.operators import unregister_lookup
from tests.models import City, Hero, Team
from tests.models_softaudit import SaAuthor, SaBook

pytestmark = pytest.mark.filterwarnings("error")


def seed(db):
    city = db.seed(City(name="Metropolis"))[0]
    team = db.seed(Team(name="League", city_id=city.id))[0]
    db.seed(
        Hero(name="Superman", age=35, team_id=team.id),
        Hero(name="Lois_Lane", age=30),
        Hero(name="50% Man", age=50, team_id=team.id),
        Hero(name="Krypto", age=None),
        Hero(name="Batman", age=40, is_active=False, team_id=team.id),
    )


def names(rows):
    return sorted(hero.name for hero in rows)


def test_same_shape_shares_one_statement_and_binds_its_own_values():
    young, young_params = runnable(Q(Hero).where(age__lt=31).order_by("age").page(2, 5))
    old, old_params = runnable(Q(Hero).where(age__lt=45).order_by("age").page(3, 3))
    assert young is old
    assert young_params == {"q0": 31, "q_limit": 5, "q_offset": 5}
    assert old_params == {"q0": 45, "q_limit": 3, "q_offset": 6}
    first_page, params = runnable(Q(Hero).where(age__lt=45).order_by("age").page(1, 3))
    assert first_page is not young
    assert params == {"q0": 45, "q_limit": 3}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Q(Hero).where(age=3), Q(Hero).where(age=None)),  # = :p vs IS NULL
        (Q(Hero).where(is_active=True), Q(Hero).where(is_active=False)),  # constants
        (Q(Hero).where(age__isnull=True), Q(Hero).where(age__isnull=False)),
        (Q(Hero).where(age__gt=3), Q(Hero).where(age__gte=3)),
        (Q(Hero).where(age__gt=3), Q(Hero).exclude(age__gt=3)),
        (Q(Hero).where(age__gt=3), Q(Hero).where(age__gt=3).soft("include")),
        (Q(Hero).where(age__gt=3), Q(Hero).where(age__gt=3).order_by("-age")),
        (Q(Hero).where(age__gt=3), Q(Hero).where(age__gt=3).limit(2)),
        (Q(Hero).where(age__gt=3), Q(Hero).where(age__gt=3).include("team")),
        (Q(Hero).where(age__gt=3), Q(Hero).where(age__gt=3).only("name")),
        (Q(Hero).where(age__gt=3), Q(Hero).where(age__gt=3, name="x")),
    ],
)
def test_different_sql_never_shares_a_template(a, b):
    assert template_key(a) is not None
    assert template_key(b) is not None
    assert template_key(a) != template_key(b)
    assert runnable(a)[0] is not runnable(b)[0]


@pytest.mark.parametrize(
    "q",
    [
        Q(Hero).where(Hero.age > 3),  # a raw clause carries its own values
        Q(Hero).where(name__match="man"),
        Q(Hero).order_by(Hero.age.desc()),
        Q(Hero).order_by(func.lower(Hero.name)),
        Q(Hero)._based_on(Q(Hero).where(age=1).statement),
    ],
)
def test_queries_whose_sql_depends_on_more_than_values_are_built_afresh(q):
    statement, params = runnable(q)
    assert template_key(q) is None
    assert params is None
    assert str(statement) == str(q.statement)


def test_custom_operators_are_built_afresh():
    register_lookup("lower_is", lambda lookup, value: func.lower(lookup.column) == value.lower())
    try:
        q = Q(Hero).where(name__lower_is="BATMAN")
        assert template_key(q) is None
        assert runnable(q)[1] is None
    finally:
        unregister_lookup("lower_is")


async def test_values_are_rebound_on_every_run(db):
    seed(db)
    for age, expected in [(31, ["Lois_Lane"]), (45, ["Batman", "Lois_Lane", "Superman"]), (0, [])]:
        assert names(await db.run(Q(Hero).where(age__lt=age), "all")) == expected
    first = await db.run(Q(Hero).where(age__gt=32).order_by("age"), "first")
    assert first.name == "Superman"
    assert (await db.run(Q(Hero).where(age__gt=45), "one")).name == "50% Man"
    assert await db.run(Q(Hero).where(age__gt=99), "one_or_none") is None


async def test_value_dependent_shapes_return_the_right_rows(db):
    seed(db)
    assert names(await db.run(Q(Hero).where(age=None), "all")) == ["Krypto"]
    assert names(await db.run(Q(Hero).where(age=30), "all")) == ["Lois_Lane"]
    assert names(await db.run(Q(Hero).where(is_active=False), "all")) == ["Batman"]
    assert len(await db.run(Q(Hero).where(is_active=True), "all")) == 4
    assert names(await db.run(Q(Hero).where(age__isnull=True), "all")) == ["Krypto"]
    assert len(await db.run(Q(Hero).where(age__isnull=False), "all")) == 4
    assert len(await db.run(Q(Hero).exclude(age=None), "all")) == 4


async def test_lists_of_any_length_reuse_the_in_template(db):
    seed(db)
    ages = [[30], [30, 35, 40], list(range(200))]
    expected = [["Lois_Lane"], ["Batman", "Lois_Lane", "Superman"], None]
    statements = set()
    for values, want in zip(ages, expected, strict=True):
        q = Q(Hero).where(age__in=values)
        statements.add(id(runnable(q)[0]))
        rows = names(await db.run(q, "all"))
        assert rows == (
            want
            if want is not None
            else names(await db.run(Q(Hero).where(age__isnull=False), "all"))
        )
    assert len(statements) == 1
    assert await db.run(Q(Hero).where(age__in=[]), "all") == []
    assert names(await db.run(Q(Hero).where(age__not_in=[30, 35]), "all")) == ["50% Man", "Batman"]
    assert names(await db.run(Q(Hero).where(age__between=(31, 45)), "all")) == [
        "Batman",
        "Superman",
    ]


async def test_substring_values_match_literally(db):
    seed(db)
    assert names(await db.run(Q(Hero).where(name__contains="0%"), "all")) == ["50% Man"]
    assert names(await db.run(Q(Hero).where(name__contains="_"), "all")) == ["Lois_Lane"]
    assert names(await db.run(Q(Hero).where(name__icontains="MAN"), "all")) == [
        "50% Man",
        "Batman",
        "Superman",
    ]
    assert await db.run(Q(Hero).where(name__startswith="%"), "all") == []
    assert names(await db.run(Q(Hero).where(name__like="L%"), "all")) == ["Lois_Lane"]


async def test_relationship_filters_and_soft_scopes_keep_their_own_templates(db):
    author = db.seed(SaAuthor(name="Ada"))[0]
    other = db.seed(SaAuthor(name="Bob"))[0]
    db.seed(SaBook(title="Notes", author_id=author.id), SaBook(title="Gone", author_id=other.id))
    gone = db.seed(SaBook(title="Lost", author_id=author.id))[0]
    await db.run(Q(SaBook).where(id=gone.id), "delete")
    await db.commit()
    live = await db.run(Q(SaAuthor).where(books__title="Lost"), "all")
    every = await db.run(Q(SaAuthor).where(books__title="Lost").soft("include"), "all")
    assert live == []
    assert [a.name for a in every] == ["Ada"]
    assert [a.name for a in await db.run(Q(SaAuthor).where(books__title="Gone"), "all")] == ["Bob"]
    deleted = await db.run(Q(SaBook).soft("only").where(title__startswith="L"), "all")
    assert [b.title for b in deleted] == ["Lost"]


async def test_the_sql_sent_is_the_sql_q_statement_shows(db):
    seed(db)
    sent: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    q = Q(Hero).where(age__gt=31, name__icontains="man", team__name="League")
    q = q.order_by("-age").page(1, 2)
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        rows = await db.run(q, "all")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert [hero.name for hero in rows] == ["50% Man", "Batman"]
    dialect = db.engine.dialect
    compiled = q.statement.compile(dialect=dialect)
    unnamed = re.compile(r"%\((\w+)\)s")
    assert unnamed.sub("%s", sent[-1][0]) == unnamed.sub("%s", str(compiled))
    sent_values = sent[-1][1]
    values = list(sent_values.values()) if isinstance(sent_values, dict) else list(sent_values)
    assert sorted(map(str, values)) == sorted(map(str, compiled.params.values()))


def test_templates_stay_bounded_and_go_with_a_registry_change():
    for age in range(MEMO_SIZE + 50):
        runnable(Q(Hero).where(age__gt=age).limit(age + 1))  # one shape
    for n in range(1, MEMO_SIZE + 50):
        runnable(Q(Hero).order_by(*(["age", "-age"] * n)[:n]))  # many shapes
    sizes = {name: size for name, size in memo_sizes(Hero).items() if "templates" in name}
    assert sizes
    assert all(size <= MEMO_SIZE for size in sizes.values())
    register_lookup("noop_op", lambda lookup, value: lookup.column == value)
    unregister_lookup("noop_op")
    assert all(size == 0 for name, size in memo_sizes(Hero).items() if "templates" in name)


async def test_sql_expressions_as_values_are_sql_not_parameters(db):
    seed(db)
    q = Q(Hero).where(age__gte=Hero.age)  # true wherever age is set
    assert template_key(q) is None
    assert len(await db.run(q, "all")) == 4
    older = Q(Hero).where(seen_at__lt=func.now())
    assert template_key(older) is None
    assert await db.run(older, "all") == []
    assert names(await db.run(Q(Hero).where(age__between=(Hero.age, 35)), "all")) == [
        "Lois_Lane",
        "Superman",
    ]
    assert names(await db.run(Q(Hero).where(age__in=[Hero.age]), "all")) == names(
        await db.run(Q(Hero).where(age__isnull=False), "all")
    )


async def _hand(db, stmt):
    if db.async_session is None:
        return db.session.exec(stmt).all()
    return (await db.async_session.exec(stmt)).all()


async def test_values_bind_with_the_type_sqlalchemy_gives_them(db):
    import datetime as dt

    from sqlmodel import select

    seed(db)
    db.seed(Hero(name="Dated", born=dt.date(2020, 1, 1), age=4))
    noon = dt.datetime(2020, 1, 1, 12)
    for q, hand in [
        (Q(Hero).where(born=noon), select(Hero).where(Hero.born == noon)),
        (Q(Hero).where(born__lt=noon), select(Hero).where(Hero.born < noon)),
        (Q(Hero).where(age__gt=3.5), select(Hero).where(Hero.age > 3.5)),
        (Q(Hero).where(age__lt=4.5), select(Hero).where(Hero.age < 4.5)),
    ]:
        assert names(await db.run(q, "all")) == names(await _hand(db, hand)), q
    assert template_key(Q(Hero).where(age__gt=3)) != template_key(Q(Hero).where(age__gt=3.5))
