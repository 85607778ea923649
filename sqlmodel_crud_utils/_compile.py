"""Building the SQLAlchemy statement from `Q`'s state: a pure function of it.

Criteria (each relationship filter in the form the soft-delete scope
needs), the scope's loader options (built in `sqlmodel_crud_utils.scopes`),
eager-loading options, ``load_only``, order and paging are added to a
plain ``sqlmodel.select(model)``, values as bound parameters, so
SQLAlchemy's compiled-statement cache serves every query of the same shape.

    >>> sorted(DIALECTS)
    ['mariadb', 'mysql', 'postgresql', 'sqlite']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, ColumnElement, Integer, func, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import CompileError
from sqlalchemy.orm import (
    InstrumentedAttribute,
    joinedload,
    lazyload,
    load_only,
    raiseload,
    selectinload,
    subqueryload,
)
from sqlalchemy.orm.strategy_options import _AbstractLoad
from sqlmodel import select as sqlmodel_select
from sqlmodel.sql.expression import SelectOfScalar

from ._compat import construct
from ._criteria import Binder, LookupCriterion, literal_binder
from .coercion import choice
from .exceptions import QueryError
from .lookups import primary_key_names
from .rowscopes import active_scope_options
from .scopes import live_link, root_criteria, soft_options, soft_scope_of
from .tenancy import tenant_options

if TYPE_CHECKING:
    from .query import Q

# ``soft_options`` (from `scopes`) stays importable from here for writes.py.
__all__ = [
    "DIALECTS",
    "LOADERS",
    "Include",
    "Order",
    "LIMIT",
    "OFFSET",
    "RowLock",
    "compile_sql",
    "counted",
    "root_soft_criteria",
    "scoped_criteria",
    "select_of",
    "soft_options",
]

LOADERS = {
    "selectin": selectinload,
    "joined": joinedload,
    "subquery": subqueryload,
    "lazy": lazyload,
    "raise": raiseload,
}
DIALECTS: dict[str, Dialect] = {
    "sqlite": construct(sqlite.dialect),
    # psycopg 3, the driver we support: the SQL it runs (with its bind casts),
    # whichever driver a bare ``postgresql://`` means in this SQLAlchemy
    "postgresql": construct(postgresql_psycopg.dialect),
    "mysql": construct(mysql.dialect),
    "mariadb": construct(mysql.dialect, is_mariadb=True),
}


@dataclass(frozen=True, slots=True)
class Order:
    """One sort key of a query: the expression, its model column (``None``
    for an expression over several), whether it is descending, and whether
    the same key gives the same object every time (a field name or column
    attribute: the query can then be served by a statement template)."""

    expression: Any
    column: InstrumentedAttribute[Any] | None
    descending: bool
    reusable: bool = False


@dataclass(frozen=True, slots=True)
class Include:
    """One eager-loaded relationship path and its loading strategy."""

    path: tuple[InstrumentedAttribute[Any], ...]
    strategy: str

    def option(self, live_links: bool = True) -> _AbstractLoad:
        """The loader option; with ``live_links`` a relationship through a
        soft-delete link model loads through live links only."""
        loader = LOADERS[self.strategy]
        option = loader(_linked(self.path[0], live_links))
        for attribute in self.path[1:]:
            option = getattr(option, loader.__name__)(_linked(attribute, live_links))
        return option


def _linked(attribute: Any, live_links: bool) -> Any:
    link = live_link(attribute.property) if live_links else None
    return attribute if link is None else attribute.and_(link)


@dataclass(frozen=True, slots=True)
class RowLock:
    """A query's ``FOR UPDATE`` (see `Q.for_update`)."""

    nowait: bool
    skip_locked: bool
    of: tuple[type[Any], ...]

    @classmethod
    def of_query(cls, model: type[Any], nowait: bool, skip_locked: bool, of: Any) -> RowLock:
        """The lock of a query on ``model``; `QueryError` for options that
        cannot go together or ``of`` naming something else than models."""
        if nowait and skip_locked:
            raise QueryError(
                "for_update takes nowait or skip_locked, not both", model=model, key="for_update"
            )
        models = () if of is None else tuple(of) if isinstance(of, list | tuple) else (of,)
        for target in models:
            if not isinstance(target, type) or getattr(target, "__table__", None) is None:
                raise QueryError(
                    f"for_update(of=...) takes table models, got {target!r}",
                    model=model,
                    key="of",
                    value=target,
                )
        return cls(bool(nowait), bool(skip_locked), models)

    def applied(self, stmt: Any) -> Any:
        return stmt.with_for_update(
            nowait=self.nowait,
            skip_locked=self.skip_locked,
            of=[model.__table__ for model in self.of] or None,
        )


def scoped_criteria(
    q: Q[Any], mode: str | None = None, bind: Binder = literal_binder
) -> tuple[ColumnElement[bool], ...]:
    """The criteria of ``q`` in the form scope ``mode`` (by default the
    query's own) needs, lookup values bound by ``bind``."""
    mode = q._soft if mode is None else mode
    criteria: list[ColumnElement[bool]] = []
    index = 0
    for criterion in q._criteria:
        if isinstance(criterion, LookupCriterion):
            criteria.append(criterion.clause(mode, bind, index))
            index += len(criterion.values)
        else:
            criteria.append(criterion)
    return tuple(criteria)


def root_soft_criteria(q: Q[Any]) -> tuple[ColumnElement[bool], ...]:
    """The soft-delete criterion on ``q``'s own rows, written into WHERE."""
    return root_criteria(q.model, q._soft)


#: The placeholders of a statement template's LIMIT and OFFSET (bound
#: parameters, as SQLAlchemy binds an ``int`` limit).
LIMIT = BindParameter("q_limit", type_=Integer())
OFFSET = BindParameter("q_offset", type_=Integer())


def select_of(
    q: Q[Any],
    *,
    loading: bool = True,
    ordering: bool = True,
    paging: bool = True,
    locking: bool = True,
    bind: Binder = literal_binder,
) -> SelectOfScalar[Any]:
    """The ``Select`` of ``q``; ``loading``, ``ordering``, ``paging`` and
    ``locking`` leave out loader options, ORDER BY, LIMIT/OFFSET and
    FOR UPDATE. ``bind`` binds
    the lookup values; with `placeholder_binder` (a statement template)
    LIMIT and OFFSET are the placeholders `LIMIT` and `OFFSET` too."""
    if q._group:
        raise QueryError(
            "group_by() applies to aggregate(); this terminal reads rows",
            model=q.model,
            key="group_by",
        )
    stmt = sqlmodel_select(q.model) if q._base is None else q._base
    # a caller's statement that already carries a soft-delete scope keeps it
    kept_scope = None if q._base is None else soft_scope_of(q._base)
    criteria = scoped_criteria(q, kept_scope, bind) + (
        root_soft_criteria(q) if q._soft == "only" else ()
    )
    if criteria:
        stmt = stmt.where(*criteria)
    options: tuple[Any, ...] = () if kept_scope is not None else soft_options(q.model, q._soft)
    options += tenant_options(q.model, q._all_tenants) + active_scope_options(q.model)
    if loading:
        if q._includes:
            live_links = q._soft != "include"
            options += tuple(include.option(live_links) for include in q._includes)
        if q._only:
            options += (load_only(*q._only),)
    if options:
        stmt = stmt.options(*options)
    if ordering and q._order:
        stmt = stmt.order_by(*(order.expression for order in q._order))
    if paging:
        literal = bind is literal_binder
        if q._limit is not None:
            stmt = stmt.limit(q._limit if literal else LIMIT)
        if q._offset:
            stmt = stmt.offset(q._offset if literal else OFFSET)
    if locking and q._lock is not None:
        stmt = q._lock.applied(stmt)
    return stmt


def counted(q: Q[Any], paging: bool) -> Any:
    """A ``SELECT count(*)`` of ``q``'s rows (honouring limit/offset with ``paging``)."""
    inner = select_of(q, loading=False, ordering=False, paging=paging, locking=False)
    if paging and (q._limit is not None or q._offset):
        keys = [getattr(q.model, name) for name in primary_key_names(q.model)]
        limited = inner.with_only_columns(*keys, maintain_column_froms=True).subquery()
        # Loader criteria (the soft-delete scope) reach into a subquery
        # only from the outermost statement.
        return select(func.count()).select_from(limited).options(*soft_options(q.model, q._soft))
    return inner.with_only_columns(func.count(), maintain_column_froms=True)


def compile_sql(q: Q[Any], dialect: str | None, literal: bool) -> str:
    """``q``'s statement compiled for ``dialect`` (see `Q.sql`)."""
    compile_kwargs = {"render_postcompile": True}
    if literal:
        compile_kwargs["literal_binds"] = True
    statement = select_of(q)
    name = (
        None
        if dialect is None
        else choice(dialect, DIALECTS, "dialect", model=q.model, key="dialect")
    )
    try:
        return str(
            statement.compile(
                dialect=None if name is None else DIALECTS[name], compile_kwargs=compile_kwargs
            )
        )
    except CompileError as exc:  # e.g. a PostgreSQL ARRAY operator for SQLite
        raise QueryError(
            f"the query cannot be written for {name or 'the default dialect'}: {exc}",
            model=q.model,
            key="dialect",
        ) from exc
