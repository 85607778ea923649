"""Model mixins: soft delete (and what keeps it true).

>>> from sqlmodel import Field, SQLModel
>>> class Note(SQLModel, SoftDeleteMixin, table=True):
...     id: int | None = Field(default=None, primary_key=True)
>>> note = Note()
>>> note.soft_delete(user="ada")
>>> note.is_deleted, note.deleted_by
(True, 'ada')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import DateTime
from sqlmodel import Field

__all__ = [
    "SoftDeleteMixin",
    "acting_as",
    "current_user",
    "is_soft_delete_model",
    "utc_now",
]

_current_user: ContextVar[str | None] = ContextVar("sqlmodel_crud_utils_user", default=None)


def utc_now() -> dt.datetime:
    """The current time as a timezone-aware UTC datetime.

    Example:
        >>> utc_now().tzinfo is dt.timezone.utc
        True
    """
    return dt.datetime.now(dt.timezone.utc)


def current_user() -> str | None:
    """The user set by the innermost `acting_as` block, or ``None``.

    Example:
        >>> with acting_as("ada"):
        ...     current_user()
        'ada'
    """
    return _current_user.get()


@contextmanager
def acting_as(user: str | None) -> Iterator[None]:
    """Attribute the writes made inside the block to ``user``.

    Backed by a context variable, so each thread and each asyncio task sees
    its own value. Blocks nest; the previous user is restored on exit.

    Example:
        >>> with acting_as("ada"):
        ...     with acting_as("grace"):
        ...         inner = current_user()
        ...     outer = current_user()
        >>> inner, outer, current_user()
        ('grace', 'ada', None)
    """
    token = _current_user.set(user)
    try:
        yield
    finally:
        _current_user.reset(token)


class SoftDeleteMixin:
    """Soft delete for a table model: rows are flagged, not removed.

    Adds ``is_deleted`` (indexed), ``deleted_at`` and ``deleted_by``. Every
    read path of this library hides flagged rows unless asked otherwise
    (`Q.soft`, ``include_deleted=True``).

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Memo(SQLModel, SoftDeleteMixin, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> memo = Memo()
        >>> memo.soft_delete(); memo.restore(); memo.is_deleted
        False
    """

    is_deleted: bool = Field(default=False, index=True, nullable=False)
    deleted_at: dt.datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    deleted_by: str | None = Field(default=None, max_length=100)

    def soft_delete(self, user: str | None = None) -> None:
        """Flag this row as deleted, by ``user`` (or the `acting_as` user)."""
        self.is_deleted = True
        self.deleted_at = utc_now()
        self.deleted_by = user if user is not None else current_user()

    def restore(self) -> None:
        """Clear the deleted flag and its details."""
        self.is_deleted = False
        self.deleted_at = None
        self.deleted_by = None


def is_soft_delete_model(model: Any) -> bool:
    """Whether ``model`` uses `SoftDeleteMixin`.

    Example:
        >>> is_soft_delete_model(int)
        False
    """
    return isinstance(model, type) and issubclass(model, SoftDeleteMixin)
