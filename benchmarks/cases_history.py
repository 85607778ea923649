"""Cases 10 and 11: the result cache and change history (issue 13).

Registered after every other case: configuring a cache installs its session
listeners and mapping a tracked model installs the history listeners, both
for the rest of the process, and the earlier cases must not pay for them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, bindparam, delete, insert, text
from sqlmodel import Field, Session

from sqlmodel_crud_utils import (
    HISTORY_METADATA,
    InMemoryCache,
    Q,
    TrackChangesMixin,
    configure_cache,
)
from sqlmodel_crud_utils.audit import utc_now
from sqlmodel_crud_utils.sync import get_row, update_row
from sqlmodel_crud_utils.tracking import change_history_table

from .cases import case
from .harness import Check, Context
from .models import BenchBase, BenchHero, BenchWrite

__all__: list[str] = []

_tracked: list[type[Any]] = []


def tracked_model() -> type[Any]:
    """``bench_tracked``: `BenchWrite`'s shape with `TrackChangesMixin`,
    defined on first use (mapping it installs the history listeners)."""
    if not _tracked:

        class BenchTracked(BenchBase, TrackChangesMixin, table=True):
            __tablename__ = "bench_tracked"

            id: int | None = Field(default=None, primary_key=True)
            name: str = Field(max_length=100)
            secret_name: str = Field(default="", max_length=100)
            age: int = 0
            team_id: int | None = None

        _tracked.append(BenchTracked)
    return _tracked[0]


#: A history record per changed row of ``bench_write``, built in SQL.
_HISTORY_SQL = {
    "sqlite": (
        "INSERT INTO change_history (table_name, row_pk, operation, changes, changed_at) "
        "SELECT 'bench_write', CAST(id AS TEXT), 'update', "
        "json_object('age', json_array(age, :age)), :now "
        "FROM bench_write WHERE age IS NOT :age"
    ),
    "postgresql": (
        "INSERT INTO change_history (table_name, row_pk, operation, changes, changed_at) "
        "SELECT 'bench_write', CAST(id AS VARCHAR), 'update', "
        "json_build_object('age', json_build_array(age, CAST(:age AS INTEGER))), :now "
        "FROM bench_write WHERE age IS DISTINCT FROM CAST(:age AS INTEGER)"
    ),
}


def _fill(engine: Engine, model: type[Any], rows: int) -> None:
    """Empty ``model``'s table and the history, then insert ``rows`` rows (Core, untimed)."""
    with engine.begin() as conn:
        conn.execute(delete(model))
        conn.execute(delete(change_history_table))
        if rows:
            conn.execute(
                insert(model),
                [{"id": i, "name": f"row {i}", "age": i % 90} for i in range(1, rows + 1)],
            )


@case("10", "cached get_row hit vs uncached get_row")
async def cached_get_row(ctx: Context) -> None:
    """Both read hero 7 the way a request handler does: a session of its
    own per call (so the uncached side checks a connection out, reads and
    rolls back); the cached side is served from an `InMemoryCache`."""
    backend = InMemoryCache(default_ttl=3600)
    configure_cache(backend)

    def read(**options: Any) -> Any:
        def run() -> Any:
            with Session(ctx.engine) as session:
                found, hero = get_row(7, session, BenchHero, **options)
            assert found
            return hero

        return run

    def empty_session() -> None:
        with Session(ctx.engine):
            pass

    try:
        read(use_cache=True)()  # the first read stores the row
        await ctx.compare(
            "get_row(7) in a session per call, InMemoryCache",
            {
                "get_row": read(),
                "get_row(use_cache=True) hit": read(use_cache=True),
                "floor: an empty session per call": empty_session,
            },
            [
                Check(
                    "get_row(use_cache=True) hit",
                    "get_row",
                    0.1,
                    note="≥ 10x faster",
                    noisy=ctx.clock == "wall",
                ),
                # how much of the 10x budget opening and closing the session takes
                Check(
                    "floor: an empty session per call",
                    "get_row",
                    0.1,
                    note="no cache, no read",
                    noisy=ctx.clock == "wall",
                ),
            ],
        )
        assert backend.stats.hits > 0
    finally:
        configure_cache(None)


@case("11", "change history: tracked vs untracked writes")
async def history_overhead(ctx: Context) -> None:
    """The same writes on ``bench_write`` (untracked) and ``bench_tracked``
    (same shape, `TrackChangesMixin`): 1,000 ``update_row`` calls, and one
    set-based ``Q.update`` of every row of a 10,000-row table."""
    tracked = tracked_model()
    tracked.__table__.create(ctx.engine, checkfirst=True)
    HISTORY_METADATA.create_all(ctx.engine)
    calls = 100 if ctx.config.quick else 1_000
    rows = 1_000 if ctx.config.quick else 10_000
    try:
        _fill(ctx.engine, BenchWrite, calls)
        _fill(ctx.engine, tracked, calls)
        ages = iter(range(10**9))

        def updates(model: type[Any]) -> Any:
            def run() -> None:
                with Session(ctx.engine) as session:
                    for key in range(1, calls + 1):
                        ok, _ = update_row(key, {"age": next(ages)}, session, model)
                        assert ok

            return run

        await ctx.compare(
            f"{calls:,} update_row calls",
            {"untracked": updates(BenchWrite), "tracked": updates(tracked)},
            [Check("tracked", "untracked", 1.5, noisy=ctx.clock == "wall")],
            number=1,
            rounds=ctx.config.bulk_rounds,
            warmup=False,
        )
        with Session(ctx.engine) as session:
            recorded = session.execute(
                text("SELECT COUNT(*) FROM change_history WHERE table_name = 'bench_tracked'")
            ).scalar_one()
        assert recorded > 0

        def reset() -> None:
            _fill(ctx.engine, BenchWrite, rows)
            _fill(ctx.engine, tracked, rows)

        def set_based(model: type[Any]) -> Any:
            def run() -> None:
                with Session(ctx.engine) as session:
                    assert Q(model).update(session, age=next(ages) + 100) == rows
                    session.commit()

            return run

        def history_in_sql() -> None:
            """The least any history costs: one hand-written INSERT ... SELECT
            of a record per changed row (JSON built by the database), then the
            UPDATE, on the untracked table."""
            age = next(ages) + 100
            with Session(ctx.engine) as session:
                record = text(_HISTORY_SQL[ctx.backend]).bindparams(
                    bindparam("now", type_=change_history_table.c.changed_at.type)
                )
                session.execute(record, {"age": age, "now": utc_now()})
                assert Q(BenchWrite).update(session, age=age) == rows
                session.commit()

        await ctx.compare(
            f"one Q.update of {rows:,} rows",
            {
                "untracked": set_based(BenchWrite),
                "tracked": set_based(tracked),
                "floor: hand-written INSERT ... SELECT history + UPDATE": history_in_sql,
            },
            [
                Check("tracked", "untracked", 2.0, noisy=ctx.clock == "wall"),
                Check(
                    "floor: hand-written INSERT ... SELECT history + UPDATE",
                    "untracked",
                    2.0,
                    note="one record per row, written by the database",
                    noisy=ctx.clock == "wall",
                ),
            ],
            number=1,
            rounds=ctx.config.bulk_rounds,
            setup=reset,
            items=rows,
            warmup=False,
        )
    finally:
        _fill(ctx.engine, BenchWrite, 0)
        tracked.__table__.drop(ctx.engine, checkfirst=True)
        HISTORY_METADATA.drop_all(ctx.engine)
