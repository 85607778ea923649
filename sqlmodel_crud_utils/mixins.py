"""Model mixins: soft delete and audit columns, and what keeps them true.

>>> from sqlmodel import Field, SQLModel
>>> class Note(SQLModel, AuditMixin, SoftDeleteMixin, table=True):
...     id: int | None = Field(default=None, primary_key=True)
>>> note = Note()
>>> note.soft_delete(user="ada")
>>> note.is_deleted, note.deleted_by
(True, 'ada')

Two session listeners for every `Session` (SQLModel's, SQLAlchemy's, and
the one inside each `AsyncSession`), installed when the first model using a
mixin is mapped (a process without one runs neither), keep the mixins true
for writes and reads made without this library's helpers:

* ``before_flush`` stamps `AuditMixin` and `SoftDeleteMixin` instances on
  ``session.add()`` + commit (see `AuditMixin`);
* ``do_orm_execute`` makes every *relationship load* of a soft-delete
  model live-only (see `SoftDeleteMixin` for the exact rule).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import DateTime, event, false, inspect
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper, ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.interfaces import ORMOption, UserDefinedOption
from sqlalchemy.sql.cache_key import HasCacheKey
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

from ._compat import construct

__all__ = [
    "AuditMixin",
    "SoftDeleteMixin",
    "UTCDateTime",
    "acting_as",
    "audit_update_values",
    "current_user",
    "has_soft_scope",
    "soft_scope_of",
    "is_audit_model",
    "is_soft_delete_model",
    "live_only",
    "soft_scope",
    "utc_now",
    "with_deleted",
]

_current_user: ContextVar[str | None] = ContextVar("sqlmodel_crud_utils_user", default=None)

#: Execution option that turns off the live-only relationship loads of one statement.
INCLUDE_DELETED = "include_deleted"


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


#: MySQL/MariaDB ``DATETIME(6)``: microseconds, as the other backends keep.
_MYSQL_DATETIME = construct(mysql.DATETIME, fsp=6)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A datetime column that always reads back as timezone-aware UTC.

    Stored as ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL, ``DATETIME(6)``
    (naive UTC, microseconds kept) on MySQL/MariaDB and naive UTC text on
    SQLite. Aware values are converted to UTC before they are stored; a
    *naive* value is taken to be UTC already (the convention of
    ``datetime.utcnow()`` and of most databases), on every backend alike.

    Example:
        >>> from sqlalchemy.dialects import sqlite
        >>> column_type, lite = UTCDateTime(), sqlite.dialect()
        >>> paris = dt.timezone(dt.timedelta(hours=1))
        >>> column_type.process_bind_param(dt.datetime(2024, 1, 1, 13, tzinfo=paris), lite)
        datetime.datetime(2024, 1, 1, 12, 0)
        >>> column_type.process_result_value(dt.datetime(2024, 1, 1, 12), lite)
        datetime.datetime(2024, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[dt.datetime]:
        return dt.datetime

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(_MYSQL_DATETIME)
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, dt.datetime):
            return value
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, dt.datetime):
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class SoftDeleteMixin:
    """Soft delete for a table model: rows are flagged, not removed.

    Adds ``is_deleted`` (indexed), ``deleted_at`` (`UTCDateTime`, indexed)
    and ``deleted_by`` (at most 100 characters). ``soft_delete(user=None)`` / ``restore()`` flag and
    unflag an instance; setting ``is_deleted = True`` and flushing fills
    ``deleted_at`` and (from `acting_as`) ``deleted_by`` when left empty.

    Where deleted rows are hidden:

    * every read of this library: `Q` terminals (``all``, ``first``,
      ``get``, ``count``, ``exists``, ``paginate``, ``keyset``, ``stream``),
      relationship filters (``books__title=...``), every ``include()``
      strategy, lazy loads of the objects `Q` returned, and `Q.update` /
      `Q.delete` (they leave deleted rows alone) — unless ``Q.soft("include")``
      / ``soft("only")`` says otherwise;
    * every *relationship load* of a soft-delete model, whatever loaded the
      parent (``session.get``, a plain ``select()``): lazy loads,
      ``selectinload`` / ``subqueryload`` on your own statements, and
      relationships declared ``lazy="joined"`` (except to the same model).

    Where they are not hidden: a statement you write yourself is yours —
    ``session.execute(select(Model))``, ``session.get(Model, pk)`` and
    joins or ``joinedload`` inside such a statement return what you asked
    for, deleted rows included. Add ``.options(live_only())`` to get the
    library's filter on such a statement, or use `Q`. To see deleted
    children through relationship loads, add ``.options(with_deleted())``
    (it propagates to the lazy loads of the rows loaded) or
    ``.execution_options(include_deleted=True)`` (that statement only).

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Memo(SQLModel, SoftDeleteMixin, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> memo = Memo()
        >>> memo.soft_delete(); memo.restore(); memo.is_deleted
        False
    """

    is_deleted: bool = Field(default=False, index=True, nullable=False)
    deleted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    deleted_by: str | None = Field(default=None, max_length=100)

    def soft_delete(self, user: str | None = None) -> None:
        """Flag this row as deleted, by ``user`` (or the `acting_as` user).

        Example:
            >>> memo = SoftDeleteMixin()
            >>> with acting_as("ada"):
            ...     memo.soft_delete()
            >>> memo.is_deleted, memo.deleted_by, memo.deleted_at.tzinfo
            (True, 'ada', datetime.timezone.utc)
        """
        self.is_deleted = True
        self.deleted_at = utc_now()
        self.deleted_by = user if user is not None else current_user()

    def restore(self) -> None:
        """Clear the deleted flag and its details.

        Example:
            >>> memo = SoftDeleteMixin()
            >>> memo.soft_delete("ada"); memo.restore()
            >>> memo.is_deleted, memo.deleted_at, memo.deleted_by
            (False, None, None)
        """
        self.is_deleted = False
        self.deleted_at = None
        self.deleted_by = None


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


def is_soft_delete_model(model: Any) -> bool:
    """Whether ``model`` uses `SoftDeleteMixin`.

    Example:
        >>> is_soft_delete_model(int)
        False
    """
    return isinstance(model, type) and issubclass(model, SoftDeleteMixin)


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
    for `AuditMixin` models, unless ``values`` already sets them.

    Example:
        >>> with acting_as("ada"):
        ...     stamped = audit_update_values(AuditMixin, {"title": "x"})
        >>> sorted(stamped), stamped["updated_by"]
        (['title', 'updated_at', 'updated_by'], 'ada')
    """
    if not is_audit_model(model):
        return values
    stamped = dict(values)
    stamped.setdefault("updated_at", utc_now())
    user = current_user()
    if user is not None:
        stamped.setdefault("updated_by", user)
    return stamped


# --------------------------------------------------------------- read-path scope


class _SoftScope(HasCacheKey, UserDefinedOption):
    """Statement option recording the soft-delete scope a statement was
    built with; propagates to the lazy loads of the rows it loads, and is
    part of the cache key (so cached compiled statements never mix scopes)."""

    _cache_key_traversal = [("payload", InternalTraversal.dp_plain_obj)]  # noqa: RUF012
    propagate_to_loaders = True


def soft_scope(mode: str) -> ORMOption:
    """The option `Q` puts on its statements: ``mode`` (``"exclude"``,
    ``"include"`` or ``"only"``) is the scope the statement already
    applies, so the global relationship-load filter keeps out of it.

    Example:
        >>> soft_scope("include").payload
        'include'
    """
    return _SoftScope(mode)


def has_soft_scope(statement: Any) -> bool:
    """Whether ``statement`` already says which rows it wants (it was built
    by `Q`, whose ``soft()`` scope it carries, or has `with_deleted`).

    Example:
        >>> from sqlalchemy import select, table
        >>> stmt = select(table("t"))
        >>> has_soft_scope(stmt), has_soft_scope(stmt.options(with_deleted()))
        (False, True)
    """
    return soft_scope_of(statement) is not None


def soft_scope_of(statement: Any) -> str | None:
    """The soft-delete scope ``statement`` already carries (see
    `has_soft_scope`): ``"exclude"``, ``"include"`` or ``"only"``; ``None``
    when it carries none.

    Example:
        >>> from sqlalchemy import select, table
        >>> soft_scope_of(select(table("t")).options(with_deleted()))
        'include'
    """
    for option in getattr(statement, "_with_options", ()):
        if isinstance(option, _SoftScope):
            return str(option.payload)
    return None


def with_deleted() -> ORMOption:
    """Option for your own statements: relationship loads of the rows they
    load (lazy, selectin, subquery) include soft-deleted rows.

    Example: ``author = session.scalars(select(Author).options(with_deleted())).one()``
    """
    return _SoftScope("include")


def _live(cls: Any) -> Any:
    return cls.is_deleted == false()


def live_only() -> ORMOption:
    """Loader criteria hiding soft-deleted rows of every soft-delete model
    in a statement you write yourself (root rows, joins, eager loads).

    Example:
        >>> type(live_only()).__name__
        'LoaderCriteriaOption'

    Usage: ``session.execute(select(Author).options(live_only()))``.
    """
    return with_loader_criteria(SoftDeleteMixin, _live, include_aliases=True)


def _scope_relationship_loads(state: ORMExecuteState) -> None:
    if not state.is_select or state.execution_options.get(INCLUDE_DELETED):
        return
    if any(isinstance(option, _SoftScope) for option in state.user_defined_options):
        return
    target = state.bind_mapper
    if target is None:
        return
    if state.is_relationship_load:
        # only the loaded model: a subquery load embeds the parent's query, which stays as it was
        if is_soft_delete_model(target.class_):
            state.statement = state.statement.options(_live_criteria(target.class_))
        return
    eager = _joined_soft_targets(target)
    if eager:
        state.statement = state.statement.options(*eager)


_LIVE_CRITERIA: WeakKeyDictionary[type[Any], ORMOption] = WeakKeyDictionary()
_JOINED_SOFT_TARGETS: WeakKeyDictionary[Mapper[Any], tuple[ORMOption, ...]] = WeakKeyDictionary()


def _live_criteria(model: type[Any]) -> ORMOption:
    option = _LIVE_CRITERIA.get(model)
    if option is None:
        option = _LIVE_CRITERIA[model] = with_loader_criteria(model, _live, include_aliases=True)
    return option


def _joined_soft_targets(root: Mapper[Any]) -> tuple[ORMOption, ...]:
    """Live-only criteria for the soft-delete models that ``root``'s rows
    load through relationships declared ``lazy="joined"`` (followed through
    joined hops); the root model itself is never filtered here: a statement
    you write keeps its own rows."""
    options = _JOINED_SOFT_TARGETS.get(root)
    if options is None:
        targets: dict[type[Any], None] = {}
        pending, seen = [root], {root}
        while pending:
            for relationship in pending.pop().relationships:
                if relationship.lazy not in ("joined", False) or relationship.mapper in seen:
                    continue
                seen.add(relationship.mapper)
                pending.append(relationship.mapper)
                model = relationship.mapper.class_
                if model is not root.class_ and is_soft_delete_model(model):
                    targets[model] = None
        options = _JOINED_SOFT_TARGETS[root] = tuple(_live_criteria(model) for model in targets)
    return options


def _stamp_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    now = utc_now()
    user = current_user()
    for obj in session.new:
        if isinstance(obj, AuditMixin):
            if obj.created_at is None:  # set to None after construction
                obj.created_at = now
            if obj.created_by is None:
                obj.created_by = user
        if isinstance(obj, SoftDeleteMixin) and obj.is_deleted:
            _fill_deletion(obj, now, user)
    for obj in session.dirty:
        if not isinstance(obj, AuditMixin | SoftDeleteMixin):
            continue
        if not session.is_modified(obj, include_collections=False):
            continue
        state: Any = inspect(obj)
        attrs = state.attrs
        if isinstance(obj, AuditMixin):
            if not attrs.updated_at.history.has_changes():
                obj.updated_at = now
            if user is not None and not attrs.updated_by.history.has_changes():
                obj.updated_by = user
        if isinstance(obj, SoftDeleteMixin) and attrs.is_deleted.history.added == [True]:
            _fill_deletion(obj, now, user)


def _fill_deletion(obj: SoftDeleteMixin, now: dt.datetime, user: str | None) -> None:
    if obj.deleted_at is None:
        obj.deleted_at = now
    if obj.deleted_by is None:
        obj.deleted_by = user


def _forget_mapper_facts() -> None:
    _JOINED_SOFT_TARGETS.clear()


def _install_listeners(mapper: Mapper[Any], model: type[Any]) -> None:
    """Session listeners exist only once a mixin model is mapped: a process
    (or code) that never maps one pays nothing for them."""
    if is_audit_model(model) or is_soft_delete_model(model):
        _listen_once(Session, "before_flush", _stamp_before_flush)
    if is_soft_delete_model(model):
        _listen_once(Session, "do_orm_execute", _scope_relationship_loads)


def _listen_once(target: Any, name: str, listener: Any) -> None:
    if not event.contains(target, name, listener):
        event.listen(target, name, listener)


_listen_once(Mapper, "mapper_configured", _install_listeners)
_listen_once(Mapper, "after_configured", _forget_mapper_facts)
