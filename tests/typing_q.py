"""Static typing of `Q`: checked by ``mypy --strict`` in test_query_typing.py.

Not a test module (pytest does not collect it); the functions are never called.
"""

from collections.abc import AsyncIterator, Iterator

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Session, col
from sqlmodel.sql.expression import SelectOfScalar
from typing_extensions import assert_type

from sqlmodel_crud_utils import CursorPage, Page, Q
from tests.models import Hero


def sync_terminals(session: Session) -> None:
    q = Q(Hero).where(col(Hero.age) > 3, name__icontains="man").order_by("-age").include("team")
    assert_type(q, Q[Hero])
    assert_type(q.all(session), list[Hero])
    assert_type(q.first(session), Hero | None)
    assert_type(q.one(session), Hero)
    assert_type(q.one_or_none(session), Hero | None)
    assert_type(q.get(session, 1), Hero | None)
    assert_type(q.count(session), int)
    assert_type(q.exists(session), bool)
    assert_type(q.paginate(session, page=2, size=10), Page[Hero])
    assert_type(q.paginate(session).items, list[Hero])
    assert_type(q.keyset(session, 20, None), CursorPage[Hero])
    assert_type(q.stream(session), Iterator[Hero])
    assert_type(q.update(session, age=3), int)
    assert_type(q.delete(session, hard=True), int)
    assert_type(q.statement, SelectOfScalar[Hero])
    assert_type(q.sql("postgresql"), str)


async def async_terminals(session: AsyncSession) -> None:
    q = Q(Hero).where(age__gte=18).soft("include").page(1, size=5)
    assert_type(await q.a_all(session), list[Hero])
    assert_type(await q.a_first(session), Hero | None)
    assert_type(await q.a_one(session), Hero)
    assert_type(await q.a_one_or_none(session), Hero | None)
    assert_type(await q.a_get(session, (1,)), Hero | None)
    assert_type(await q.a_count(session), int)
    assert_type(await q.a_exists(session), bool)
    assert_type(await q.a_paginate(session), Page[Hero])
    assert_type(await q.a_keyset(session), CursorPage[Hero])
    assert_type(q.a_stream(session), AsyncIterator[Hero])
    assert_type(await q.a_update(session, age=1), int)
    assert_type(await q.a_delete(session), int)
    async for hero in q.a_stream(session):
        assert_type(hero, Hero)


def builders(session: Session, async_session: AsyncSession) -> None:
    from sqlmodel_crud_utils import AsyncQueryBuilder, QueryBuilder

    built = QueryBuilder(session, Hero).where(age__gte=3).order_by("age", desc=True).limit(2)
    assert_type(built, QueryBuilder[Hero])
    assert_type(built.all(), tuple[bool, list[Hero]])
    assert_type(built.first(), tuple[bool, Hero | None])
    assert_type(built.count(), tuple[bool, int])
    awaited = AsyncQueryBuilder(async_session, Hero).selectin("team").offset(1)
    assert_type(awaited, AsyncQueryBuilder[Hero])
