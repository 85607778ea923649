"""Real-database fixtures: every behaviour test runs on each backend named in
``TEST_DATABASES`` (default ``sqlite``), once with a sync and once with an
async session. A requested server that cannot be reached fails the run.

Server URLs default to the project's machines and can be moved with
``TEST_POSTGRESQL_URL`` / ``TEST_MARIADB_URL`` (e.g. to a private database).

Two more names need scripts/scaleout_servers.sh (``make scaleout-up``):
``postgresql-pgbouncer`` runs the whole suite through PgBouncer in
transaction pooling mode (127.0.0.1:6432, ``TEST_POSTGRESQL_PGBOUNCER_URL``;
its backend is ``postgresql``); ``postgresql-replica`` adds the streaming
replica (127.0.0.1:5433, ``TEST_POSTGRESQL_REPLICA_URL``) to the routing
tests (tests/test_routing.py).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import HISTORY_METADATA, create_async_pooled_engine, create_pooled_engine
from sqlmodel_crud_utils.tracking import change_history_table

for _module in sorted(Path(__file__).parent.glob("models*.py")):
    importlib.import_module(f"tests.{_module.stem}")

DEFAULT_URLS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql-pgbouncer": "postgresql://postgres@127.0.0.1:6432/test",
    "mariadb": "mysql://root@127.0.0.1:3306/test",
}
DRIVERS = {
    "sqlite": ("sqlite+pysqlite", "sqlite+aiosqlite"),
    "postgresql": ("postgresql+psycopg", "postgresql+psycopg"),
    "postgresql-pgbouncer": ("postgresql+psycopg", "postgresql+psycopg"),
    "mariadb": ("mysql+pymysql", "mysql+aiomysql"),
}
#: names that are not a backend of their own (tests/test_routing.py reads it)
ROUTING_ONLY = ("postgresql-replica",)
KNOWN = (*DRIVERS, *ROUTING_ONLY)


def requested_backends() -> list[str]:
    names = [n.strip() for n in os.environ.get("TEST_DATABASES", "sqlite").split(",") if n.strip()]
    unknown = [n for n in names if n not in KNOWN]
    if unknown:
        raise pytest.UsageError(f"TEST_DATABASES names unknown backends {unknown}; known: {KNOWN}")
    return names


def backend_urls(name: str, tmp_dir: Path) -> tuple[str, str]:
    sync_driver, async_driver = DRIVERS[name]
    if name == "sqlite":
        path = tmp_dir / "test.db"
        return f"{sync_driver}:///{path}", f"{async_driver}:///{path}"
    variable = f"TEST_{name.upper().replace('-', '_')}_URL"
    raw = os.environ.get(variable, DEFAULT_URLS[name])
    url = make_url(raw)
    if name == "mariadb":
        url = url.update_query_dict({"charset": "utf8mb4"})
    return (
        url.set(drivername=sync_driver).render_as_string(hide_password=False),
        url.set(drivername=async_driver).render_as_string(hide_password=False),
    )


@dataclass
class Backend:
    """One database server with the test schema created on it. ``name`` is
    the kind of server (``postgresql`` behind PgBouncer too); ``route`` says
    how the suite reaches it (``direct`` or ``pgbouncer``)."""

    name: str
    sync_url: str
    async_url: str
    engine: Engine
    route: str = "direct"

    def async_engine(self, **options: Any) -> AsyncEngine:
        """An async engine on this backend, reaching it the suite's way."""
        return create_async_pooled_engine(self.async_url, **self._route_options(), **options)

    def sync_engine(self, **options: Any) -> Engine:
        """A sync engine on this backend, reaching it the suite's way."""
        return create_pooled_engine(self.sync_url, **self._route_options(), **options)

    def _route_options(self) -> dict[str, Any]:
        return {"behind_pgbouncer": True} if self.route == "pgbouncer" else {}

    def clean(self) -> None:
        tables = list(reversed(SQLModel.metadata.sorted_tables))
        with self.engine.begin() as conn:
            if self.name == "mariadb":
                conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for table in tables:
                conn.execute(table.delete())
            conn.execute(change_history_table.delete())
            if self.name == "mariadb":
                conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


@pytest.fixture(scope="session", params=[n for n in requested_backends() if n not in ROUTING_ONLY])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    requested = request.param
    sync_url, async_url = backend_urls(requested, tmp_path_factory.mktemp(requested))
    name, _, route = requested.partition("-")
    route = route or "direct"
    # The library's factories: on SQLite they make savepoints real (see connection.py).
    engine = create_pooled_engine(sync_url, behind_pgbouncer=route == "pgbouncer")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # a requested backend must be reachable
        pytest.fail(f"TEST_DATABASES names {name!r} but {engine.url!r} is unreachable: {exc}")
    SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)
    HISTORY_METADATA.drop_all(engine)
    HISTORY_METADATA.create_all(engine)
    yield Backend(name, sync_url, async_url, engine, route)
    engine.dispose()


@dataclass
class Database:
    """What a behaviour test gets: a clean schema on one backend, a sync
    session, and (in async mode) an async session on the same database.

    ``await db.run(q, "all")`` calls ``q.all(session)`` in sync mode and
    ``await q.a_all(async_session)`` in async mode, so one test covers both.
    """

    backend: Backend
    mode: str
    session: Session
    async_session: AsyncSession | None = None
    statements: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def engine(self) -> Engine:
        if self.async_session is not None:
            return self.async_session.bind.sync_engine  # type: ignore[union-attr]
        return self.backend.engine

    async def run(self, q: Any, terminal: str, *args: Any, **kwargs: Any) -> Any:
        if self.async_session is None:
            return getattr(q, terminal)(self.session, *args, **kwargs)
        return await getattr(q, f"a_{terminal}")(self.async_session, *args, **kwargs)

    async def commit(self) -> None:
        if self.async_session is None:
            self.session.commit()
        else:
            await self.async_session.commit()

    def seed(self, *rows: Any) -> list[Any]:
        """Insert ``rows`` through a separate session and commit; the returned
        objects are detached with their attributes (and keys) loaded."""
        with Session(self.backend.engine, expire_on_commit=False) as session:
            session.add_all(rows)
            session.commit()
        return list(rows)

    def seed_many(self, model: Any, mappings: list[dict[str, Any]]) -> None:
        """Insert many rows quickly (executemany) and commit."""
        with self.backend.engine.begin() as conn:
            conn.execute(insert(model), mappings)

    @contextmanager
    def count_statements(self) -> Iterator[list[str]]:
        """Collect the SQL statements executed in the block."""
        seen: list[str] = []

        def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        event.listen(self.engine, "before_cursor_execute", listener)
        try:
            yield seen
        finally:
            event.remove(self.engine, "before_cursor_execute", listener)


@pytest.fixture(params=["sync", "async"])
async def db(request: pytest.FixtureRequest, backend: Backend) -> AsyncIterator[Database]:
    backend.clean()
    session = Session(backend.engine)
    if request.param == "sync":
        try:
            yield Database(backend, "sync", session)
        finally:
            session.close()
        return
    async_engine = backend.async_engine(poolclass=NullPool)
    async_session = AsyncSession(async_engine)
    try:
        yield Database(backend, "async", session, async_session)
    finally:
        await async_session.close()
        session.close()
        await async_engine.dispose()


@pytest.fixture
def session(backend: Backend) -> Iterator[Session]:
    """A plain sync session on a clean schema (for tests without an async twin)."""
    backend.clean()
    with Session(backend.engine) as session:
        yield session
