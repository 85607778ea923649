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

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast, get_args

from sqlalchemy import ColumnElement, Select, and_, not_, select
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression
from sqlmodel.sql.expression import SelectOfScalar

from ._cached import read_through
from ._compile import (
    LOADERS,
    Include,
    Order,
    RowLock,
    compile_sql,
    counted,
    select_of,
)
from ._criteria import LookupCriterion
from ._memo import memoized
from ._sessions import async_session, sync_session, terminal
from ._templates import runnable
from ._translate import translated_rows
from .aggregates import Aggregate, aggregated_rows, aggregation
from .annotations import Annotation, annotated, annotation_criteria, annotation_order
from .coercion import MAX_ROWS, choice, positive_int
from .exceptions import MultipleRecordsError, QueryError, RecordNotFoundError
from .groups import Group, Not
from .keyset import keyset_page
from .lookups import mapper_of, parse_field, parse_lookup, parse_order_key
from .lookups import parse_relationship_path as _parse_relationship_path
from .lookups import primary_key_names as _primary_key_names
from .pagination import CursorPage, Page
from .projections import as_dicts, projected_rows, projection
from .scopes import soft_options as _soft_options
from .stream import a_stream_rows, stream_rows
from .writes import delete_rows, update_rows

# ``_soft_options`` stays importable from here for sync.py (0.2.0 layout).
__all__ = ["Q", "SoftMode", "Strategy", "_soft_options"]

M = TypeVar("M")
_R = TypeVar("_R")
_REFRESH = {"populate_existing": True}
_NO_OPTIONS: dict[str, Any] = {}

SoftMode = Literal["exclude", "include", "only"]
Strategy = Literal["selectin", "joined", "subquery", "lazy", "raise"]

_SOFT_MODES: frozenset[str] = frozenset(get_args(SoftMode))

#: The modifiers that give a sort key its direction (``nulls_last()`` does not).
DIRECTIONS = (operators.desc_op, operators.asc_op)

_Criterion = ColumnElement[bool] | LookupCriterion


@memoized
def _mapped(model: type[Any], _: str) -> bool:
    """Checks once per model that it is mapped (`QueryError` otherwise)."""
    mapper_of(model)
    return True


@memoized
def _joined_by_default(model: type[Any], _: str) -> bool:
    """Whether ``model`` declares a ``lazy="joined"`` relationship: its rows
    then need ``unique()`` in every terminal."""
    return any(rel.lazy == "joined" for rel in mapper_of(model).relationships)


def _selects_entity(column_descriptions: list[dict[str, Any]]) -> bool:
    """Whether a statement with these ``column_descriptions`` selects whole
    entities (rows that `unique` may merge only when they are the same
    object), not columns."""
    description = column_descriptions[0] if column_descriptions else {}
    return description.get("entity") is not None and description.get("type") is description.get(
        "entity"
    )


@memoized
def _string_order(model: type[Any], key: str) -> Order:
    """The sort key for ``"age"`` / ``"-age"``, built once per model and key
    (SQLAlchemy expressions are immutable, so one can serve every query)."""
    column, descending = parse_order_key(model, key)
    return Order(column.desc() if descending else column, column, descending, reusable=True)


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
    _order: tuple[Order, ...] = ()
    _includes: tuple[Include, ...] = ()
    _only: tuple[InstrumentedAttribute[Any], ...] = ()
    _soft: str = "exclude"
    _limit: int | None = None
    _offset: int | None = None
    _base: Any = None
    _cached: bool = False
    _cache_ttl: float | None = None
    _primary: bool = False
    _lock: RowLock | None = None
    _group: tuple[str, ...] = ()
    _annotated: tuple[Annotation, ...] = ()
    _all_tenants: bool = False

    def __post_init__(self) -> None:
        _mapped(self.model, "")  # checks each model once, not per query

    # ------------------------------------------------------------------ builders

    def _with(self, **changes: Any) -> Q[M]:
        # A copy of the instance dict: ``dataclasses.replace`` re-runs ``__init__``
        # and ``__post_init__`` (a mapper check), several times slower on this hot path.
        clone = object.__new__(type(self))
        state = clone.__dict__
        state.update(self.__dict__)
        state.update(changes)
        return clone

    def where(self, *clauses: Any, **lookups: Any) -> Q[M]:
        """AND SQLAlchemy boolean clauses, boolean groups (`Or`, `And`,
        `Not`) and ``field__op=value`` lookups onto the query.

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
            if isinstance(clause, Group):
                built.append(LookupCriterion.of_group(self.model, clause))
                continue
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
        on_annotations, plain = annotation_criteria(self, lookups)
        built.extend(on_annotations)
        if plain:
            built.append(LookupCriterion.of(self.model, plain, "and"))
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
            _criteria=self._criteria + (LookupCriterion.of(self.model, lookups, "or"),),
            _filters=self._filters + (("any", lookups),),
        )

    def exclude(self, *groups: Group, **lookups: Any) -> Q[M]:
        """AND ``NOT (lookup AND lookup ...)`` onto the query; each group
        (`Or`, `And`, `Not`) is negated as a whole: ``exclude(Or(a, b))``
        keeps the rows matching neither.

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
        negated: tuple[_Criterion, ...] = tuple(
            LookupCriterion.of_group(self.model, Not(group)) for group in groups
        )
        on_annotations, plain = annotation_criteria(self, lookups)
        if on_annotations and plain:
            raise QueryError(
                "exclude() negates its lookups together; it cannot mix annotations and "
                f"fields ({', '.join(map(str, lookups))}): exclude them in separate calls "
                "(each is negated on its own)",
                model=self.model,
                key="exclude",
            )
        if on_annotations:
            negated += (not_(and_(*on_annotations)),)
        if plain:
            negated += (LookupCriterion.of(self.model, plain, "not"),)
        if not negated:
            return self
        return self._with(
            _criteria=self._criteria + negated,
            _filters=self._filters
            + tuple(("where", Not(group)) for group in groups)
            + ((("not", lookups),) if lookups else ()),
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

    def _order_key(self, key: Any) -> Order:
        if isinstance(key, str):
            annotation = annotation_order(self, key) if self._annotated else None
            if annotation is not None:
                expression, descending = annotation
                return Order(expression.desc() if descending else expression, None, descending)
            return _string_order(self.model, key)
        if isinstance(key, InstrumentedAttribute):
            if key.class_ is not self.model or key.key not in mapper_of(self.model).column_attrs:
                raise QueryError(
                    f"order_by() takes columns of {self.model.__name__}, got {key}",
                    model=self.model,
                    key="order_by",
                    value=key,
                )
            return Order(key, key, False, reusable=True)
        if isinstance(key, UnaryExpression) and key.modifier in DIRECTIONS:
            return Order(key, self._model_column(key.element), key.modifier is operators.desc_op)
        if isinstance(key, ColumnElement):
            return Order(key, self._model_column(key), False)
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
        choice(strategy, LOADERS, "loading strategy", model=self.model, key="strategy")
        added = tuple(
            Include(_parse_relationship_path(self.model, path), strategy) for path in paths
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
        if not isinstance(mode, str) or mode not in _SOFT_MODES:
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
        value = None if n is None else positive_int(n, "limit", self.model, minimum=0)
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
        value = None if n is None else positive_int(n, "offset", self.model, minimum=0)
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
        number = positive_int(number, "page", self.model, minimum=1)
        size = positive_int(size, "size", self.model, minimum=1)
        offset = (number - 1) * size
        if offset > MAX_ROWS:
            raise QueryError(
                f"page {number} of size {size} is beyond the last possible row",
                model=self.model,
                key="page",
                value=number,
            )
        return self._with(_limit=size, _offset=offset)

    def group_by(self, *fields: str) -> Q[M]:
        """Group `aggregate`'s results by ``fields`` (columns or to-one paths
        such as ``"team__name"``): one dict per group. Other terminals refuse
        a grouped query.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Pebble(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            ...     color: str = ""
            >>> Q(Pebble).group_by("color")._group
            ('color',)
        """
        for name in fields:
            if not isinstance(name, str):
                raise QueryError(
                    f"group_by() takes field names, got {name!r}", model=self.model, key="group_by"
                )
            parse_lookup(self.model, name)
        if self._annotated:
            raise QueryError(
                "group_by() after annotate(): annotations are per row; aggregate the groups "
                "with group_by().aggregate()",
                model=self.model,
                key="group_by",
            )
        return self._with(_group=self._group + tuple(fields))

    def all_tenants(self) -> Q[M]:
        """Read (and `update` / `delete`) across tenants: this query and the
        lazy loads of the rows it returns leave the tenant scope (see
        `sqlmodel_crud_utils.tenancy`); without it, a query of a
        `TenantMixin` model sees the current tenant's rows only.

        Example: ``every_invoice = Q(Invoice).all_tenants().all(session)``
        """
        return self._with(_all_tenants=True)

    def annotate(self, **aggregates: Aggregate) -> Q[M]:
        """Compute a value per row from its related rows: ``Count``, ``Sum``,
        ``Avg``, ``Min`` or ``Max`` over a relationship path (a correlated
        subquery; soft-deleted related rows do not count). The name can then
        be filtered (``where(n__gte=3)``), ordered on (``order_by("-n")``) and
        read with `values` / `values_list` (see
        `sqlmodel_crud_utils.annotations`).

        Example: ``Q(Team).annotate(n=Count("members")).where(n__gte=3).values(session)``
        """
        return self._with(_annotated=self._annotated + annotated(self, aggregates))

    def for_update(
        self, *, nowait: bool = False, skip_locked: bool = False, of: Any = None
    ) -> Q[M]:
        """Lock the rows this query reads (``SELECT ... FOR UPDATE``) until
        the transaction ends. ``nowait``: fail at once (a database error)
        instead of waiting for another transaction's lock; ``skip_locked``:
        leave out rows locked by others (a job queue's "take the next free
        row"); ``of``: a model or sequence of models whose rows to lock when
        the query joins others (eager ``include`` loads). On a routed
        session the query runs on the primary. ``count``, ``exists`` and
        the COUNT of ``paginate`` never lock, and a locking query is never
        served from the result cache. SQLite has no row locks: there the
        query runs unchanged (SQLite locks the whole database on write);
        MariaDB ignores ``of``.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Job(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            ...     state: str = "new"
            >>> q = Q(Job).where(state="new").order_by("id").limit(1)
            >>> q.for_update(skip_locked=True).sql("postgresql").split("LIMIT")[1]
            ' %(param_1)s::INTEGER FOR UPDATE SKIP LOCKED'
        """
        return self._with(_lock=RowLock.of_query(self.model, nowait, skip_locked, of))

    def primary(self) -> Q[M]:
        """Run this query's statements on the primary of a routed session
        (`routed_sessionmaker`), even where a read would go to a replica: a
        read that must see the latest writes of other sessions. Other sessions
        are not affected.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Ore(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> Q(Ore).primary()._primary, Q(Ore)._primary
            (True, False)
        """
        return self._with(_primary=True)

    def cached(self, ttl: float | None = None) -> Q[M]:
        """Answer `all`, `first`, `one`, `one_or_none`, `get`, `count` and
        `exists` from the configured cache (`configure_cache`) when it holds
        them, keeping what they read for ``ttl`` seconds (``None``: the
        backend's default). Without a backend the query runs as usual. Rows
        served from the cache are detached instances (their relationships are
        not loaded); queries that cannot be keyed safely (raw clauses,
        ``include``, ``only``) always read the database. See docs/cache.md.

        Example:
            >>> from sqlmodel import Field, SQLModel
            >>> class Map(SQLModel, table=True):
            ...     id: int | None = Field(default=None, primary_key=True)
            >>> Q(Map).cached(ttl=30)._cache_ttl
            30
            >>> Q(Map).cached(ttl=-1)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            sqlmodel_crud_utils.exceptions.QueryError: Map: ttl must be ... got -1
        """
        if ttl is not None and (
            isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl >= 0
        ):
            raise QueryError(
                f"ttl must be a number of seconds >= 0 or None, got {ttl!r}",
                model=self.model,
                key="ttl",
                value=ttl,
            )
        return self._with(_cached=True, _cache_ttl=ttl)

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
        soft-delete scope (built by `Q`, or with ``with_deleted()``) keeps it.
        Anything but a ``select()`` (a UNION, text) is a `QueryError`."""
        if not isinstance(stmt, Select):
            raise QueryError(
                f"stmnt must be a select() statement, got {type(stmt).__name__}; "
                "for a UNION use select(Model).from_statement(union)",
                model=self.model,
                key="stmnt",
            )
        return self._with(_base=stmt)

    # ------------------------------------------------------------- compilation

    def _select(
        self, *, loading: bool = True, ordering: bool = True, paging: bool = True
    ) -> SelectOfScalar[M]:
        return select_of(self, loading=loading, ordering=ordering, paging=paging)

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
        return compile_sql(self, dialect, literal)

    def __str__(self) -> str:
        return self.sql()

    def __repr__(self) -> str:
        return f"<Q {self.model.__name__}: {' '.join(self.sql().split())}>"

    # ------------------------------------------------------------ sync terminals

    def _execute(self, session: Session, stmt: Any, params: dict[str, Any] | None = None) -> Any:
        base_entity = False
        if self._base is not None:
            described = self._base.column_descriptions
            if len(described) > 1:
                # a caller's statement of several columns (legacy ``stmnt=``): its rows
                return session.execute(stmt, params)
            base_entity = _selects_entity(described)
        # a cached read stores what the database holds, not the session's
        # older copy of a row it loaded before (it has no pending changes)
        options = _REFRESH if self._cached else _NO_OPTIONS
        result = session.execute(stmt, params, execution_options=options).scalars()
        if (
            base_entity
            or _joined_by_default(self.model, "")
            or any(include.strategy == "joined" for include in self._includes)
        ):
            # joined eager loads of collections need unique(); a caller's
            # statement may carry them in its own options
            result = result.unique()
        return result

    def _run(self, session: Session, limit: int | None = None) -> list[M]:
        """The rows of this query (at most ``limit``), through its shape's
        statement template where it has one (see `sqlmodel_crud_utils._templates`),
        from the cache when the query is `cached`."""
        q = self if limit is None else self._with(_limit=limit)
        return q._through_cache(
            session, "rows", lambda: list(q._execute(session, *runnable(q)).all())
        )

    def _through_cache(self, session: Session, kind: str, run: Callable[[], _R]) -> _R:
        if not self._cached or self._lock is not None or self._primary:
            return run()
        return read_through(session, self, kind, run)

    def all(self, session: Session) -> list[M]:
        """Every row the query matches.

        Example: ``heroes = Q(Hero).where(age__gt=30).all(session)``
        """
        with terminal(session, "all", self.model, self._primary):
            return self._run(session)

    def first(self, session: Session) -> M | None:
        """The first row, or ``None``.

        Example: ``oldest = Q(Hero).order_by("-age").first(session)``
        """
        with terminal(session, "first", self.model, self._primary):
            limit = 1 if self._limit is None else min(1, self._limit)
            rows = self._run(session, limit)
            return rows[0] if rows else None

    def one_or_none(self, session: Session) -> M | None:
        """The only matching row, ``None`` when there is none;
        `MultipleRecordsError` when there are several.

        Example: ``hero = Q(Hero).where(name="Deadpond").one_or_none(session)``
        """
        with terminal(session, "one_or_none", self.model, self._primary):
            limit = 2 if self._limit is None else min(2, self._limit)
            rows = self._run(session, limit)
            if len(rows) > 1:
                raise MultipleRecordsError(self.model, self.count(session), self._describe())
            return rows[0] if rows else None

    def one(self, session: Session) -> M:
        """The only matching row; `RecordNotFoundError` when there is none,
        `MultipleRecordsError` when there are several.

        Example: ``hero = Q(Hero).where(name="Deadpond").one(session)``
        """
        with terminal(session, "one", self.model, self._primary):
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
        with terminal(session, "get", self.model, self._primary):
            keys = _primary_key_names(self.model)
            values = pk if isinstance(pk, tuple) else (pk,)
            if len(values) != len(keys):
                raise QueryError(
                    f"primary key has {len(keys)} column(s), got {pk!r}",
                    model=self.model,
                    key="pk",
                    value=pk,
                )
            if self._cached:
                return self.where(**dict(zip(keys, values, strict=True))).first(session)
            criteria = [
                parse_field(self.model, key) == parse_lookup(self.model, key).coerce(value)
                for key, value in zip(keys, values, strict=True)
            ]
            stmt = self._select(ordering=False, paging=False).where(*criteria)
            return cast("M | None", self._execute(session, stmt).first())

    def _soft_options(self) -> tuple[ORMOption, ...]:
        return _soft_options(self.model, self._soft)

    def count(self, session: Session) -> int:
        """How many rows this query returns (limit and offset honoured).

        Example: ``n = Q(Hero).where(age__gte=18).count(session)``
        """
        with terminal(session, "count", self.model, self._primary):
            return self._through_cache(
                session,
                "count",
                lambda: int(session.execute(counted(self, paging=True)).scalar_one()),
            )

    def exists(self, session: Session) -> bool:
        """Whether the query matches at least one row.

        Example: ``taken = Q(Hero).where(name="Rusty-Man").exists(session)``
        """
        with terminal(session, "exists", self.model, self._primary):
            return self._through_cache(session, "exists", lambda: self._exists(session))

    def _exists(self, session: Session) -> bool:
        inner = select_of(self, loading=False, ordering=False, locking=False)
        stmt = select(inner.exists()).options(*self._soft_options())
        return bool(session.execute(stmt).scalar())

    def paginate(
        self, session: Session, page: int = 1, size: int = 20, *, count: bool = True
    ) -> Page[M]:
        """Page ``page`` (1-based) of ``size`` rows plus the total count.

        ``total`` ignores the query's own limit and offset. When the page is
        not full the total is known without a COUNT query, which is skipped.
        ``count=False`` never counts (``total`` and ``pages`` are ``None``;
        ``has_next`` comes from reading one row more).
        A query without `order_by` is ordered by primary key here, so pages
        neither overlap nor skip rows (SQL guarantees no order otherwise).

        Example: ``page = Q(Hero).order_by("name").paginate(session, page=2, size=10)``
        """
        with terminal(session, "paginate", self.model, self._primary):
            paged = self._stably_ordered().page(page, size)
            if not count:
                rows = paged._with(_limit=paged._limit + 1).all(session)  # type: ignore[operator]
                more = len(rows) > int(size)
                return Page[M].uncounted(
                    rows[: int(size)], has_next=more, page=int(page), size=int(size)
                )
            items = paged.all(session)
            offset = paged._offset or 0
            if 0 < len(items) < paged._limit or (offset == 0 and not items):  # type: ignore[operator]
                total = offset + len(items)
            else:
                total = int(session.execute(counted(self, paging=False)).scalar_one())
            return Page[M].build(items, total=total, page=int(page), size=int(size))

    def keyset(
        self,
        session: Session,
        size: int = 20,
        after: str | None = None,
        *,
        before: str | None = None,
        with_total: bool = False,
    ) -> CursorPage[M]:
        """Keyset ("cursor") pagination on the query's order, both ways:
        ``after=page.next_cursor`` gives the next page, ``before=
        page.prev_cursor`` the previous one (rows in the query's order
        either way); ``with_total=True`` adds the COUNT of all matching rows
        as ``total``.

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
            back = Q(Hero).order_by("-age").keyset(session, 50, before=page.prev_cursor)
        """
        with terminal(session, "keyset", self.model, self._primary):
            return keyset_page(self, session, size, after, before, with_total)

    def stream(self, session: Session, batch_size: int = 1000) -> Iterator[M]:
        """Iterate over the rows, fetched ``batch_size`` at a time (at most
        `stream.MAX_BATCH_SIZE`), so memory stays bounded however many rows match.

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
        sync_session(session, "stream")
        return translated_rows(stream_rows(self, session, batch_size), session, self.model)

    def aggregate(self, session: Session, **aggregates: Aggregate) -> Any:
        """``Count``, ``Sum``, ``Avg``, ``Min`` and ``Max`` of the matching
        rows, computed by the database: a dict of them, or with `group_by`
        a list of dicts, one per group (see `sqlmodel_crud_utils.aggregates`).

        Example: ``Q(Hero).group_by("team__name").aggregate(session, n=Count(), age=Avg("age"))``
        """
        with terminal(session, "aggregate", self.model, self._primary):
            result = projected_rows(session, *aggregation(self, aggregates))
            return aggregated_rows(self, result.all(), list(aggregates))

    def values(self, session: Session, *fields: str) -> list[dict[str, Any]]:
        """The matching rows as dicts of ``fields`` (field names or to-one
        paths such as ``"team__name"``; none: every column), without ORM
        objects — the fast read path (see `sqlmodel_crud_utils.projections`).

        Example: ``rows = Q(Hero).order_by("name").values(session, "name", "team__name")``
        """
        with terminal(session, "values", self.model, self._primary):
            result = projected_rows(session, *projection(self, fields))
            return as_dicts(tuple(result.keys()), result.all())

    def values_list(self, session: Session, *fields: str, flat: bool = False) -> list[Any]:
        """The matching rows as tuples of ``fields`` (see `values`); with
        ``flat=True`` and one field, a list of its values.

        Example: ``names = Q(Hero).order_by("name").values_list(session, "name", flat=True)``
        """
        if flat and len(fields) != 1:
            raise QueryError(
                f"values_list(flat=True) takes exactly one field, got {len(fields)}",
                model=self.model,
                key="flat",
            )
        with terminal(session, "values_list", self.model, self._primary):
            result = projected_rows(session, *projection(self, fields))
            if flat:
                return list(result.scalars().all())
            return list(map(tuple, result.all()))

    # writes --------------------------------------------------------------------------

    def update(self, session: Session, **values: Any) -> int:
        """Set fields on every matching row in one ``UPDATE ... WHERE``;
        returns the number of rows matched. The soft-delete scope applies
        (to the rows and to related rows met in relationship filters). Runs in
        the session's transaction and does not commit. Hooks do not fire
        (set-based write). `AuditMixin` models also get ``updated_at`` and
        (from `acting_as`) ``updated_by`` unless ``values`` sets them.

        Example: ``n = Q(Hero).where(team_id=1).update(session, age=40)``
        """
        with terminal(session, "update", self.model, primary=True):
            return update_rows(self, session, values)

    def delete(self, session: Session, hard: bool = False) -> int:
        """Delete every matching row in one statement; returns the count.

        Soft-delete models are soft-deleted (``is_deleted``, ``deleted_at``,
        ``deleted_by`` set) unless ``hard=True``. The soft-delete scope
        applies as for `update` (``soft("include")`` to reach deleted rows
        too). Runs in the session's transaction and does not commit. Hooks
        do not fire.

        Example: ``n = Q(Hero).where(age__lt=18).delete(session, hard=True)``
        """
        with terminal(session, "delete", self.model, primary=True):
            return delete_rows(self, session, hard)

    # ----------------------------------------------------------- async terminals

    async def a_all(self, session: AsyncSession) -> list[M]:
        """Async twin of `all`.

        Example: ``heroes = await Q(Hero).a_all(session)``
        """
        async_session(session, "all")
        return await session.run_sync(lambda sync: self.all(sync))

    async def a_first(self, session: AsyncSession) -> M | None:
        """Async twin of `first`.

        Example: ``oldest = await Q(Hero).order_by("-age").a_first(session)``
        """
        async_session(session, "first")
        return await session.run_sync(lambda sync: self.first(sync))

    async def a_one(self, session: AsyncSession) -> M:
        """Async twin of `one`.

        Example: ``hero = await Q(Hero).where(name="Deadpond").a_one(session)``
        """
        async_session(session, "one")
        return await session.run_sync(lambda sync: self.one(sync))

    async def a_one_or_none(self, session: AsyncSession) -> M | None:
        """Async twin of `one_or_none`.

        Example: ``hero = await Q(Hero).where(name="Deadpond").a_one_or_none(session)``
        """
        async_session(session, "one_or_none")
        return await session.run_sync(lambda sync: self.one_or_none(sync))

    async def a_get(self, session: AsyncSession, pk: Any) -> M | None:
        """Async twin of `get`.

        Example: ``hero = await Q(Hero).a_get(session, 1)``
        """
        async_session(session, "get")
        return await session.run_sync(lambda sync: self.get(sync, pk))

    async def a_count(self, session: AsyncSession) -> int:
        """Async twin of `count`.

        Example: ``n = await Q(Hero).where(age__gte=18).a_count(session)``
        """
        async_session(session, "count")
        return await session.run_sync(lambda sync: self.count(sync))

    async def a_exists(self, session: AsyncSession) -> bool:
        """Async twin of `exists`.

        Example: ``taken = await Q(Hero).where(name="Rusty-Man").a_exists(session)``
        """
        async_session(session, "exists")
        return await session.run_sync(lambda sync: self.exists(sync))

    async def a_paginate(
        self, session: AsyncSession, page: int = 1, size: int = 20, *, count: bool = True
    ) -> Page[M]:
        """Async twin of `paginate`.

        Example: ``page = await Q(Hero).order_by("name").a_paginate(session, page=2, size=10)``
        """
        async_session(session, "paginate")
        return await session.run_sync(lambda sync: self.paginate(sync, page, size, count=count))

    async def a_keyset(
        self,
        session: AsyncSession,
        size: int = 20,
        after: str | None = None,
        *,
        before: str | None = None,
        with_total: bool = False,
    ) -> CursorPage[M]:
        """Async twin of `keyset`.

        Example: ``page = await Q(Hero).order_by("-age").a_keyset(session, size=50, after=cursor)``
        """
        async_session(session, "keyset")
        return await session.run_sync(
            lambda sync: self.keyset(sync, size, after, before=before, with_total=with_total)
        )

    async def a_aggregate(self, session: AsyncSession, **aggregates: Aggregate) -> Any:
        """Async twin of `aggregate`.

        Example: ``stats = await Q(Hero).a_aggregate(session, n=Count(), oldest=Max("age"))``
        """
        async_session(session, "aggregate")
        return await session.run_sync(lambda sync: self.aggregate(sync, **aggregates))

    async def a_values(self, session: AsyncSession, *fields: str) -> list[dict[str, Any]]:
        """Async twin of `values`.

        Example: ``rows = await Q(Hero).a_values(session, "name", "team__name")``
        """
        async_session(session, "values")
        return await session.run_sync(lambda sync: self.values(sync, *fields))

    async def a_values_list(
        self, session: AsyncSession, *fields: str, flat: bool = False
    ) -> list[Any]:
        """Async twin of `values_list`.

        Example: ``ids = await Q(Hero).a_values_list(session, "id", flat=True)``
        """
        async_session(session, "values_list")
        return await session.run_sync(lambda sync: self.values_list(sync, *fields, flat=flat))

    async def a_update(self, session: AsyncSession, **values: Any) -> int:
        """Async twin of `update`.

        Example: ``n = await Q(Hero).where(team_id=1).a_update(session, age=40)``
        """
        async_session(session, "update")
        return await session.run_sync(lambda sync: self.update(sync, **values))

    async def a_delete(self, session: AsyncSession, hard: bool = False) -> int:
        """Async twin of `delete`.

        Example: ``n = await Q(Hero).where(age__lt=18).a_delete(session, hard=True)``
        """
        async_session(session, "delete")
        return await session.run_sync(lambda sync: self.delete(sync, hard))

    async def a_stream(self, session: AsyncSession, batch_size: int = 1000) -> AsyncIterator[M]:
        """Async twin of `stream`.

        Example: ``async for hero in Q(Hero).a_stream(session): ...``

        Leave early inside ``async with contextlib.aclosing(q.a_stream(s)) as rows:``
        so the cursor is closed before the session is used again.
        """
        async_session(session, "stream")
        async for row in a_stream_rows(self, session, batch_size):
            yield row
