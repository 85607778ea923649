"""`QueryBuilder` / `AsyncQueryBuilder`: upstream 0.4's fluent builder,
bound to a session, as a thin façade over an immutable `Q`.

Each method returns a new builder around a new `Q` (the builder is as
immutable as `Q`), so there is one query implementation: filters, lookups
(``value__gte=30``), ordering, eager loading and the soft-delete scope
behave exactly as in `Q`, statement templates included. The terminals
answer in the v0.1 style: ``(found, rows)`` from `all`, ``(found, row)``
from `first`, ``(found, count)`` from `count`. Bad arguments raise
`QueryError` (a ``ValueError``) when the method is called.

    >>> from sqlmodel import Field, Session, SQLModel, create_engine
    >>> class Kite(SQLModel, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     span: int = 0
    >>> engine = create_engine("sqlite://")
    >>> SQLModel.metadata.create_all(engine)
    >>> session = Session(engine)
    >>> session.add_all([Kite(span=3), Kite(span=9)])
    >>> session.commit()
    >>> ok, kites = QueryBuilder(session, Kite).where(span__gt=5).all()
    >>> ok, [k.span for k in kites]
    (True, [9])
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, nulls_first, nulls_last
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from .exceptions import QueryError
from .lookups import mapper_of
from .query import DIRECTIONS, Q, Strategy

__all__ = ["AsyncQueryBuilder", "QueryBuilder"]

M = TypeVar("M")
S = TypeVar("S", Session, AsyncSession)
B = TypeVar("B", bound="_Builder[Any, Any]")
_NULLS = (operators.nulls_first_op, operators.nulls_last_op)


class _Builder(Generic[M, S]):
    """The chaining shared by both builders (see the module docstring)."""

    __slots__ = ("_loaders", "model", "query", "session")

    session: S
    model: type[M]
    query: Q[M]
    _loaders: dict[str, Strategy]

    def __init__(self, session: S, model: type[M], stmnt: Any = None) -> None:
        self.session = session
        self.model = model
        self.query = Q(model) if stmnt is None else Q(model)._based_on(stmnt)
        self._loaders = {}

    def _with(self: B, query: Q[Any], loaders: dict[str, Strategy] | None = None) -> B:
        clone = object.__new__(type(self))
        clone.session, clone.model, clone.query = self.session, self.model, query
        clone._loaders = self._loaders if loaders is None else loaders
        return clone

    def where(self: B, *clauses: Any, **filters: Any) -> B:
        """AND SQLAlchemy clauses and ``field`` / ``field__op`` lookups (see `Q.where`).

        Example: ``QueryBuilder(session, Hero).where(Hero.age > 30, name__like="%man")``
        """
        return self._with(self.query.where(*clauses, **filters))

    def order_by(self: B, *keys: Any, desc: bool = False) -> B:
        """Append sort keys (field names or column expressions, as in
        `Q.order_by`); ``desc=True`` sorts every key given here descending,
        and then refuses keys that already carry a direction (``"-age"``,
        ``Hero.age.asc()``).

        Example: ``QueryBuilder(session, Hero).order_by("age", desc=True)``
        """
        if desc:
            keys = tuple(self._descending(key) for key in keys)
        return self._with(self.query.order_by(*keys))

    def _descending(self, key: Any) -> Any:
        directed = (isinstance(key, str) and key.startswith("-")) or (
            isinstance(key, UnaryExpression) and key.modifier in DIRECTIONS
        )
        if directed:
            raise QueryError(
                f"order_by(desc=True) takes keys without a direction, got {key!r}",
                model=self.model,
                key="order_by",
                value=key,
            )
        if isinstance(key, str):
            return f"-{key}"
        if isinstance(key, UnaryExpression) and key.modifier in _NULLS:
            # desc inside NULLS FIRST/LAST: "x DESC NULLS LAST", not "x NULLS LAST DESC"
            wrap = nulls_last if key.modifier is operators.nulls_last_op else nulls_first
            return wrap(self._descending(key.element))
        if isinstance(key, ColumnElement) or (
            isinstance(key, InstrumentedAttribute) and key.key in mapper_of(self.model).column_attrs
        ):
            return key.desc()
        return (
            key  # refused by Q.order_by (a relationship, another model's column), with its message
        )

    def limit(self: B, n: int) -> B:
        """Return at most ``n`` rows (an ``int`` ≥ 0).

        Example: ``QueryBuilder(session, Hero).limit(10)``
        """
        return self._with(self.query.limit(self._count_argument(n, "limit")))

    def offset(self: B, n: int) -> B:
        """Skip the first ``n`` rows (an ``int`` ≥ 0).

        Example: ``QueryBuilder(session, Hero).order_by("id").offset(20)``
        """
        return self._with(self.query.offset(self._count_argument(n, "offset")))

    def _count_argument(self, n: Any, name: str) -> int:
        if type(n) is not int or n < 0:
            raise QueryError(
                f"{name} must be an int >= 0, got {n!r}", model=self.model, key=name, value=n
            )
        return n

    def selectin(self: B, *relationships: str) -> B:
        """Eager-load these relationships with one extra SELECT each.

        Example: ``QueryBuilder(session, Hero).selectin("team")``
        """
        return self._loading(relationships, "selectin")

    def lazy(self: B, *relationships: str) -> B:
        """Leave these relationships to load on access.

        Example: ``QueryBuilder(session, Hero).lazy("team")``
        """
        return self._loading(relationships, "lazy")

    def cached(self: B, ttl: float | None = None) -> B:
        """Answer the terminals from the configured cache (see `Q.cached`);
        ``ttl`` in seconds, ``None`` for the backend's default. A builder
        made with a caller's ``stmnt``, or with ``selectin``/``lazy``
        loading, reads the database every time.

        Example: ``ok, heroes = QueryBuilder(session, Hero).cached(ttl=30).all()``
        """
        return self._with(self.query.cached(ttl))

    def _loading(self: B, relationships: tuple[str, ...], strategy: Strategy) -> B:
        loaders = dict(self._loaders)
        for name in relationships:
            chosen = loaders.setdefault(name, strategy)
            if chosen != strategy:
                raise QueryError(
                    f"relationship {name!r} is already loaded {chosen!r}; "
                    f"it cannot also be loaded {strategy!r}",
                    model=self.model,
                    key=name,
                )
        fresh = [name for name in relationships if name not in self._loaders]
        query = self.query.include(*fresh, strategy=strategy) if fresh else self.query
        return self._with(query, loaders)


class QueryBuilder(_Builder[M, Session]):
    """Upstream 0.4's fluent builder over a sync ``Session`` (see the
    module docstring): ``where``, ``order_by``, ``limit``, ``offset``,
    ``selectin``, ``lazy``, ``cached``, then ``all``, ``first`` or ``count``.

    Example:
        ``ok, heroes = QueryBuilder(session, Hero).where(age__gte=18).order_by("name").all()``
    """

    __slots__ = ()

    def all(self) -> tuple[bool, list[M]]:
        """``(found, rows)``.

        Example: ``ok, heroes = QueryBuilder(session, Hero).all()``
        """
        rows = self.query.all(self.session)
        return bool(rows), rows

    def first(self) -> tuple[bool, M | None]:
        """``(found, row)``: the first row, or ``(False, None)``.

        Example: ``ok, hero = QueryBuilder(session, Hero).order_by("id").first()``
        """
        row = self.query.first(self.session)
        return row is not None, row

    def count(self) -> tuple[bool, int]:
        """``(found, count)``, honouring ``limit`` and ``offset``.

        Example: ``ok, n = QueryBuilder(session, Hero).where(age__gte=18).count()``
        """
        total = self.query.count(self.session)
        return total > 0, total


class AsyncQueryBuilder(_Builder[M, AsyncSession]):
    """`QueryBuilder` over an ``AsyncSession``: the same chaining, awaited terminals.

    Example:
        ``ok, heroes = await AsyncQueryBuilder(session, Hero).where(age__gte=18).all()``
    """

    __slots__ = ()

    async def all(self) -> tuple[bool, list[M]]:
        """Async twin of `QueryBuilder.all`.

        Example: ``ok, heroes = await AsyncQueryBuilder(session, Hero).all()``
        """
        rows = await self.query.a_all(self.session)
        return bool(rows), rows

    async def first(self) -> tuple[bool, M | None]:
        """Async twin of `QueryBuilder.first`.

        Example: ``ok, hero = await AsyncQueryBuilder(session, Hero).first()``
        """
        row = await self.query.a_first(self.session)
        return row is not None, row

    async def count(self) -> tuple[bool, int]:
        """Async twin of `QueryBuilder.count`.

        Example: ``ok, n = await AsyncQueryBuilder(session, Hero).count()``
        """
        total = await self.query.a_count(self.session)
        return total > 0, total
