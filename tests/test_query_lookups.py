"""Every lookup operator returns exactly the rows it should, on every backend."""

from __future__ import annotations

import pytest

from sqlmodel_crud_utils import Q
from tests.models import Hero

# Any warning at all (SQLAlchemy, drivers, our code) fails these tests.
pytestmark = pytest.mark.filterwarnings("error")


def seed_heroes(db):
    db.seed(
        Hero(name="Alpha", age=10, bio="a brave wizard from the north", secret_name="50% off"),
        Hero(name="beta", age=20, bio="pilot of the ship", secret_name="under_score"),
        Hero(name="Gamma", age=30, bio="wizard and pilot", secret_name="plain"),
        Hero(name="delta", age=None, bio="", secret_name="5 off"),
    )


OPERATOR_CASES = [
    ({"name": "Alpha"}, {"Alpha"}),
    ({"name__eq": "beta"}, {"beta"}),
    ({"age__ne": 10}, {"beta", "Gamma"}),  # SQL semantics: NULL is neither equal nor unequal
    ({"age__lt": 20}, {"Alpha"}),
    ({"age__lte": 20}, {"Alpha", "beta"}),
    ({"age__gt": 10}, {"beta", "Gamma"}),
    ({"age__gte": 30}, {"Gamma"}),
    ({"age__in": [10, 30]}, {"Alpha", "Gamma"}),
    ({"age__in": range(20, 21)}, {"beta"}),
    ({"age__not_in": [10]}, {"beta", "Gamma"}),
    ({"name__like": "G%"}, {"Gamma"}),
    ({"name__ilike": "D%"}, {"delta"}),
    ({"name__contains": "lph"}, {"Alpha"}),
    ({"name__icontains": "ELT"}, {"delta"}),
    ({"name__startswith": "be"}, {"beta"}),
    ({"name__istartswith": "GAM"}, {"Gamma"}),
    ({"name__endswith": "pha"}, {"Alpha"}),
    ({"name__iendswith": "TA"}, {"beta", "delta"}),
    ({"age__isnull": True}, {"delta"}),
    ({"age__isnull": False}, {"Alpha", "beta", "Gamma"}),
    ({"age__isnull": "true"}, {"delta"}),
    ({"age__between": (10, 20)}, {"Alpha", "beta"}),
    ({"age__between": ["15", "30"]}, {"beta", "Gamma"}),
    ({"bio__match": "wizard"}, {"Alpha", "Gamma"}),
    ({"bio__match": "pilot"}, {"beta", "Gamma"}),
]


@pytest.mark.parametrize(
    ("lookups", "expected"), OPERATOR_CASES, ids=[next(iter(c[0])) for c in OPERATOR_CASES]
)
async def test_operator_returns_exact_rows(db, lookups, expected):
    seed_heroes(db)
    rows = await db.run(Q(Hero).where(**lookups), "all")
    assert sorted(h.name for h in rows) == sorted(expected)


async def test_every_operator_is_covered():
    from sqlmodel_crud_utils.lookups import OPERATORS

    used = {
        key.split("__")[-1] if "__" in key else "eq" for case in OPERATOR_CASES for key in case[0]
    }
    assert used == OPERATORS


async def test_empty_in_matches_nothing_and_empty_not_in_matches_everything(db, recwarn):
    seed_heroes(db)
    assert await db.run(Q(Hero).where(age__in=[]), "all") == []
    assert await db.run(Q(Hero).where(name__in=set()), "count") == 0
    everything = await db.run(Q(Hero).where(age__not_in=[]), "all")
    assert len(everything) == 4  # NULL ages included: nothing is excluded
    assert not [w for w in recwarn if "empty" in str(w.message).lower()]


@pytest.mark.parametrize(
    ("lookup", "value", "expected"),
    [
        ("secret_name__contains", "0%", {"50% off"}),
        ("secret_name__icontains", "0% O", {"50% off"}),
        ("secret_name__startswith", "5_", set()),
        ("secret_name__startswith", "50%", {"50% off"}),
        ("secret_name__istartswith", "UNDER_", {"under_score"}),
        ("secret_name__endswith", "r_score", {"under_score"}),
        ("secret_name__iendswith", "%", set()),
        ("secret_name__contains", "_", {"under_score"}),
        ("secret_name__icontains", "%", {"50% off"}),
        ("secret_name__contains", "/", {"a/b"}),
        ("bio__match", "%", set()),
    ],
)
async def test_wildcards_in_values_are_literal(db, lookup, value, expected):
    seed_heroes(db)
    db.seed(Hero(name="slash", secret_name="a/b"))
    rows = await db.run(Q(Hero).where(**{lookup: value}), "all")
    assert {h.secret_name for h in rows} == expected


async def test_escape_character_in_value_is_literal(db):
    seed_heroes(db)
    db.seed(Hero(name="slash", secret_name="a/b"), Hero(name="slash2", secret_name="a/%b"))
    rows = await db.run(Q(Hero).where(secret_name__contains="a/%"), "all")
    assert [h.name for h in rows] == ["slash2"]
    rows = await db.run(Q(Hero).where(secret_name__contains="a/"), "all")
    assert sorted(h.name for h in rows) == ["slash", "slash2"]


async def test_like_takes_the_pattern_as_given(db):
    seed_heroes(db)
    rows = await db.run(Q(Hero).where(secret_name__like="5_% off"), "all")
    assert [h.secret_name for h in rows] == ["50% off"]
    rows = await db.run(Q(Hero).where(secret_name__ilike="%SCORE"), "all")
    assert [h.secret_name for h in rows] == ["under_score"]


async def test_match_ignores_case_and_needs_a_whole_word_on_servers(db):
    seed_heroes(db)
    rows = await db.run(Q(Hero).where(bio__match="WIZARD"), "all")
    assert sorted(h.name for h in rows) == ["Alpha", "Gamma"]
    rows = await db.run(Q(Hero).where(bio__match="wiz"), "all")
    if db.name == "sqlite":  # substring fallback
        assert sorted(h.name for h in rows) == ["Alpha", "Gamma"]
    else:  # word search
        assert rows == []


async def test_match_needs_every_word_and_ignores_operators(db):
    seed_heroes(db)
    rows = await db.run(Q(Hero).where(bio__match="wizard pilot"), "all")
    assert [h.name for h in rows] == ["Gamma"]
    rows = await db.run(Q(Hero).where(bio__match="the wizard"), "all")  # stopword / short word
    assert sorted(h.name for h in rows) == ["Alpha", "Gamma"]
    rows = await db.run(Q(Hero).where(bio__match='+"pilot" -wizard*'), "all")
    assert [h.name for h in rows] == ["Gamma"]  # operators dropped: both words required
    assert await db.run(Q(Hero).where(bio__match=""), "all") == []
    rows = await db.run(Q(Hero).where(bio__match="ox WIZARD, north!"), "all")
    assert [h.name for h in rows] == ["Alpha"]  # "ox": too short, ignored everywhere


async def test_match_refreshes_its_value_on_every_query(db):
    """Regression: the compiled-statement cache must not keep the first value."""
    seed_heroes(db)
    first = await db.run(Q(Hero).where(bio__match="wizard"), "all")
    second = await db.run(Q(Hero).where(bio__match="ship"), "all")
    assert sorted(h.name for h in first) == ["Alpha", "Gamma"]
    assert [h.name for h in second] == ["beta"]


async def test_exclude_negates_lookups(db):
    seed_heroes(db)
    rows = await db.run(Q(Hero).exclude(name__icontains="a", age__gt=15), "all")
    assert sorted(h.name for h in rows) == ["Alpha"]  # delta: NULL age, see exclude()
    rows = await db.run(Q(Hero).exclude(bio__match="wizard"), "all")
    assert sorted(h.name for h in rows) == ["beta", "delta"]


async def test_where_any_ors_lookups_and_ands_onto_the_query(db):
    seed_heroes(db)
    q = Q(Hero).where_any(age__lt=15, age__isnull=True).where(name__icontains="l")
    rows = await db.run(q, "all")
    assert sorted(h.name for h in rows) == ["Alpha", "delta"]


async def test_where_mixes_sqlalchemy_clauses_and_lookups(db):
    seed_heroes(db)
    q = Q(Hero).where(Hero.age >= 20, name__istartswith="g")
    assert [h.name for h in await db.run(q, "all")] == ["Gamma"]


async def test_lookup_values_are_parameters_not_sql(db):
    seed_heroes(db)
    hostile = "x' OR 1=1 --"
    for key in ("name", "name__icontains", "name__like", "bio__match", "name__in"):
        value = [hostile] if key.endswith("__in") else hostile
        assert await db.run(Q(Hero).where(**{key: value}), "all") == []
    assert await db.run(Q(Hero), "count") == 4


async def test_match_through_relationships(db):
    """Regression: match inside has()/any() raised AttributeError."""
    from tests.models import Team

    wizards, pilots = db.seed(Team(name="wizards"), Team(name="pilots"))
    db.seed(
        Hero(name="w", bio="a wizard", team_id=wizards.id),
        Hero(name="p", bio="a pilot", team_id=pilots.id),
    )
    teams = await db.run(Q(Team).where(members__bio__match="wizard"), "all")
    assert [t.name for t in teams] == ["wizards"]
    teams = await db.run(Q(Team).exclude(members__bio__match="wizard"), "all")
    assert [t.name for t in teams] == ["pilots"]
    heroes = await db.run(Q(Hero).where(team__members__bio__match="pilot"), "all")
    assert [h.name for h in heroes] == ["p"]
    q = Q(Hero).where(bio__match="pilot").include("team", strategy="joined").limit(1)
    assert [h.name for h in await db.run(q, "all")] == ["p"]
