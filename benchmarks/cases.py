"""The benchmark cases: each is a small async function registered with `case`.

A case receives a `Context` (engines on a seeded database, the run's
config) and adds report rows with ``await ctx.compare(...)`` (timed
variants and checked ratios) or ``ctx.record(...)`` (anything else).
Cases must leave the seeded ``bench_*`` rows as they found them: a write
case resets its own table in ``compare(..., setup=...)``.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import Q

from .backends import TEAM_SIZE
from .harness import Check, Context
from .models import BenchHero, BenchTeam

__all__ = ["CASES", "case"]

CaseFunction = Callable[[Context], Awaitable[None]]

#: Registered cases in run order: ``(target, title, function)``.
CASES: list[tuple[str, str, CaseFunction]] = []


def case(target: str, title: str) -> Callable[[CaseFunction], CaseFunction]:
    """Register ``async def fn(ctx)`` as the case measuring issue target ``target``."""

    def register(function: CaseFunction) -> CaseFunction:
        CASES.append((target, title, function))
        return function

    return register


# -------------------------------------------------------------- 1: Q vs select()

AGE, TEXT, PAGE, SIZE = 30, "man", 3, 20


def q_page() -> Q[BenchHero]:
    return Q(BenchHero).where(age__gt=AGE, name__icontains=TEXT).order_by("-age").page(PAGE, SIZE)


def hand_page() -> Any:
    return (
        select(BenchHero)
        .where(BenchHero.age > AGE, col(BenchHero.name).icontains(TEXT, autoescape=True))
        .order_by(col(BenchHero.age).desc())
        .limit(SIZE)
        .offset((PAGE - 1) * SIZE)
    )


@case("1", "Q vs hand-written select()")
async def query_builder(ctx: Context) -> None:
    with Session(ctx.engine) as session:
        await ctx.compare(
            "page query, sync",
            {
                "select()+Session.exec": lambda: session.exec(hand_page()).all(),
                "Q.all": lambda: q_page().all(session),
            },
            [Check("Q.all", "select()+Session.exec", 1.05)],
        )
    async with AsyncSession(ctx.async_engine) as async_session:

        async def hand_async() -> Any:
            return (await async_session.exec(hand_page())).all()

        async def q_async() -> Any:
            return await q_page().a_all(async_session)

        await ctx.compare(
            "page query, async",
            {"select()+AsyncSession.exec": hand_async, "Q.a_all": q_async},
            [Check("Q.a_all", "select()+AsyncSession.exec", 1.05, noisy=True)],
        )
    await ctx.compare(
        "build the statement",
        {"select()": hand_page, "Q(...).statement": lambda: q_page().statement},
        [Check("Q(...).statement", "select()", 1.5)],
        clock="cpu",  # no database involved
    )


# ------------------------------------------------------------- 3: paginate


@case("3", "paginate vs the page alone")
async def paginate(ctx: Context) -> None:
    teams = max(1, ctx.config.rows // TEAM_SIZE)
    team = teams // 2 + 1

    def hand() -> Any:
        stmt = (
            select(BenchHero)
            .where(BenchHero.team_id == team)
            .order_by(col(BenchHero.age).desc())
            .limit(SIZE)
            .offset(SIZE)
        )
        return session.exec(stmt).all()

    def ours() -> Any:
        return Q(BenchHero).where(team_id=team).order_by("-age").paginate(session, 2, SIZE)

    with Session(ctx.engine) as session:
        page = ours()
        assert page.total == len(Q(BenchHero).where(team_id=team).all(session)), page.total
        await ctx.compare(
            f"page 2 of a team ({page.total} rows), items + total",
            {"page alone (select())": hand, "Q.paginate": ours},
            [Check("Q.paginate", "page alone (select())", 2.0)],
        )


# ---------------------------------------------------------------- 4: keyset


@case("4", "keyset deep vs first page vs OFFSET")
async def keyset(ctx: Context) -> None:
    rows = ctx.config.rows
    deep = int(rows * ctx.config.deep_fraction)
    deep_name = f"keyset after row {deep:,}"
    offset_name = f"OFFSET {deep}"
    with Session(ctx.engine) as session:
        cursor = Q(BenchHero).order_by("-age").keyset(session, size=deep).next_cursor
        session.expunge_all()
        offset_stmt = (
            select(BenchHero)
            .order_by(col(BenchHero.age).desc(), col(BenchHero.id).desc())
            .offset(deep)
            .limit(SIZE)
        )
        deep_page = Q(BenchHero).order_by("-age").keyset(session, SIZE, after=cursor)
        assert [h.id for h in deep_page.items] == [h.id for h in session.exec(offset_stmt)]
        await ctx.compare(
            f"page of {SIZE} at row {deep:,} of {rows:,}",
            {
                "keyset first page": lambda: Q(BenchHero).order_by("-age").keyset(session, SIZE),
                deep_name: lambda: Q(BenchHero).order_by("-age").keyset(session, SIZE, cursor),
                offset_name: lambda: session.exec(offset_stmt).all(),
            },
            [
                Check(deep_name, "keyset first page", 2.0),
                Check(deep_name, offset_name, 0.25, note=">= 4x faster"),
            ],
        )


# ---------------------------------------------------------------- 5: stream

MIB = 1024 * 1024


def _peak_mib(consume: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        consume()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


@case("5", "stream vs hand-written yield_per loop")
async def stream(ctx: Context) -> None:
    rows = ctx.config.rows

    def hand() -> int:
        n = 0
        for _ in session.exec(select(BenchHero).execution_options(yield_per=1000)):
            n += 1
        return n

    def ours() -> int:
        n = 0
        for _ in Q(BenchHero).stream(session, batch_size=1000):
            n += 1
        return n

    with Session(ctx.engine) as session:
        assert hand() == ours() == rows
        reference = _peak_mib(hand)
        ctx.record(
            f"stream {rows:,} rows",
            "peak MiB",
            "Q.stream",
            _peak_mib(ours),
            "<=",
            5.0,
            note="tracemalloc peak",
            yield_per_loop_peak_mib=reference,
        )
        await ctx.compare(
            f"stream {rows:,} rows",
            {"yield_per(1000) loop": hand, "Q.stream": ours},
            # Few single-call rounds: on a server's wall clock these swing.
            [Check("Q.stream", "yield_per(1000) loop", 1.1, noisy=ctx.clock == "wall")],
            number=1,
            rounds=ctx.config.stream_rounds,
            items=rows,
        )


# ------------------------------------------------------- 9: eager-load statements


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL statements sent to the database inside the block."""
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


@case("9", "statements per include()")
async def eager_loading(ctx: Context) -> None:
    teams = max(1, ctx.config.rows // TEAM_SIZE)
    # SQLAlchemy's selectin loader sends at most 500 parent keys per SELECT.
    for parents in sorted({min(10, teams), min(500, teams)}):
        for strategy, expected in (("selectin", 2), ("joined", 1)):
            q = Q(BenchTeam).where(id__lte=parents).include("members", strategy=strategy)
            with Session(ctx.engine) as session, counted(ctx.engine) as statements:
                loaded = q.all(session)
                children = sum(len(team.members) for team in loaded)
            assert len(loaded) == parents
            ctx.record(
                f"include('members') of {parents} teams, {children:,} heroes",
                "statements",
                f"include(strategy={strategy!r})",
                len(statements),
                "==",
                expected,
            )
