"""Which kind of session a terminal got: sync terminals take a `Session`,
``a_*`` ones an `AsyncSession`; the other kind raises `SessionTypeError`
naming the method to call instead.

    >>> sync_session(object(), "all")
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session

from .exceptions import SessionTypeError

__all__ = ["async_session", "sync_session"]

_ASYNC = (AsyncSession, async_scoped_session)


def sync_session(session: Any, method: str) -> None:
    """Refuse an async session passed to the sync terminal ``method``."""
    if isinstance(session, _ASYNC):
        raise SessionTypeError(f"Q.{method}", type(session).__name__, f"await q.a_{method}(...)")


def async_session(session: Any, method: str) -> None:
    """Refuse a sync session passed to the async terminal ``a_<method>``."""
    if not isinstance(session, _ASYNC):
        raise SessionTypeError(f"Q.a_{method}", type(session).__name__, f"q.{method}(...)")
