"""String values are coerced to the column's Python type (web query parameters)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest

from sqlmodel_crud_utils import Q, QueryError
from tests.models import Hero, HeroKind
from tests.models_query import Color, Level, QItem

# Any warning at all (SQLAlchemy, drivers, our code) fails these tests.
pytestmark = pytest.mark.filterwarnings("error")

UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def seed(db):
    db.seed(
        Hero(
            name="a",
            age=30,
            rating=4.5,
            is_active=True,
            born=dt.date(1990, 5, 17),
            seen_at=dt.datetime(2024, 1, 31, 10, 30, 0, tzinfo=dt.timezone.utc),
            alarm=dt.time(7, 15),
            uid=UID,
            kind=HeroKind.mutant,
        ),
        Hero(
            name="b",
            age=40,
            rating=2.0,
            is_active=False,
            born=dt.date(1980, 1, 1),
            seen_at=dt.datetime(2024, 2, 1, 0, 0, 0, tzinfo=dt.timezone.utc),
            alarm=dt.time(9, 0),
            uid=uuid.uuid4(),
            kind=HeroKind.human,
        ),
    )
    db.seed(
        QItem(name="x", price=decimal.Decimal("9.99"), color=Color.GREEN, level=Level.HIGH),
        QItem(name="y", price=decimal.Decimal("20.00"), color=Color.RED, level=Level.LOW),
    )


HERO_CASES = [
    ({"age": "30"}, ["a"]),
    ({"age__gt": "35"}, ["b"]),
    ({"age__in": ["30", "40"]}, ["a", "b"]),
    ({"rating__gte": "4.25"}, ["a"]),
    ({"is_active": "true"}, ["a"]),
    ({"is_active": "off"}, ["b"]),
    ({"is_active": "0"}, ["b"]),
    ({"born": "1990-05-17"}, ["a"]),
    ({"born__lt": "1985-01-01"}, ["b"]),
    ({"seen_at": "2024-01-31T10:30:00"}, ["a"]),
    ({"seen_at": "2024-01-31 10:30:00"}, ["a"]),
    ({"seen_at": "2024-01-31T10:30:00Z"}, ["a"]),
    ({"seen_at": "2024-01-31T12:30:00+02:00"}, ["a"]),
    ({"seen_at__lt": "2024-02-01T00:00:00Z"}, ["a"]),
    ({"alarm": "07:15:00"}, ["a"]),
    ({"alarm__gt": "08:00"}, ["b"]),
    ({"alarm": "07:15Z"}, ["a"]),
    ({"uid": str(UID)}, ["a"]),
    ({"uid": UID.hex}, ["a"]),
    ({"kind": "mutant"}, ["a"]),
    ({"kind__in": ["human"]}, ["b"]),
]


@pytest.mark.parametrize(("lookups", "expected"), HERO_CASES)
async def test_strings_are_coerced_to_the_column_type(db, lookups, expected):
    seed(db)
    rows = await db.run(Q(Hero).where(**lookups).order_by("name"), "all")
    assert [h.name for h in rows] == expected


ITEM_CASES = [
    ({"price": "9.99"}, ["x"]),
    ({"price__gt": "10"}, ["y"]),
    ({"color": "g"}, ["x"]),  # by value
    ({"color": "GREEN"}, ["x"]),  # by name
    ({"level": "2"}, ["x"]),  # IntEnum by value text
    ({"level": "LOW"}, ["y"]),  # by name
]


@pytest.mark.parametrize(("lookups", "expected"), ITEM_CASES)
async def test_decimal_and_enum_coercion(db, lookups, expected):
    seed(db)
    rows = await db.run(Q(QItem).where(**lookups).order_by("name"), "all")
    assert [i.name for i in rows] == expected


def test_coerced_values_have_the_column_type():
    assert Q(Hero).where(age="7").statement.whereclause.right.value == 7
    clause = Q(QItem).where(price="1.50").statement.whereclause
    assert clause.right.value == decimal.Decimal("1.50")
    assert Q(QItem).where(color="r").statement.whereclause.right.value is Color.RED
    # SQLModel >= 0.0.50 maps ``datetime`` to DateTime(timezone=True); older
    # versions to a naive DateTime: coercion follows the column's actual type
    aware = Hero.__table__.c.seen_at.type.timezone
    utc = dt.timezone.utc if aware else None
    clause = Q(Hero).where(seen_at="2024-01-31T10:30:00Z").statement.whereclause
    assert clause.right.value == dt.datetime(2024, 1, 31, 10, 30, tzinfo=utc)
    assert (clause.right.value.tzinfo is not None) == bool(aware)
    clause = Q(Hero).where(seen_at="2024-01-31T10:30:00").statement.whereclause
    assert clause.right.value == dt.datetime(2024, 1, 31, 10, 30, tzinfo=utc)  # naive text is UTC
    assert clause.right.value.tzinfo is utc
    clause = Q(Hero).where(alarm="12:00+02:00").statement.whereclause
    assert clause.right.value == dt.time(10, 0)  # naive column: converted to UTC, naive
    assert str(Q(Hero).where(is_active="yes").statement.whereclause) == "hero.is_active = true"


def test_non_string_values_pass_unchanged():
    aware = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    assert Q(Hero).where(seen_at=aware).statement.whereclause.right.value is aware


@pytest.mark.parametrize(
    ("model", "key", "value"),
    [
        (Hero, "age__gt", "abc"),
        (Hero, "age", "1.5"),
        (Hero, "rating", "fast"),
        (Hero, "is_active", "maybe"),
        (Hero, "born", "1990-13-01"),
        (Hero, "seen_at", "yesterday"),
        (Hero, "alarm", "25:00"),
        (Hero, "uid", "not-a-uuid"),
        (Hero, "kind", "robot"),
        (Hero, "age__in", ["1", "x"]),
        (Hero, "age__between", ["1", "x"]),
        (QItem, "price", "NaN"),
        (QItem, "price", "ten"),
        (QItem, "level", "3"),
        (QItem, "color", "blue"),
    ],
)
def test_uncoercible_values_raise_query_error_naming_model_key_value(model, key, value):
    with pytest.raises(QueryError) as info:
        Q(model).where(**{key: value})
    error = info.value
    assert error.model is model
    assert error.key == key
    assert model.__name__ in str(error)
    assert key in str(error)
    bad = value if isinstance(value, str) else value[-1]
    assert error.value == bad
    assert repr(bad) in str(error)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31T12:30:00+02:00", dt.datetime(2024, 1, 31, 10, 30)),
        ("2024-01-31T10:30:00Z", dt.datetime(2024, 1, 31, 10, 30)),
        ("2024-01-31T10:30:00", dt.datetime(2024, 1, 31, 10, 30)),  # naive text counts as UTC
    ],
)
def test_datetime_coercion_reads_the_column_type(text, expected):
    from tests.models_query import QStamp

    aware = Q(QStamp).where(aware_at=text).statement.whereclause.right.value
    assert aware == expected.replace(tzinfo=dt.timezone.utc)
    assert aware.tzinfo is not None
    naive = Q(QStamp).where(naive_at=text).statement.whereclause.right.value
    assert naive == expected
    assert naive.tzinfo is None
