"""PostgreSQL ARRAY lookups: ``contains`` (``@>``), ``overlap`` (``&&``),
``contained_by`` (``<@``) and ``len`` (``cardinality()``), sync and async on
PostgreSQL (the only backend with arrays); refused with `QueryError` where
the value is wrong or the dialect has no arrays; the SQL pinned."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Column, Engine, String, literal
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import registry
from sqlalchemy.pool import NullPool
from sqlmodel import Field, Session, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import Or, Q, QueryError
from tests.conftest import Backend


class ArrayModel(SQLModel, registry=registry()):
    """Its own registry: these tables exist on PostgreSQL only."""


class Post(ArrayModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=50)
    tags: list[str] = Field(default_factory=list, sa_column=Column(postgresql.ARRAY(String(30))))


POSTS = {
    "intro": ["python", "sql"],
    "deep": ["python", "sql", "postgres"],
    "misc": ["cooking"],
    "empty": [],
}


@pytest.fixture
def posts(backend: Backend) -> Iterator[Engine]:
    if backend.name != "postgresql":
        pytest.skip("ARRAY columns exist on PostgreSQL only")
    ArrayModel.metadata.drop_all(backend.engine)
    ArrayModel.metadata.create_all(backend.engine)
    with Session(backend.engine) as session:
        session.add_all([Post(title=title, tags=tags) for title, tags in POSTS.items()])
        session.commit()
    yield backend.engine
    ArrayModel.metadata.drop_all(backend.engine)


CASES = [
    ({"tags__contains": ["python", "sql"]}, ["deep", "intro"]),
    ({"tags__contains": ["postgres"]}, ["deep"]),
    ({"tags__overlap": ["cooking", "postgres"]}, ["deep", "misc"]),
    ({"tags__contained_by": ["python", "sql", "go"]}, ["empty", "intro"]),
    ({"tags__len": 3}, ["deep"]),
    ({"tags__len": 0}, ["empty"]),
    ({"tags": ["cooking"]}, ["misc"]),
]


@pytest.mark.parametrize(("lookups", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_array_lookups(
    posts: Engine, backend: Backend, lookups: dict[str, Any], expected: Any
) -> None:
    q = Q(Post).where(**lookups).order_by("title")
    with Session(posts) as session:
        assert [p.title for p in q.all(session)] == sorted(expected)

    async def run() -> list[str]:
        engine = backend.async_engine(poolclass=NullPool)
        async with AsyncSession(engine) as session:
            titles = [p.title for p in await q.a_all(session)]
        await engine.dispose()
        return titles

    assert asyncio.run(run()) == sorted(expected)


def test_array_lookups_in_groups_and_templates(posts: Engine) -> None:
    q = Q(Post).where(Or(tags__contains=["cooking"], tags__len=3)).order_by("title")
    with Session(posts) as session:
        assert [p.title for p in q.all(session)] == ["deep", "misc"]
        again = Q(Post).where(tags__contains=["sql"]).order_by("title")
        assert [p.title for p in again.all(session)] == ["deep", "intro"]
        assert Q(Post).where(tags__overlap=["go"]).count(session) == 0


def test_array_sql(snapshot: Any) -> None:
    q = Q(Post).where(
        tags__contains=["a"], tags__overlap=["b"], tags__contained_by=["c"], tags__len=2
    )
    assert q.sql("postgresql") == snapshot


@pytest.mark.parametrize(
    ("lookups", "message"),
    [
        ({"tags__contains": "python"}, "takes a list of values"),
        ({"tags__overlap": [1, 2]}, "a list of str values"),
        ({"tags__len": -1}, "a non-negative integer"),
        ({"tags__len": "3"}, "a non-negative integer"),
        ({"tags__regex": "x"}, "unknown operator|regex"),
    ],
)
def test_bad_array_values_are_refused(lookups: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        Q(Post).where(**lookups)


def test_arrays_on_a_dialect_without_them() -> None:
    with pytest.raises(QueryError, match="cannot be written for sqlite"):
        Q(Post).where(tags__contains=["a"]).sql("sqlite")


def test_running_arrays_on_a_dialect_without_them(backend: Backend) -> None:
    """Refused while compiling: nothing is sent, the session stays usable."""
    if backend.name == "postgresql":
        pytest.skip("PostgreSQL has arrays")
    with Session(backend.engine) as session:
        with pytest.raises(QueryError, match="ARRAY lookups need PostgreSQL, not "):
            Q(Post).where(tags__overlap=["a"]).all(session)
        assert session.exec(select(literal(1))).one() == 1
