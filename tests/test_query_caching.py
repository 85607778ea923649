"""Queries that differ only in values share SQLAlchemy's compiled-statement cache."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event
from sqlalchemy.engine.default import DefaultExecutionContext

from sqlmodel_crud_utils import Q
from tests.models import Hero

UTC = dt.timezone.utc  # datetime.UTC is Python 3.11+

# Any warning at all (SQLAlchemy, drivers, our code) fails these tests.
pytestmark = pytest.mark.filterwarnings("error")

CacheStats = type(DefaultExecutionContext.cache_hit)

PAIRS = [
    ({"name": "a"}, {"name": "b"}),
    ({"age__gt": 1}, {"age__gt": "99"}),
    ({"age__in": [1, 2]}, {"age__in": [3, 4, 5]}),
    ({"age__not_in": [1]}, {"age__not_in": [7, 8]}),
    ({"age__between": (1, 2)}, {"age__between": ("5", "9")}),
    ({"name__icontains": "a%"}, {"name__icontains": "zz"}),
    ({"name__startswith": "a"}, {"name__startswith": "b_"}),
    ({"name__like": "a%"}, {"name__like": "%b"}),
    ({"bio__match": "wizard"}, {"bio__match": "pilot"}),
    (
        {"seen_at__lt": "2024-01-01"},
        {"seen_at__lt": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)},
    ),
    ({"team__city__name": "x"}, {"team__city__name": "y"}),
    ({"team__members__bio__match": "wizard"}, {"team__members__bio__match": "pilot"}),
]


@pytest.mark.parametrize(("one", "two"), PAIRS, ids=[next(iter(p[0])) for p in PAIRS])
def test_queries_differing_in_values_share_a_cache_key(one, two):
    first = Q(Hero).where(**one).order_by("-age").page(2, size=10).statement
    second = Q(Hero).where(**two).order_by("-age").page(5, size=10).statement
    key1, key2 = first._generate_cache_key(), second._generate_cache_key()
    assert key1 is not None
    assert key1.key == key2.key
    assert key1 != Q(Hero).where(**one).order_by("age").statement._generate_cache_key()


def test_cache_key_carries_the_values_as_parameters():
    key = Q(Hero).where(name="a", age__gt=3).statement._generate_cache_key()
    assert [b.value for b in key.bindparams] == ["a", 3]


async def test_repeated_queries_hit_the_compiled_cache(db):
    db.seed(Hero(name="alpha", age=1, bio="wizard"), Hero(name="beta", age=2, bio="pilot"))
    hits: list[object] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        hits.append(context.cache_hit)

    engine = db.engine
    queries = [
        (
            "all",
            lambda v: Q(Hero).where(name=v, age__in=[1, 2, 3][: len(v) % 3 + 1]).order_by("age"),
        ),
        ("count", lambda v: Q(Hero).where(name__icontains=v)),
        ("exists", lambda v: Q(Hero).where(bio__match=v)),
        ("first", lambda v: Q(Hero).where(team__name=v)),
    ]
    for terminal, build in queries:
        await db.run(build("alpha"), terminal)  # warm up
        size = len(engine._compiled_cache)
        event.listen(engine, "before_cursor_execute", record)
        try:
            hits.clear()
            await db.run(build("beta"), terminal)
            await db.run(build("wizard"), terminal)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert hits, terminal
        assert all(hit == CacheStats.CACHE_HIT for hit in hits), (terminal, hits)
        assert len(engine._compiled_cache) == size, terminal
