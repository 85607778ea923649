"""stream / a_stream: every row, in order, with bounded memory."""

from __future__ import annotations

import gc
import tracemalloc
from contextlib import aclosing

import pytest

from sqlmodel_crud_utils import Q
from tests.models import Hero

ROWS = 50_000

# Any warning (e.g. a driver's "unbuffered result left incomplete") is a failure here.
pytestmark = pytest.mark.filterwarnings("error")


async def consume(db, q, terminal, batch_size=1000):
    """Run the terminal and count its rows without keeping them; return
    (count, tracemalloc peak in bytes)."""
    gc.collect()
    tracemalloc.start()
    try:
        count = 0
        if terminal == "all":
            rows = await db.run(q, "all")
            count = len(rows)
            del rows
        elif db.mode == "sync":
            for _ in q.stream(db.session, batch_size=batch_size):
                count += 1
        else:
            async with aclosing(q.a_stream(db.async_session, batch_size=batch_size)) as rows:
                async for _ in rows:
                    count += 1
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow  # still part of the default run
async def test_stream_memory_stays_well_below_all(db):
    db.seed_many(
        Hero,
        [{"name": f"hero {i:05d}", "bio": "x" * 40, "age": i % 90} for i in range(ROWS)],
    )
    q = Q(Hero)
    streamed, stream_peak = await consume(db, q, "stream")
    everything, all_peak = await consume(db, q, "all")
    assert streamed == everything == ROWS
    assert stream_peak * 5 < all_peak, (stream_peak, all_peak)


async def test_stream_yields_every_row_in_order_across_batches(db):
    db.seed_many(Hero, [{"name": f"h{i:04d}", "age": i % 3} for i in range(250)])
    q = Q(Hero).where(age__in=[0, 2]).order_by("-name")
    expected = [h.name for h in await db.run(q, "all")]
    if db.mode == "sync":
        got = [h.name for h in q.stream(db.session, batch_size=7)]
    else:
        got = [h.name async for h in q.a_stream(db.async_session, batch_size=7)]
    assert got == expected
    assert len(got) == len(set(got)) == 167


async def test_stream_stopped_early_leaves_the_session_usable(db):
    db.seed_many(Hero, [{"name": f"h{i:04d}"} for i in range(3000)])
    q = Q(Hero).order_by("name")
    if db.mode == "sync":
        stream = q.stream(db.session, batch_size=100)
        first = [next(stream).name for _ in range(3)]
        stream.close()
    else:
        async with aclosing(q.a_stream(db.async_session, batch_size=100)) as stream:
            first = []
            async for hero in stream:
                first.append(hero.name)
                if len(first) == 3:
                    break
    assert first == ["h0000", "h0001", "h0002"]
    assert await db.run(Q(Hero), "count") == 3000


@pytest.mark.parametrize("strategy", ["selectin", "joined", "subquery"])
async def test_stream_with_include_loads_every_row(db, strategy):
    """Regression: on MariaDB a selectin load during an unbuffered stream
    silently dropped the rest of the rows."""
    from tests.models import Team

    teams = db.seed(Team(name="a"), Team(name="b"))
    db.seed_many(Hero, [{"name": f"h{i:02d}", "team_id": teams[i % 2].id} for i in range(40)])
    q = Q(Team).include("members", strategy=strategy).order_by("-name")
    if db.mode == "sync":
        got = [(t.name, len(t.members)) for t in q.stream(db.session, batch_size=1)]
    else:
        got = [(t.name, len(t.members)) async for t in q.a_stream(db.async_session, batch_size=1)]
    assert got == [("b", 20), ("a", 20)]
    q = Q(Hero).include("team", strategy=strategy).order_by("name")
    if db.mode == "sync":
        rows = [(h.name, h.team.name) for h in q.stream(db.session, batch_size=15)]
    else:
        rows = [(h.name, h.team.name) async for h in q.a_stream(db.async_session, batch_size=15)]
    assert rows == [(f"h{i:02d}", "ab"[i % 2]) for i in range(40)]


async def test_sync_stream_allows_queries_inside_the_loop(db):
    if db.mode == "async":
        pytest.skip("lazy loads and nested queries need a sync session")
    from tests.models import Team

    team = db.seed(Team(name="a"))[0]
    db.seed_many(Hero, [{"name": f"h{i:02d}", "team_id": team.id} for i in range(30)])
    seen = []
    for hero in Q(Hero).order_by("name").stream(db.session, batch_size=4):
        seen.append((hero.name, hero.team.name, Q(Hero).where(name=hero.name).count(db.session)))
    assert seen == [(f"h{i:02d}", "a", 1) for i in range(30)]


async def test_stream_honours_soft_scope_and_composite_keys(db):
    from tests.models import Membership
    from tests.models_query import QItem

    db.seed_many(QItem, [{"name": f"i{i}", "is_deleted": i % 3 == 0} for i in range(30)])
    db.seed_many(Membership, [{"hero_id": i % 4, "year": 2000 + i} for i in range(20)])
    items = Q(QItem).order_by("name")
    members = Q(Membership).order_by("-year")
    if db.mode == "sync":
        names = [i.name for i in items.stream(db.session, batch_size=4)]
        years = [m.year for m in members.stream(db.session, batch_size=3)]
    else:
        names = [i.name async for i in items.a_stream(db.async_session, batch_size=4)]
        years = [m.year async for m in members.a_stream(db.async_session, batch_size=3)]
    assert names == sorted(f"i{i}" for i in range(30) if i % 3)
    assert years == list(range(2019, 1999, -1))
