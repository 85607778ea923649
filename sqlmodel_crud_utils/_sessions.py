"""What every `Q` terminal does around its statements: check the kind of
session (sync terminals take a `Session`, ``a_*`` ones an `AsyncSession`;
the other kind raises `SessionTypeError` naming the method to call
instead), and translate database errors (`database_errors`: the session is
left usable, the error is one of the library's).

    >>> sync_session(object(), "all")
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session

from ._pins import pin, unpin
from ._translate import database_errors
from .exceptions import SessionTypeError

__all__ = ["async_session", "sync_session", "terminal"]

_ASYNC = (AsyncSession, async_scoped_session)


def sync_session(session: Any, method: str) -> None:
    """Refuse an async session passed to the sync terminal ``method``."""
    if isinstance(session, _ASYNC):
        raise SessionTypeError(f"Q.{method}", type(session).__name__, f"await q.a_{method}(...)")


def async_session(session: Any, method: str) -> None:
    """Refuse a sync session passed to the async terminal ``a_<method>``."""
    if not isinstance(session, _ASYNC):
        raise SessionTypeError(f"Q.a_{method}", type(session).__name__, f"q.{method}(...)")


class terminal(database_errors):  # lower case: used like a context manager function
    """The scope of the sync terminal ``method`` of a `Q` on ``model``:
    `sync_session`, then `database_errors` for the statements it runs;
    with ``primary``, every statement goes to the primary of a routed session
    (`sqlmodel_crud_utils.routing`).

    Example:
        >>> with terminal(object(), "all", "Hero"):
        ...     pass
    """

    __slots__ = ("primary",)

    def __init__(self, session: Any, method: str, model: Any, primary: bool = False) -> None:
        sync_session(session, method)
        super().__init__(session, model)
        self.primary = primary

    def __enter__(self) -> None:
        super().__enter__()
        if self.primary:
            pin(self.session)

    def __exit__(self, kind: type[BaseException] | None, error: Any, traceback: Any) -> None:
        if self.primary:
            unpin(self.session)
        super().__exit__(kind, error, traceback)
