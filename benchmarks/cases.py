"""The benchmark cases: each is a small async function registered with `case`.

A case receives a `Context` (engines on a seeded database, the run's
config) and adds report rows with ``await ctx.compare(...)`` (timed
variants and checked ratios) or ``ctx.record(...)`` (anything else).
Cases must leave the seeded ``bench_*`` rows as they found them: a write
case resets its own table in ``compare(..., setup=...)``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, event, insert, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import Q, get_hooks
from sqlmodel_crud_utils.sync import bulk_upsert_mappings, get_rows, insert_data_rows, write_row

from .backends import HERO_NAMES, TEAM_SIZE
from .harness import NOISY_SPREAD, Check, Context, spread
from .models import BenchHero, BenchTeam, BenchWrite
from .pages import AGE, PAGE, SIZE, TEXT, hand_page

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


# ------------------------------------------ 0: the package's presence costs nothing

IMPORT_COST_WORKER = Path(__file__).with_name("import_cost.py")


def _worker(url: str, mode: str, number: int, rounds: int) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, str(IMPORT_COST_WORKER), url, mode, str(number), str(rounds)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def _instructions_per_read(url: str, number: int) -> tuple[float, float] | None:
    """Instructions per hand-written read in one process with the library's
    listeners installed and removed (cachegrind; ``None`` without valgrind).
    Each count is a run with ``number`` reads minus one with none, from the
    same start (fixed hash seed, the collector frozen), so it is exact."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    environment = {**os.environ, "PYTHONHASHSEED": "0"}

    def count(mode: str, rounds: int) -> int:
        completed = subprocess.run(
            [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
             sys.executable, str(IMPORT_COST_WORKER), url, mode, str(number), str(rounds)],
            capture_output=True, text=True, check=True, env=environment,
        )  # fmt: skip
        found = re.search(r"I\s+refs:\s+([\d,]+)", completed.stderr)
        assert found is not None, completed.stderr[-500:]
        return int(found.group(1).replace(",", ""))

    on = (count("count-on", 1) - count("count-on", 0)) / number
    off = (count("count-off", 1) - count("count-off", 0)) / number
    return on, off


@case("0", "hand-written read: package imported vs never imported")
async def import_cost(ctx: Context) -> None:
    """Two rows. Process pairs: one process imports the package and maps
    mixin models (so its session listeners exist), the other never imports
    it; both time the same hand-written page read, processes alternating,
    each round pairing one of each. On a shared machine two processes
    differ by several percent whatever they run (memory layout, the other
    core's load), so a second row times the same read in one process with
    the library's session listeners installed and removed in alternating
    batches: what the package adds to a read, without the layout noise.
    The JSON keeps a control (two processes that never import it, same
    pairing) and the Python calls per read on both sides (cProfile,
    independent of timing)."""
    url = ctx.engine.url.render_as_string(hide_password=False)
    number = 50 if ctx.config.quick else 400
    ratios: list[float] = []
    control: list[float] = []  # never imported vs never imported: the noise floor
    for _ in range(max(3, ctx.config.rounds // 3)):
        modes = ["bare", "imported", "control"]
        ctx.rng.shuffle(modes)
        times = {
            mode: statistics.median(
                _worker(url, "bare" if mode == "control" else mode, number, 3)[ctx.clock]
            )
            for mode in modes
        }
        ratios.append(times["imported"] / times["bare"])
        control.append(times["control"] / times["bare"])
    calls = {
        mode: _worker(url, f"calls-{mode}", number // 4, 1)["calls"]
        for mode in ("bare", "imported")
    }
    ctx.record(
        "page read, own process each",
        "time ratio",
        "package imported + mixin models mapped",
        statistics.median(ratios),
        "<=",
        1.01,
        baseline="package never imported",
        noisy=spread(ratios) > NOISY_SPREAD,
        clock=ctx.clock,
        rounds=len(ratios),
        number=number,
        ratio_min=min(ratios),
        ratio_max=max(ratios),
        control_ratio=statistics.median(control),
        control_min=min(control),
        control_max=max(control),
        calls_per_read_bare=calls["bare"],
        calls_per_read_imported=calls["imported"],
    )
    instructions = None if ctx.config.quick else _instructions_per_read(url, number // 4)
    if instructions is not None:
        on, off = instructions
        ctx.record(
            "page read, one process, instructions (valgrind)",
            "instruction ratio",
            "library session listeners installed",
            on / off,
            "<=",
            1.01,
            baseline="the same listeners removed",
            instructions_per_read_on=on,
            instructions_per_read_off=off,
        )
    batch = max(10, number // 8)
    toggled = _worker(url, "toggled", batch, ctx.config.rounds)
    paired = [
        on / off
        for on, off in zip(toggled[f"{ctx.clock}_on"], toggled[f"{ctx.clock}_off"], strict=True)
    ]
    ctx.record(
        "page read, one process",
        "time ratio",
        "library session listeners installed",
        statistics.median(paired),
        "<=",
        1.01,
        baseline="the same listeners removed",
        noisy=spread(paired) > NOISY_SPREAD,
        clock=ctx.clock,
        rounds=len(paired),
        number=batch,
        ratio_min=min(paired),
        ratio_max=max(paired),
    )


# -------------------------------------------------------------- 1: Q vs select()


def q_page() -> Q[BenchHero]:
    return Q(BenchHero).where(age__gt=AGE, name__icontains=TEXT).order_by("-age").page(PAGE, SIZE)


@case("1", "Q vs hand-written select()")
async def query_builder(ctx: Context) -> None:
    with Session(ctx.engine) as session:
        await ctx.compare(
            "page query, sync",
            {
                "select()+Session.exec": lambda: session.exec(hand_page()).all(),
                "Q.all": lambda: q_page().all(session),
            },
            [Check("Q.all", "select()+Session.exec", 1.03)],
        )

    def hand_fresh() -> Any:
        with Session(ctx.engine) as session:
            return session.exec(hand_page()).all()

    def q_fresh() -> Any:
        with Session(ctx.engine) as session:
            return q_page().all(session)

    await ctx.compare(
        "page query, sync, a session per call",
        {"select()+Session.exec": hand_fresh, "Q.all": q_fresh},
        [Check("Q.all", "select()+Session.exec", 1.03)],
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


# ------------------------------------------------------- 2: legacy get_rows


@case("2", "legacy get_rows vs hand-written select()")
async def legacy_get_rows(ctx: Context) -> None:
    def ours(session: Session) -> Any:
        return get_rows(
            session,
            BenchHero,
            age__gte=AGE,
            name__like=TEXT,  # v0.1: LIKE '%man%'
            sort_field="age",
            sort_desc=True,
            page=PAGE,
            page_size=SIZE,
        )[1]

    def hand(session: Session) -> Any:
        stmt = (
            select(BenchHero)
            .where(BenchHero.age >= AGE, col(BenchHero.name).like(f"%{TEXT}%"))
            .order_by(col(BenchHero.age).desc())
            .limit(SIZE)
            .offset((PAGE - 1) * SIZE)
        )
        return session.exec(stmt).all()

    def fresh(read: Callable[[Session], Any]) -> Callable[[], Any]:
        def read_in_own_session() -> Any:
            with Session(ctx.engine) as session:
                return read(session)

        return read_in_own_session

    with Session(ctx.engine) as session:
        rows = ours(session)
        assert rows
        assert [h.id for h in rows] == [h.id for h in hand(session)], "not the same page"
        await ctx.compare(
            "page 3 of 20, v0.1 kwargs",
            {"select()+Session.exec": lambda: hand(session), "get_rows": lambda: ours(session)},
            [Check("get_rows", "select()+Session.exec", 1.05)],
        )
    await ctx.compare(
        "page 3 of 20, v0.1 kwargs, a session per call",
        {"select()+Session.exec": fresh(hand), "get_rows": fresh(ours)},
        [Check("get_rows", "select()+Session.exec", 1.05)],
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
        # both directions after a cursor vs the hand-written keyset select
        # (the same rows: 20 after / before the cursor row, newest first)
        age, key = session.exec(
            select(BenchHero.age, BenchHero.id)
            .order_by(col(BenchHero.age).desc(), col(BenchHero.id).desc())
            .offset(deep - 1)
            .limit(1)
        ).one()

        def hand_after() -> Any:  # built per call, as a handler builds it from the cursor
            return (
                select(BenchHero)
                .where(tuple_(BenchHero.age, BenchHero.id) < (age, key))
                .order_by(col(BenchHero.age).desc(), col(BenchHero.id).desc())
                .limit(SIZE)
            )

        def hand_before() -> Any:
            return (
                select(BenchHero)
                .where(tuple_(BenchHero.age, BenchHero.id) > (age, key))
                .order_by(col(BenchHero.age), col(BenchHero.id))
                .limit(SIZE)
            )

        ours = Q(BenchHero).order_by("-age")
        back = ours.keyset(session, SIZE, before=cursor)
        assert [h.id for h in back.items] == [
            h.id for h in reversed(session.exec(hand_before()).all())
        ]
        back_name = f"keyset before row {deep:,}"
        await ctx.compare(
            f"page of {SIZE} after / before row {deep:,}, vs hand-written keyset select()",
            {
                "keyset first page": lambda: ours.keyset(session, SIZE),
                deep_name: lambda: ours.keyset(session, SIZE, cursor),
                back_name: lambda: ours.keyset(session, SIZE, before=cursor),
                "hand-written after": lambda: session.exec(hand_after()).all(),
                "hand-written before": lambda: list(reversed(session.exec(hand_before()).all())),
            },
            [
                Check(back_name, "keyset first page", 2.0),
                Check(deep_name, "hand-written after", 1.10, noisy=ctx.clock == "wall"),
                Check(back_name, "hand-written before", 1.10, noisy=ctx.clock == "wall"),
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


# ------------------------------------------------------------ write cases


def _hero_values(i: int, generation: int = 0) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"{HERO_NAMES[i % len(HERO_NAMES)]} {i}.{generation}",
        "secret_name": f"secret {i}.{generation}",
        "age": 10 + (i * 7919 + generation) % 90,
        "team_id": i % 100 + 1,
    }


def _refill(engine: Engine, ids: range) -> None:
    """Empty ``bench_write`` and insert the rows with ``ids`` (Core, untimed)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE bench_write"))
        else:
            conn.execute(delete(BenchWrite))
        if ids:
            conn.execute(insert(BenchWrite), [_hero_values(i) for i in ids])


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return Q(BenchWrite).count(session)


# ----------------------------------------------------- 6: bulk_upsert_mappings

_UPSERT_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


@case("6", "bulk_upsert_mappings vs dialect ON CONFLICT DO UPDATE")
async def bulk_upsert(ctx: Context) -> None:
    """Both sides return the upserted rows as ORM instances (RETURNING)."""
    rows = ctx.config.bulk_rows
    payload = [_hero_values(i, generation=1) for i in range(1, rows + 1)]
    existing = range(1, rows // 2 + 1)
    make_insert = _UPSERT_INSERTS[ctx.engine.dialect.name]
    table_insert = make_insert(BenchWrite)
    upsert = table_insert.on_conflict_do_update(
        index_elements=[BenchWrite.__table__.c.id],  # type: ignore[attr-defined]
        set_={
            name: table_insert.excluded[name] for name in ("name", "secret_name", "age", "team_id")
        },
    ).returning(BenchWrite)
    returned: list[Any] = []

    def check_and_reset() -> None:
        if returned:
            got = returned.pop()
            assert len(got) == rows, len(got)
            assert {h.__dict__["id"] for h in got} == set(range(1, rows + 1))
            assert all(h.__dict__["name"].endswith(".1") for h in got)
            assert _count(ctx.engine) == rows
        _refill(ctx.engine, existing)

    def hand() -> None:
        # Like ours, the rows come back loaded: the commit does not expire them.
        with Session(ctx.engine, expire_on_commit=False) as session:
            result = session.scalars(upsert, payload).all()
            session.commit()
        returned.append(result)

    def ours() -> None:
        with Session(ctx.engine) as session:
            ok, result = bulk_upsert_mappings(payload, session, BenchWrite)
        assert ok
        returned.append(result)

    try:
        await ctx.compare(
            f"upsert {rows:,} mappings, {len(existing):,} existing, rows returned",
            {"insert().on_conflict_do_update().returning()": hand, "bulk_upsert_mappings": ours},
            [
                Check(
                    "bulk_upsert_mappings",
                    "insert().on_conflict_do_update().returning()",
                    1.2,
                    noisy=ctx.clock == "wall",
                )
            ],
            number=1,
            rounds=ctx.config.bulk_rounds,
            setup=check_and_reset,
            items=rows,
            warmup=False,
        )
        check_and_reset()
    finally:
        _refill(ctx.engine, range(0))


# --------------------------------------------------------- 7: insert_data_rows


@case("7", "insert_data_rows vs add_all(); commit()")
async def bulk_insert(ctx: Context) -> None:
    rows = ctx.config.bulk_rows
    fresh: list[list[BenchWrite]] = []
    returned: list[Any] = []

    def check_and_reset() -> None:
        if returned:  # ours must return the rows with their primary keys loaded
            got = returned.pop()
            assert len(got) == rows, len(got)
            assert len({h.__dict__["id"] for h in got}) == rows
        _refill(ctx.engine, range(0))
        fresh[:] = [[BenchWrite(**{**_hero_values(i), "id": None}) for i in range(rows)]]

    def hand() -> None:
        # Like ours, the instances keep their loaded values (keys included).
        with Session(ctx.engine, expire_on_commit=False) as session:
            session.add_all(fresh[0])
            session.commit()

    def ours() -> None:
        with Session(ctx.engine) as session:
            ok, result = insert_data_rows(fresh[0], session)
        assert ok
        assert isinstance(result, list)
        returned.append(result)

    try:
        await ctx.compare(
            f"insert {rows:,} new instances",
            {"add_all()+commit()": hand, "insert_data_rows": ours},
            [Check("insert_data_rows", "add_all()+commit()", 0.6, noisy=ctx.clock == "wall")],
            number=1,
            rounds=ctx.config.bulk_rounds,
            setup=check_and_reset,
            items=rows,
            warmup=False,
        )
    finally:
        _refill(ctx.engine, range(0))


# --------------------------------------------------------------- 8: write_row


@case("8", "write_row vs add(); commit()")
async def write_one(ctx: Context) -> None:
    """One row per call into a growing table (both sides alike); no hooks."""
    names = iter(range(10**9))

    # Both sides hold the new row through the commit, as callers do (write_row
    # returns it); an unreferenced row would skip the commit's expiry.
    def hand() -> BenchWrite:
        row = BenchWrite(name=f"hand {next(names)}")
        session.add(row)
        session.commit()
        return row

    def ours() -> BenchWrite:
        ok, row = write_row(BenchWrite(name=f"ours {next(names)}"), session)
        assert ok
        return row

    assert not get_hooks(BenchWrite), "target 8 measures write_row with no hooks registered"
    try:
        with Session(ctx.engine) as session:
            await ctx.compare(
                "one row, no hooks registered",
                {"add()+commit()": hand, "write_row": ours},
                [Check("write_row", "add()+commit()", 1.05, noisy=ctx.clock == "wall")],
                # Cheap rounds, but a commit's I/O swings: more of them.
                rounds=None if ctx.config.quick else 2 * ctx.config.rounds,
            )
    finally:
        _refill(ctx.engine, range(0))


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
