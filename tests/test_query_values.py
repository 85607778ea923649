"""`Q.values` / `Q.values_list`: plain rows on every backend, sync and
async, through to-one relationship paths (outer joins), with the query's
filters, order, paging and soft-delete scope; no ORM object enters the
session; bad fields refused; the SQL pinned per dialect."""

from __future__ import annotations

from typing import Any

import pytest

from sqlmodel_crud_utils import Q, QueryError
from sqlmodel_crud_utils._compile import DIALECTS as DIALECT_OBJECTS
from sqlmodel_crud_utils.projections import projected, projection
from tests.models import City, Hero, Team
from tests.models_softaudit import SaAuthor as Author
from tests.models_softaudit import SaBook as Book


def heroes(db: Any) -> None:
    new_york = City(name="New York")
    db.seed(
        Hero(name="Iron Man", age=48, team=Team(name="Avengers", city=new_york)),
        Hero(name="Daredevil", age=32, team=Team(name="Defenders")),
        Hero(name="Batman", age=40),
    )


async def test_values_follow_to_one_paths(db: Any) -> None:
    heroes(db)
    q = Q(Hero).order_by("name")
    rows = await db.run(q, "values", "name", "team__name", "team__city__name")
    assert rows == [
        {"name": "Batman", "team__name": None, "team__city__name": None},
        {"name": "Daredevil", "team__name": "Defenders", "team__city__name": None},
        {"name": "Iron Man", "team__name": "Avengers", "team__city__name": "New York"},
    ]
    assert all(type(row) is dict for row in rows)
    filtered = Q(Hero).where(age__gte=35, team__name__isnull=False)
    assert await db.run(filtered, "values", "name") == [{"name": "Iron Man"}]


async def test_values_list_and_flat(db: Any) -> None:
    heroes(db)
    q = Q(Hero).order_by("-age")
    assert await db.run(q, "values_list", "name", "age") == [
        ("Iron Man", 48),
        ("Batman", 40),
        ("Daredevil", 32),
    ]
    assert await db.run(q.limit(2), "values_list", "name", flat=True) == ["Iron Man", "Batman"]
    assert await db.run(q.page(2, size=2), "values_list", "team__name", flat=True) == ["Defenders"]
    everything = await db.run(Q(Hero).where(name="Batman"), "values")
    assert everything[0]["name"] == "Batman"
    assert set(everything[0]) >= {"id", "name", "age", "team_id"}


async def test_no_object_enters_the_session(db: Any) -> None:
    heroes(db)
    await db.run(Q(Hero), "values", "name", "team__name")
    await db.run(Q(Hero), "values_list", "id", flat=True)
    session = db.async_session.sync_session if db.async_session else db.session
    assert list(session.identity_map.values()) == []


async def test_soft_deleted_rows_stay_out(db: Any) -> None:
    db.seed(
        Author(name="Ann", books=[Book(title="Alive"), Book(title="Gone", is_deleted=True)]),
        Author(name="Zed", is_deleted=True, books=[Book(title="Orphan")]),
    )
    books = await db.run(Q(Book).order_by("title"), "values", "title", "author__name")
    # "Gone" is deleted; "Orphan" is live but its author is not: no author name
    assert books == [
        {"title": "Alive", "author__name": "Ann"},
        {"title": "Orphan", "author__name": None},
    ]
    everyone = Q(Book).soft("include").order_by("title")
    assert await db.run(everyone, "values_list", "title", flat=True) == ["Alive", "Gone", "Orphan"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("power",), "unknown field 'power'"),
        (("members__name",), "to-one relationships only"),
        (("name__icontains",), "field paths, not lookups"),
        (("name", "name"), "fields named twice"),
    ],
)
def test_bad_fields_are_refused(fields: tuple[str, ...], message: str) -> None:
    model = Team if fields == ("members__name",) else Hero
    with pytest.raises(QueryError, match=message):
        projected(Q(model), fields)


def test_flat_takes_one_field() -> None:
    with pytest.raises(QueryError, match="exactly one field, got 2"):
        Q(Hero).values_list(None, "id", "name", flat=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_values_sql(snapshot: Any, dialect: str) -> None:
    q = Q(Hero).where(age__gte=18).order_by("name").limit(10)
    stmt = projected(q, ["name", "team__name", "team__city__name"])
    compiled = stmt.compile(
        dialect=DIALECT_OBJECTS[dialect], compile_kwargs={"render_postcompile": True}
    )
    assert str(compiled) == snapshot


def test_projections_are_statement_templates() -> None:
    """Two queries of one shape share one projection statement; the values
    are parameters."""
    first, params = projection(Q(Hero).where(age__gte=18).limit(5), ["name", "team__name"])
    second, other = projection(Q(Hero).where(age__gte=65).limit(9), ["name", "team__name"])
    assert first is second
    assert (params, other) == ({"q0": 18, "q_limit": 5}, {"q0": 65, "q_limit": 9})
    assert projection(Q(Hero).where(age__gte=18), ["name"])[0] is not first
