"""Audit columns: who created and last changed a row, and when.

`AuditMixin` adds the columns; `acting_as` names the user the writes made
inside a block are attributed to (`current_user` reads it); `utc_now` is
the clock every stamp uses; `audit_update_values` stamps a set-based
``UPDATE``. The ``before_flush`` listener that stamps ORM flushes lives in
`sqlmodel_crud_utils._listeners` (it stamps soft-delete fields in the same
pass).

>>> from sqlmodel import Field, SQLModel
>>> class Ledger(SQLModel, AuditMixin, table=True):
...     id: int | None = Field(default=None, primary_key=True)
>>> with acting_as("ada"):
...     current_user()
'ada'
>>> Ledger().updated_at is None
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Field

from ._compat import compiles
from .types import UTCDateTime

__all__ = [
    "AuditMixin",
    "TimestampMixin",
    "UTCNow",
    "acting_as",
    "audit_update_values",
    "current_user",
    "is_audit_model",
    "is_timestamp_model",
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

    Fills ``created_by`` / ``updated_by`` / ``deleted_by`` where the caller
    left them empty: ORM flushes (``session.add()`` + commit, sync and
    async), `Q.update`, `Q.delete`, ``soft_delete()`` and the legacy writes.
    Backed by a context variable, so each thread and each asyncio task sees
    its own value (an `AsyncSession` flushes inside a greenlet that shares
    the calling task's context, so the value reaches it). Blocks nest; the
    previous user is restored on exit.

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


class AuditMixin:
    """Who created and last changed a row, and when.

    Adds, as v0.2 defines them:

    * ``created_at`` (`UTCDateTime`, NOT NULL, indexed): set when the object
      is constructed (aware UTC), so it is there before the first flush; a
      Core ``insert()`` that leaves it out gets the column default;
    * ``updated_at`` (`UTCDateTime`, nullable): ``None`` until the row is
      first updated, then set on every update: each ORM flush that changes
      the row, `Q.update` / `Q.delete` (soft), the legacy writes,
      `bulk_upsert_mappings` on a conflict, and plain Core ``update()``
      statements (column ``onupdate``); a value you set yourself wins;
    * ``created_by`` / ``updated_by`` (at most 100 characters): filled from
      `acting_as` when left empty (``created_by`` on insert, ``updated_by``
      on update; with no `acting_as` user an update leaves ``updated_by`` as
      it was).

    Datetimes read back timezone-aware (UTC) on every backend.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Article(SQLModel, AuditMixin, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> sorted(Article.__table__.columns.keys())
        ['created_at', 'created_by', 'id', 'updated_at', 'updated_by']
        >>> article = Article()
        >>> article.created_at.tzinfo, article.updated_at
        (datetime.timezone.utc, None)
    """

    created_at: dt.datetime = Field(
        default_factory=utc_now,
        sa_type=UTCDateTime,
        nullable=False,
        index=True,
        sa_column_kwargs={"default": utc_now},
    )
    updated_at: dt.datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        nullable=True,
        sa_column_kwargs={"onupdate": utc_now},
    )
    created_by: str | None = Field(default=None, max_length=100)
    updated_by: str | None = Field(default=None, max_length=100)


class UTCNow(FunctionElement[dt.datetime]):
    """The database's current time in UTC, as SQL (a column's
    ``server_default``): ``CURRENT_TIMESTAMP`` on SQLite (UTC text) and
    PostgreSQL (``TIMESTAMP WITH TIME ZONE``), ``UTC_TIMESTAMP(6)`` on
    MySQL/MariaDB, whose ``CURRENT_TIMESTAMP`` is in the session's zone.

    Example:
        >>> from sqlalchemy.dialects import mysql, sqlite
        >>> [str(UTCNow().compile(dialect=d.dialect())) for d in (mysql, sqlite)]
        ['UTC_TIMESTAMP(6)', 'CURRENT_TIMESTAMP']
    """

    type = UTCDateTime()
    inherit_cache = True


@compiles(UTCNow)
def _current_timestamp(element: UTCNow, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(UTCNow, "mysql")
@compiles(UTCNow, "mariadb")
def _utc_timestamp(element: UTCNow, compiler: SQLCompiler, **kw: Any) -> str:
    return "UTC_TIMESTAMP(6)"


class TimestampMixin:
    """When a row was created and last changed (upstream 0.4's mixin):
    ``created_at`` and ``updated_at`` (`UTCDateTime`, NOT NULL), both set
    when a row is inserted, and ``updated_at`` again on every update.

    Every write path stamps them, and the database does too: the object
    has both from its construction; an insert that leaves them out (a Core
    ``insert()``, ``bulk_insert_mappings``) gets the column default, and SQL
    that bypasses SQLAlchemy (a raw ``INSERT``) the server default
    (`UTCNow`); an update gets ``updated_at`` = now from an ORM flush, `Q.update`,
    the legacy writes, `bulk_update_rows`, a `bulk_upsert_mappings`
    conflict, and any Core ``update()`` (column ``onupdate``). A value you
    set yourself wins. Use `AuditMixin` instead for who made the change
    (and an ``updated_at`` that is ``None`` until the first update).

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Stamp(SQLModel, TimestampMixin, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> stamp = Stamp()
        >>> stamp.updated_at >= stamp.created_at, stamp.updated_at.tzinfo
        (True, datetime.timezone.utc)
    """

    created_at: dt.datetime = Field(
        default_factory=utc_now,
        sa_type=UTCDateTime,
        nullable=False,
        index=True,
        sa_column_kwargs={"default": utc_now, "server_default": UTCNow()},
    )
    updated_at: dt.datetime = Field(
        default_factory=utc_now,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"default": utc_now, "onupdate": utc_now, "server_default": UTCNow()},
    )


def is_timestamp_model(model: Any) -> bool:
    """Whether ``model`` uses `TimestampMixin`.

    Example:
        >>> is_timestamp_model(TimestampMixin), is_timestamp_model(AuditMixin)
        (True, False)
    """
    return isinstance(model, type) and issubclass(model, TimestampMixin)


def is_audit_model(model: Any) -> bool:
    """Whether ``model`` uses `AuditMixin`.

    Example:
        >>> is_audit_model(AuditMixin), is_audit_model(str)
        (True, False)
    """
    return isinstance(model, type) and issubclass(model, AuditMixin)


def audit_update_values(model: Any, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` for a set-based ``UPDATE`` of ``model``, plus
    ``updated_at`` (now) and ``updated_by`` (the `acting_as` user, if any)
    for `AuditMixin` models (``updated_at`` only for `TimestampMixin`
    ones), unless ``values`` already sets them.

    Example:
        >>> with acting_as("ada"):
        ...     stamped = audit_update_values(AuditMixin, {"title": "x"})
        >>> sorted(stamped), stamped["updated_by"]
        (['title', 'updated_at', 'updated_by'], 'ada')
    """
    if is_timestamp_model(model):
        return {"updated_at": utc_now(), **values}
    if not is_audit_model(model):
        return values
    stamped = dict(values)
    stamped.setdefault("updated_at", utc_now())
    user = current_user()
    if user is not None:
        stamped.setdefault("updated_by", user)
    return stamped
