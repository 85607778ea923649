"""Case 13: a read through `routed_sessionmaker` vs the same read on the
primary (issue 15).

The "replica" is ``BENCH_REPLICA_URL`` when set (``make scaleout-up`` starts
one on 127.0.0.1:5433), else a second engine on the benchmark's own
database: either way both sides do the same work on the server, and the
ratio is what routing costs in Python (choosing the engine per statement,
checking the replica's connection out once per transaction). The replica
engine is made like the benchmark's primary (plain ``create_engine``, no
pre-ping), so the two differ only by the routing.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from sqlmodel_crud_utils import Q, routed_sessionmaker

from .cases import case
from .harness import Check, Context
from .models import BenchHero

__all__: list[str] = []


def _replica(ctx: Context) -> Engine:
    url = os.environ.get("BENCH_REPLICA_URL") if ctx.backend == "postgresql" else None
    return create_engine(url or ctx.engine.url)


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
        replica.dispose()
