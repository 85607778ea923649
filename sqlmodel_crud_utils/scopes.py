"""Row-level scopes: soft delete, and everything that keeps it true.

`SoftDeleteMixin` flags rows instead of removing them. This module holds
every piece of the scope that hides the flagged rows: the statement option
recording the scope a statement was built with (`soft_scope`, read back by
`soft_scope_of` / `has_soft_scope`), the loader options `Q` adds
(`soft_options`), what relationship filters add inside their EXISTS
(`unscoped`, `live_related_for`; used by `sqlmodel_crud_utils._criteria`), the
options for your own statements (`live_only`, `with_deleted`) and the
``do_orm_execute`` listener that makes every *relationship load* of a
soft-delete model live-only (installed by `sqlmodel_crud_utils._listeners`
when the first soft-delete model is mapped).

>>> from sqlmodel import Field, SQLModel
>>> class Draft(SQLModel, SoftDeleteMixin, table=True):
...     id: int | None = Field(default=None, primary_key=True)
>>> draft = Draft()
>>> draft.soft_delete(user="ada")
>>> draft.is_deleted, draft.deleted_by, is_soft_delete_model(Draft)
(True, 'ada', True)
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import ORMExecuteState, joinedload, with_loader_criteria
from sqlalchemy.orm.interfaces import ORMOption, UserDefinedOption
from sqlalchemy.sql.cache_key import HasCacheKey
from sqlalchemy.sql.util import find_tables
from sqlalchemy.sql.visitors import InternalTraversal
from sqlmodel import Field

from ._compat import LOADER_CRITERIA_IN_EXISTS
from ._memo import memoized
from .audit import current_user, utc_now
from .lookups import RelatedCriteria, mapper_of, relationship_targets
from .types import UTCDateTime

__all__ = [
    "INCLUDE_DELETED",
    "SoftDeleteMixin",
    "has_soft_scope",
    "is_soft_delete_model",
    "live_link",
    "live_only",
    "live_related_for",
    "root_criteria",
    "soft_options",
    "soft_scope",
    "soft_scope_of",
    "unscoped",
    "with_deleted",
]

#: Execution option that turns off the live-only relationship loads of one statement.
INCLUDE_DELETED = "include_deleted"


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
      relationships declared ``lazy="joined"`` (to the same model too: a
      tree's joined ``children``).

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
            >>> from sqlmodel_crud_utils.audit import acting_as
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


def is_soft_delete_model(model: Any) -> bool:
    """Whether ``model`` uses `SoftDeleteMixin`.

    Example:
        >>> is_soft_delete_model(int)
        False
    """
    return isinstance(model, type) and issubclass(model, SoftDeleteMixin)


# --------------------------------------------------------------- statement options


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
    target = state.bind_mapper
    if state.is_relationship_load:
        _scope_link_load(state)
    # O(1) for the common case, a statement about a model the scope never
    # touches: no soft-delete rows of its own, none loaded through joins
    if target is None or not _scope_applies(target.class_, ""):
        return
    if not state.is_select or state.execution_options.get(INCLUDE_DELETED):
        return
    if any(isinstance(option, _SoftScope) for option in state.user_defined_options):
        return
    if state.is_relationship_load:
        # only the loaded model: a subquery load embeds the parent's query, which stays as it was
        if is_soft_delete_model(target.class_):
            state.statement = state.statement.options(_live_criteria(target.class_, ""))
        return
    eager = _joined_soft_targets(target.class_, "")
    if eager:
        state.statement = state.statement.options(*eager)


def _scope_link_load(state: ORMExecuteState) -> None:
    """A relationship load through a soft-delete link model (a many-to-many
    ``link_model``): only the live links, unless the load asks for deleted
    rows (``with_deleted``, ``soft("include")``, ``include_deleted``)."""
    if state.execution_options.get(INCLUDE_DELETED):
        return
    for option in state.user_defined_options:
        if isinstance(option, _SoftScope) and option.payload == "include":
            return
    prop: Any = getattr(state.loader_strategy_path, "prop", None)
    link = live_link(prop) if prop is not None else None
    statement: Any = state.statement
    # a lazy or selectin load joins the link table itself; a subquery load
    # aliases it (`Q.include` scopes that one through the relationship)
    if link is not None and prop.secondary in find_tables(statement, include_joins=True):
        state.statement = statement.where(link)


def live_link(prop: Any) -> ColumnElement[bool] | None:
    """``is_deleted = false`` on the link table of relationship ``prop``
    when it goes through a `SoftDeleteMixin` link model (SQLModel's
    ``Relationship(link_model=...)``); ``None`` otherwise.

    Example: ``live_link(Student.courses.property)``.
    """
    if getattr(prop, "secondary", None) is None:
        return None
    return _live_link(prop.parent.class_, prop.key)


@memoized
def _live_link(model: type[Any], key: str) -> ColumnElement[bool] | None:
    prop = mapper_of(model).relationships[key]
    secondary = prop.secondary
    for mapper in prop.parent.registry.mappers:
        if mapper.local_table is secondary and is_soft_delete_model(mapper.class_):
            live: ColumnElement[bool] = cast("Any", secondary).c.is_deleted == false()
            return live
    return None


@memoized
def _reaches_soft_links(model: type[Any], _: str) -> bool:
    """Whether a relationship reachable from ``model`` goes through a
    soft-delete link model."""
    return any(
        live_link(prop) is not None
        for target in relationship_targets(model)
        for prop in mapper_of(target).relationships
    )


@memoized
def _scope_applies(model: type[Any], _: str) -> bool:
    """Whether statements whose rows are ``model``'s can need the scope:
    ``model`` is a soft-delete model, or loads one through joins."""
    return is_soft_delete_model(model) or bool(_joined_soft_targets(model, ""))


@memoized
def _live_criteria(model: type[Any], _: str) -> ORMOption:
    """Loader criteria hiding the soft-deleted rows of ``model`` (one option per model)."""
    return with_loader_criteria(model, _live, include_aliases=True)


@memoized
def _joined_soft_targets(model: type[Any], _: str) -> tuple[ORMOption, ...]:
    """Live-only criteria for the soft-delete models that ``model``'s rows
    load through relationships declared ``lazy="joined"`` (followed through
    joined hops). ``model``'s own rows are never filtered here (a statement
    you write keeps its own rows), but a joined relationship of ``model`` to
    itself (a tree's ``children``) is loaded live-only through its own
    ``joinedload(...and_(...))``."""
    root = mapper_of(model)
    targets: dict[type[Any], None] = {}
    pending, seen = [root], {root}
    while pending:
        for relationship in pending.pop().relationships:
            if relationship.lazy not in ("joined", False) or relationship.mapper in seen:
                continue
            seen.add(relationship.mapper)
            pending.append(relationship.mapper)
            target = relationship.mapper.class_
            if target is not model and is_soft_delete_model(target):
                targets[target] = None
    options: list[ORMOption] = [_live_criteria(target, "") for target in targets]
    for relationship in root.relationships:
        link = live_link(relationship)
        if relationship.lazy in ("joined", False) and link is not None:
            options.append(joinedload(getattr(model, relationship.key).and_(link)))
    if is_soft_delete_model(model):
        own: Any = model
        options += [
            joinedload(getattr(model, relationship.key).and_(own.is_deleted == false()))
            for relationship in root.relationships
            if relationship.lazy in ("joined", False) and relationship.mapper is root
        ]
    return tuple(options)


# --------------------------------------------------------------- Q's scope


@memoized
def soft_options(model: type[Any], mode: str) -> tuple[ORMOption, ...]:
    """Loader criteria keeping soft-deleted rows out of every load of every
    soft-delete model reachable from ``model`` (root, joins, subqueries,
    eager and lazy relationship loads).

    Example: ``select(Hero).options(*soft_options(Hero, "exclude"))``.
    """
    targets = [target for target in relationship_targets(model) if is_soft_delete_model(target)]
    if not targets:
        # rows reached through soft-delete link models only: the marker alone
        # tells their relationship loads which scope the query asked for
        return (soft_scope(mode),) if _reaches_soft_links(model, "") else ()
    # marks the statement (and the lazy loads of its rows) as already scoped
    options: list[ORMOption] = [soft_scope(mode)]
    if mode == "include":
        return tuple(options)
    if mode == "exclude":
        # one mixin-wide criterion covers every soft-delete model in the
        # statement: cheaper than one option per reachable model
        options.append(_LIVE_ONLY)
        return tuple(options)
    for target in targets:
        if mode == "only" and target is model:
            continue
        options.append(
            with_loader_criteria(target, target.is_deleted == false(), include_aliases=True)
        )
    return tuple(options)


_LIVE_ONLY = live_only()


def root_criteria(model: type[Any], mode: str) -> tuple[ColumnElement[bool], ...]:
    """The soft-delete criterion on ``model``'s own rows under scope ``mode``
    (none for ``"include"`` or a model without `SoftDeleteMixin`), for WHERE.

    Example:
        >>> root_criteria(int, "exclude")
        ()
    """
    if mode == "include" or not is_soft_delete_model(model):
        return ()
    deleted = cast("Any", model).is_deleted
    return (deleted == true(),) if mode == "only" else (deleted == false(),)


def unscoped(root: type[Any], target: type[Any], mode: str) -> bool:
    """Whether rows of ``target`` inside a relationship filter's EXISTS are
    left unfiltered by the loader criteria of scope ``mode`` on query ``root``.

    Example: ``unscoped(Author, Book, "exclude")`` is ``True`` on SQLAlchemy 2.0.
    """
    return is_soft_delete_model(target) and (
        not LOADER_CRITERIA_IN_EXISTS or (mode == "only" and target is root)
    )


def live_related_for(root: type[Any], mode: str) -> RelatedCriteria:
    """``is_deleted = false`` for each hop target `unscoped` names.

    Example: ``lookup.clause("x", live_related_for(Author, "exclude"))``.
    """

    def criteria(target: type[Any]) -> ColumnElement[bool] | None:
        if not unscoped(root, target, mode):
            return None
        deleted: ColumnElement[bool] = cast("Any", target).is_deleted == false()
        return deleted

    return criteria
