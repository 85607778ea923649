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
* SQLite transactions that really nest: the ``sqlite3``/``aiosqlite``
  drivers start a transaction only before INSERT/UPDATE/DELETE, so a
  SAVEPOINT opened before any write runs outside a transaction and its
  RELEASE commits. The engines apply SQLAlchemy's documented fix (the driver
  stops issuing BEGIN; the engine emits BEGIN when a transaction starts),
  which makes `transaction` blocks and savepoints behave as on PostgreSQL.
  An engine created with ``isolation_level="AUTOCOMMIT"`` is left alone.

Pool arguments that do not apply to the pool in use (``pool_size`` for a
`StaticPool` or `NullPool`, ...) are not passed to it.
"""

from __future__ import annotations

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

__all__ = ["create_async_pooled_engine", "create_pooled_engine"]

_MYSQL_RECYCLE_SECONDS = 3600


def create_pooled_engine(
    url: str | URL,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 30,
    *,
    sqlite_wal: bool = True,
    **kwargs: Any,
) -> Engine:
    """A sync `Engine` with a connection pool suited to the backend.

    ``kwargs`` go to `sqlalchemy.create_engine` and override the defaults
    described in this module (e.g. ``pool_pre_ping=False``, ``poolclass=NullPool``).

    Example:
        >>> engine = create_pooled_engine("postgresql+psycopg://app@db/app", pool_size=10)
        >>> type(engine.pool).__name__, engine.pool.size()
        ('QueuePool', 10)
        >>> type(create_pooled_engine("sqlite://").pool).__name__
        'StaticPool'
    """
    parsed = make_url(url)
    options = _engine_options(parsed, False, pool_size, max_overflow, pool_timeout, kwargs)
    engine = create_engine(parsed, **options)
    if _needs_sqlite_fix(parsed, options):
        _use_explicit_sqlite_transactions(engine, wal=sqlite_wal and not _is_memory(parsed))
    return engine


def create_async_pooled_engine(
    url: str | URL,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 30,
    *,
    sqlite_wal: bool = True,
    **kwargs: Any,
) -> AsyncEngine:
    """Async twin of `create_pooled_engine`, returning an `AsyncEngine`.

    Example:
        >>> engine = create_async_pooled_engine("sqlite+aiosqlite://")
        >>> type(engine.pool).__name__
        'StaticPool'
    """
    parsed = make_url(url)
    options = _engine_options(parsed, True, pool_size, max_overflow, pool_timeout, kwargs)
    engine = create_async_engine(parsed, **options)
    if _needs_sqlite_fix(parsed, options):
        wal = sqlite_wal and not _is_memory(parsed)
        _use_explicit_sqlite_transactions(engine.sync_engine, wal=wal)
    return engine


def _engine_options(
    url: URL,
    is_async: bool,
    pool_size: int,
    max_overflow: int,
    pool_timeout: float,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """The keyword arguments for ``create_engine``: backend defaults, then
    the caller's ``kwargs`` on top, then the pool sizes the pool accepts."""
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


def _is_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def _needs_sqlite_fix(url: URL, options: dict[str, Any]) -> bool:
    return url.get_backend_name() == "sqlite" and options.get("isolation_level") != "AUTOCOMMIT"


def _use_explicit_sqlite_transactions(engine: Engine, *, wal: bool) -> None:
    """SQLAlchemy's documented pysqlite/aiosqlite transaction fix (see the
    "Transactions with SQLite and the sqlite3 driver" section of its SQLite
    dialect docs), plus WAL for file databases."""

    @event.listens_for(engine, "connect")
    def _driver_stops_beginning(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        if wal:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

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
