"""Hostile inputs end in a `QueryError` naming model, key and value (or, when
the value is legitimate, in the right rows) on every backend, sync and async;
``lazy="joined"`` relationships work with every terminal; a session of the
wrong kind raises `SessionTypeError`."""

from __future__ import annotations

import base64
import datetime as dt
import decimal

import pytest
from sqlalchemy.pool import NullPool
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import (
    Q,
    QueryError,
    SessionTypeError,
    SQLModelCRUDError,
    TransactionError,
)
from sqlmodel_crud_utils.exceptions import ConstraintError
from sqlmodel_crud_utils.stream import MAX_BATCH_SIZE
from tests.models import Hero
from tests.models_query import QItem, QJoinedOwner, QJoinedPet

pytestmark = pytest.mark.filterwarnings("error")

UTC = dt.timezone.utc
DEEP_CURSOR = base64.urlsafe_b64encode(b"[" * 3000).decode()

# (label, query, terminal, kwargs, model, key, value)
HOSTILE = [
    (
        "deep cursor",
        lambda: Q(Hero).order_by("id"),
        "keyset",
        {"after": DEEP_CURSOR},
        Hero,
        "cursor",
        DEEP_CURSOR,
    ),
    ("gt None", lambda: Q(Hero).where(age__gt=None), "all", {}, Hero, "age__gt", None),
    ("gte True", lambda: Q(Hero).where(age__gte=True), "all", {}, Hero, "age__gte", True),
    (
        "between None",
        lambda: Q(Hero).where(age__between=(None, 3)),
        "all",
        {},
        Hero,
        "age__between",
        None,
    ),
    ("datetime int", lambda: Q(Hero).where(seen_at__gte=5), "all", {}, Hero, "seen_at__gte", 5),
    ("surrogate", lambda: Q(Hero).where(name="\ud800"), "all", {}, Hero, "name", "\ud800"),
    (
        "surrogate like",
        lambda: Q(Hero).where(name__icontains="a\udfff"),
        "count",
        {},
        Hero,
        "name__icontains",
        "a\udfff",
    ),
    (
        "like lone escape",
        lambda: Q(Hero).where(name__like="%\\"),
        "all",
        {},
        Hero,
        "name__like",
        "%\\",
    ),
    ("fk False", lambda: Q(Hero).where(team_id=False), "all", {}, Hero, "team_id", False),
    ("in True", lambda: Q(Hero).where(team_id__in=[True]), "all", {}, Hero, "team_id__in", True),
    (
        "decimal NaN",
        lambda: Q(QItem).where(price=decimal.Decimal("NaN")),
        "all",
        {},
        QItem,
        "price",
        None,
    ),
    (
        "decimal sNaN",
        lambda: Q(QItem).where(price__lt=decimal.Decimal("sNaN")),
        "all",
        {},
        QItem,
        "price__lt",
        None,
    ),
    (
        "numeric huge negative",
        lambda: Q(QItem).where(price__gt=decimal.Decimal("-1e20")),
        "all",
        {},
        QItem,
        "price__gt",
        decimal.Decimal("-1e20"),
    ),
    (
        "numeric huge float",
        lambda: Q(QItem).where(price__lt=-1e300),
        "all",
        {},
        QItem,
        "price__lt",
        -1e300,
    ),
    (
        "keyset size",
        lambda: Q(Hero).order_by("id"),
        "keyset",
        {"size": 2**63 - 1},
        Hero,
        "size",
        2**63 - 1,
    ),
    ("stream batch", lambda: Q(Hero), "stream", {"batch_size": 2**31}, Hero, "batch_size", 2**31),
    ("update NOT NULL", lambda: Q(Hero), "update", {"name": None}, Hero, "name", None),
    ("update too long", lambda: Q(Hero), "update", {"name": "x" * 101}, Hero, "name", "x" * 101),
]


async def run(db, q, terminal, **kwargs):
    if terminal != "stream":
        return await db.run(q, terminal, **kwargs)
    if db.async_session is None:
        return list(q.stream(db.session, **kwargs))
    return [row async for row in q.a_stream(db.async_session, **kwargs)]


@pytest.mark.parametrize(
    ("build", "terminal", "kwargs", "model", "key", "value"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
async def test_hostile_input_is_a_query_error_naming_model_key_and_value(
    db, build, terminal, kwargs, model, key, value
):
    db.seed(Hero(name="h", age=3), QItem(name="i", price=decimal.Decimal("1.50")))
    with pytest.raises(QueryError) as info:
        await run(db, build(), terminal, **kwargs)
    error = info.value
    assert error.model is model
    assert error.key == key
    if value is not None:
        assert error.value == value
    assert str(error).startswith(f"{model.__name__}: ")


async def test_legitimate_edge_values_return_the_right_rows(db):
    seen = dt.datetime(2021, 6, 1, 12, tzinfo=UTC)
    db.seed(Hero(name="a\\", age=1, seen_at=seen), Hero(name="b", age=2))
    naive = dt.datetime(2021, 6, 1, 11)  # taken as UTC: before ``seen``
    assert [h.name for h in await db.run(Q(Hero).where(seen_at__gte=naive), "all")] == ["a\\"]
    assert await db.run(Q(Hero).where(seen_at__gt=dt.date(2021, 6, 2)), "count") == 0
    assert await db.run(Q(Hero).where(seen_at__lt=dt.date(2021, 6, 2)), "count") == 1
    assert await db.run(Q(Hero).where(name__like="a\\\\"), "count") in (0, 1)  # escape rules differ
    assert await db.run(Q(Hero).where(age__gt=-(2**31)), "count") == 2
    assert await db.run(Q(Hero).where(age=None), "count") == 0
    page = await db.run(Q(Hero).order_by("id"), "keyset", size=2**63 - 2)
    assert [h.name for h in page.items] == ["a\\", "b"]
    rows = await run(db, Q(Hero).order_by("id"), "stream", batch_size=MAX_BATCH_SIZE)
    assert [h.name for h in rows] == ["a\\", "b"]


async def test_numeric_range_edges_are_accepted(db):
    db.seed(QItem(name="max", price=decimal.Decimal("99999999.99")))
    rows = await db.run(Q(QItem).where(price__gte=decimal.Decimal("99999999.99")), "all")
    assert [i.name for i in rows] == ["max"]
    assert await db.run(Q(QItem).where(price__gt=decimal.Decimal("-99999999.99")), "count") == 1


async def test_a_write_the_database_refuses_is_a_constraint_error(db):
    db.seed(Hero(name="h"))
    if db.name == "sqlite":
        with db.backend.engine.connect() as conn:
            if not conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
                pytest.skip("this SQLite engine does not enforce foreign keys")
    with pytest.raises(ConstraintError, match="Hero: ") as info:
        await db.run(Q(Hero), "update", team_id=999_999)
    assert isinstance(info.value, TransactionError)  # what 0.2.0 callers catch
    assert info.value.constraint is not None
    assert info.value.__cause__ is not None
    assert await db.run(Q(Hero), "count") == 1  # the session was rolled back and works


def seed_owners(db):
    owner, other = db.seed(QJoinedOwner(name="o"), QJoinedOwner(name="p"))
    db.seed(
        QJoinedPet(name="a", owner_id=owner.id),
        QJoinedPet(name="b", owner_id=owner.id),
        QJoinedPet(name="c", owner_id=other.id),
    )
    return owner, other


async def test_lazy_joined_relationships_work_with_every_terminal(db):
    owner, _ = seed_owners(db)
    q = Q(QJoinedOwner).order_by("id")
    rows = await db.run(q, "all")
    assert [o.name for o in rows] == ["o", "p"]
    assert sorted(p.name for p in rows[0].pets) == ["a", "b"]
    assert (await db.run(q, "first")).name == "o"
    assert (await db.run(q.where(name="p"), "one")).name == "p"
    assert (await db.run(q.where(name="o"), "one_or_none")).name == "o"
    assert (await db.run(q, "get", owner.id)).name == "o"
    assert await db.run(q, "count") == 2
    assert await db.run(q, "exists") is True
    page = await db.run(q, "paginate", page=1, size=1)
    assert [o.name for o in page.items] == ["o"]
    assert page.total == 2
    cursor_page = await db.run(q, "keyset", size=1)
    assert [o.name for o in cursor_page.items] == ["o"]
    cursor_page = await db.run(q, "keyset", size=1, after=cursor_page.next_cursor)
    assert [o.name for o in cursor_page.items] == ["p"]
    assert [o.name for o in await run(db, q, "stream", batch_size=1)] == ["o", "p"]
    pets = await db.run(Q(QJoinedPet).where(owner__name="o").order_by("name"), "all")
    assert [p.name for p in pets] == ["a", "b"]
    assert pets[0].owner.name == "o"
    assert await db.run(Q(QJoinedPet).where(name="c"), "update", name="d") == 1
    assert await db.run(Q(QJoinedPet).where(name="d"), "delete") == 1


SYNC_CALLS = [
    ("all", ()),
    ("first", ()),
    ("one", ()),
    ("one_or_none", ()),
    ("get", (1,)),
    ("count", ()),
    ("exists", ()),
    ("paginate", ()),
    ("keyset", ()),
    ("stream", ()),
    ("update", ()),
    ("delete", ()),
]


async def call_async(method, session, args):
    if method == "stream":
        return [row async for row in Q(Hero).a_stream(session)]
    return await getattr(Q(Hero), f"a_{method}")(session, *args)


@pytest.mark.parametrize(("method", "args"), SYNC_CALLS, ids=[c[0] for c in SYNC_CALLS])
async def test_a_session_of_the_wrong_kind_names_the_method_to_call(backend, method, args):
    engine = backend.async_engine(poolclass=NullPool)
    try:
        async with AsyncSession(engine) as async_session:
            with pytest.raises(SessionTypeError, match=rf"Q\.{method}\(\).*a_{method}") as info:
                getattr(Q(Hero), method)(async_session, *args)
        assert isinstance(info.value, TypeError)
        assert isinstance(info.value, SQLModelCRUDError)
        expected = rf"Q\.a_{method}\(\).*q\.{method}"
        with Session(backend.engine) as session, pytest.raises(SessionTypeError, match=expected):
            await call_async(method, session, args)
    finally:
        await engine.dispose()
