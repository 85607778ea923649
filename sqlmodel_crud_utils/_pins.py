"""The primary pin of a session: while it is held, a routed session
(`sqlmodel_crud_utils.routing`) sends every statement to the primary.
Kept in ``session.info`` so any session can carry it, routed or not.

    >>> from sqlalchemy.orm import Session
    >>> session = Session()
    >>> with pinned(session):
    ...     is_pinned(session)
    True
    >>> is_pinned(session)
    False
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["PRIMARY_PIN", "is_pinned", "pin", "pinned", "unpin"]

#: ``session.info`` key: how many blocks hold the session on its primary
PRIMARY_PIN = "sqlmodel_crud_utils.on_primary"


def pin(session: Any) -> None:
    """Hold ``session`` on its primary until the matching `unpin`."""
    info = session.info
    info[PRIMARY_PIN] = info.get(PRIMARY_PIN, 0) + 1


def unpin(session: Any) -> None:
    """Release one `pin`."""
    session.info[PRIMARY_PIN] -= 1


def is_pinned(session: Any) -> bool:
    """Whether some block holds ``session`` on its primary."""
    return bool(session.info.get(PRIMARY_PIN))


@contextmanager
def pinned(session: Any) -> Iterator[None]:
    """`pin` for the duration of the block."""
    pin(session)
    try:
        yield
    finally:
        unpin(session)
