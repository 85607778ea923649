"""A copy-on-write name → value registry, for what users register at run
time (lookup operators, row scopes).

Writers replace the whole dict under a lock; readers use whichever dict
they find, with no lock on the query path. Every change clears the
per-model memos (parsed keys and statement templates depend on what is
registered).

    >>> shelf: Registry[int] = Registry()
    >>> shelf.replace("a", 1)
    >>> shelf.current, shelf.replace("a", None), shelf.current
    ({'a': 1}, None, {})
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

from ._memo import clear_memos

__all__ = ["Registry"]

V = TypeVar("V")


class Registry(Generic[V]):
    """See the module docs.

    Example: ``operators = Registry[Operator](); operators.replace("gt", gt)``.
    """

    __slots__ = ("_lock", "current")

    def __init__(self) -> None:
        #: The registered values by name: read freely, never mutated in place.
        self.current: dict[str, V] = {}
        self._lock = threading.Lock()

    def replace(self, name: str, value: V | None) -> None:
        """Register ``value`` as ``name`` (``None``: remove ``name``)."""
        with self._lock:
            current = dict(self.current)
            if value is None:
                current.pop(name, None)
            else:
                current[name] = value
            self.current = current
        clear_memos()
