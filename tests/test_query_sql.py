"""Compiled SQL of every operator, pinned per dialect with syrupy snapshots."""

from __future__ import annotations

import pytest

from sqlmodel_crud_utils import Q
from tests.models import Hero

DIALECTS = ("sqlite", "postgresql", "mysql")

OPERATOR_LOOKUPS = {
    "eq": {"name": "Alpha"},
    "ne": {"age__ne": 10},
    "lt": {"age__lt": 20},
    "lte": {"age__lte": 20},
    "gt": {"age__gt": 10},
    "gte": {"age__gte": 30},
    "in": {"age__in": [10, 30]},
    "in_empty": {"age__in": []},
    "not_in": {"age__not_in": [10]},
    "not_in_empty": {"age__not_in": []},
    "like": {"name__like": "G%"},
    "ilike": {"name__ilike": "d%"},
    "contains": {"name__contains": "50%_x"},
    "icontains": {"name__icontains": "50%_x"},
    "startswith": {"name__startswith": "be"},
    "istartswith": {"name__istartswith": "be"},
    "endswith": {"name__endswith": "a"},
    "iendswith": {"name__iendswith": "a"},
    "isnull": {"age__isnull": True},
    "isnull_false": {"age__isnull": False},
    "between": {"age__between": (10, 20)},
    "match": {"bio__match": "wizard pilot"},
    "relationship": {"team__city__name": "New York"},
    "relationship_match": {"team__members__bio__match": "pilot"},
}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", list(OPERATOR_LOOKUPS))
def test_operator_sql(snapshot, name, dialect):
    q = Q(Hero).only("name").where(**OPERATOR_LOOKUPS[name])
    assert q.sql(dialect) == snapshot
    assert q.sql(dialect, literal=True) == snapshot


@pytest.mark.parametrize("dialect", DIALECTS)
def test_full_query_sql(snapshot, dialect):
    q = (
        Q(Hero)
        .where(Hero.age > 30, name__icontains="man", team__name="Avengers")
        .where_any(age__lt=5, rating__gte=4.5)
        .exclude(is_active=False)
        .order_by("-age", "name")
        .page(2, size=20)
    )
    assert q.sql(dialect) == snapshot


def test_str_is_sql_and_repr_names_the_model():
    q = Q(Hero).where(age__gt=3)
    assert str(q) == q.sql()
    assert repr(q).startswith("<Q Hero: SELECT hero.id")


def test_statements_bind_values_never_inline_them():
    q = Q(Hero).where(name="x' OR 1=1 --", age__in=[1, 2])
    for dialect in DIALECTS:
        assert "OR 1=1" not in q.sql(dialect)
    assert "OR 1=1" in q.sql("sqlite", literal=True)  # quoted, for debugging only
    assert "'x'' OR 1=1 --'" in q.sql("sqlite", literal=True)
