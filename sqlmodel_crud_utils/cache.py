"""An opt-in result cache for reads: the backends and their switch.

Nothing is cached until a backend is configured *and* a read asks for it
(``Q(...).cached()``, ``QueryBuilder(...).cached()``, or ``use_cache=True``
on the legacy reads). Then a read is answered from the backend when it
can be, and stored after it ran when it may be. What makes it safe (see
`sqlmodel_crud_utils._cached` for the mechanics):

* a write through any path of this library, a set-based statement run with
  ``session.execute()`` or an ORM flush, invalidates the tables it touched
  **after its transaction commits** (never before, so another session cannot
  re-cache the old row in between); a rolled-back write invalidates nothing;
* a read made while its session holds uncommitted writes neither reads nor
  fills the cache;
* the database, the soft-delete scope and the `acting_as` user are part of
  every key;
* a backend that fails (Redis down) turns the read into an uncached one with
  a `CacheWarning`; it is never an error.

Backends receive JSON-compatible values only, so any store can hold them.

    >>> cache = InMemoryCache(default_ttl=30, max_entries=2)
    >>> cache.set("hero", "k", [1, "a"])
    >>> cache.get("hero", "k")
    [1, 'a']
    >>> cache.invalidate("hero")
    >>> cache.get("hero", "k") is None
    True
"""

from __future__ import annotations

import inspect as pyinspect
import json
import math
import threading
import time
import uuid
import warnings
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ._compat import await_, in_greenlet

__all__ = [
    "CacheBackend",
    "CacheStats",
    "CacheWarning",
    "InMemoryCache",
    "RedisCache",
    "a_invalidate_written",
    "configure_cache",
    "get_cache",
    "invalidate_cache",
    "invalidate_written",
    "statement_key",
    "written_models",
]

#: The backend namespace holding each table's generation token.
GENERATIONS = "__generation__"


class CacheWarning(UserWarning):
    """A cache backend failed; the read went to the database instead.

    Example:
        >>> issubclass(CacheWarning, UserWarning)
        True
    """


@dataclass
class CacheStats:
    """What a backend has done since it was made (or `reset`).

    Example:
        >>> stats = CacheStats()
        >>> stats.hits, stats.misses
        (0, 0)
    """

    hits: int = 0
    misses: int = 0
    stores: int = 0
    invalidations: int = 0
    errors: int = 0

    def reset(self) -> None:
        """Set every counter back to zero.

        Example:
            >>> stats = CacheStats(hits=3)
            >>> stats.reset(); stats.hits
            0
        """
        self.hits = self.misses = self.stores = self.invalidations = self.errors = 0


class CacheBackend(ABC):
    """Where cached reads live. Subclass it for another store: implement
    `get`, `set`, `invalidate` and `clear` over JSON-compatible values.

    ``namespace`` is a table name; `invalidate` drops every entry of one.
    ``ttl`` is in seconds (``None``: `default_ttl`; ``0`` or less: expired
    at once; ``math.inf``: never expires).

    Example:
        >>> class Null(CacheBackend):
        ...     def get(self, namespace, key): return None
        ...     def set(self, namespace, key, value, ttl=None): pass
        ...     def invalidate(self, namespace): pass
        ...     def clear(self): pass
        >>> len(Null().generation("hero"))  # nothing stored: a new token each time
        32
    """

    default_ttl: float = 60.0
    #: ``True`` when the calls block on I/O (a network store).
    blocking: bool = False

    def __init__(self) -> None:
        self.stats = CacheStats()

    @abstractmethod
    def get(self, namespace: str, key: str) -> Any | None:
        """The value stored under ``key``, or ``None`` (missing or expired)."""

    @abstractmethod
    def set(self, namespace: str, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` (JSON-compatible) under ``key`` for ``ttl`` seconds."""

    @abstractmethod
    def invalidate(self, namespace: str) -> None:
        """Drop every entry of ``namespace``."""

    @abstractmethod
    def clear(self) -> None:
        """Drop everything this backend holds."""

    def generation(self, namespace: str) -> str:
        """The token entries of ``namespace`` are keyed with. A read
        remembers it before it queries, so a row read before a write
        commits is stored under a token the write has already replaced:
        unreachable, never served. A token that is missing (evicted,
        cleared) is replaced by a new random one, never by a value an older
        entry could carry.

        Example:
            >>> cache = InMemoryCache()
            >>> cache.generation("hero") == cache.generation("hero")
            True
        """
        token = self.get(GENERATIONS, namespace)
        if isinstance(token, str):
            return token
        self.new_generation(namespace)
        token = self.get(GENERATIONS, namespace)
        return token if isinstance(token, str) else uuid.uuid4().hex

    def new_generation(self, namespace: str) -> None:
        """Replace ``namespace``'s token (done before `invalidate` drops the
        entries).

        Example:
            >>> cache = InMemoryCache()
            >>> cache.new_generation("hero")
            >>> len(cache.generation("hero"))
            32
        """
        self.set(GENERATIONS, namespace, uuid.uuid4().hex, ttl=math.inf)


def _expiry(ttl: float | None, default: float) -> float | None:
    """The monotonic time an entry expires, ``None`` for never; ``-inf``
    for at once."""
    seconds = default if ttl is None else ttl
    if seconds == math.inf:
        return None
    if seconds <= 0:
        return -math.inf
    return time.monotonic() + seconds


class InMemoryCache(CacheBackend):
    """A per-process cache: an LRU of ``max_entries`` with a TTL per entry,
    safe across threads. Values are kept as given (JSON-compatible), never
    serialised.

    Example:
        >>> cache = InMemoryCache(default_ttl=60, max_entries=1)
        >>> cache.set("a", "1", 1); cache.set("a", "2", 2)
        >>> cache.get("a", "1"), cache.get("a", "2")
        (None, 2)
    """

    def __init__(self, default_ttl: float = 60.0, max_entries: int = 10_000) -> None:
        super().__init__()
        self.default_ttl = default_ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[float | None, Any]] = OrderedDict()
        self._tokens: dict[str, str] = {}  # never evicted with the entries
        self._lock = threading.Lock()

    def generation(self, namespace: str) -> str:
        """``namespace``'s token (see `CacheBackend.generation`), kept
        apart from the entries so the LRU never evicts it.

        Example: ``InMemoryCache().generation("hero")``.
        """
        with self._lock:
            token = self._tokens.get(namespace)
            if token is None:
                token = self._tokens[namespace] = uuid.uuid4().hex
            return token

    def new_generation(self, namespace: str) -> None:
        """Give ``namespace`` a new token (see `CacheBackend.new_generation`).

        Example: ``InMemoryCache().new_generation("hero")``.
        """
        with self._lock:
            self._tokens[namespace] = uuid.uuid4().hex

    def get(self, namespace: str, key: str) -> Any | None:
        """The live value under ``key`` (see `CacheBackend.get`).

        Example: ``InMemoryCache().get("hero", "k") is None``.
        """
        slot = (namespace, key)
        with self._lock:
            entry = self._entries.get(slot)
            if entry is None:
                return None
            expires, value = entry
            if expires is not None and expires <= time.monotonic():
                del self._entries[slot]
                return None
            self._entries.move_to_end(slot)
            return value

    def set(self, namespace: str, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` (see `CacheBackend.set`), evicting the least
        recently used entries beyond ``max_entries``.

        Example: ``InMemoryCache().set("hero", "k", {"v": 1}, ttl=5)``.
        """
        expires = _expiry(ttl, self.default_ttl)
        slot = (namespace, key)
        with self._lock:
            if expires == -math.inf:
                self._entries.pop(slot, None)
                return
            self._entries[slot] = (expires, value)
            self._entries.move_to_end(slot)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def invalidate(self, namespace: str) -> None:
        """Drop ``namespace``'s entries.

        Example: ``InMemoryCache().invalidate("hero")``.
        """
        with self._lock:
            for slot in [slot for slot in self._entries if slot[0] == namespace]:
                del self._entries[slot]

    def clear(self) -> None:
        """Drop every entry (and every token: the next read of a namespace
        draws a new one).

        Example: ``InMemoryCache().clear()``.
        """
        with self._lock:
            self._entries.clear()
            self._tokens.clear()


class RedisCache(CacheBackend):
    """A cache shared by every process that talks to one Redis (7.0 or
    newer). Give a ``url`` (a client is made with ``timeout`` seconds for
    connecting and answering, so a dead server costs little) or your own
    ``client``: ``redis.Redis`` for sync and async code, or
    ``redis.asyncio.Redis`` (used from `AsyncSession` reads, which run it
    on the event loop; sync sessions then read uncached, with a
    `CacheWarning`).

    Entries are JSON strings at ``{prefix}:{namespace}:{key}`` with a
    millisecond TTL; each namespace keeps an index set of its keys, written
    in the same MULTI as the entry and living at least as long as the
    longest entry, so `invalidate` finds them all. Needs the ``redis``
    package (``pip install 'sqlmodel-crud-utils[cache]'``).

    Example::

        configure_cache(RedisCache("redis://127.0.0.1:6379/0", default_ttl=300))
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        default_ttl: float = 60.0,
        prefix: str = "scu",
        timeout: float = 0.25,
    ) -> None:
        super().__init__()
        if client is None:
            if url is None:
                raise ValueError("RedisCache needs a url or a client")
            try:
                import redis
            except ImportError as exc:
                raise ImportError(
                    "RedisCache needs the redis package: pip install 'sqlmodel-crud-utils[cache]'"
                ) from exc
            client = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        self.client = client
        self.is_async = _is_async_client(client)
        self.blocking = not self.is_async
        self.default_ttl = default_ttl
        self.prefix = prefix

    def _call(self, outcome: Any) -> Any:
        if not pyinspect.isawaitable(outcome):
            return outcome
        if not in_greenlet():
            close = getattr(outcome, "close", None)
            if close is not None:
                close()
            raise RuntimeError(
                "an async Redis client serves AsyncSession reads only; this read is uncached"
            )
        return await_(outcome)

    def _key(self, namespace: str, key: str) -> str:
        return f"{self.prefix}:{namespace}:{key}"

    def _index(self, namespace: str) -> str:
        return f"{self.prefix}:idx:{namespace}"

    def get(self, namespace: str, key: str) -> Any | None:
        """The value under ``key``, decoded (see `CacheBackend.get`).

        Example: ``RedisCache("redis://127.0.0.1").get("hero", "k")``.
        """
        raw = self._call(self.client.get(self._key(namespace, key)))
        return None if raw is None else json.loads(raw)

    def set(self, namespace: str, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` as JSON with a millisecond TTL, indexed for
        `invalidate` (see `CacheBackend.set`).

        Example: ``RedisCache("redis://127.0.0.1").set("hero", "k", [1], ttl=0.5)``.
        """
        name = self._key(namespace, key)
        seconds = self.default_ttl if ttl is None else ttl
        if seconds <= 0:
            self._call(self.client.delete(name))
            return
        payload = json.dumps(value, separators=(",", ":"))
        if seconds == math.inf:
            self._call(self.client.set(name, payload))
            return
        millis = math.ceil(seconds * 1000)
        index = self._index(namespace)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(name, payload, px=millis)
        pipe.sadd(index, name)
        pipe.pexpire(index, millis, nx=True)
        pipe.pexpire(index, millis, gt=True)
        self._call(pipe.execute())

    def invalidate(self, namespace: str) -> None:
        """Delete ``namespace``'s entries and index.

        Example: ``RedisCache("redis://127.0.0.1").invalidate("hero")``.
        """
        index = self._index(namespace)
        members = self._call(self.client.smembers(index))
        self._call(self.client.delete(*members, index))

    def clear(self) -> None:
        """Delete every key under this cache's prefix.

        Example: ``RedisCache("redis://127.0.0.1").clear()``.
        """
        pattern = f"{self.prefix}:*"
        if self.is_async:
            keys = self._call(self.client.keys(pattern))
        else:
            keys = list(self.client.scan_iter(match=pattern))
        if keys:
            self._call(self.client.delete(*keys))


def _is_async_client(client: Any) -> bool:
    """Whether ``client``'s commands return awaitables (``redis.asyncio``'s,
    or a client whose ``get`` is a coroutine function)."""
    if any(cls.__module__.startswith("redis.asyncio") for cls in type(client).__mro__):
        return True
    return pyinspect.iscoroutinefunction(getattr(client, "get", None))


_backend: CacheBackend | None = None


def configure_cache(backend: CacheBackend | None) -> None:
    """Make ``backend`` the cache of every cached read (``None``: no
    cache; cached reads then go to the database).

    Example:
        >>> configure_cache(InMemoryCache())
        >>> isinstance(get_cache(), InMemoryCache)
        True
        >>> configure_cache(None)
    """
    global _backend
    _backend = backend
    if backend is not None:
        from ._cached import install_listeners

        install_listeners()


def get_cache() -> CacheBackend | None:
    """The configured backend, or ``None``.

    Example:
        >>> get_cache() is None
        True
    """
    return _backend


def invalidate_cache(model: type[Any] | None = None) -> None:
    """Forget what is cached for ``model``'s tables, or everything
    (``None``). Writes made outside this library's reach (another program,
    raw SQL through ``session.connection()``) need it.

    Example:
        >>> invalidate_cache()  # no backend configured: nothing to do
    """
    from ._cached import invalidate_tables, tables_of

    backend = _backend
    if backend is None:
        return
    if model is None:
        try:
            backend.clear()
        except Exception as exc:  # a failing backend warns, never raises
            warn_failure(backend, exc)
        return
    invalidate_tables(backend, tables_of(model))


def statement_key(session: Any, model: type[Any], operation: str, stmt: Any) -> str | None:
    """The cache key a cached ``operation`` (``"rows"``, ``"count"``, ...)
    over ``stmt`` would have in ``session``'s database, or ``None`` when
    such a read is uncached (it reads another table than ``model``'s, holds
    ``text()`` / ``literal_column()``, or a value without a stable ``repr``).

    Example::

        statement_key(session, Hero, "rows", select(Hero).where(Hero.age > 30))
    """
    from ._cached import statement_plan

    plan = statement_plan(session, model, operation, stmt)
    return None if plan is None else plan[1]


def written_models(session: Any, *models: type[Any]) -> set[type[Any]]:
    """``models`` plus the models whose rows ``session`` has written and
    not yet committed (any object works as ``session``: one without
    ``info`` has written nothing).

    Example:
        >>> class Anything: pass
        >>> written_models(object(), Anything) == {Anything}
        True
    """
    from ._cached import models_written

    return set(models) | models_written(session)


def invalidate_written(session: Any, *models: type[Any]) -> None:
    """Invalidate `written_models` now (the automatic invalidation waits for
    the commit; use this after writes the library cannot see).

    Example:
        >>> invalidate_written(object())  # no backend configured: nothing to do
    """
    for model in written_models(session, *models):
        invalidate_cache(model)


async def a_invalidate_written(session: Any, *models: type[Any]) -> None:
    """Async spelling of `invalidate_written` (for a blocking backend it
    runs off the event loop).

    Example: ``await a_invalidate_written(session, Hero)``.
    """
    import asyncio

    backend = _backend
    if backend is not None and backend.blocking:
        await asyncio.to_thread(invalidate_written, session, *models)
    else:
        invalidate_written(session, *models)


def warn_failure(backend: CacheBackend, exc: BaseException, stacklevel: int = 3) -> None:
    """Count ``exc`` in the backend's ``stats.errors`` and say so with a
    `CacheWarning` (a failing backend degrades to uncached reads, never
    raises)."""
    backend.stats.errors += 1
    warnings.warn(
        f"cache backend {type(backend).__name__} failed ({exc!r}); reading uncached",
        CacheWarning,
        stacklevel=stacklevel,
    )
