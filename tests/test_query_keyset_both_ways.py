"""Keyset pages both ways (`keyset(before=...)`, ``prev_cursor`` /
``has_prev``), ``with_total``, and ``paginate(count=False)``: on every
backend, sync and async. A 1,000-row table with many duplicate sort values
is walked forward to the end, then backward to the start: every live row
exactly once each way, in the query's order, soft-deleted rows never."""

from __future__ import annotations

from typing import Any

import pytest

from sqlmodel_crud_utils import Q, QueryError
from tests.models import Hero
from tests.models_softaudit import SaAuthor as Author

ROWS = 1_000


def hundreds(db: Any) -> None:
    db.seed_many(Hero, [{"name": f"h{n:04d}", "age": n % 7} for n in range(ROWS)])


async def walk(db: Any, q: Q[Any], size: int) -> tuple[list[Any], list[Any]]:
    """Every row forward page by page, then backward from the last page."""
    forward: list[Any] = []
    page = await db.run(q, "keyset", size)
    assert (page.has_prev, page.prev_cursor) == (False, None)
    pages = [page]
    while True:
        forward += [row.name for row in page.items]
        if not page.has_next:
            break
        page = await db.run(q, "keyset", size, page.next_cursor)
        pages.append(page)
    backward: list[Any] = [row.name for row in page.items]
    while page.has_prev:
        page = await db.run(q, "keyset", size, before=page.prev_cursor)
        backward = [row.name for row in page.items] + backward
    assert [r.name for r in page.items] == [r.name for r in pages[0].items]
    return forward, backward


@pytest.mark.parametrize(
    ("order", "size"),
    [(("age",), 37), (("-age",), 50), (("age", "-name"), 64), (("-age", "-id"), 100)],
    ids=["age", "-age", "age,-name", "-age,-id"],
)
async def test_walk_forward_then_backward(db: Any, order: tuple[str, ...], size: int) -> None:
    hundreds(db)
    q = Q(Hero).order_by(*order)
    # keyset's tie-breaker: the key, descending when every sort key is
    tie = "-id" if all(key.startswith("-") for key in order) else "id"
    expected = [row.name for row in await db.run(Q(Hero).order_by(*order, tie), "all")]
    forward, backward = await walk(db, q, size)
    assert forward == expected
    assert backward == expected
    assert len(set(forward)) == ROWS


async def test_pages_know_their_neighbours_and_total(db: Any) -> None:
    hundreds(db)
    q = Q(Hero).where(age=3).order_by("name")
    first = await db.run(q, "keyset", 50, with_total=True)
    assert (first.total, first.has_prev, first.has_next) == (143, False, True)
    second = await db.run(q, "keyset", 50, first.next_cursor)
    assert second.total is None
    assert (second.has_prev, second.has_next) == (True, True)
    back = await db.run(q, "keyset", 50, before=second.prev_cursor, with_total=True)
    assert [r.name for r in back.items] == [r.name for r in first.items]
    assert (back.has_prev, back.total) == (False, 143)
    last = await db.run(
        q, "keyset", 50, (await db.run(q, "keyset", 50, second.next_cursor)).prev_cursor
    )
    assert last.items  # a prev cursor also works as after= (the rows after that row)


async def test_soft_deleted_rows_are_skipped_both_ways(db: Any) -> None:
    db.seed(*[Author(name=f"a{n:02d}", is_deleted=n % 3 == 0) for n in range(30)])
    q = Q(Author).order_by("name")
    live = [f"a{n:02d}" for n in range(30) if n % 3]
    forward, backward = await walk(db, q, 4)
    assert forward == live
    assert backward == live


async def test_paginate_without_count(db: Any) -> None:
    hundreds(db)
    with db.count_statements() as statements:
        page = await db.run(Q(Hero).order_by("id"), "paginate", 3, 100, count=False)
    assert (page.total, page.pages, page.has_next, page.has_prev) == (None, None, True, True)
    assert [r.name for r in page.items][:2] == ["h0200", "h0201"]
    assert not any("count(" in s.lower() for s in statements)
    last = await db.run(Q(Hero).order_by("id"), "paginate", 10, 100, count=False)
    assert (len(last.items), last.has_next) == (100, False)


async def test_after_and_before_together_are_refused(db: Any) -> None:
    hundreds(db)
    page = await db.run(Q(Hero).order_by("id"), "keyset", 5)
    with pytest.raises(QueryError, match="after= or before=, not both"):
        await db.run(Q(Hero).order_by("id"), "keyset", 5, page.next_cursor, before=page.next_cursor)
    with pytest.raises(QueryError, match="invalid or stale cursor"):
        await db.run(Q(Hero).order_by("-id"), "keyset", 5, before=page.next_cursor)
