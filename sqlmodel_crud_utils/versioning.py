"""Optimistic locking: `VersionMixin` makes a stale write fail instead of
silently overwriting another writer's change.

The ``version`` column is SQLAlchemy's ``version_id_col``: every UPDATE of a
row through the ORM says ``WHERE id = :id AND version = :read_version`` and
sets ``version = version + 1``. A session that read the row before another
writer committed updates nothing; our write paths (`update_row`,
`transaction` blocks, `run_transaction`) then raise `ConflictError` naming
the model, the key and both versions, and the row keeps the other writer's
change. ``update_row(..., {"version": n, ...})`` also checks that the row
is still at version ``n`` (what a client read), and `Q.update` bumps the
version of every row it changes.

A session's own ``commit()`` raises SQLAlchemy's ``StaleDataError`` (use
`transaction` to get `ConflictError`). A model using the mixin cannot set
``__mapper_args__`` itself (the mixin sets it).

>>> from sqlmodel import SQLModel
>>> class Folio(SQLModel, VersionMixin, table=True):
...     id: int | None = Field(default=None, primary_key=True)
>>> Folio.__mapper__.version_id_col.name
'version'
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, declared_attr
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Field

from .exceptions import ConflictError

__all__ = [
    "VersionMixin",
    "conflict_of",
    "current_version",
    "expect_version",
    "is_versioned_model",
    "remember_versions",
]


class VersionMixin:
    """An integer ``version`` (starting at 1) checked and bumped by every
    ORM update of the row (see the module docs).

    Example:
        >>> from sqlmodel import SQLModel
        >>> class Jotting(SQLModel, VersionMixin, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> Jotting().version
        1
    """

    version: int = Field(default=1, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def is_versioned_model(model: Any) -> bool:
    """Whether ``model`` uses `VersionMixin`.

    Example:
        >>> is_versioned_model(int)
        False
    """
    return isinstance(model, type) and issubclass(model, VersionMixin)


def expect_version(obj: Any, expected: Any) -> None:
    """Raise `ConflictError` unless ``obj`` (a `VersionMixin` row) is at
    version ``expected`` (what the caller read earlier).

    Example:
        >>> from sqlmodel import SQLModel
        >>> class Sheet(SQLModel, VersionMixin, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> expect_version(Sheet(), 1)
        >>> expect_version(Sheet(), 3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils.exceptions.ConflictError: Sheet ... expected version 3, ...
    """
    if expected is not None and obj.version != expected:
        state: Any = inspect(obj, raiseerr=False)
        key = state.identity if state is not None and state.identity else None
        raise ConflictError(
            type(obj),
            key[0] if key and len(key) == 1 else key,
            expected=expected,
            current=obj.version,
        )


#: ``session.info`` key: the version each versioned row being flushed was
#: read at, by (model, identity), so a conflict can name the row.
_READ_VERSIONS = "sqlmodel_crud_utils_read_versions"


def remember_versions(session: Session, flush_context: Any, instances: Any) -> None:
    """``before_flush`` listener: note the version each `VersionMixin` row
    about to be updated was read at (installed when such a model is mapped)."""
    read: dict[tuple[type[Any], Any], Any] = {}
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, VersionMixin):
            state: Any = inspect(obj)
            if (state.modified or obj in session.deleted) and state.identity is not None:
                read[(type(obj), state.identity)] = state.committed_state.get(
                    "version", obj.version
                )
    session.info[_READ_VERSIONS] = read


def conflict_of(error: BaseException, session: Session | None = None) -> ConflictError | None:
    """The `ConflictError` for SQLAlchemy's ``StaleDataError`` when
    ``session`` flushed `VersionMixin` rows of that table (naming model, key
    and read version when there was one); ``None`` for any other error (a
    stale UPDATE of a row another session deleted stays a
    `TransactionError`).

    Example:
        >>> conflict_of(ValueError()) is None
        True
    """
    if not isinstance(error, StaleDataError):
        return None
    table = re.search(r"on table '([^']+)'", str(error))
    read = session.info.get(_READ_VERSIONS, {}) if session is not None else {}
    rows = [
        (model, identity, version)
        for (model, identity), version in read.items()
        if table is None or getattr(model, "__tablename__", None) == table.group(1)
    ]
    if not rows:
        return None  # no versioned row of that table: not a version conflict
    if len(rows) == 1:
        model, identity, version = rows[0]
        key = identity[0] if len(identity) == 1 else identity
        return ConflictError(
            model,
            key,
            expected=version,
            current=_read_again(session, model, identity),
            original_error=error,
        )
    return ConflictError(rows[0][0], None, original_error=error)


def _read_again(session: Session | None, model: type[Any], identity: Any) -> Any:
    """`current_version` once the failed transaction is rolled back."""
    if session is None:
        return None
    session.rollback()
    return current_version(session, model, identity)


def current_version(session: Session, model: type[Any], identity: tuple[Any, ...]) -> Any:
    """The version the row of primary key ``identity`` has now, for a
    conflict's message (``None`` when it is gone or cannot be read).

    Example: ``current_version(session, Doc, (7,))``.
    """
    state: Any = inspect(model)
    keys = [column == value for column, value in zip(state.primary_key, identity, strict=True)]
    try:
        return session.scalar(select(model.version).where(*keys))
    except Exception:
        return None
