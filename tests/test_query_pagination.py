"""Offset pagination (`paginate`) and keyset pagination (`keyset`)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from sqlmodel import Session

from sqlmodel_crud_utils import CursorPage, Page, Q, QueryError
from tests.models import Hero

# Any warning at all (SQLAlchemy, drivers, our code) fails these tests.
pytestmark = pytest.mark.filterwarnings("error")

# ------------------------------------------------------------------ paginate


def seed_named(db, n):
    db.seed_many(Hero, [{"name": f"h{i:03d}", "age": i % 5} for i in range(n)])


async def test_paginate_fields(db):
    seed_named(db, 45)
    page = await db.run(Q(Hero).order_by("name"), "paginate", 2, 20)
    assert isinstance(page, Page)
    assert [h.name for h in page.items] == [f"h{i:03d}" for i in range(20, 40)]
    assert (page.total, page.page, page.size, page.pages) == (45, 2, 20, 3)
    assert (page.has_next, page.has_prev) == (True, True)
    last = await db.run(Q(Hero).order_by("name"), "paginate", 3, 20)
    assert [h.name for h in last.items] == [f"h{i:03d}" for i in range(40, 45)]
    assert (last.total, last.pages, last.has_next, last.has_prev) == (45, 3, False, True)
    beyond = await db.run(Q(Hero).order_by("name"), "paginate", 9, 20)
    assert (beyond.items, beyond.total, beyond.has_next, beyond.has_prev) == ([], 45, False, True)


async def test_paginate_total_ignores_limit_and_offset_but_honours_filters(db):
    seed_named(db, 30)
    q = Q(Hero).where(age=0).order_by("name").limit(2).offset(3)
    page = await db.run(q, "paginate", 1, 4)
    assert page.total == 6
    assert [h.name for h in page.items] == ["h000", "h005", "h010", "h015"]


async def test_paginate_empty(db):
    page = await db.run(Q(Hero), "paginate")
    assert (page.items, page.total, page.pages, page.has_next, page.has_prev) == (
        [],
        0,
        0,
        False,
        False,
    )


async def test_paginate_skips_count_when_page_is_not_full(db):
    seed_named(db, 45)
    q = Q(Hero).order_by("name")
    with db.count_statements() as seen:
        page = await db.run(q, "paginate", 3, 20)
    assert page.total == 45
    assert len(seen) == 1
    assert not any("count(" in s.lower() for s in seen)
    with db.count_statements() as seen:
        page = await db.run(q, "paginate", 1, 20)
    assert page.total == 45
    assert len(seen) == 2
    assert "count(" in seen[1].lower()
    with db.count_statements() as seen:
        page = await db.run(Q(Hero).where(age=99), "paginate", 1, 20)
    assert page.total == 0
    assert len(seen) == 1
    with db.count_statements() as seen:  # past the end: the total needs a COUNT
        page = await db.run(q, "paginate", 5, 20)
    assert page.total == 45
    assert len(seen) == 2


async def test_paginate_page_is_a_pydantic_model():
    page = Page[int].build([1, 2], total=2, page=1, size=10)
    assert page.model_dump() == {
        "items": [1, 2],
        "total": 2,
        "page": 1,
        "size": 10,
        "pages": 1,
        "has_next": False,
        "has_prev": False,
    }


# -------------------------------------------------------------------- keyset


def seed_keyset_table(db, n=1000):
    db.seed_many(Hero, [{"name": f"n{i % 13}", "age": i % 7} for i in range(n)])
    with Session(db.backend.engine) as session:
        return [(h.id, h.age, h.name) for h in Q(Hero).all(session)]


def expected_order(rows, keys):
    """Sort (id, age, name) tuples by keys like "-age", with id ascending /
    following the shared direction as tie-breaker, as keyset() does."""
    index = {"id": 0, "age": 1, "name": 2}
    directions = {k.startswith("-") for k in keys}
    tie_desc = directions == {True}
    ordered = list(rows)
    for key in reversed([*keys, "-id" if tie_desc else "id"]):
        ordered.sort(key=lambda r, k=key: r[index[k.lstrip("-")]], reverse=key.startswith("-"))
    return [r[0] for r in ordered]


async def walk(db, q, size):
    ids, after, pages = [], None, 0
    while True:
        page = await db.run(q, "keyset", size, after)
        assert isinstance(page, CursorPage)
        assert len(page.items) <= size
        ids.extend(h.id for h in page.items)
        pages += 1
        if not page.has_next:
            assert page.next_cursor is None
            return ids, pages
        assert len(page.items) == size
        after = page.next_cursor
        assert isinstance(after, str)
        assert after == base64.urlsafe_b64encode(
            base64.urlsafe_b64decode(after + "==")
        ).decode().rstrip("=")


@pytest.mark.parametrize(
    "keys",
    [("age", "name"), ("-age", "-name"), ("age", "-name"), ("-name",), ()],
    ids=["asc", "desc", "mixed", "one-desc", "pk-only"],
)
async def test_keyset_walks_every_row_exactly_once_in_order(db, keys):
    rows = seed_keyset_table(db)
    ids, pages = await walk(db, Q(Hero).order_by(*keys), 37)
    assert pages == 28  # ceil(1000 / 37)
    assert len(ids) == len(set(ids)) == 1000
    assert ids == expected_order(rows, keys)


async def test_keyset_respects_filters_and_ignores_limit_offset(db):
    rows = seed_keyset_table(db, 200)
    q = Q(Hero).where(age__in=[1, 3]).order_by("name").limit(5).offset(7)
    ids, _ = await walk(db, q, 10)
    wanted = [r for r in rows if r[1] in (1, 3)]
    assert ids == expected_order(wanted, ("name",))


async def test_keyset_uses_row_values_when_directions_agree(db):
    seed_keyset_table(db, 50)
    q = Q(Hero).order_by("age", "name")
    first = await db.run(q, "keyset", 10)
    with db.count_statements() as seen:
        await db.run(q, "keyset", 10, first.next_cursor)
    sql = " ".join(seen[0].split())
    assert "(hero.age, hero.name, hero.id) >" in sql
    assert " OR " not in sql
    assert "OFFSET" not in sql.upper() or db.name == "sqlite"  # SQLite renders OFFSET 0
    assert "ORDER BY hero.age, hero.name, hero.id" in sql
    desc = Q(Hero).order_by("-age", "-name")
    first = await db.run(desc, "keyset", 10)
    with db.count_statements() as seen:
        await db.run(desc, "keyset", 10, first.next_cursor)
    sql = " ".join(seen[0].split())
    assert "(hero.age, hero.name, hero.id) <" in sql
    assert "ORDER BY hero.age DESC, hero.name DESC, hero.id DESC" in sql


async def test_keyset_expands_to_or_form_for_mixed_directions(db):
    seed_keyset_table(db, 50)
    q = Q(Hero).order_by("age", "-name")
    first = await db.run(q, "keyset", 10)
    with db.count_statements() as seen:
        await db.run(q, "keyset", 10, first.next_cursor)
    sql = " ".join(seen[0].split())
    assert "(hero.age, hero.name" not in sql
    assert " OR " in sql
    assert "ORDER BY hero.age, hero.name DESC, hero.id" in sql


async def test_keyset_on_datetime_sort_key_round_trips(db):
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    db.seed_many(
        Hero, [{"name": f"t{i}", "seen_at": base + dt.timedelta(hours=i % 4)} for i in range(10)]
    )
    ids, pages = await walk(db, Q(Hero).order_by("-seen_at"), 3)
    assert pages == 4
    assert len(set(ids)) == 10


def tamper(cursor: str) -> str:
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    values = json.loads(raw[1])
    values[0] = 0 if values[0] != 0 else 1
    raw[1] = json.dumps(values, separators=(",", ":"))
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


async def test_keyset_rejects_tampered_truncated_and_foreign_cursors(db):
    seed_keyset_table(db, 100)
    q = Q(Hero).order_by("age", "name")
    cursor = (await db.run(q, "keyset", 10)).next_cursor
    flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    other = (await db.run(Q(Hero).order_by("-age"), "keyset", 10)).next_cursor
    for bad in (
        tamper(cursor),
        flipped,
        cursor[: len(cursor) // 2],
        cursor[:-1],
        other,
        "",
        "!!!",
        "x" * 5000,
        "null",
    ):
        with pytest.raises(QueryError) as info:
            await db.run(q, "keyset", 10, bad)
        assert info.value.key == "cursor"
        assert "SELECT" not in str(info.value)
    assert len((await db.run(q, "keyset", 10, cursor)).items) == 10


async def test_keyset_rejects_non_column_sort_keys(db):
    from sqlalchemy import func

    with pytest.raises(QueryError, match="keyset"):
        await db.run(Q(Hero).order_by(func.lower(Hero.name)), "keyset", 10)


async def test_keyset_accepts_sqlalchemy_column_expressions(db):
    rows = seed_keyset_table(db, 100)
    ids, _ = await walk(db, Q(Hero).order_by(Hero.age.desc(), Hero.name), 9)
    assert ids == expected_order(rows, ("-age", "name"))


async def test_keyset_with_composite_primary_key_tie_breaker(db):
    from tests.models import Membership

    db.seed_many(
        Membership,
        [{"hero_id": i % 5, "year": 2000 + i // 5, "role": "ab"[i % 2]} for i in range(60)],
    )
    q = Q(Membership).order_by("-role")
    seen, after = [], None
    while True:
        page = await db.run(q, "keyset", 7, after)
        seen.extend((m.role, m.hero_id, m.year) for m in page.items)
        if not page.has_next:
            break
        after = page.next_cursor
    assert len(seen) == len(set(seen)) == 60
    assert seen == sorted(seen, reverse=True)  # role, then the key, all descending


async def test_keyset_with_only_loads_sort_keys_without_extra_queries(db):
    seed_keyset_table(db, 30)
    q = Q(Hero).only("name").order_by("-age")
    with db.count_statements() as seen:
        page = await db.run(q, "keyset", 10)
        page = await db.run(q, "keyset", 10, page.next_cursor)
    assert len(seen) == 2
    assert len(page.items) == 10


def test_every_cursor_issued_is_accepted_back_and_oversized_ones_are_refused():
    from sqlmodel_crud_utils.pagination import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor

    long_value = "x" * 3500  # a cursor of ~4.7 KB, over the old 4096 limit
    token = encode_cursor("Hero:bio,id", [long_value, 1], model=Hero)
    assert 4096 < len(token) <= MAX_CURSOR_LENGTH
    assert decode_cursor("Hero:bio,id", token, model=Hero) == [long_value, 1]
    with pytest.raises(QueryError) as info:
        encode_cursor("Hero:bio,id", ["x" * MAX_CURSOR_LENGTH, 1], model=Hero)
    assert str(info.value).startswith("Hero: keyset sort values are too long")


async def test_paginate_orders_an_unordered_query_by_primary_key(db):
    db.seed_many(Hero, [{"name": f"h{i}"} for i in range(7)])
    with db.count_statements() as statements:
        pages = [await db.run(Q(Hero), "paginate", number, 3) for number in (1, 2, 3)]
    assert "ORDER BY hero.id" in statements[0]
    ids = [hero.id for page in pages for hero in page.items]
    assert ids == sorted(ids)
    assert len(set(ids)) == 7
