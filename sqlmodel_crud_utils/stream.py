"""Streaming a query's rows in batches, memory bounded, sync and async.

SQLite and PostgreSQL stream from one cursor (``yield_per``; a server-side
cursor on PostgreSQL). MySQL/MariaDB drivers cannot run another statement on
a connection while an unbuffered cursor is open, so there, and for queries
whose eager loads cannot run inside a ``yield_per`` stream, the primary keys
are read first (one light query) and the rows are then loaded a batch of
keys at a time, in the query's order. The async twin runs the same key and
batch loaders through ``run_sync``, or streams natively from one cursor.

    >>> MAX_BATCH_SIZE
    2147483647
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ._compat import SELECTIN_UNDER_YIELD_PER
from ._compile import select_of
from ._pins import pinned
from .coercion import positive_int
from .lookups import mapper_of, primary_key_names
from .operators import MAX_IN_VALUES

if TYPE_CHECKING:
    from .query import Q

__all__ = ["MAX_BATCH_SIZE", "a_stream_rows", "stream_rows"]

M = TypeVar("M")

#: Largest ``batch_size``: drivers fetch with a 32-bit count (PostgreSQL's
#: ``FETCH FORWARD n``).
MAX_BATCH_SIZE = 2**31 - 1

#: Eager strategies that cannot load inside a ``yield_per`` stream: on
#: SQLAlchemy 2.0 a selectin load inherits the stream's ``yield_per``
#: and fails ("Can't use the ORM yield_per feature in conjunction with unique()").
_UNSTREAMABLE = (
    ("joined", "subquery") if SELECTIN_UNDER_YIELD_PER else ("joined", "subquery", "selectin")
)


def stream_rows(q: Q[M], session: Session, batch_size: Any) -> Iterator[M]:
    """The rows of ``q``, fetched ``batch_size`` at a time (see `Q.stream`)."""
    batch_size = _batch_size(q, batch_size)
    if _streams_by_key(q, session):
        rows = _stream_by_key(q, session, batch_size)
    else:
        rows = _stream_cursor(session, select_of(q).execution_options(yield_per=batch_size))
    return _on_primary(session, rows) if q._primary else rows


def _on_primary(session: Session, rows: Iterator[M]) -> Iterator[M]:
    """``rows``, fetched with ``session`` held on its primary (`Q.primary`)."""
    with pinned(session):
        yield from rows


def a_stream_rows(q: Q[M], session: AsyncSession, batch_size: Any) -> AsyncIterator[M]:
    """Async twin of `stream_rows` (see `Q.a_stream`)."""
    rows = _a_rows(q, session, _batch_size(q, batch_size))
    return _a_on_primary(session, rows) if q._primary else rows


async def _a_on_primary(session: AsyncSession, rows: AsyncIterator[M]) -> AsyncIterator[M]:
    with pinned(session):
        async for row in rows:
            yield row


async def _a_rows(q: Q[M], session: AsyncSession, batch_size: int) -> AsyncIterator[M]:
    if _streams_by_key(q, session):
        keys = await session.run_sync(_keys, q)
        for start in range(0, len(keys), batch_size):
            for row in await session.run_sync(_batch, q, keys[start : start + batch_size]):
                yield row
        return
    stmt = select_of(q).execution_options(yield_per=batch_size)
    result = await session.stream_scalars(stmt)
    try:
        async for row in result:
            yield row
    finally:
        await result.close()


def _batch_size(q: Q[Any], batch_size: Any) -> int:
    return positive_int(batch_size, "batch_size", q.model, minimum=1, maximum=MAX_BATCH_SIZE)


def _stream_cursor(session: Session, stmt: Any) -> Iterator[Any]:
    result = session.execute(stmt).scalars()
    try:
        yield from result
    finally:
        result.close()


def _streams_by_key(q: Q[Any], session: Session | AsyncSession) -> bool:
    bind = session.get_bind(mapper=mapper_of(q.model))
    return (
        bind.dialect.name in ("mysql", "mariadb")
        or any(include.strategy in _UNSTREAMABLE for include in q._includes)
        or any(rel.lazy in _UNSTREAMABLE for rel in mapper_of(q.model).relationships)
    )


def _keys(session: Session, q: Q[Any]) -> list[tuple[Any, ...]]:
    columns = [getattr(q.model, name) for name in primary_key_names(q.model)]
    stmt = select_of(q, loading=False).with_only_columns(*columns, maintain_column_froms=True)
    return [tuple(row) for row in session.execute(stmt)]


def _batch(session: Session, q: Q[M], keys: Sequence[tuple[Any, ...]]) -> list[M]:
    """The rows with primary keys ``keys``, in that order (one statement per
    `MAX_IN_VALUES` bound parameters)."""
    names = primary_key_names(q.model)
    columns = [getattr(q.model, name) for name in names]
    chunk = max(1, MAX_IN_VALUES // len(columns))
    by_key: dict[tuple[Any, ...], M] = {}
    for start in range(0, len(keys), chunk):
        part = keys[start : start + chunk]
        if len(columns) == 1:
            match = columns[0].in_([key[0] for key in part])
        else:
            match = tuple_(*columns).in_(part)
        stmt = select_of(q, ordering=False, paging=False).where(match)
        for row in q._execute(session, stmt):
            by_key[tuple(getattr(row, name) for name in names)] = row
    return [by_key[key] for key in keys if key in by_key]


def _stream_by_key(q: Q[M], session: Session, batch_size: int) -> Iterator[M]:
    keys = _keys(session, q)
    for start in range(0, len(keys), batch_size):
        yield from _batch(session, q, keys[start : start + batch_size])
