"""The lookup operator registry: custom operators, fields before operators."""

from __future__ import annotations

import pytest
from sqlalchemy import func

from sqlmodel_crud_utils import Q, QueryError, register_lookup
from sqlmodel_crud_utils.lookups import OPERATORS, parse_lookup
from sqlmodel_crud_utils.operators import get_operator, unregister_lookup
from tests.models import City, Hero, Team
from tests.models_query import QGame, QPlayer

pytestmark = pytest.mark.filterwarnings("error")


def iexact_trim(lookup, value):
    return func.lower(func.trim(lookup.column)) == lookup.coerce(value).strip().lower()


@pytest.fixture
def custom_operator():
    register_lookup("iexact_trim", iexact_trim, types=(str,))
    yield "iexact_trim"
    unregister_lookup("iexact_trim")


def seed(db):
    city = db.seed(City(name="Gotham"))[0]
    team = db.seed(Team(name="  Justice ", city_id=city.id))[0]
    db.seed(
        Hero(name=" Batman  ", age=40, team_id=team.id),
        Hero(name="Robin", age=17, team_id=team.id),
        Hero(name="Joker", age=45),
    )


async def test_custom_operator_in_where_exclude_where_any_and_paths(db, custom_operator):
    seed(db)
    rows = await db.run(Q(Hero).where(name__iexact_trim="BATMAN"), "all")
    assert [h.name for h in rows] == [" Batman  "]
    rows = await db.run(Q(Hero).exclude(name__iexact_trim="batman").order_by("name"), "all")
    assert [h.name for h in rows] == ["Joker", "Robin"]
    count = await db.run(Q(Hero).where_any(name__iexact_trim=" joker", age__lt=18), "count")
    assert count == 2
    rows = await db.run(Q(Hero).where(team__name__iexact_trim="justice").order_by("name"), "all")
    assert [h.name for h in rows] == [" Batman  ", "Robin"]
    teams = await db.run(Q(City).where(teams__members__name__iexact_trim="robin"), "all")
    assert [c.name for c in teams] == ["Gotham"]
    assert await db.run(Q(Hero).where(name__iexact_trim="nobody"), "count") == 0


def test_custom_operator_types_restrict_columns(custom_operator):
    with pytest.raises(QueryError, match=r"'iexact_trim'.*needs a text field") as info:
        Q(Hero).where(age__iexact_trim="40")
    assert info.value.model is Hero
    assert info.value.key == "age__iexact_trim"


def test_custom_operator_values_are_checked(custom_operator):
    with pytest.raises(QueryError, match="must be str"):
        Q(Hero).where(name__iexact_trim=5)


def test_registering_again_replaces_and_clears_the_parse_memo():
    register_lookup("pick", lambda lookup, value: lookup.column == lookup.coerce(value))
    try:
        assert " = " in str(Q(Hero).where(name__pick="a").statement.whereclause)
        register_lookup("pick", lambda lookup, value: lookup.column != lookup.coerce(value))
        assert " != " in str(Q(Hero).where(name__pick="a").statement.whereclause)
    finally:
        unregister_lookup("pick")
    with pytest.raises(QueryError, match="unknown operator 'pick'"):
        Q(Hero).where(name__pick="a")


def test_unregistering_a_built_in_restores_it():
    register_lookup("gt", lambda lookup, value: lookup.column < lookup.coerce(value))
    try:
        assert "<" in str(Q(Hero).where(age__gt=1).statement.whereclause)
    finally:
        unregister_lookup("gt")
    assert ">" in str(Q(Hero).where(age__gt=1).statement.whereclause)


def test_every_built_in_is_registered():
    for name in OPERATORS:
        operator = get_operator(name)
        assert operator is not None
        assert operator.name == name


@pytest.mark.parametrize("name", ["", "a__b", "_x", "1x", "x y", None])
def test_bad_operator_names_are_refused(name):
    with pytest.raises(QueryError):
        register_lookup(name, iexact_trim)


def test_bad_builds_and_types_are_refused():
    with pytest.raises(QueryError):
        register_lookup("x", "not callable")  # type: ignore[arg-type]
    with pytest.raises(QueryError):
        register_lookup("x", iexact_trim, types=["str"])  # type: ignore[list-item]


async def test_a_column_named_like_an_operator_is_a_field(db):
    chess, go = db.seed(QGame(match="x"), QGame(match="y"))
    db.seed(QPlayer(name="kasparov", game_id=chess.id), QPlayer(name="lee", game_id=go.id))
    rows = await db.run(Q(QPlayer).where(game__match="x"), "all")
    assert [p.name for p in rows] == ["kasparov"]
    rows = await db.run(Q(QPlayer).where(game__match__in=["y"]), "all")
    assert [p.name for p in rows] == ["lee"]
    rows = await db.run(Q(QGame).where(match="y"), "all")
    assert [g.match for g in rows] == ["y"]
    assert parse_lookup(QPlayer, "game__match").op == "eq"


async def test_a_field_wins_over_a_custom_operator_of_the_same_name(db):
    register_lookup("name", lambda lookup, value: lookup.column.is_(None))
    try:
        seed(db)
        rows = await db.run(Q(Hero).where(team__name="  Justice "), "count")
        assert rows == 2
        assert await db.run(Q(Hero).where(age__name=True), "count") == 0
    finally:
        unregister_lookup("name")
