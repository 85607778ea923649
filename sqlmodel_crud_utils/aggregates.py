"""Aggregates: `Count`, `Sum`, `Avg`, `Min`, `Max` over a query's rows
(`Q.aggregate`), overall or per group (`Q.group_by`).

    Q(Hero).where(age__gte=18).aggregate(session, n=Count(), oldest=Max("age"))
    # {"n": 4, "oldest": 48}
    Q(Hero).group_by("team__name").aggregate(session, n=Count(), avg_age=Avg("age"))
    # [{"team__name": None, "n": 2, "avg_age": 40.0}, {"team__name": "Avengers", ...}]

The aggregates run in the database over the rows the query matches (its
filters and soft-delete scope apply; its order does not). Fields are the
model's columns or to-one paths (``team__name``), outer-joined as in
`Q.values`. Grouped results come one dict per group, ordered by the group
values (NULL groups first or last as the database sorts them). A query with
``limit`` / ``offset`` cannot be aggregated (`QueryError`): filter instead.
``Count()`` counts rows; ``Count("age")`` the rows where ``age`` is not
NULL; ``distinct=True`` counts (or sums) distinct values. ``Sum`` / ``Avg``
take numeric fields. Over no rows, ``Count`` is 0 and the others ``None``.
Values come as the database returns them: an average is a ``Decimal`` on
PostgreSQL and MySQL/MariaDB, a ``float`` on SQLite.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Select, func

from ._compile import select_of
from ._criteria import Binder
from ._templates import runnable
from .exceptions import QueryError, UsageError
from .lookups import parse_lookup
from .projections import as_dicts, field_columns

if TYPE_CHECKING:
    from .query import Q

__all__ = ["Aggregate", "Avg", "Count", "Max", "Min", "Sum", "aggregated_rows", "aggregation"]

_NUMBERS = (int, float, decimal.Decimal)
_ORDERED = (*_NUMBERS, str, dt.date, dt.datetime, dt.time)


class Aggregate:
    """One aggregate of `Q.aggregate`: ``Count``, ``Sum``, ``Avg``, ``Min``
    or ``Max`` of a field (see the module docs).

    Example:
        >>> Avg("age"), Count(), Count("team__name", distinct=True)
        (Avg('age'), Count(), Count('team__name', distinct=True))
    """

    function: ClassVar[str] = ""
    #: Python types of the fields this aggregate takes (``None``: any)
    accepts: ClassVar[tuple[type[Any], ...] | None] = None
    __slots__ = ("distinct", "field")

    def __init__(self, field: str | None = None, *, distinct: bool = False) -> None:
        if field is None and type(self) is not Count:
            raise UsageError(f"{type(self).__name__}() needs a field")
        if field is not None and not isinstance(field, str):
            raise UsageError(f"{type(self).__name__}() takes a field name, got {field!r}")
        self.field = field
        self.distinct = distinct

    def __repr__(self) -> str:
        inner = [repr(self.field)] if self.field is not None else []
        if self.distinct:
            inner.append("distinct=True")
        return f"{type(self).__name__}({', '.join(inner)})"

    @property
    def shape(self) -> tuple[str, str | None, bool]:
        return (self.function, self.field, self.distinct)

    def expression(self, column: Any) -> Any:
        """The SQL of this aggregate over ``column`` (``None``: the rows)."""
        if column is None:
            return func.count()
        argument = column.distinct() if self.distinct else column
        return getattr(func, self.function)(argument)


class Count(Aggregate):
    """How many rows (``Count()``), or non-NULL values of a field.

    Example: ``Q(Hero).aggregate(session, n=Count())``
    """

    function = "count"
    __slots__ = ()


class Sum(Aggregate):
    """The sum of a numeric field.

    Example: ``Q(Hero).aggregate(session, years=Sum("age"))``
    """

    function = "sum"
    accepts = _NUMBERS
    __slots__ = ()


class Avg(Aggregate):
    """The average of a numeric field.

    Example: ``Q(Hero).group_by("team_id").aggregate(session, avg=Avg("age"))``
    """

    function = "avg"
    accepts = _NUMBERS
    __slots__ = ()


class Min(Aggregate):
    """The smallest value of a field.

    Example: ``Q(Hero).aggregate(session, youngest=Min("age"))``
    """

    function = "min"
    accepts = _ORDERED
    __slots__ = ()


class Max(Aggregate):
    """The largest value of a field.

    Example: ``Q(Hero).aggregate(session, oldest=Max("age"))``
    """

    function = "max"
    accepts = _ORDERED
    __slots__ = ()


def aggregation(
    q: Q[Any], aggregates: Mapping[str, Aggregate]
) -> tuple[Select[Any], dict[str, Any] | None]:
    """The statement computing ``aggregates`` over ``q``'s rows (per
    ``q._group``) and its parameters; a statement template per query
    shape, groups and aggregates. `QueryError` for a bad name or field."""
    _check(q, aggregates)
    group = q._group
    shape = tuple((name, aggregate.shape) for name, aggregate in aggregates.items())
    return runnable(
        q._with(_group=()),
        lambda query, bind: _aggregated(query, group, aggregates, bind),
        ("aggregate", group, shape),
    )


def _check(q: Q[Any], aggregates: Mapping[str, Aggregate]) -> None:
    if not aggregates:
        raise QueryError("aggregate() needs at least one aggregate", model=q.model, key="aggregate")
    if q._limit is not None or q._offset:
        raise QueryError(
            "aggregate() over a limited query is not supported; filter instead",
            model=q.model,
            key="aggregate",
        )
    for name, aggregate in aggregates.items():
        if not isinstance(aggregate, Aggregate):
            raise QueryError(
                f"aggregate() takes Count, Sum, Avg, Min or Max; {name}={aggregate!r}",
                model=q.model,
                key=name,
            )
        if name in q._group:
            raise QueryError(
                f"aggregate name {name!r} is also a group_by() field", model=q.model, key=name
            )
        if aggregate.field is not None and aggregate.accepts is not None:
            kind = parse_lookup(q.model, aggregate.field).python_type
            if kind is not None and not issubclass(kind, aggregate.accepts):
                raise QueryError(
                    f"{type(aggregate).__name__}() cannot aggregate {aggregate.field!r} "
                    f"({kind.__name__})",
                    model=q.model,
                    key=name,
                )


def _aggregated(
    q: Q[Any], group: Sequence[str], aggregates: Mapping[str, Aggregate], bind: Binder
) -> Select[Any]:
    fields = list(group) + sorted(
        {a.field for a in aggregates.values() if a.field is not None} - set(group)
    )
    stmt, columns = field_columns(
        q,
        select_of(q, loading=False, ordering=False, paging=False, bind=bind),
        fields,
        "aggregate()",
    )
    by_field = dict(zip(fields, columns, strict=True))
    selected = [by_field[name].label(name) for name in group] + [
        aggregate.expression(by_field.get(aggregate.field or "")).label(name)
        for name, aggregate in aggregates.items()
    ]
    stmt = stmt.with_only_columns(*selected, maintain_column_froms=True)
    if group:
        keys = [by_field[name] for name in group]
        stmt = stmt.group_by(*keys).order_by(*keys)
    return stmt


def aggregated_rows(q: Q[Any], rows: Any, names: Sequence[str]) -> Any:
    """What `Q.aggregate` returns for ``rows``: one dict overall, a list of
    dicts per group (internal)."""
    dicts = as_dicts((*q._group, *names), rows)
    if q._group:
        return dicts
    return dicts[0] if dicts else dict.fromkeys(names)
