"""Pooled engines with sensible defaults for each backend.

    engine = create_pooled_engine("postgresql+psycopg://app@db/app", pool_size=10)
    engine = create_async_pooled_engine("sqlite+aiosqlite:///app.db")

What the factories set up (every keyword argument of `sqlalchemy.create_engine`
still works and wins over these defaults):

* ``pool_pre_ping=True``: a connection the server dropped is replaced on
  checkout instead of failing the first query.
* PostgreSQL / MySQL / MariaDB / file SQLite: a queue pool of ``pool_size``
  connections plus ``max_overflow``, waiting up to ``pool_timeout`` seconds.
  MySQL/MariaDB connections are recycled after an hour (``pool_recycle``),
  below the server's idle timeout.
* In-memory SQLite: one shared connection (`StaticPool`,
  ``check_same_thread=False``), so every session and thread sees the same
  database. Sessions that overlap in time share that connection's
  transaction, so use a file database when several threads write at once.
* File SQLite: ``check_same_thread=False`` and write-ahead logging
  (``PRAGMA journal_mode=WAL``, pass ``sqlite_wal=False`` to keep the
  file's journal mode), so readers and a writer in different threads do not
  block each other.
* SQLite enforces FOREIGN KEY constraints (``PRAGMA foreign_keys=ON`` on
  every connection), as PostgreSQL and MySQL do: a row pointing at a
  missing parent is a `ConstraintError` on every backend. Pass
  ``sqlite_foreign_keys=False`` for SQLite's own default (not enforced).
* SQLite transactions that really nest: the ``sqlite3``/``aiosqlite``
  drivers start a transaction only before INSERT/UPDATE/DELETE, so a
  SAVEPOINT opened before any write runs outside a transaction and its
  RELEASE commits. The engines apply SQLAlchemy's documented fix (the driver
  stops issuing BEGIN; the engine emits BEGIN when a transaction starts),
  which makes `transaction` blocks and savepoints behave as on PostgreSQL.
  An engine created with ``isolation_level="AUTOCOMMIT"`` is left alone.

Behind PgBouncer in transaction pooling mode (``behind_pgbouncer=True``, or
by default on a PostgreSQL URL with PgBouncer's default port 6432),
consecutive transactions of one client may run on different server
connections, so nothing may live on a server connection between
transactions: psycopg 3 never prepares statements on the server
(``prepare_threshold=None``; by default it prepares a statement run five
times, and the next transaction may find it missing, or another client's
under its name), and asyncpg keeps no statement cache
(``statement_cache_size=0``, ``prepared_statement_cache_size=0``, unique
statement names), as SQLAlchemy's asyncpg documentation advises. The
library itself keeps no session state on the server (no ``SET``, advisory
locks, temporary tables or ``LISTEN``). See docs/scaling.md.

Pool arguments that do not apply to the pool in use (``pool_size`` for a
`StaticPool` or `NullPool`, ...) are not passed to it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import (
    AsyncAdaptedQueuePool,
    Pool,
    QueuePool,
    SingletonThreadPool,
    StaticPool,
)

from .transactions import SAVEPOINTS_OPTION

__all__ = ["create_async_pooled_engine", "create_pooled_engine"]

_MYSQL_RECYCLE_SECONDS = 3600


def create_pooled_engine(
    url: str | URL,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 30,
    *,
    sqlite_wal: bool = True,
    sqlite_foreign_keys: bool = True,
    behind_pgbouncer: bool | None = None,
    savepoints: bool = True,
    **kwargs: Any,
) -> Engine:
    """A sync `Engine` with a connection pool suited to the backend.

    ``kwargs`` go to `sqlalchemy.create_engine` and override the defaults
    described in this module (e.g. ``pool_pre_ping=False``, ``poolclass=NullPool``).
    ``behind_pgbouncer=True``: connect through PgBouncer in transaction
    pooling mode (no server-side prepared statements; see the module docs);
    ``None`` (the default) assumes PgBouncer on a PostgreSQL URL with its
    default port, 6432. ``savepoints=False``: the database has no SAVEPOINT
    (see `sqlmodel_crud_utils.transactions`).

    Example:
        >>> engine = create_pooled_engine("postgresql+psycopg://app@db/app", pool_size=10)
        >>> type(engine.pool).__name__, engine.pool.size()
        ('QueuePool', 10)
        >>> type(create_pooled_engine("sqlite://").pool).__name__
        'StaticPool'
    """
    parsed = make_url(url)
    options = _engine_options(
        parsed, False, pool_size, max_overflow, pool_timeout, kwargs, behind_pgbouncer
    )
    engine = create_engine(parsed, **options)
    _configure(engine, parsed, options, sqlite_wal, sqlite_foreign_keys, savepoints)
    return engine


def create_async_pooled_engine(
    url: str | URL,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 30,
    *,
    sqlite_wal: bool = True,
    sqlite_foreign_keys: bool = True,
    behind_pgbouncer: bool | None = None,
    savepoints: bool = True,
    **kwargs: Any,
) -> AsyncEngine:
    """Async twin of `create_pooled_engine`, returning an `AsyncEngine`.

    Example:
        >>> engine = create_async_pooled_engine("sqlite+aiosqlite://")
        >>> type(engine.pool).__name__
        'StaticPool'
    """
    parsed = make_url(url)
    options = _engine_options(
        parsed, True, pool_size, max_overflow, pool_timeout, kwargs, behind_pgbouncer
    )
    engine = create_async_engine(parsed, **options)
    _configure(engine.sync_engine, parsed, options, sqlite_wal, sqlite_foreign_keys, savepoints)
    return engine


def _engine_options(
    url: URL,
    is_async: bool,
    pool_size: int,
    max_overflow: int,
    pool_timeout: float,
    kwargs: dict[str, Any],
    behind_pgbouncer: bool | None,
) -> dict[str, Any]:
    """The keyword arguments for ``create_engine``: backend defaults, then
    the caller's ``kwargs`` on top (with PgBouncer's connect arguments when
    it is in front), then the pool sizes the pool accepts."""
    if _pgbouncer(url, behind_pgbouncer):
        kwargs = _through_pgbouncer(url, kwargs)
    options: dict[str, Any] = {"pool_pre_ping": True}
    backend = url.get_backend_name()
    if backend == "sqlite":
        connect_args = {"check_same_thread": False, **kwargs.pop("connect_args", {})}
        options["connect_args"] = connect_args
        if _is_memory(url):
            options["poolclass"] = StaticPool
    elif backend in ("mysql", "mariadb"):
        options["pool_recycle"] = _MYSQL_RECYCLE_SECONDS
    options.update(kwargs)
    if options.get("poolclass") is None:
        options["poolclass"] = AsyncAdaptedQueuePool if is_async else QueuePool
    if "pool" in options:  # a ready-made pool: the pool class and sizes are its own
        del options["poolclass"]
        return options
    poolclass: type[Pool] = options["poolclass"]
    if issubclass(poolclass, QueuePool):  # AsyncAdaptedQueuePool included
        options.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout)
    elif issubclass(poolclass, SingletonThreadPool):
        options["pool_size"] = pool_size
    return options


#: What each PostgreSQL driver needs to keep no prepared statement on a
#: server connection (psycopg2 and pg8000 prepare nothing on the server).
_NO_SERVER_STATEMENTS: dict[str, dict[str, Any]] = {
    "psycopg": {"prepare_threshold": None},
    "psycopg_async": {"prepare_threshold": None},
    "asyncpg": {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4()}__",
    },
}


PGBOUNCER_PORT = 6432


def _pgbouncer(url: URL, behind_pgbouncer: bool | None) -> bool:
    if behind_pgbouncer is None:
        return url.get_backend_name() == "postgresql" and url.port == PGBOUNCER_PORT
    return behind_pgbouncer


def _through_pgbouncer(url: URL, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the connect arguments PgBouncer's transaction pooling
    needs (the caller's own ``connect_args`` win)."""
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"behind_pgbouncer needs a PostgreSQL URL, got {url.drivername!r}")
    needed = _NO_SERVER_STATEMENTS.get(url.get_driver_name(), {})
    return {**kwargs, "connect_args": {**needed, **kwargs.get("connect_args", {})}}


def _is_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def _configure(
    engine: Engine,
    url: URL,
    options: dict[str, Any],
    wal: bool,
    foreign_keys: bool,
    savepoints: bool,
) -> None:
    """What the factories set up on a new (sync) engine: the SQLite
    pragmas and transaction fix, and the no-SAVEPOINT declaration."""
    _configure_sqlite(engine, url, options, wal, foreign_keys)
    if not savepoints:
        engine.update_execution_options(**{SAVEPOINTS_OPTION: False})


def _configure_sqlite(
    engine: Engine, url: URL, options: dict[str, Any], wal: bool, foreign_keys: bool
) -> None:
    """On SQLite: the pragmas asked for on every new connection, and the
    transaction fix unless the engine is in autocommit mode."""
    if url.get_backend_name() != "sqlite":
        return
    explicit = options.get("isolation_level") != "AUTOCOMMIT"
    pragmas = []
    if wal and not _is_memory(url):
        pragmas.append("PRAGMA journal_mode=WAL")
    if foreign_keys:
        pragmas.append("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if explicit:
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:  # outside any transaction: foreign_keys is ignored inside one
                cursor.execute(pragma)
        finally:
            cursor.close()

    if explicit:
        _emit_begin_explicitly(engine)


def _emit_begin_explicitly(engine: Engine) -> None:
    """SQLAlchemy's documented pysqlite/aiosqlite transaction fix (see the
    "Transactions with SQLite and the sqlite3 driver" section of its SQLite
    dialect docs): the driver no longer begins (``isolation_level = None``,
    set on connect), the engine emits BEGIN when a transaction starts."""

    @event.listens_for(engine, "begin")
    def _emit_begin(conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        # An in-memory database is one shared connection: a session starting
        # while another one's transaction is open joins that transaction.
        if getattr(conn.connection.driver_connection, "in_transaction", False):
            return
        # Through the raw cursor: BEGIN is bookkeeping, not a statement that
        # ``before_cursor_execute`` listeners (statement counters) should see.
        cursor = conn.connection.cursor()
        try:
            cursor.execute("BEGIN")
        finally:
            cursor.close()
