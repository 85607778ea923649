"""Process-wide memos, in one place.

Parsing a lookup key, an ordering key or a relationship path, and building
a model's soft-delete loader options, depend only on the model's mapping, so
each is computed once per model and key and reused by every query. Three
rules keep that safe in a long-running process:

* **Weak by model.** A model's memos live on the model class itself
  (private class attributes), so they go away with the class; nothing here
  keeps a class alive.
* **Never stale.** Every memo is cleared when SQLAlchemy constructs or
  configures mappers (a new model, or a ``backref`` adding a relationship to
  an existing one), so the next query sees the new mapping.
* **Bounded.** Each memo keeps at most `MEMO_SIZE` keys per model and drops
  its oldest key when full, so endless distinct keys (say, relationship
  paths walking a cycle) cannot grow memory.

Invalid keys raise before anything is stored, and keys are validated before
they are hashed (a list passed as a field name is a `QueryError`, never a
``TypeError``).

    >>> calls = []
    >>> @memoized
    ... def shout(model, key):
    ...     calls.append(key)
    ...     return key.upper()
    >>> class Thing: ...
    >>> shout(Thing, "a"), shout(Thing, "a"), calls
    ('A', 'A', ['a'])
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import event
from sqlalchemy.orm import Mapper

__all__ = ["MEMO_SIZE", "clear_memos", "memo_sizes", "memoized", "remembered"]

#: Most keys each memo keeps per model.
MEMO_SIZE = 512

_R = TypeVar("_R")

_holders: weakref.WeakSet[type[Any]] = weakref.WeakSet()
_lock = threading.Lock()


class _Memo(dict[Any, Any]):
    """One memo of one model, stored as a class attribute of the model.
    ``owner`` tells the model's own memo from one a subclass inherits."""

    __slots__ = ("owner",)

    def __init__(self, owner: type[Any]) -> None:
        super().__init__()
        self.owner = owner


def memoized(function: Callable[[type[Any], Any], _R]) -> Callable[[type[Any], Any], _R]:
    """Cache ``function(model, key)`` per model (see the module docstring).

    Example:
        >>> @memoized
        ... def length(model, key):
        ...     return len(key)
        >>> class Box: ...
        >>> length(Box, "abc")
        3
    """
    qualified = f"{function.__module__}.{function.__qualname__}"
    lookup = functools.partial(remembered, memo_attribute(qualified), function)
    return cast("Callable[[type[Any], Any], _R]", functools.update_wrapper(lookup, function))


def memo_attribute(name: str) -> str:
    """The class attribute holding the memo ``name`` (a qualified name).

    Example:
        >>> memo_attribute("pkg.templates")
        '_sqlmodel_crud_utils_memo_pkg_templates'
    """
    return "_sqlmodel_crud_utils_memo_" + name.replace(".", "_").replace("<", "_")


def remembered(
    attribute: str, compute: Callable[[type[Any], Any], _R], model: type[Any], key: Any
) -> _R:
    """The value of ``key`` in ``model``'s memo ``attribute`` (see
    `memo_attribute`), ``compute(model, key)`` stored on a miss.

    Example:
        >>> class Crate: ...
        >>> remembered(memo_attribute("doc.sizes"), lambda model, key: 1, Crate, "a")
        1
        >>> remembered(memo_attribute("doc.sizes"), lambda model, key: 2, Crate, "a")
        1
    """
    try:
        memo = getattr(model, attribute)  # a class attribute: served by the type cache
        if memo.owner is model:
            return memo[key]  # type: ignore[no-any-return]
    except (AttributeError, KeyError, TypeError):
        pass
    result = compute(model, key)  # validates model and key, raising before any store
    _store(model, attribute, key, result)
    return result


def _store(model: type[Any], attribute: str, key: Any, result: Any) -> None:
    if not isinstance(model, type):
        return
    try:
        hash(key)
    except TypeError:
        return
    with _lock:
        memo = model.__dict__.get(attribute)
        if memo is None:
            memo = _Memo(model)
            try:
                # type.__setattr__: past the metaclasses of SQLModel and SQLAlchemy
                type.__setattr__(model, attribute, memo)
            except TypeError:  # a built-in type: nothing to memoize on
                return
            _holders.add(model)
        if len(memo) >= MEMO_SIZE:
            del memo[next(iter(memo))]  # the oldest key
        memo[key] = result


def clear_memos(*_: Any) -> None:
    """Forget every memo of every model (runs on each mapper (re)configuration).

    Example:
        >>> clear_memos()
    """
    with _lock:
        for model in list(_holders):
            for value in list(vars(model).values()):
                if isinstance(value, _Memo):
                    value.clear()


def memo_sizes(model: type[Any]) -> dict[str, int]:
    """How many keys each memo of ``model`` holds (for tests and debugging).

    Example:
        >>> memo_sizes(int)
        {}
    """
    return {name: len(value) for name, value in vars(model).items() if isinstance(value, _Memo)}


event.listen(Mapper, "instrument_class", clear_memos)
event.listen(Mapper, "after_configured", clear_memos)
