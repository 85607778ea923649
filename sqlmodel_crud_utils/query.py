"""`Q`: the immutable, chainable query builder.

    >>> from sqlmodel import Field, SQLModel
    >>> class Ship(SQLModel, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     name: str
    ...     crew: int = 0
    >>> q = Q(Ship).where(crew__gte=10, name__icontains="star").order_by("-crew")
    >>> print(q.sql("sqlite"))  # doctest: +NORMALIZE_WHITESPACE
    SELECT ship.id, ship.name, ship.crew
    FROM ship
    WHERE ship.crew >= ? AND (lower(ship.name) LIKE '%' || lower(?) || '%' ESCAPE '/')
    ORDER BY ship.crew DESC

Every builder method returns a new `Q`; the receiver never changes, so a
partial query can be shared and extended. The state is a frozen, slotted
dataclass of tuples holding already-validated parts; `Q.statement` builds a
plain `sqlmodel.select(...)` from it, with values as bound parameters, so
SQLAlchemy's compiled-statement cache serves repeated queries.

Sync terminals take a `Session`; each has an ``a_`` twin taking an
`AsyncSession`, which runs the very same code through
`AsyncSession.run_sync` (one implementation for both). `a_stream` streams
natively from one cursor where it can and otherwise runs the same batch
loader as `stream` through ``run_sync``, one batch at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast, get_args

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    InstrumentedAttribute,
    Session,
    joinedload,
    lazyload,
    load_only,
    raiseload,
    selectinload,
    subqueryload,
    with_loader_criteria,
)
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.orm.strategy_options import _AbstractLoad
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression
from sqlmodel import select as sqlmodel_select
from sqlmodel.sql.expression import SelectOfScalar

from ._compat import LOADER_CRITERIA_IN_EXISTS, SELECTIN_UNDER_YIELD_PER, construct
from .exceptions import MultipleRecordsError, QueryError, RecordNotFoundError
from .lookups import (
    Lookup,
    RelatedCriteria,
    coerce_value,
    mapper_of,
    memoized,
    parse_field,
    parse_lookup,
    parse_order_key,
    parse_relationship_path,
    relationship_targets,
)
from .mixins import (
    audit_update_values,
    current_user,
    is_soft_delete_model,
    live_only,
    soft_scope,
    soft_scope_of,
    utc_now,
)
from .pagination import CursorPage, Page, decode_cursor, encode_cursor

__all__ = ["Q", "SoftMode", "Strategy"]

M = TypeVar("M")

SoftMode = Literal["exclude", "include", "only"]
Strategy = Literal["selectin", "joined", "subquery", "lazy", "raise"]

_LOADERS = {
    "selectin": selectinload,
    "joined": joinedload,
    "subquery": subqueryload,
    "lazy": lazyload,
    "raise": raiseload,
}
_SOFT_MODES: frozenset[str] = frozenset(get_args(SoftMode))
_DIALECTS: dict[str, Dialect] = {
    "sqlite": construct(sqlite.dialect),
    # psycopg 3, the driver we support: the SQL it runs (with its bind casts),
    # whichever driver a bare ``postgresql://`` means in this SQLAlchemy
    "postgresql": construct(postgresql_psycopg.dialect),
    "mysql": construct(mysql.dialect),
    "mariadb": construct(mysql.dialect, is_mariadb=True),
}


@dataclass(frozen=True, slots=True)
class _Order:
    expression: Any
    column: InstrumentedAttribute[Any] | None
    descending: bool


@dataclass(frozen=True, slots=True)
class _Include:
    path: tuple[InstrumentedAttribute[Any], ...]
    strategy: str

    def option(self) -> _AbstractLoad:
        loader = _LOADERS[self.strategy]
        option = loader(self.path[0])
        for attribute in self.path[1:]:
            option = getattr(option, loader.__name__)(attribute)
        return option


def _primary_key_names(model: type[Any]) -> tuple[str, ...]:
    mapper = mapper_of(model)
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)


#: The largest LIMIT/OFFSET every backend accepts (a signed 64-bit integer).
_MAX_ROWS = 2**63 - 1


def _positive_int(value: Any, name: str, model: Any, *, minimum: int) -> int:
    if type(value) is int and minimum <= value <= _MAX_ROWS:  # the common case, on every page()
        return value
    number = coerce_value(int, value, model=model, key=name)
    if (
        isinstance(number, bool)
        or not isinstance(number, int)
        or not minimum <= number <= _MAX_ROWS
    ):
        raise QueryError(
            f"{name} must be an integer from {minimum} to {_MAX_ROWS}, got {value!r}",
            model=model,
            key=name,
            value=value,
        )
    return number


@memoized
def _soft_options(model: type[Any], mode: str) -> tuple[ORMOption, ...]:
    """Loader criteria keeping soft-deleted rows out of every load of every
    soft-delete model reachable from ``model`` (root, joins, subqueries,
    eager and lazy relationship loads)."""
    targets = [target for target in relationship_targets(model) if is_soft_delete_model(target)]
    if not targets:
        return ()
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


@dataclass(frozen=True, slots=True)
class _ScopedCriterion:
    """A relationship filter reaching soft-delete models, in the form each
    scope needs, chosen when the statement is built (``soft()`` may come
    after ``where()``): ``plain`` as written (``"include"``), ``exclude`` and
    ``only`` with ``is_deleted = false`` inside each EXISTS the loader
    criteria do not reach (every one on SQLAlchemy 2.0; on 2.1 only those
    over the root model under ``"only"``, whose loader criteria skip it)."""

    plain: ColumnElement[bool]
    exclude: ColumnElement[bool]
    only: ColumnElement[bool]

    def form(self, mode: str) -> ColumnElement[bool]:
        return self.plain if mode == "include" else self.exclude if mode == "exclude" else self.only


_Criterion = ColumnElement[bool] | _ScopedCriterion


def _unscoped(root: type[Any], target: type[Any], mode: str) -> bool:
    """Whether rows of ``target`` inside a relationship filter's EXISTS are
    left unfiltered by the loader criteria of scope ``mode`` on query ``root``."""
    return is_soft_delete_model(target) and (
        not LOADER_CRITERIA_IN_EXISTS or (mode == "only" and target is root)
    )


def _live_related_for(root: type[Any], mode: str) -> RelatedCriteria:
    """``is_deleted = false`` for each hop target `_unscoped` names."""

    def criteria(target: type[Any]) -> ColumnElement[bool] | None:
        if not _unscoped(root, target, mode):
            return None
        deleted: ColumnElement[bool] = cast("Any", target).is_deleted == false()
        return deleted

    return criteria


def _rowcount(result: Any) -> int:
    """Rows an UPDATE/DELETE matched (``session.execute`` types its result
    as a plain `Result`, which has no ``rowcount``)."""
    return int(result.rowcount)


def _single(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return clauses[0]


def _any_of(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*clauses)


def _none_of(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return not_(and_(*clauses))


#: Models already checked to be mapped by ``Q.__post_init__``.
_MAPPED_MODELS: set[type[Any]] = set()


@memoized
def _string_order(model: type[Any], key: str) -> _Order:
    """The sort key for ``"age"`` / ``"-age"``, built once per model and key
    (SQLAlchemy expressions are immutable, so one can serve every query)."""
    column, descending = parse_order_key(model, key)
    return _Order(column.desc() if descending else column, column, descending)


# Not slotted: on Python < 3.12 a frozen *slotted* dataclass breaks
# ``Q[Hero](Hero)`` (typing's ``__orig_class__`` assignment raises TypeError).
@dataclass(frozen=True, eq=False, repr=False)
class Q(Generic[M]):
    """An immutable query over one table model.

    Build with `where`, `where_any`, `exclude`, `order_by`, `include`,
    `only`, `soft`, `limit`, `offset` and `page`; run with a terminal.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Star(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        ...     mag: float = 0
        >>> base = Q(Star).where(mag__lt=2)
        >>> bright = base.order_by("mag").limit(3)
        >>> "ORDER BY" in str(base), "ORDER BY" in str(bright)
        (False, True)
    """

    model: type[M]
    _criteria: tuple[_Criterion, ...] = ()
    _filters: tuple[tuple[str, Any], ...] = ()
    _order: tuple[_Order, ...] = ()
    _includes: tuple[_Include, ...] = ()
    _only: tuple[InstrumentedAttribute[Any], ...] = ()
    _soft: str = "exclude"
    _limit: int | None = None
    _offset: int | None = None
    _base: Any = None

    def __post_init__(self) -> None:
        if self.model not in _MAPPED_MODELS:  # check each model once, not per query
            mapper_of(self.model)
            _MAPPED_MODELS.add(self.model)

    # ------------------------------------------------------------------ builders

    def _with(self, **changes: Any) -> Q[M]:
        # A copy of the instance dict: ``dataclasses.replace`` re-runs ``__init__``
        # and ``__post_init__`` (a mapper check), several times slower on this hot path.
        clone = object.__new__(type(self))
        state = clone.__dict__
        state.update(self.__dict__)
        state.update(changes)
        return clone

    def _lookup_criteria(
        self,
        lookups: dict[str, Any],
        combine: Callable[[list[ColumnElement[bool]]], ColumnElement[bool]] | None = None,
    ) -> list[_Criterion]:
        """One criterion per lookup, or (with ``combine``) one for them all."""
        parsed = [(parse_lookup(self.model, key), value) for key, value in lookups.items()]
        groups = [parsed] if combine is not None else [[item] for item in parsed]
        join = combine or _single
        criteria: list[_Criterion] = []
        for group in groups:
            plain = join([lookup.clause(value) for lookup, value in group])
            exclude, only = (self._scoped_form(group, join, mode) for mode in ("exclude", "only"))
            if exclude is None and only is None:
                criteria.append(plain)
            else:
                criteria.append(
                    _ScopedCriterion(
                        plain,
                        plain if exclude is None else exclude,
                        plain if only is None else only,
                    )
                )
        return criteria

    def _scoped_form(
        self,
        group: list[tuple[Lookup, Any]],
        join: Callable[[list[ColumnElement[bool]]], ColumnElement[bool]],
        mode: str,
    ) -> ColumnElement[bool] | None:
        """``group`` with ``is_deleted = false`` in the EXISTS clauses that
        scope ``mode`` leaves unfiltered; ``None`` when there are none."""
        targets = {hop.target for lookup, _ in group for hop in lookup.hops}
        if not any(_unscoped(self.model, target, mode) for target in targets):
            return None
        related = _live_related_for(self.model, mode)
        return join([lookup.clause(value, related) for lookup, value in group])

    def where(self, *clauses: Any, **lookups: Any) -> Q[M]:
        """AND SQLAlchemy boolean clauses and ``field__op=value`` lookups onto the query.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Tree(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            ...     height: int = 0
            >>> print(Q(Tree).where(Tree.height > 3, id__in=[1, 2]).statement.whereclause)
            tree.height > :height_1 AND tree.id IN (__[POSTCOMPILE_id_1])
        """
        built: list[_Criterion] = []
        for clause in clauses:
            if clause is None:
                raise QueryError(
                    "where() takes SQLAlchemy boolean clauses, got None",
                    model=self.model,
                    key="where",
                )
            if isinstance(clause, str):
                raise QueryError(
                    "textual SQL is not accepted by where(); use lookups or SQLAlchemy expressions",
                    model=self.model,
                    key="where",
                    value=clause,
                )
            try:
                built.append(and_(clause))
            except ArgumentError as exc:
                raise QueryError(
                    f"where() takes SQLAlchemy boolean clauses, got {clause!r}",
                    model=self.model,
                    key="where",
                    value=clause,
                ) from exc
        built.extend(self._lookup_criteria(lookups))
        if not built:
            return self
        return self._with(
            _criteria=self._criteria + tuple(built),
            _filters=self._filters + tuple(lookups.items()) + tuple(("where", c) for c in clauses),
        )

    def where_any(self, **lookups: Any) -> Q[M]:
        """AND the OR of the given lookups onto the query (no lookups: no change).

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Lake(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            ...     depth: int = 0
            >>> print(Q(Lake).where_any(depth__lt=1, depth__gt=9).statement.whereclause)
            lake.depth < :depth_1 OR lake.depth > :depth_2
        """
        if not lookups:
            return self
        return self._with(
            _criteria=self._criteria + tuple(self._lookup_criteria(lookups, _any_of)),
            _filters=self._filters + (("any", lookups),),
        )

    def exclude(self, **lookups: Any) -> Q[M]:
        """AND ``NOT (lookup AND lookup ...)`` onto the query.

        SQL semantics apply: a row whose field is NULL satisfies neither a
        comparison nor its negation, so ``exclude(age__gt=30)`` also drops
        rows with no age; add ``where_any(age__isnull=True, ...)`` to keep them.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Road(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            ...     lanes: int = 0
            >>> print(Q(Road).exclude(lanes=1).statement.whereclause)
            road.lanes != :lanes_1
        """
        if not lookups:
            return self
        return self._with(
            _criteria=self._criteria + tuple(self._lookup_criteria(lookups, _none_of)),
            _filters=self._filters + (("not", lookups),),
        )

    def order_by(self, *keys: Any) -> Q[M]:
        """Append sort keys: ``"age"``, ``"-age"`` (descending) or SQLAlchemy
        expressions (``Hero.age.desc()``, ``func.lower(Hero.name)``);
        ``order_by(None)`` clears the ordering. A column of another model
        raises `QueryError` (it would turn the query into a cross join).

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Bird(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            ...     wings: int = 2
            >>> Q(Bird).order_by("-wings", "id").sql().split("ORDER BY")[1]
            ' bird.wings DESC, bird.id'
        """
        if len(keys) == 1 and keys[0] is None:
            return self._with(_order=())
        return self._with(_order=self._order + tuple(self._order_key(key) for key in keys))

    def _order_key(self, key: Any) -> _Order:
        if isinstance(key, str):
            return _string_order(self.model, key)
        if isinstance(key, InstrumentedAttribute):
            if key.class_ is not self.model or key.key not in mapper_of(self.model).column_attrs:
                raise QueryError(
                    f"order_by() takes columns of {self.model.__name__}, got {key}",
                    model=self.model,
                    key="order_by",
                    value=key,
                )
            return _Order(key, key, False)
        if isinstance(key, UnaryExpression) and key.modifier in (
            operators.desc_op,
            operators.asc_op,
        ):
            return _Order(key, self._model_column(key.element), key.modifier is operators.desc_op)
        if isinstance(key, ColumnElement):
            return _Order(key, self._model_column(key), False)
        raise QueryError(
            f"order_by() takes field names or SQLAlchemy expressions, got {key!r}",
            model=self.model,
            key="order_by",
            value=key,
        )

    def _model_column(self, element: Any) -> InstrumentedAttribute[Any] | None:
        annotations = getattr(element, "_annotations", {})
        name = annotations.get("proxy_key")
        entity = annotations.get("parententity")
        if name is None or entity is None or entity is not mapper_of(self.model):
            return None
        return cast("InstrumentedAttribute[Any] | None", getattr(self.model, name, None))

    def include(self, *paths: str, strategy: Strategy = "selectin") -> Q[M]:
        """Eager-load relationships by dotted path (``"team.members"``).

        ``strategy`` applies to every hop of each path: ``selectin`` (one
        extra SELECT per hop, the default), ``joined`` (LEFT OUTER JOIN),
        ``subquery``, ``lazy`` (load on access) or ``raise`` (access raises,
        to catch N+1 queries in tests).

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Moon(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> Q(Moon).include("planet")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            sqlmodel_crud_utils.exceptions.QueryError: Moon: unknown relationship 'planet' ...
        """
        if strategy not in _LOADERS:
            raise QueryError(
                f"unknown loading strategy {strategy!r}; choose one of {', '.join(_LOADERS)}",
                model=self.model,
                key="strategy",
                value=strategy,
            )
        added = tuple(
            _Include(parse_relationship_path(self.model, path), strategy) for path in paths
        )
        return self._with(_includes=self._includes + added)

    def only(self, *fields: str) -> Q[M]:
        """Load only these columns (the primary key is always loaded).

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Song(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            ...     title: str = ""
            ...     lyrics: str = ""
            >>> Q(Song).only("title").sql().splitlines()[0].strip()
            'SELECT song.id, song.title'
        """
        return self._with(_only=self._only + tuple(parse_field(self.model, f) for f in fields))

    def soft(self, mode: SoftMode) -> Q[M]:
        """Soft-delete scope: ``"exclude"`` deleted rows (the default),
        ``"include"`` them, or return ``"only"`` deleted rows.

        The scope covers the root rows and every soft-delete model reached
        through relationship filters and loads. With ``"only"``, the root
        rows are the deleted ones while related soft-delete rows stay live
        (rows of the root model met again through a relationship are not
        filtered). Models without `SoftDeleteMixin` are unaffected.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Card(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> Q(Card).soft("all")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            sqlmodel_crud_utils.exceptions.QueryError: Card: soft() takes 'exclude', ... got 'all'
        """
        if mode not in _SOFT_MODES:
            raise QueryError(
                f"soft() takes 'exclude', 'include' or 'only', got {mode!r}",
                model=self.model,
                key="soft",
                value=mode,
            )
        if mode == self._soft:
            return self  # immutable: the same scope needs no copy
        return self._with(_soft=mode)

    def limit(self, n: int | None) -> Q[M]:
        """Return at most ``n`` rows (``None`` removes the limit).

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Coin(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> Q(Coin).limit(-1)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            sqlmodel_crud_utils.exceptions.QueryError: Coin: limit must be ... got -1
        """
        value = None if n is None else _positive_int(n, "limit", self.model, minimum=0)
        return self._with(_limit=value)

    def offset(self, n: int | None) -> Q[M]:
        """Skip the first ``n`` rows (``None`` removes the offset).

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Gem(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> Q(Gem).offset(10)._offset
            10
        """
        value = None if n is None else _positive_int(n, "offset", self.model, minimum=0)
        return self._with(_offset=value)

    def page(self, number: int, size: int = 20) -> Q[M]:
        """Limit to page ``number`` (1-based) of ``size`` rows.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Leaf(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> q = Q(Leaf).page(3, size=10)
            >>> q._limit, q._offset
            (10, 20)
        """
        number = _positive_int(number, "page", self.model, minimum=1)
        size = _positive_int(size, "size", self.model, minimum=1)
        offset = (number - 1) * size
        if offset > _MAX_ROWS:
            raise QueryError(
                f"page {number} of size {size} is beyond the last possible row",
                model=self.model,
                key="page",
                value=number,
            )
        return self._with(_limit=size, _offset=offset)

    def _stably_ordered(self) -> Q[M]:
        """This query, ordered by primary key when it has no order of its own
        (offset pages of an unordered query may overlap or skip rows)."""
        if self._order:
            return self
        return self.order_by(*_primary_key_names(self.model))

    def _based_on(self, stmt: Any) -> Q[M]:
        """This query built on top of ``stmt`` (a ``select()`` of the model)
        instead of a bare ``select(model)``: its filters, scope, loading,
        order and paging are added to the caller's statement (legacy
        ``get_rows(stmnt=...)``). A statement that already carries a
        soft-delete scope (built by `Q`, or with ``with_deleted()``) keeps it."""
        return self._with(_base=stmt)

    # ------------------------------------------------------------- compilation

    def _scoped_criteria(self, mode: str | None = None) -> tuple[ColumnElement[bool], ...]:
        """The criteria, each relationship filter in the form scope ``mode``
        (by default the query's own) needs."""
        mode = self._soft if mode is None else mode
        return tuple(
            criterion.form(mode) if isinstance(criterion, _ScopedCriterion) else criterion
            for criterion in self._criteria
        )

    @property
    def _soft_scope(self) -> bool:
        return self._soft != "include" and is_soft_delete_model(self.model)

    def _root_soft_criteria(self) -> tuple[ColumnElement[bool], ...]:
        if not self._soft_scope:
            return ()
        deleted = cast("Any", self.model).is_deleted
        return (deleted == true(),) if self._soft == "only" else (deleted == false(),)

    def _select(
        self, *, loading: bool = True, ordering: bool = True, paging: bool = True
    ) -> SelectOfScalar[M]:
        stmt = sqlmodel_select(self.model) if self._base is None else self._base
        # a caller's statement that already carries a soft-delete scope keeps it
        kept_scope = None if self._base is None else soft_scope_of(self._base)
        criteria = self._scoped_criteria(kept_scope) + (
            self._root_soft_criteria() if self._soft == "only" else ()
        )
        if criteria:
            stmt = stmt.where(*criteria)
        options: tuple[Any, ...] = () if kept_scope is not None else self._soft_options()
        if loading:
            if self._includes:
                options += tuple(include.option() for include in self._includes)
            if self._only:
                options += (load_only(*self._only),)
        if options:
            stmt = stmt.options(*options)
        if ordering and self._order:
            stmt = stmt.order_by(*(order.expression for order in self._order))
        if paging:
            if self._limit is not None:
                stmt = stmt.limit(self._limit)
            if self._offset:
                stmt = stmt.offset(self._offset)
        return stmt

    @property
    def statement(self) -> SelectOfScalar[M]:
        """The SQLAlchemy ``Select`` this query compiles to.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Cup(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> type(Q(Cup).statement).__name__
            'SelectOfScalar'
        """
        return self._select()

    def sql(self, dialect: str | None = None, literal: bool = False) -> str:
        """The compiled SQL for ``"sqlite"``, ``"postgresql"`` or ``"mysql"``
        (``"mariadb"`` too; ``None``: SQLAlchemy's generic rendering).

        ``literal=True`` inlines the values, for debugging and snapshots
        only; executed statements always use bound parameters.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Pen(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> Q(Pen).where(id=5).sql("sqlite", literal=True).splitlines()[-1]
            'WHERE pen.id = 5'
        """
        compile_kwargs = {"render_postcompile": True}
        if literal:
            compile_kwargs["literal_binds"] = True
        if dialect is None:
            return str(self.statement.compile(compile_kwargs=compile_kwargs))
        if dialect not in _DIALECTS:
            raise QueryError(
                f"unknown dialect {dialect!r}; choose one of {', '.join(_DIALECTS)}",
                model=self.model,
                key="dialect",
                value=dialect,
            )
        compiled = self.statement.compile(dialect=_DIALECTS[dialect], compile_kwargs=compile_kwargs)
        return str(compiled)

    def __str__(self) -> str:
        return self.sql()

    def __repr__(self) -> str:
        return f"<Q {self.model.__name__}: {' '.join(self.sql().split())}>"

    # ------------------------------------------------------------ sync terminals

    def _execute(self, session: Session, stmt: Any) -> Any:
        result = session.execute(stmt).scalars()
        if any(include.strategy == "joined" for include in self._includes):
            result = result.unique()
        return result

    def all(self, session: Session) -> list[M]:
        """Every row the query matches.

        Example: ``heroes = Q(Hero).where(age__gt=30).all(session)``
        """
        return cast("list[M]", self._execute(session, self._select()).all())

    def first(self, session: Session) -> M | None:
        """The first row, or ``None``.

        Example: ``oldest = Q(Hero).order_by("-age").first(session)``
        """
        limit = 1 if self._limit is None else min(1, self._limit)
        return cast("M | None", self._execute(session, self._select().limit(limit)).first())

    def one_or_none(self, session: Session) -> M | None:
        """The only matching row, ``None`` when there is none;
        `MultipleRecordsError` when there are several.

        Example: ``hero = Q(Hero).where(name="Deadpond").one_or_none(session)``
        """
        limit = 2 if self._limit is None else min(2, self._limit)
        rows = list(self._execute(session, self._select().limit(limit)))
        if len(rows) > 1:
            raise MultipleRecordsError(self.model, self.count(session), self._describe())
        return rows[0] if rows else None

    def one(self, session: Session) -> M:
        """The only matching row; `RecordNotFoundError` when there is none,
        `MultipleRecordsError` when there are several.

        Example: ``hero = Q(Hero).where(name="Deadpond").one(session)``
        """
        row = self.one_or_none(session)
        if row is None:
            raise RecordNotFoundError(self.model, filters=self._describe())
        return row

    def _describe(self) -> list[str]:
        described: list[str] = []
        for key, value in self._filters:
            if key == "where":
                described.append(str(value))
            elif isinstance(value, dict):
                inner = ", ".join(f"{k}={v!r}" for k, v in value.items())
                described.append(f"{key}({inner})")
            else:
                described.append(f"{key}={value!r}")
        return described

    def get(self, session: Session, pk: Any) -> M | None:
        """The row with primary key ``pk`` (a tuple for composite keys), or
        ``None``; the query's filters and soft-delete scope apply. String
        keys are coerced to the key's type.

        Example: ``hero = Q(Hero).get(session, 1)``
        """
        mapper = mapper_of(self.model)
        columns = mapper.primary_key
        values = pk if isinstance(pk, tuple) else (pk,)
        if len(values) != len(columns):
            raise QueryError(
                f"primary key has {len(columns)} column(s), got {pk!r}",
                model=self.model,
                key="pk",
                value=pk,
            )
        criteria = []
        for column, value in zip(columns, values, strict=True):
            attribute = parse_field(self.model, mapper.get_property_by_column(column).key)
            criteria.append(attribute == parse_lookup(self.model, attribute.key).coerce(value))
        stmt = self._select(ordering=False, paging=False).where(*criteria)
        return cast("M | None", self._execute(session, stmt).first())

    def _counted(self, paging: bool) -> Any:
        inner = self._select(loading=False, ordering=False, paging=paging)
        if paging and (self._limit is not None or self._offset):
            keys = [getattr(self.model, name) for name in _primary_key_names(self.model)]
            limited = inner.with_only_columns(*keys, maintain_column_froms=True).subquery()
            # Loader criteria (the soft-delete scope) reach into a subquery
            # only from the outermost statement.
            return select(func.count()).select_from(limited).options(*self._soft_options())
        return inner.with_only_columns(func.count(), maintain_column_froms=True)

    def _soft_options(self) -> tuple[ORMOption, ...]:
        return _soft_options(self.model, self._soft)

    def count(self, session: Session) -> int:
        """How many rows this query returns (limit and offset honoured).

        Example: ``n = Q(Hero).where(age__gte=18).count(session)``
        """
        return int(session.execute(self._counted(paging=True)).scalar_one())

    def exists(self, session: Session) -> bool:
        """Whether the query matches at least one row.

        Example: ``taken = Q(Hero).where(name="Rusty-Man").exists(session)``
        """
        inner = self._select(loading=False, ordering=False)
        stmt = select(inner.exists()).options(*self._soft_options())
        return bool(session.execute(stmt).scalar())

    def paginate(self, session: Session, page: int = 1, size: int = 20) -> Page[M]:
        """Page ``page`` (1-based) of ``size`` rows plus the total count.

        ``total`` ignores the query's own limit and offset. When the page is
        not full the total is known without a COUNT query, which is skipped.
        A query without `order_by` is ordered by primary key here, so pages
        neither overlap nor skip rows (SQL guarantees no order otherwise).

        Example: ``page = Q(Hero).order_by("name").paginate(session, page=2, size=10)``
        """
        paged = self._stably_ordered().page(page, size)
        items = paged.all(session)
        offset = paged._offset or 0
        if 0 < len(items) < paged._limit or (offset == 0 and not items):  # type: ignore[operator]
            total = offset + len(items)
        else:
            total = int(session.execute(self._counted(paging=False)).scalar_one())
        return Page[M].build(items, total=total, page=int(page), size=int(size))

    # keyset pagination ---------------------------------------------------------

    def _keyset_order(self) -> list[tuple[InstrumentedAttribute[Any], bool]]:
        keys: list[tuple[InstrumentedAttribute[Any], bool]] = []
        for order in self._order:
            if order.column is None:
                raise QueryError(
                    f"keyset() needs plain column sort keys, got {order.expression}",
                    model=self.model,
                    key="order_by",
                )
            keys.append((order.column, order.descending))
        directions = {descending for _, descending in keys}
        tie = directions.pop() if len(directions) == 1 else False
        mapper = mapper_of(self.model)
        present = {column.key for column, _ in keys}
        for column in mapper.primary_key:
            name = mapper.get_property_by_column(column).key
            if name not in present:
                keys.append((getattr(self.model, name), tie))
        return keys

    def _check_keyset_comparable(
        self, session: Session, keys: Sequence[tuple[InstrumentedAttribute[Any], bool]]
    ) -> None:
        """MySQL/MariaDB sort a native ENUM column by its position in the
        type but compare it as text, so a cursor on it would skip rows."""
        dialect = session.get_bind(mapper=mapper_of(self.model)).dialect.name
        if dialect not in ("mysql", "mariadb"):
            return
        for column, _ in keys:
            column_type = column.property.columns[0].type
            if isinstance(column_type, SAEnum) and column_type.native_enum:
                raise QueryError(
                    f"keyset() cannot page by ENUM column {column.key!r} on MySQL/MariaDB "
                    "(sorted by position, compared as text); sort by another column",
                    model=self.model,
                    key="order_by",
                )

    def _keyset_signature(self, keys: Sequence[tuple[InstrumentedAttribute[Any], bool]]) -> str:
        return f"{self.model.__name__}:" + ",".join(
            ("-" if descending else "") + column.key for column, descending in keys
        )

    def _after(
        self, keys: Sequence[tuple[InstrumentedAttribute[Any], bool]], cursor: str
    ) -> ColumnElement[bool]:
        raw = decode_cursor(self._keyset_signature(keys), cursor, model=self.model)
        if len(raw) != len(keys):
            raise QueryError(
                "invalid or stale cursor", model=self.model, key="cursor", value=cursor
            )
        values = [
            parse_lookup(self.model, column.key).coerce(value)
            for (column, _), value in zip(keys, raw, strict=True)
        ]
        directions = {descending for _, descending in keys}
        if len(directions) == 1:
            columns = [column for column, _ in keys]
            bound = tuple_(*(literal(v, c.type) for c, v in zip(columns, values, strict=True)))
            return tuple_(*columns) < bound if directions.pop() else tuple_(*columns) > bound
        alternatives = []
        for index, (column, descending) in enumerate(keys):
            equal = [keys[j][0] == values[j] for j in range(index)]
            step = column < values[index] if descending else column > values[index]
            alternatives.append(and_(*equal, step))
        return or_(*alternatives)

    def keyset(self, session: Session, size: int = 20, after: str | None = None) -> CursorPage[M]:
        """Keyset ("cursor") pagination on the query's order.

        The primary key is appended as a tie-breaker (descending when every
        sort key is descending, else ascending). Pages after the first are
        found by comparing sort keys with the last row seen, never with
        OFFSET, so the cost of a page does not grow with its depth: a
        row-value comparison ``(age, name, id) > (:a, :b, :c)`` when all keys
        share one direction (a composite index serves it), the expanded
        ``OR`` form for mixed directions. The query's own limit and offset
        are ignored.

        Sort keys must be columns of the model (``"-age"``, ``Hero.age``,
        ``Hero.age.desc()``) holding no NULLs: a row with a NULL sort key is
        skipped, or stops the walk with `QueryError` when it ends a page. A
        cursor that was edited, truncated, or made for another ordering or
        model raises `QueryError`.

        Example::

            page = Q(Hero).order_by("-age").keyset(session, size=50)
            while page.has_next:
                page = Q(Hero).order_by("-age").keyset(session, 50, after=page.next_cursor)
        """
        size = _positive_int(size, "size", self.model, minimum=1)
        keys = self._keyset_order()
        self._check_keyset_comparable(session, keys)
        loaded = self
        if self._only:  # the cursor needs the sort keys of the last row
            loaded = self._with(_only=self._only + tuple(column for column, _ in keys))
        stmt = loaded._select(ordering=False, paging=False)
        if after is not None:
            stmt = stmt.where(self._after(keys, after))
        stmt = stmt.order_by(*(column.desc() if desc else column for column, desc in keys))
        rows = list(self._execute(session, stmt.limit(size + 1)))
        has_next = len(rows) > size
        items = rows[:size]
        next_cursor = None
        if has_next:
            last = items[-1]
            values = [getattr(last, column.key) for column, _ in keys]
            if any(value is None for value in values):
                raise QueryError(
                    "keyset() cannot page past a row whose sort key is NULL",
                    model=self.model,
                    key="order_by",
                )
            next_cursor = encode_cursor(self._keyset_signature(keys), values, model=self.model)
        return CursorPage[M].model_construct(
            items=items, next_cursor=next_cursor, has_next=has_next
        )

    def stream(self, session: Session, batch_size: int = 1000) -> Iterator[M]:
        """Iterate over the rows, fetched ``batch_size`` at a time, so memory
        stays bounded however many rows match.

        SQLite and PostgreSQL stream from one cursor (a server-side cursor on
        PostgreSQL). MySQL/MariaDB drivers cannot run another statement on a
        connection while an unbuffered cursor is open (rows would be lost),
        so there, and for any query with a ``joined`` or ``subquery``
        include (which cannot be streamed from one cursor; on SQLAlchemy 2.0
        a ``selectin`` include too), the primary
        keys are read first (one light query) and the rows are then loaded
        ``batch_size`` keys at a time, in the query's order. Either way,
        ``selectin`` includes and lazy loads work inside the loop.

        Close a stream you leave early (``stream.close()``, or
        ``contextlib.aclosing`` for `a_stream`).

        Example: ``for hero in Q(Hero).stream(session): ...``
        """
        batch_size = _positive_int(batch_size, "batch_size", self.model, minimum=1)
        if self._streams_by_key(session.get_bind(mapper=mapper_of(self.model))):
            return self._stream_by_key(session, batch_size)
        stmt = self._select().execution_options(yield_per=batch_size)
        return self._stream_rows(session, stmt)

    @staticmethod
    def _stream_rows(session: Session, stmt: Any) -> Iterator[M]:
        result = session.execute(stmt).scalars()
        try:
            yield from result
        finally:
            result.close()

    def _streams_by_key(self, bind: Any) -> bool:
        strategies = self._unstreamable_strategies
        return (
            bind.dialect.name in ("mysql", "mariadb")
            or any(include.strategy in strategies for include in self._includes)
            or any(rel.lazy in strategies for rel in mapper_of(self.model).relationships)
        )

    #: Eager strategies that cannot load inside a ``yield_per`` stream: on
    #: SQLAlchemy 2.0 a selectin load inherits the stream's ``yield_per``
    #: and fails ("Can't use the ORM yield_per feature in conjunction with unique()").
    _unstreamable_strategies = (
        ("joined", "subquery") if SELECTIN_UNDER_YIELD_PER else ("joined", "subquery", "selectin")
    )

    def _stream_keys(self, session: Session) -> list[tuple[Any, ...]]:
        columns = [getattr(self.model, name) for name in _primary_key_names(self.model)]
        stmt = self._select(loading=False).with_only_columns(*columns, maintain_column_froms=True)
        return [tuple(row) for row in session.execute(stmt)]

    def _stream_batch(self, session: Session, keys: Sequence[tuple[Any, ...]]) -> list[M]:
        names = _primary_key_names(self.model)
        columns = [getattr(self.model, name) for name in names]
        if len(columns) == 1:
            match = columns[0].in_([key[0] for key in keys])
        else:
            match = tuple_(*columns).in_(keys)
        stmt = self._select(ordering=False, paging=False).where(match)
        by_key = {
            tuple(getattr(row, name) for name in names): row for row in self._execute(session, stmt)
        }
        return [by_key[key] for key in keys if key in by_key]

    def _stream_by_key(self, session: Session, batch_size: int) -> Iterator[M]:
        keys = self._stream_keys(session)
        for start in range(0, len(keys), batch_size):
            yield from self._stream_batch(session, keys[start : start + batch_size])

    # writes --------------------------------------------------------------------------

    def _write_criteria(self) -> tuple[ColumnElement[bool], ...]:
        if self._limit is not None or self._offset:
            raise QueryError(
                "update()/delete() act on every matching row; remove limit/offset/page",
                model=self.model,
                key="limit",
            )
        # "exclude" reaches the root rows through the loader criteria of
        # `_soft_options`; writing it here too would repeat the predicate
        return self._scoped_criteria() + (
            self._root_soft_criteria() if self._soft == "only" else ()
        )

    def _values(self, values: dict[str, Any]) -> dict[str, Any]:
        if not values:
            raise QueryError(
                "update() needs at least one field=value", model=self.model, key="values"
            )
        return {
            parse_field(self.model, key).key: parse_lookup(self.model, key).coerce(value)
            for key, value in values.items()
        }

    def update(self, session: Session, **values: Any) -> int:
        """Set fields on every matching row in one ``UPDATE ... WHERE``;
        returns the number of rows matched. The soft-delete scope applies
        (to the rows and to related rows met in relationship filters). Runs in
        the session's transaction and does not commit. Hooks do not fire
        (set-based write). `AuditMixin` models also get ``updated_at`` and
        (from `acting_as`) ``updated_by`` unless ``values`` sets them.

        Example: ``n = Q(Hero).where(team_id=1).update(session, age=40)``
        """
        stamped = audit_update_values(self.model, self._values(values))
        stmt = (
            update(self.model)
            .where(*self._write_criteria())
            .values(stamped)
            .options(*self._soft_options())
        )
        return _rowcount(session.execute(stmt))

    def delete(self, session: Session, hard: bool = False) -> int:
        """Delete every matching row in one statement; returns the count.

        Soft-delete models are soft-deleted (``is_deleted``, ``deleted_at``,
        ``deleted_by`` set) unless ``hard=True``. The soft-delete scope
        applies as for `update` (``soft("include")`` to reach deleted rows
        too). Runs in the session's transaction and does not commit. Hooks
        do not fire.

        Example: ``n = Q(Hero).where(age__lt=18).delete(session, hard=True)``
        """
        if is_soft_delete_model(self.model) and not hard:
            return self.update(
                session, is_deleted=True, deleted_at=utc_now(), deleted_by=current_user()
            )
        stmt = delete(self.model).where(*self._write_criteria()).options(*self._soft_options())
        return _rowcount(session.execute(stmt))

    # ----------------------------------------------------------- async terminals

    async def a_all(self, session: AsyncSession) -> list[M]:
        """Async twin of `all`.

        Example: ``heroes = await Q(Hero).a_all(session)``
        """
        return await session.run_sync(lambda sync: self.all(sync))

    async def a_first(self, session: AsyncSession) -> M | None:
        """Async twin of `first`.

        Example: ``oldest = await Q(Hero).order_by("-age").a_first(session)``
        """
        return await session.run_sync(lambda sync: self.first(sync))

    async def a_one(self, session: AsyncSession) -> M:
        """Async twin of `one`.

        Example: ``hero = await Q(Hero).where(name="Deadpond").a_one(session)``
        """
        return await session.run_sync(lambda sync: self.one(sync))

    async def a_one_or_none(self, session: AsyncSession) -> M | None:
        """Async twin of `one_or_none`.

        Example: ``hero = await Q(Hero).where(name="Deadpond").a_one_or_none(session)``
        """
        return await session.run_sync(lambda sync: self.one_or_none(sync))

    async def a_get(self, session: AsyncSession, pk: Any) -> M | None:
        """Async twin of `get`.

        Example: ``hero = await Q(Hero).a_get(session, 1)``
        """
        return await session.run_sync(lambda sync: self.get(sync, pk))

    async def a_count(self, session: AsyncSession) -> int:
        """Async twin of `count`.

        Example: ``n = await Q(Hero).where(age__gte=18).a_count(session)``
        """
        return await session.run_sync(lambda sync: self.count(sync))

    async def a_exists(self, session: AsyncSession) -> bool:
        """Async twin of `exists`.

        Example: ``taken = await Q(Hero).where(name="Rusty-Man").a_exists(session)``
        """
        return await session.run_sync(lambda sync: self.exists(sync))

    async def a_paginate(self, session: AsyncSession, page: int = 1, size: int = 20) -> Page[M]:
        """Async twin of `paginate`.

        Example: ``page = await Q(Hero).order_by("name").a_paginate(session, page=2, size=10)``
        """
        return await session.run_sync(lambda sync: self.paginate(sync, page, size))

    async def a_keyset(
        self, session: AsyncSession, size: int = 20, after: str | None = None
    ) -> CursorPage[M]:
        """Async twin of `keyset`.

        Example: ``page = await Q(Hero).order_by("-age").a_keyset(session, size=50, after=cursor)``
        """
        return await session.run_sync(lambda sync: self.keyset(sync, size, after))

    async def a_update(self, session: AsyncSession, **values: Any) -> int:
        """Async twin of `update`.

        Example: ``n = await Q(Hero).where(team_id=1).a_update(session, age=40)``
        """
        return await session.run_sync(lambda sync: self.update(sync, **values))

    async def a_delete(self, session: AsyncSession, hard: bool = False) -> int:
        """Async twin of `delete`.

        Example: ``n = await Q(Hero).where(age__lt=18).a_delete(session, hard=True)``
        """
        return await session.run_sync(lambda sync: self.delete(sync, hard))

    async def a_stream(self, session: AsyncSession, batch_size: int = 1000) -> AsyncIterator[M]:
        """Async twin of `stream`.

        Example: ``async for hero in Q(Hero).a_stream(session): ...``

        Leave early inside ``async with contextlib.aclosing(q.a_stream(s)) as rows:``
        so the cursor is closed before the session is used again.
        """
        batch_size = _positive_int(batch_size, "batch_size", self.model, minimum=1)
        if self._streams_by_key(session.get_bind(mapper=mapper_of(self.model))):
            keys = await session.run_sync(self._stream_keys)
            for start in range(0, len(keys), batch_size):
                batch = keys[start : start + batch_size]
                for row in await session.run_sync(self._stream_batch, batch):
                    yield row
            return
        stmt = self._select().execution_options(yield_per=batch_size)
        result = await session.stream_scalars(stmt)
        try:
            async for row in result:
                yield row
        finally:
            await result.close()
