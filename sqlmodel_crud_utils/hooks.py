"""Lifecycle hooks: run your code around row-level writes.

A hook is any object with some of these methods (all optional)::

    before_create(instance)            after_create(instance)
    before_update(instance, data)      after_update(instance)
    before_delete(instance)            after_delete(instance)

``before_update`` may return a new ``dict`` to replace the update data
(``None`` keeps it). Methods may be ``async def`` when the hook is used by
the async functions; a sync function meeting an async hook raises
`TypeError`. A ``before_*`` hook that raises aborts the write with nothing
written.

Row-level writes fire hooks: the legacy write functions,
``get_one_or_create``'s create path, soft delete and restore. Set-based
writes (`Q.update`, `Q.delete`, ``bulk_upsert_mappings``) do not.

Hooks registered on a base class or mixin apply to its subclasses.

    >>> class Shout:
    ...     def before_create(self, instance):
    ...         instance.name = instance.name.upper()
    >>> class Base: ...
    >>> class Pet(Base):
    ...     name = "rex"
    >>> shout = Shout()
    >>> register_hook(Base, shout)
    >>> pet = Pet()
    >>> call_hooks(Pet, "before_create", pet); pet.name
    'REX'
    >>> clear_hooks()
"""

from __future__ import annotations

import inspect
import threading
from typing import Any, Literal, Protocol, get_args

from ._compat import await_, in_greenlet
from .exceptions import UsageError

__all__ = [
    "HOOK_POINTS",
    "Hook",
    "HookPoint",
    "call_hooks",
    "clear_hooks",
    "get_hooks",
    "register_hook",
    "unregister_hook",
]

HookPoint = Literal[
    "before_create",
    "after_create",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
]
HOOK_POINTS: tuple[HookPoint, ...] = get_args(HookPoint)


class Hook(Protocol):
    """What a hook looks like. Implement any subset of the six methods
    (they are looked up by name, so none is required):

    ``before_create(instance)``, ``after_create(instance)``,
    ``before_update(instance, data) -> dict | None``,
    ``after_update(instance)``, ``before_delete(instance)``,
    ``after_delete(instance)``.

    Example:
        >>> class Audit:
        ...     def after_delete(self, instance):
        ...         print("deleted", instance)
    """


# Copy-on-write: writers build a new mapping under the lock and publish it
# in one assignment; readers (every row write) take the current mapping
# without the lock and never see a half-made change.
_registry: dict[type[Any], tuple[Any, ...]] = {}
_lock = threading.Lock()


def register_hook(model: type[Any], hook: Any) -> None:
    """Run ``hook`` for writes of ``model`` and its subclasses (once, however
    often it is registered, also from several threads at once).

    Example: ``register_hook(Hero, AuditHook())``
    """
    global _registry
    with _lock:
        hooks = _registry.get(model, ())
        if not any(existing is hook for existing in hooks):
            _registry = {**_registry, model: (*hooks, hook)}


def unregister_hook(model: type[Any], hook: Any) -> None:
    """Stop running ``hook`` for ``model`` (no error if it was not registered).

    Example: ``unregister_hook(Hero, audit_hook)``
    """
    global _registry
    with _lock:
        hooks = tuple(existing for existing in _registry.get(model, ()) if existing is not hook)
        registry = {**_registry, model: hooks}
        if not hooks:
            del registry[model]
        _registry = registry


def clear_hooks() -> None:
    """Remove every registered hook (handy between tests).

    Example: ``clear_hooks()``
    """
    global _registry
    with _lock:
        _registry = {}


def get_hooks(model: type[Any]) -> list[Any]:
    """The hooks that apply to ``model``: those of its most generic base
    first, each class's in registration order.

    Example:
        >>> get_hooks(int)
        []
    """
    registry = _registry  # one snapshot for the whole walk
    if not registry:
        return []
    found: list[Any] = []
    for cls in reversed(model.__mro__):
        found.extend(registry.get(cls, ()))
    return found


def call_hooks(model: type[Any], point: HookPoint, instance: Any, data: Any = None) -> Any:
    """Call every ``point`` method of the hooks for ``model``.

    Returns ``data`` as rewritten by ``before_update`` hooks (for the other
    points, ``data`` unchanged). ``async def`` methods are awaited when this
    runs inside ``AsyncSession.run_sync`` (the async functions) and raise
    `UsageError` (a `TypeError`) otherwise.

    Example:
        >>> call_hooks(int, "before_update", 1, {"a": 1})
        {'a': 1}
    """
    if not _registry:
        return data
    for hook in get_hooks(model):
        method = getattr(hook, point, None)
        if method is None:
            continue
        is_async = inspect.iscoroutinefunction(method)
        if is_async and not in_greenlet():
            raise UsageError(
                f"{type(hook).__name__}.{point} is async; it can only run from the async "
                f"functions (a_*), not from a sync call"
            )
        result = method(instance, data) if point == "before_update" else method(instance)
        if is_async:
            result = await_(result)
        if point == "before_update" and result is not None:
            data = result
    return data
