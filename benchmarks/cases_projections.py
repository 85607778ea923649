"""Cases 14 and 15. Case 14: `Q.values` / `Q.values_list` of 1,000 rows (issue 16) against
SQLAlchemy Core's ``connection.execute(select(cols)).mappings().all()``,
against our own ORM ``Q.all`` of the same rows, and (SQLite) against the
raw ``sqlite3`` cursor's ``fetchall()``. Case 15: `Q.aggregate` per group
against the hand-written ``select(func.count(), ...).group_by(...)``."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from sqlmodel_crud_utils import Avg, Count, Q

from .cases import case
from .harness import Check, Context
from .models import BenchHero

__all__: list[str] = []

ROWS = 1_000


@case("14", "values() / values_list() vs Core, the ORM and raw sqlite3")
async def projections(ctx: Context) -> None:
    rows_read = min(ROWS, ctx.config.rows)  # a quick run seeds fewer
    q = Q(BenchHero).order_by("id").limit(rows_read)
    core = (
        select(BenchHero.id, BenchHero.name, BenchHero.age).order_by(BenchHero.id).limit(rows_read)
    )

    def values() -> Any:
        with Session(ctx.engine) as session:
            rows = q.values(session, "id", "name", "age")
        assert len(rows) == rows_read
        return rows

    def values_list() -> Any:
        with Session(ctx.engine) as session:
            rows = q.values_list(session, "id", "name", "age")
        assert len(rows) == rows_read
        return rows

    def core_mappings() -> Any:
        with ctx.engine.connect() as conn:
            return conn.execute(core).mappings().all()

    def orm_all() -> Any:
        with Session(ctx.engine) as session:
            return q.all(session)

    variants = {
        "values()": values,
        "values_list()": values_list,
        "Core mappings().all()": core_mappings,
        "Q.all()": orm_all,
    }
    checks = [
        Check("values()", "Core mappings().all()", 1.15, noisy=ctx.clock == "wall"),
        Check("values()", "Q.all()", 0.25, note="≥ 4x faster than ORM objects"),
    ]
    raw: sqlite3.Connection | None = None
    if ctx.backend == "sqlite":
        raw = sqlite3.connect(ctx.engine.url.database or "")
        sql = f"SELECT id, name, age FROM bench_hero ORDER BY id LIMIT {rows_read}"

        def raw_fetchall() -> Any:
            assert raw is not None
            return raw.execute(sql).fetchall()

        variants["sqlite3 fetchall()"] = raw_fetchall
        checks.append(Check("values_list()", "sqlite3 fetchall()", 3.0))
    try:
        await ctx.compare(f"{rows_read:,} rows of 3 columns, a session per call", variants, checks)
    finally:
        if raw is not None:
            raw.close()


@case("15", "aggregate() with group_by vs hand-written select(func.count(), ...).group_by()")
async def grouped(ctx: Context) -> None:
    def ours() -> Any:
        with Session(ctx.engine) as session:
            return (
                Q(BenchHero)
                .where(age__gte=30)
                .group_by("team_id")
                .aggregate(session, n=Count(), avg_age=Avg("age"))
            )

    def hand_written() -> Any:
        stmt = (
            select(BenchHero.team_id, func.count(), func.avg(BenchHero.age))
            .where(BenchHero.age >= 30)
            .group_by(BenchHero.team_id)
            .order_by(BenchHero.team_id)
        )
        with Session(ctx.engine) as session:
            return session.execute(stmt).all()

    assert len(ours()) == len(hand_written())
    await ctx.compare(
        "COUNT and AVG per team of heroes aged 30+, a session per call",
        {"aggregate()": ours, "hand-written": hand_written},
        [Check("aggregate()", "hand-written", 1.10, noisy=ctx.clock == "wall")],
    )
