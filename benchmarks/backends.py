"""The databases a run measures: an SQLite file always, PostgreSQL when reachable.

``BENCH_POSTGRESQL_URL`` moves PostgreSQL (default: the project machines'
``postgresql://postgres@127.0.0.1:5432/test``). Only the ``bench_*`` tables
are created and dropped there.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .models import METADATA, BenchHero, BenchTeam

__all__ = ["KNOWN", "Backend", "open_backend", "seed"]

KNOWN = ("sqlite", "postgresql")
DEFAULT_POSTGRESQL_URL = "postgresql://postgres@127.0.0.1:5432/test"
HERO_NAMES = ("Spider-Man", "Iron Man", "Batman", "Thor", "Hulk", "Ant-Man", "Wasp", "Vision")
TEAM_SIZE = 100


@dataclass
class Backend:
    name: str
    engine: Engine
    async_engine: AsyncEngine


class Unreachable(Exception):
    """The backend cannot be used in this run (the message says why)."""


def _urls(name: str, directory: Path) -> tuple[str, str]:
    if name == "sqlite":
        path = directory / "bench.sqlite"
        return f"sqlite+pysqlite:///{path}", f"sqlite+aiosqlite:///{path}"
    url = make_url(os.environ.get("BENCH_POSTGRESQL_URL", DEFAULT_POSTGRESQL_URL))
    return (
        url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False),
        url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False),
    )


@asynccontextmanager
async def open_backend(name: str, rows: int) -> AsyncIterator[Backend]:
    """Engines on a freshly seeded schema; raises `Unreachable` for a server that is down."""
    with tempfile.TemporaryDirectory(prefix="sqlmodel-crud-bench-") as directory:
        sync_url, async_url = _urls(name, Path(directory))
        connect_args = {"connect_timeout": 5} if name == "postgresql" else {}
        engine = create_engine(sync_url, connect_args=connect_args)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            engine.dispose()
            raise Unreachable(f"{engine.url!r} is unreachable: {exc}".splitlines()[0]) from exc
        async_engine = create_async_engine(async_url)
        try:
            seed(engine, rows)
            yield Backend(name, engine, async_engine)
        finally:
            await async_engine.dispose()
            METADATA.drop_all(engine)
            engine.dispose()


def seed(engine: Engine, rows: int) -> None:
    """(Re)create the bench tables with ``rows`` heroes in teams of 100.

    Ages are spread over 10..99 so ``ORDER BY age`` has many ties (the
    keyset tie-breaker matters); names cycle through `HERO_NAMES`.
    """
    METADATA.drop_all(engine)
    METADATA.create_all(engine)
    teams = max(1, rows // TEAM_SIZE)
    chunk = 10_000
    with engine.begin() as conn:
        conn.execute(
            insert(BenchTeam), [{"id": i, "name": f"team {i}"} for i in range(1, teams + 1)]
        )
        for start in range(0, rows, chunk):
            conn.execute(
                insert(BenchHero),
                [
                    {
                        "id": i + 1,
                        "name": f"{HERO_NAMES[i % len(HERO_NAMES)]} {i}",
                        "secret_name": f"secret {i}",
                        "age": 10 + (i * 7919) % 90,
                        "team_id": i % teams + 1,
                    }
                    for i in range(start, min(start + chunk, rows))
                ],
            )
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # ids were given: move the sequences on
            for table in ("bench_team", "bench_hero"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id))"
                        f" FROM {table}"
                    )
                )
        if engine.dialect.name != "postgresql":
            conn.execute(text("ANALYZE"))
    if engine.dialect.name == "postgresql":
        # all-visible pages with their hint bits set, on the primary and (through
        # the WAL) on a replica alike: case 13 compares servers in the same state
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE bench_team, bench_hero"))
