"""`Q.aggregate` and `Q.group_by`: Count / Sum / Avg / Min / Max computed by
every backend, sync and async, over the query's rows (filters, to-one
paths, soft-delete scope), grouped or not; the SQL per dialect; bad
aggregates refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sqlmodel_crud_utils import Avg, Count, Max, Min, Q, QueryError, Sum, UsageError
from sqlmodel_crud_utils._compile import DIALECTS as DIALECT_OBJECTS
from sqlmodel_crud_utils.aggregates import aggregation
from tests.models import Hero, Team
from tests.models_softaudit import SaAuthor as Author
from tests.models_softaudit import SaBook as Book


def heroes(db: Any) -> None:
    avengers, defenders = Team(name="Avengers"), Team(name="Defenders")
    db.seed(
        Hero(name="Iron Man", age=48, team=avengers),
        Hero(name="Spider-Man", age=17, team=avengers),
        Hero(name="Black Widow", age=35, team=avengers),
        Hero(name="Daredevil", age=32, team=defenders),
        Hero(name="Batman", age=40),
        Hero(name="Deadpond"),
    )


def plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


async def test_aggregate_over_the_matching_rows(db: Any) -> None:
    heroes(db)
    stats = await db.run(
        Q(Hero),
        "aggregate",
        n=Count(),
        aged=Count("age"),
        years=Sum("age"),
        youngest=Min("age"),
        oldest=Max("age"),
        teams=Count("team__name", distinct=True),
    )
    assert stats == {"n": 6, "aged": 5, "years": 172, "youngest": 17, "oldest": 48, "teams": 2}
    adults = await db.run(Q(Hero).where(age__gte=18), "aggregate", n=Count(), avg=Avg("age"))
    assert (adults["n"], plain(adults["avg"])) == (4, pytest.approx(38.75))
    none = await db.run(Q(Hero).where(age__gt=100), "aggregate", n=Count(), top=Max("age"))
    assert none == {"n": 0, "top": None}


async def test_group_by_a_to_one_path(db: Any) -> None:
    heroes(db)
    rows = await db.run(
        Q(Hero).where(age__isnull=False).group_by("team__name"),
        "aggregate",
        n=Count(),
        oldest=Max("age"),
        names=Min("name"),
    )
    by_team = {row["team__name"]: (row["n"], row["oldest"], row["names"]) for row in rows}
    assert by_team == {
        None: (1, 40, "Batman"),
        "Avengers": (3, 48, "Black Widow"),
        "Defenders": (1, 32, "Daredevil"),
    }
    named = [row["team__name"] for row in rows if row["team__name"] is not None]
    assert named == ["Avengers", "Defenders"]  # ordered by the group values


async def test_soft_deleted_rows_do_not_count(db: Any) -> None:
    db.seed(
        Author(name="Ann", books=[Book(title="Alive"), Book(title="Gone", is_deleted=True)]),
        Author(name="Zed", is_deleted=True, books=[Book(title="Orphan")]),
    )
    assert await db.run(Q(Book), "aggregate", n=Count()) == {"n": 2}
    per_author = await db.run(Q(Book).group_by("author__name"), "aggregate", n=Count())
    # "Orphan"'s author is deleted: it counts under no author
    assert sorted(per_author, key=lambda r: str(r["author__name"])) == [
        {"author__name": "Ann", "n": 1},
        {"author__name": None, "n": 1},
    ]
    everything = await db.run(Q(Book).soft("include"), "aggregate", n=Count())
    assert everything == {"n": 3}


def test_aggregations_are_statement_templates() -> None:
    first, params = aggregation(Q(Hero).where(age__gte=18).group_by("team_id"), {"n": Count()})
    second, other = aggregation(Q(Hero).where(age__gte=65).group_by("team_id"), {"n": Count()})
    assert first is second
    assert (params, other) == ({"q0": 18}, {"q0": 65})


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_aggregate_sql(snapshot: Any, dialect: str) -> None:
    q = Q(Hero).where(age__gte=18).group_by("team__name")
    stmt, _ = aggregation(q, {"n": Count(), "avg_age": Avg("age"), "top": Max("age")})
    assert str(stmt.compile(dialect=DIALECT_OBJECTS[dialect])) == snapshot


def test_bad_aggregates_are_refused() -> None:
    with pytest.raises(QueryError, match="unknown field 'power'"):
        aggregation(Q(Hero), {"n": Sum("power")})
    with pytest.raises(QueryError, match=r"Sum\(\) cannot aggregate 'name' \(str\)"):
        aggregation(Q(Hero), {"n": Sum("name")})
    with pytest.raises(QueryError, match="to-one relationships only"):
        aggregation(Q(Team), {"n": Count("members__name")})
    with pytest.raises(QueryError, match="at least one aggregate"):
        aggregation(Q(Hero), {})
    with pytest.raises(QueryError, match="limited query"):
        aggregation(Q(Hero).limit(5), {"n": Count()})
    with pytest.raises(QueryError, match="also a group_by"):
        aggregation(Q(Hero).group_by("age"), {"age": Max("age")})
    with pytest.raises(QueryError, match="takes Count, Sum"):
        aggregation(Q(Hero), {"n": "count"})  # type: ignore[dict-item]
    with pytest.raises(UsageError, match=r"Avg\(\) needs a field"):
        Avg()
    with pytest.raises(QueryError, match="group_by\\(\\) applies to aggregate"):
        Q(Hero).group_by("age").statement  # noqa: B018
    with pytest.raises(QueryError, match="unknown field"):
        Q(Hero).group_by("power")
