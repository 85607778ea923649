"""Boolean groups (`Or`, `And`, `Not`): results on every backend, sync and
async; one EXISTS per group that names one relationship; soft-deleted rows
never matched through a group; the SQL pinned per dialect; bad groups
refused with `QueryError` / `UsageError`."""

from __future__ import annotations

from typing import Any

import pytest

from sqlmodel_crud_utils import And, Not, Or, Q, QueryError, UsageError
from sqlmodel_crud_utils.groups import MAX_GROUP_DEPTH
from tests.models import Hero, Team
from tests.models_softaudit import SaAuthor as Author
from tests.models_softaudit import SaBook as Book

DIALECTS = ("sqlite", "postgresql", "mysql")


def heroes(db: Any) -> None:
    avengers, defenders = Team(name="Avengers"), Team(name="Defenders")
    db.seed(
        Hero(name="Iron Man", age=48, team=avengers),
        Hero(name="Spider-Man", age=17, team=avengers),
        Hero(name="Old Man Logan", age=70, team=defenders),
        Hero(name="Agatha", age=80, team=defenders),
        Hero(name="Kid", age=12),
        Hero(name="Nobody"),
    )


async def names(db: Any, q: Q[Any]) -> list[str]:
    return [row.name for row in await db.run(q.order_by("name"), "all")]


GROUPS = [
    pytest.param(
        Q(Hero).where(Or(And(age__gte=65, name__icontains="man"), age__lt=18)),
        ["Kid", "Old Man Logan", "Spider-Man"],
        id="or-of-and",
    ),
    pytest.param(
        Q(Hero).where(Not(team__name="Avengers")),
        ["Agatha", "Kid", "Nobody", "Old Man Logan"],  # no team: not in the Avengers
        id="not",
    ),
    pytest.param(
        Q(Hero).where(Or(team__name="Avengers", age__isnull=True)),
        ["Iron Man", "Nobody", "Spider-Man"],
        id="or-across-relationship",
    ),
    pytest.param(
        Q(Hero).where(Not(Or(age__lt=18, age__gt=65)), age__isnull=False),
        ["Iron Man"],
        id="not-of-or",
    ),
    pytest.param(
        Q(Hero).exclude(Or(age__lt=18, age__gt=65)),
        ["Iron Man"],  # NULL ages satisfy neither side (SQL semantics)
        id="exclude-group",
    ),
    pytest.param(
        Q(Hero).where(Or(And(Or(And(age=12), age=17), name__startswith="S"), name="Agatha")),
        ["Agatha", "Spider-Man"],
        id="nested-three-deep",
    ),
]


@pytest.mark.parametrize(("q", "expected"), GROUPS)
async def test_groups_filter_rows(db: Any, q: Q[Any], expected: list[str]) -> None:
    heroes(db)
    assert await names(db, q) == expected
    assert await db.run(q, "count") == len(expected)
    assert await db.run(q, "exists") is bool(expected)


async def test_a_group_on_one_relationship_is_one_exists(db: Any) -> None:
    """``And`` over a to-many path means one member matching both: the
    Avengers have a member over 40 and a member named Spider-Man, but no
    member who is both."""
    heroes(db)
    both = Q(Team).where(And(members__age__gt=40, members__name="Spider-Man"))
    separate = Q(Team).where(members__age__gt=40).where(members__name="Spider-Man")
    assert await names(db, both) == []
    assert await names(db, separate) == ["Avengers"]
    assert both.sql("sqlite").count("EXISTS") == 1
    assert await names(db, Q(Team).where(And(members__age__gt=40, members__name="Iron Man"))) == [
        "Avengers"
    ]
    none_young = Q(Team).where(Not(members__age__lt=18, members__name__startswith="S"))
    assert await names(db, none_young) == ["Defenders"]  # NOT EXISTS a young S-member


async def test_groups_never_match_through_soft_deleted_rows(db: Any) -> None:
    db.seed(
        Author(name="Ann", books=[Book(title="Alive"), Book(title="Gone", is_deleted=True)]),
        Author(name="Zed", is_deleted=True, books=[Book(title="Orphan")]),
    )
    gone = Q(Author).where(Or(books__title="Gone", books__title__startswith="Nope"))
    assert await db.run(gone, "count") == 0
    assert await db.run(gone.soft("include"), "count") == 1
    assert await db.run(Q(Author).where(Not(books__title="Gone")), "count") == 1
    orphan = Q(Book).where(Or(author__name="Zed", title="Gone"))
    assert await db.run(orphan, "count") == 0  # Zed and Gone are both deleted
    assert await db.run(Q(Book).where(And(author__name="Ann", title="Alive")), "count") == 1


def test_groups_are_statement_templates_with_bound_values() -> None:
    """Two groups of the same shape share one statement; the values are
    parameters, never inlined."""
    first = Q(Hero).where(Or(age__lt=18, name="A"))
    second = Q(Hero).where(Or(age__lt=65, name="B"))
    assert first.sql("postgresql") == second.sql("postgresql").replace("65", "18")
    assert "18" not in first.sql("postgresql")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_group_sql(snapshot: Any, dialect: str) -> None:
    q = (
        Q(Hero)
        .only("name")
        .where(Or(And(age__gte=65, name__icontains="man"), age__lt=18), Not(team__name="X"))
        .exclude(Or(team__members__age__lt=18, team__members__name="Kid"))
    )
    assert q.sql(dialect) == snapshot
    assert q.sql(dialect, literal=True) == snapshot


def test_bad_groups_are_refused() -> None:
    with pytest.raises(QueryError, match=r"Or\(\) has no lookups or groups"):
        Q(Hero).where(Or())
    with pytest.raises(QueryError, match="unknown field 'power'"):
        Q(Hero).where(Or(power=9000, age=1))
    with pytest.raises(QueryError, match="age"):
        Q(Hero).where(And(age__gte="old"))
    deep: Any = Or(age=1)
    for _ in range(MAX_GROUP_DEPTH):
        deep = Not(deep)
    with pytest.raises(QueryError, match=f"deeper than {MAX_GROUP_DEPTH}"):
        Q(Hero).where(deep)
    with pytest.raises(UsageError, match="takes groups and field__op=value lookups"):
        Or("age = 1")  # type: ignore[arg-type]
    assert repr(Or(And(age=1), name="x")) == "Or(And(age=1), name='x')"
