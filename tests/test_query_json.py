"""Lookups into JSON columns: keys and array indexes walked, the value's
type deciding the comparison (strings, numbers, booleans, ``None``),
``has_key`` and JSON containment; on every backend, sync and async, through
relationships and boolean groups; soft-deleted rows never matched; the SQL
pinned per dialect; bad keys and values refused with `QueryError`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sqlmodel_crud_utils import Count, Or, Q, QueryError
from tests.models_json import JsDevice, JsOwner

DIALECTS = ("sqlite", "postgresql", "mysql")


def devices(db: Any) -> None:
    alice, bob = JsOwner(name="alice"), JsOwner(name="bob")
    db.seed(
        JsDevice(
            name="a",
            owner=alice,
            settings={
                "theme": "dark",
                "size": 12,
                "beta": True,
                "tags": ["x", "y"],
                "nested": {"level": 3},
            },
        ),
        JsDevice(
            name="b",
            owner=alice,
            settings={
                "theme": "light",
                "size": 9.5,
                "beta": False,
                "nested": {"level": 7},
                "code": "5",
            },
        ),
        JsDevice(name="c", owner=bob, settings={"theme": None, "size": 30, "nested": {}}),
        JsDevice(
            name="d",
            settings={"code": 5, "null": 1, "a,b": 2, " spaced ": 3, "{x}": 4, "big": 3 * 10**9},
            extra={"level": 2, "mode": "x"},
        ),
        JsDevice(name="gone", owner=bob, settings={"theme": "dark", "size": 12, "beta": True}),
        JsDevice(name="empty"),
    )
    with db.backend.engine.begin() as conn:
        conn.execute(
            JsDevice.__table__.update()
            .where(JsDevice.__table__.c.name == "gone")
            .values(is_deleted=True)
        )


async def names(db: Any, q: Q[Any]) -> list[str]:
    return [row.name for row in await db.run(q.order_by("name"), "all")]


CASES = [
    ({"settings__theme": "dark"}, ["a"]),
    ({"settings__theme__icontains": "AR"}, ["a"]),
    ({"settings__theme__startswith": "li"}, ["b"]),
    ({"settings__theme__in": ["dark", "light"]}, ["a", "b"]),
    ({"settings__theme__ne": "dark"}, ["b"]),
    ({"settings__size__gt": 10}, ["a", "c"]),
    ({"settings__size__lte": Decimal("9.5")}, ["b"]),
    ({"settings__size__between": [9, 13]}, ["a", "b"]),
    ({"settings__size": 12}, ["a"]),
    ({"settings__size__in": [9.5, 30]}, ["b", "c"]),
    ({"settings__beta": True}, ["a"]),
    ({"settings__beta": False}, ["b"]),
    ({"settings__nested__level__gte": 3}, ["a", "b"]),
    ({"settings__tags__0": "x"}, ["a"]),
    ({"settings__tags__1__in": ["y", "z"]}, ["a"]),
    ({"settings__theme": None}, ["c", "d", "empty"]),
    ({"settings__theme__isnull": True}, ["c", "d", "empty"]),
    ({"settings__theme__isnull": False}, ["a", "b"]),
    ({"settings__theme__ne": None}, ["a", "b"]),
    ({"settings__code": "5"}, ["b"]),  # a string matches JSON strings only
    ({"settings__code": 5}, ["d"]),  # a number JSON numbers only
    ({"settings__size": "12"}, []),
    ({"settings__has_key": "theme"}, ["a", "b", "c"]),
    ({"settings__nested__has_key": "level"}, ["a", "b"]),
    ({"settings__tags__has_key": 1}, ["a"]),
    ({"settings__isnull": True}, ["empty"]),
    # keys PostgreSQL would misread in an unquoted array literal
    ({"settings__has_key": "null"}, ["d"]),
    ({"settings__has_key": "a,b"}, ["d"]),
    ({"settings__a,b": 2}, ["d"]),
    ({"settings__ spaced ": 3}, ["d"]),
    ({"settings__{x}__gte": 4}, ["d"]),
    # beyond 32 bits, bound as NUMERIC
    ({"settings__big": 3 * 10**9}, ["d"]),
    ({"settings__big__gt": 2**31}, ["d"]),
    # JSONB on PostgreSQL through with_variant
    ({"extra__mode": "x", "extra__level__lt": 3}, ["d"]),
    ({"extra__has_key": "level"}, ["d"]),
]


@pytest.mark.parametrize(("lookups", "expected"), CASES, ids=[str(c[0]) for c in CASES])
async def test_json_lookups(db: Any, lookups: dict[str, Any], expected: list[str]) -> None:
    devices(db)
    q = Q(JsDevice).where(**lookups)
    assert await names(db, q) == expected
    assert await db.run(q, "count") == len(expected)


CONTAINS = [
    ({"settings__contains": {"theme": "dark"}}, ["a"]),
    ({"settings__contains": {"nested": {"level": 7}}}, ["b"]),
    ({"settings__tags__contains": ["x"]}, ["a"]),
    ({"settings__nested__contains": {"level": 7}}, ["b"]),
    ({"settings__theme__contains": "igh"}, ["b"]),  # text: a substring
]


@pytest.mark.parametrize(("lookups", "expected"), CONTAINS, ids=[str(c[0]) for c in CONTAINS])
async def test_json_containment(db: Any, lookups: dict[str, Any], expected: list[str]) -> None:
    """Run one after another on one engine: a whole-document and a keyed
    containment must not share a cached statement."""
    devices(db)
    q = Q(JsDevice).where(**lookups)
    is_document = not isinstance(next(iter(lookups.values())), str)
    if db.name == "sqlite" and is_document:
        with pytest.raises(QueryError, match=r"JSON containment .* not sqlite"):
            await db.run(q, "all")
        assert await names(db, Q(JsDevice).where(settings__theme="dark")) == ["a"]
        return
    for other in CONTAINS:
        if db.name != "sqlite" or isinstance(next(iter(other[0].values())), str):
            assert await names(db, Q(JsDevice).where(**other[0])) == other[1]
    assert await names(db, q) == expected


async def test_json_lookups_through_relationships_and_groups(db: Any) -> None:
    devices(db)
    owners = Q(JsOwner).where(devices__settings__theme="dark").order_by("name")
    # bob's dark device is soft-deleted: only alice
    assert [o.name for o in await db.run(owners, "all")] == ["alice"]
    grouped = Q(JsDevice).where(Or(settings__theme="light", settings__size__gte=30))
    assert await names(db, grouped) == ["b", "c"]
    assert await names(db, Q(JsDevice).exclude(settings__has_key="theme")) == ["d", "empty"]
    assert await db.run(Q(JsDevice).where(settings__beta=True), "exists") is True


async def test_soft_deleted_rows_are_never_matched(db: Any) -> None:
    devices(db)
    assert await names(db, Q(JsDevice).where(settings__size=12)) == ["a"]
    both = Q(JsDevice).where(settings__size=12).soft("include")
    assert await names(db, both) == ["a", "gone"]


def test_one_statement_per_shape() -> None:
    first = Q(JsDevice).where(settings__size__gt=10, settings__theme="dark")
    second = Q(JsDevice).where(settings__size__gt=99, settings__theme="x")
    assert first.sql("postgresql") == second.sql("postgresql")
    as_text = Q(JsDevice).where(settings__size__gt="10")
    assert as_text.sql("postgresql") != first.sql("postgresql")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_json_sql(snapshot: Any, dialect: str) -> None:
    q = Q(JsDevice).where(
        settings__theme="dark",
        settings__nested__level__gt=2,
        settings__beta=True,
        settings__code__isnull=True,
        settings__has_key="size",
    )
    assert q.sql(dialect) == snapshot
    if dialect != "sqlite":
        contains = Q(JsDevice).where(settings__contains={"a": 1}, settings__tags__contains=["x"])
        assert contains.sql(dialect) == snapshot


@pytest.mark.parametrize(
    ("lookups", "message"),
    [
        ({"settings__theme__match": "x"}, "'match' .* does not apply to JSON"),
        ({"settings__tags__overlap": ["x"]}, "'overlap' .* does not apply to JSON"),
        ({"settings__len": 3}, "'len' .* does not apply to JSON"),
        ({"settings__theme": ["dark"]}, "takes a string, a number, a boolean or None"),
        ({"settings__theme": {"a": 1}}, "takes a string, a number, a boolean or None"),
        ({"settings__size__in": [1, "a"]}, "values of one kind"),
        ({"settings__size__in": "abc"}, "a list of values"),
        ({"settings__size": float("nan")}, "a finite number"),
        ({"settings__size": 10**40}, "at most 35 digits"),
        ({"settings__size__gt": True}, "not None or a boolean"),
        ({"settings__theme__icontains": 3}, "takes a string"),
        ({"settings__beta__icontains": True}, "needs text"),
        ({"settings__gt": 3}, "compares a whole JSON field"),
        ({"settings__contains": "dark"}, "takes a dict or a list"),
        ({"settings__has_key": None}, "takes a key"),
        ({"settings__has_key": 'a"b'}, "invalid JSON key"),
        ({'settings__a"b': 1}, "invalid JSON key"),
        ({"settings____a": 1}, "invalid JSON key"),
        ({"settings__size__gt": 10**40}, "at most 35 digits"),
    ],
)
def test_bad_json_lookups_are_refused(lookups: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError, match=message) as caught:
        Q(JsDevice).where(**lookups)
    assert caught.value.key == next(iter(lookups))


async def test_the_session_stays_usable_after_a_refused_lookup(db: Any) -> None:
    devices(db)
    if db.name == "sqlite":
        with pytest.raises(QueryError):
            await db.run(Q(JsDevice).where(settings__contains={"a": 1}), "all")
    with pytest.raises(QueryError):
        Q(JsDevice).where(settings__size=float("inf"))
    assert await names(db, Q(JsDevice).where(settings__size=30)) == ["c"]


async def test_a_whole_json_field_compares_as_before(db: Any) -> None:
    """``settings={...}`` is SQLAlchemy's own column comparison (PostgreSQL's
    ``json`` type has no ``=``; SQLite and MariaDB compare the text)."""
    devices(db)
    if db.name == "postgresql":
        pytest.skip("PostgreSQL has no equality operator for json")
    rows = await names(db, Q(JsDevice).where(settings={"code": 5}))
    assert rows == []  # the stored document has more keys
    assert await names(db, Q(JsDevice).where(extra={"level": 2, "mode": "x"})) == ["d"]


async def test_cached_reads_and_printing_of_json_lookups(db: Any) -> None:
    devices(db)
    q = Q(JsDevice).where(settings__theme="dark", settings__has_key="size")
    assert "json_extract" in str(q)
    assert "JSON_CONTAINS" in str(Q(JsDevice).where(settings__contains={"a": 1}))
    if db.mode == "sync":
        assert [d.name for d in q.cached().all(db.session)] == ["a"]
        assert [d.name for d in q.cached().all(db.session)] == ["a"]


async def test_json_keys_are_not_projected_fields(db: Any) -> None:
    with pytest.raises(QueryError, match="not keys inside a JSON field"):
        await db.run(Q(JsDevice), "values_list", "settings__theme")
    with pytest.raises(QueryError, match="not keys inside a JSON field"):
        await db.run(Q(JsDevice).group_by("settings__theme"), "aggregate", n=Count())


async def test_a_whole_json_field_is_still_a_field(db: Any) -> None:
    devices(db)
    rows = await db.run(Q(JsDevice).where(name="d"), "values", "name", "extra")
    assert rows == [{"name": "d", "extra": {"level": 2, "mode": "x"}}]
