"""Annotations (`Q.annotate`): per-row aggregates over related rows, read
with `values`, filtered and ordered on; on every backend, sync and async;
soft-deleted related rows never counted; the SQL pinned per dialect; bad
annotations refused with `QueryError`."""

from __future__ import annotations

from typing import Any

import pytest

from sqlmodel_crud_utils import Avg, Count, Max, Min, Q, QueryError, Sum
from tests.models import Hero, Team
from tests.models_softaudit import SaAuthor as Author
from tests.models_softaudit import SaBook as Book

DIALECTS = ("sqlite", "postgresql", "mysql")


def teams(db: Any) -> None:
    avengers, defenders, empty = Team(name="Avengers"), Team(name="Defenders"), Team(name="Empty")
    db.seed(
        Hero(name="Iron Man", age=48, team=avengers),
        Hero(name="Spider-Man", age=17, team=avengers),
        Hero(name="Thor", age=1500, team=avengers),
        Hero(name="Daredevil", age=32, team=defenders),
        Hero(name="Jessica", team=defenders),
        Hero(name="Loner", age=40),
        empty,
    )


def library(db: Any) -> None:
    ann, bob, cat = Author(name="ann"), Author(name="bob"), Author(name="cat")
    db.seed(
        Book(title="a1", author=ann),
        Book(title="a2", author=ann),
        Book(title="a3", author=ann, is_deleted=True),
        Book(title="b1", author=bob, is_deleted=True),
        cat,
    )


STATS = Q(Team).annotate(
    n=Count("members"),
    aged=Count("members__age"),
    oldest=Max("members__age"),
    youngest=Min("members__age"),
    years=Sum("members__age"),
    mean=Avg("members__age"),
)


async def test_values_carry_the_annotations(db: Any) -> None:
    teams(db)
    rows = await db.run(STATS.order_by("name"), "values", "name", "n", "aged", "oldest", "years")
    assert rows == [
        {"name": "Avengers", "n": 3, "aged": 3, "oldest": 1500, "years": 1565},
        {"name": "Defenders", "n": 2, "aged": 1, "oldest": 32, "years": 32},
        {"name": "Empty", "n": 0, "aged": 0, "oldest": None, "years": None},
    ]
    means = await db.run(STATS.order_by("name"), "values_list", "mean", flat=True)
    assert [None if m is None else round(float(m), 2) for m in means] == [521.67, 32.0, None]


async def test_filtering_and_ordering_on_an_annotation(db: Any) -> None:
    teams(db)
    crowded = STATS.where(n__gte=2).order_by("-n", "name")
    assert await db.run(crowded, "values_list", "name", flat=True) == ["Avengers", "Defenders"]
    assert await db.run(crowded, "count") == 2
    assert [t.name for t in await db.run(STATS.where(n=0), "all")] == ["Empty"]
    assert [t.name for t in await db.run(STATS.exclude(n__lt=3), "all")] == ["Avengers"]
    # values arriving as text (a query string) are coerced to the aggregate's type
    assert await db.run(STATS.where(n__in=["2", "3"], name__startswith="D"), "count") == 1
    assert await db.run(STATS.where(oldest__gt=100), "values_list", "name", flat=True) == [
        "Avengers"
    ]
    page = await db.run(STATS.order_by("-n", "name"), "paginate", 1, 2)
    assert [t.name for t in page.items] == ["Avengers", "Defenders"]
    assert page.total == 3


async def test_values_without_fields_add_every_annotation(db: Any) -> None:
    teams(db)
    q = Q(Team).annotate(n=Count("members")).where(name="Empty")
    (row,) = await db.run(q, "values")
    assert list(row) == [*Team.model_fields, "n"]
    assert (row["name"], row["n"]) == ("Empty", 0)


async def test_soft_deleted_related_rows_do_not_count(db: Any) -> None:
    library(db)
    q = Q(Author).annotate(n=Count("books"), last=Max("books__title")).order_by("name")
    assert await db.run(q, "values", "name", "n", "last") == [
        {"name": "ann", "n": 2, "last": "a2"},
        {"name": "bob", "n": 0, "last": None},
        {"name": "cat", "n": 0, "last": None},
    ]
    assert await db.run(q.where(n__gte=1), "values_list", "name", flat=True) == ["ann"]
    everything = q.soft("include")
    assert await db.run(everything, "values_list", "name", "n") == [
        ("ann", 3),
        ("bob", 1),
        ("cat", 0),
    ]


async def test_two_to_many_annotations_do_not_multiply(db: Any) -> None:
    teams(db)
    q = Q(Team).annotate(heroes=Count("members"), ages=Count("members__age")).where(name="Avengers")
    assert await db.run(q, "values_list", "heroes", "ages") == [(3, 3)]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_annotate_sql(snapshot: Any, dialect: str) -> None:
    q = Q(Author).annotate(n=Count("books")).where(n__gte=2).order_by("-n")
    assert q.sql(dialect) == snapshot


def test_annotated_queries_share_templates_by_shape() -> None:
    first = Q(Team).annotate(n=Count("members")).where(n__gte=1, name="a")
    second = Q(Team).annotate(n=Count("members")).where(n__gte=5, name="b")
    assert first.sql("postgresql") == second.sql("postgresql")
    assert "5" not in second.sql("postgresql")
    other = Q(Team).annotate(n=Count("members__age")).where(n__gte=1, name="a")
    assert other.sql("postgresql") != first.sql("postgresql")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Q(Team).annotate(), "at least one aggregate"),
        (lambda: Q(Team).annotate(n=Count()), "names no relationship"),
        (lambda: Q(Team).annotate(n=Count("name")), "names no relationship"),
        (lambda: Q(Team).annotate(n=Count("nope")), "unknown field or relationship 'nope'"),
        (lambda: Q(Team).annotate(n=Sum("members")), "needs a field of the related rows"),
        (lambda: Q(Team).annotate(n=Sum("members__name")), r"Sum\(\) cannot aggregate"),
        (lambda: Q(Team).annotate(name=Count("members")), "already a field"),
        (lambda: Q(Team).annotate(members=Count("members")), "already a field"),
        (lambda: Q(Team).annotate(_n=Count("members")), "annotation names"),
        (lambda: Q(Team).annotate(n=3), "takes Count, Sum, Avg, Min or Max"),
        (
            lambda: Q(Team).annotate(n=Count("members")).annotate(n=Max("members__age")),
            "defined twice",
        ),
        (lambda: Q(Team).annotate(n=Count("members")).where(n__gte="x"), "'n__gte'"),
        (lambda: Q(Team).annotate(n=Count("members")).where(n__foo=1), "unknown operator 'foo'"),
        (lambda: Q(Team).group_by("name").annotate(n=Count("members")), "per group"),
        (lambda: Q(Team).annotate(n=Count("members")).group_by("name"), "annotations are per row"),
        (lambda: Q(Team).where(n__gte=1), "unknown field 'n'"),
        (
            lambda: Q(Team).annotate(n=Count("members")).where(n__contains="1"),
            "'contains' .* does not apply to annotation 'n'",
        ),
        (lambda: Q(Team).annotate(n=Count("members")).where(n=True), "must be int"),
        (
            lambda: Q(Team).annotate(n=Count("members")).exclude(n__gte=1, name="a"),
            "cannot mix annotations and fields",
        ),
    ],
)
def test_bad_annotations_are_refused(build: Any, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        build()


async def test_values_refuse_an_annotation_named_twice(db: Any) -> None:
    with pytest.raises(QueryError, match="named twice"):
        await db.run(Q(Team).annotate(n=Count("members")), "values", "n", "n")
