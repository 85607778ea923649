"""Read replicas: sessions that read from a replica and write to the primary.

    Session = routed_sessionmaker(primary, [replica_a, replica_b], sticky_seconds=2)
    with Session() as session:
        heroes = Q(Hero).all(session)              # a replica (round robin)
        update_row(7, {"age": 40}, session, Hero)  # the primary
        Q(Hero).where(id=7).one(session)           # the primary: read after a write

Where a statement goes, decided per statement by `RoutedSession.get_bind`:

* **the primary**: writes (flushes, ``INSERT`` / ``UPDATE`` / ``DELETE``,
  ``Q.update`` / ``Q.delete``, the legacy writes), raw SQL (``text()``: it
  may write), ``SELECT ... FOR UPDATE``, everything inside a `transaction` /
  `a_transaction` block, every query of ``Q(...).primary()``, and every read
  of a session that has written: until its transaction ends and, after a
  commit, for ``sticky_seconds`` more (a replica may not have replayed the
  write yet);
* **a replica**, otherwise: the replicas take turns, one per transaction (a
  session's reads between two commits see one replica's snapshot).

A replica that cannot be reached (refused connection, server gone) is
skipped for ``retry_seconds`` with a `ReplicaWarning`; with none left,
reads go to the primary. Give replica engines ``pool_pre_ping=True``
(`create_pooled_engine` does), so a pooled connection to a replica that has
gone away is noticed when the session takes it, not by the query.
"""

from __future__ import annotations

import itertools
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Session as SASession
from sqlalchemy.orm import SessionTransaction, sessionmaker
from sqlalchemy.sql.selectable import TextualSelect
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from ._pins import is_pinned, pinned
from .transactions import in_transaction

__all__ = [
    "ReplicaWarning",
    "RoutedSession",
    "async_routed_sessionmaker",
    "on_primary",
    "routed_sessionmaker",
]


class ReplicaWarning(UserWarning):
    """A replica could not be reached; reads skip it for a while.

    Example:
        >>> issubclass(ReplicaWarning, UserWarning)
        True
    """


class _Replicas:
    """The engines of one session factory, and which replicas are down
    (shared by every session the factory makes)."""

    def __init__(
        self,
        primary: Engine,
        replicas: Sequence[Engine],
        sticky_seconds: float,
        retry_seconds: float,
    ) -> None:
        if sticky_seconds < 0 or retry_seconds < 0:
            raise ValueError("sticky_seconds and retry_seconds must be >= 0")
        self.primary = primary
        self.replicas = tuple(replicas)
        self.sticky_seconds = sticky_seconds
        self.retry_seconds = retry_seconds
        self._turn = itertools.count()
        self._down_until: dict[Engine, float] = {}
        self._lock = threading.Lock()

    def in_turn(self) -> Sequence[Engine]:
        """The replicas to try, the next one in the rotation first, without
        those marked down."""
        if len(self.replicas) < 2 and not self._down_until:
            return self.replicas
        start = next(self._turn) % len(self.replicas)
        now = time.monotonic()
        ordered = self.replicas[start:] + self.replicas[:start]
        return [engine for engine in ordered if self._down_until.get(engine, 0.0) <= now]

    def mark_down(self, engine: Engine, error: BaseException) -> None:
        with self._lock:
            self._down_until[engine] = time.monotonic() + self.retry_seconds
        warnings.warn(
            f"replica {engine.url.render_as_string(hide_password=True)} is unreachable, "
            f"skipped for {self.retry_seconds:g} s: {str(error).splitlines()[0]}",
            ReplicaWarning,
            stacklevel=2,
        )


class RoutedSession(Session):
    """A SQLModel ``Session`` that routes reads to replicas (see the module
    docs); made by `routed_sessionmaker` / `async_routed_sessionmaker`.

    Example:
        >>> from sqlalchemy import create_engine
        >>> primary, replica = create_engine("sqlite://"), create_engine("sqlite://")
        >>> session = routed_sessionmaker(primary, [replica])()
        >>> session.get_bind() is primary   # no statement: the primary
        True
    """

    def __init__(self, *args: Any, replicas: _Replicas, **kwargs: Any) -> None:
        kwargs.setdefault("bind", replicas.primary)
        super().__init__(*args, **kwargs)
        self._replicas = replicas
        self._sticky_until = 0.0
        self._wrote = False  # in the current transaction (reset when it ends)
        self._replica: Engine | None = None  # the current transaction's replica

    def get_bind(self, mapper: Any = None, *, clause: Any = None, **kwargs: Any) -> Engine:
        """The primary or a replica for ``clause`` (see the module docs)."""
        if kwargs.get("bind") is not None:
            return kwargs["bind"]  # type: ignore[no-any-return]
        if self._flushing or (clause is not None and _may_write(clause)):
            self._wrote = True
            return self._replicas.primary
        if (
            clause is None  # a connection asked for, or a statement not given
            or self._wrote
            or getattr(clause, "_for_update_arg", None) is not None
            or is_pinned(self)
            or in_transaction(self)
            or (self._sticky_until and time.monotonic() < self._sticky_until)
        ):
            return self._replicas.primary
        return self._replica or self._reachable_replica()

    def _reachable_replica(self) -> Engine:
        for engine in self._replicas.in_turn():
            try:
                self.connection(bind_arguments={"bind": engine})
            except (DBAPIError, SATimeoutError, OSError) as exc:
                self._replicas.mark_down(engine, exc)
                continue
            self._replica = engine
            return engine
        return self._replicas.primary


def _may_write(clause: Any) -> bool:
    """Whether ``clause`` may write: anything but a SELECT, and raw SQL
    even where it says what columns it returns (``text(...).columns()``)."""
    return not getattr(clause, "is_select", False) or isinstance(clause, TextualSelect)


@event.listens_for(RoutedSession, "after_commit")
def _stick_after_a_write(session: SASession) -> None:
    transaction = session._transaction
    root = transaction is None or transaction.parent is None  # not a SAVEPOINT's release
    if root and isinstance(session, RoutedSession) and session._wrote:
        session._sticky_until = time.monotonic() + session._replicas.sticky_seconds


@event.listens_for(RoutedSession, "after_transaction_end")
def _forget_the_transaction(session: SASession, transaction: SessionTransaction) -> None:
    if isinstance(session, RoutedSession) and transaction.parent is None:
        session._wrote = False
        session._replica = None


@contextmanager
def on_primary(session: SASession) -> Iterator[None]:
    """Route every statement of ``session`` inside the block to the primary
    (no effect on a session that does not route). `Q.primary` uses the same pin.

    Example:
        >>> from sqlalchemy import create_engine
        >>> session = routed_sessionmaker(create_engine("sqlite://"), [])()
        >>> with on_primary(session):
        ...     pass
    """
    with pinned(session):
        yield


def routed_sessionmaker(
    primary: Engine,
    replicas: Sequence[Engine],
    *,
    sticky_seconds: float = 1.0,
    retry_seconds: float = 30.0,
    **session_options: Any,
) -> sessionmaker[RoutedSession]:
    """A session factory whose sessions read from ``replicas`` and write to
    ``primary`` (see the module docs). ``sticky_seconds``: how long after
    committing a write a session keeps reading from the primary;
    ``retry_seconds``: how long an unreachable replica is skipped.
    ``session_options`` go to each ``Session`` (``expire_on_commit=False``, ...).

    Example:
        >>> from sqlalchemy import create_engine
        >>> Session = routed_sessionmaker(create_engine("sqlite://"), [create_engine("sqlite://")])
        >>> type(Session()).__name__
        'RoutedSession'
    """
    routes = _Replicas(primary, replicas, sticky_seconds, retry_seconds)
    return sessionmaker(class_=RoutedSession, replicas=routes, **session_options)


def async_routed_sessionmaker(
    primary: AsyncEngine,
    replicas: Sequence[AsyncEngine],
    *,
    sticky_seconds: float = 1.0,
    retry_seconds: float = 30.0,
    **session_options: Any,
) -> async_sessionmaker[AsyncSession]:
    """Async twin of `routed_sessionmaker`: ``AsyncSession`` s over async
    engines, routed the same way (by their `RoutedSession`).

    Example:
        >>> from sqlalchemy.ext.asyncio import create_async_engine
        >>> engine = create_async_engine("sqlite+aiosqlite://")
        >>> Session = async_routed_sessionmaker(engine, [])
        >>> type(Session().sync_session).__name__
        'RoutedSession'
    """
    routes = _Replicas(
        primary.sync_engine,
        [replica.sync_engine for replica in replicas],
        sticky_seconds,
        retry_seconds,
    )
    return async_sessionmaker(
        class_=AsyncSession, sync_session_class=RoutedSession, replicas=routes, **session_options
    )
