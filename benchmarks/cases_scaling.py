"""Case 13: a read through `routed_sessionmaker` vs the same read on the
primary (issue 15).

The "replica" is the benchmark's own engine unless ``BENCH_REPLICA_URL``
names one (``make scaleout-up`` starts a real one on 127.0.0.1:5433): then
both sides read through the same pool from the same server, and the ratio
is exactly what routing costs in Python (choosing the engine per statement,
checking the replica's connection out once per transaction). With a real
replica the ratio also carries the difference between two servers and two
pools, which swings by several percent between runs on this machine.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session

from sqlmodel_crud_utils import Q, routed_sessionmaker

from .cases import case
from .harness import Check, Context
from .models import BenchHero

__all__: list[str] = []


def _replica(ctx: Context) -> Engine:
    url = os.environ.get("BENCH_REPLICA_URL") if ctx.backend == "postgresql" else None
    if not url:
        return ctx.engine
    replica = create_engine(url)
    try:
        _wait_for_replay(ctx.engine, replica)
    except BaseException:
        replica.dispose()
        raise
    return replica


def _wait_for_replay(primary: Engine, replica: Engine, timeout: float = 60.0) -> None:
    """Until the replica has replayed the primary's WAL as of now (the seed)."""
    with primary.connect() as conn:
        target = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
    deadline = time.monotonic() + timeout
    with replica.connect() as conn:
        # a server that is not a standby (the primary, a pooler in front of it) has it all
        caught_up = text(
            "SELECT COALESCE(pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn), "
            "NOT pg_is_in_recovery())"
        )
        while not conn.execute(caught_up, {"lsn": target}).scalar_one():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replica did not replay up to {target} in {timeout} s")
            conn.rollback()
            time.sleep(0.05)


@case("13", "routed read vs direct read on the primary")
async def routed_read(ctx: Context) -> None:
    replica = _replica(ctx)
    routed = routed_sessionmaker(ctx.engine, [replica])
    query = Q(BenchHero).where(age__gte=30).order_by("id").limit(20)

    def read(make_session: Any) -> Any:
        def run() -> Any:
            with make_session() as session:
                rows = query.all(session)
            assert len(rows) == 20
            return rows

        return run

    try:
        await ctx.compare(
            "Q.all, 20 rows, a session per call",
            {
                "direct on the primary": read(lambda: Session(ctx.engine)),
                "routed to a replica": read(routed),
            },
            [Check("routed to a replica", "direct on the primary", 1.05, noisy=True)],
        )
    finally:
        if replica is not ctx.engine:
            replica.dispose()
