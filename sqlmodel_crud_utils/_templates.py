"""Statement templates: one ``Select`` per query shape, its values re-bound
on every execution.

Two queries that differ only in their values (``Q(Hero).where(age__gt=30)``
and ``...age__gt=40``) have the same *shape*. The first time a terminal
(`Q.all`, `Q.first`, `Q.one`, `Q.one_or_none`) runs a shape, its statement
is built with placeholders (``q0``, ``q1``, ..., ``q_limit``, ``q_offset``)
and kept in a per-model memo (see `sqlmodel_crud_utils._memo`: weak,
bounded, cleared when mappers are configured); every later run executes
that same object with the values as parameters. Building a ``Select``
and computing its cache key is most of the Python work of a short read,
so a templated `Q` does less of it than a hand-written ``select()``; the
SQL sent is the same, and SQLAlchemy's compiled cache serves both.

A query whose SQL depends on more than its values is not templated and is
built afresh each time, exactly as `Q.statement` shows it: one with raw
SQLAlchemy clauses in ``where()``, an operator added with
`register_lookup` (or ``match``), an ordering by an expression other than
a column, or a caller's base statement (legacy ``stmnt=``).

    >>> from sqlmodel import Field, SQLModel
    >>> class Bat(SQLModel, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     age: int = 0
    >>> from sqlmodel_crud_utils import Q
    >>> first, params = runnable(Q(Bat).where(age__gt=3).limit(5))
    >>> second, _ = runnable(Q(Bat).where(age__gt=9).limit(7))
    >>> first is second, params
    (True, {'q0': 3, 'q_limit': 5})
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel.sql.expression import SelectOfScalar

from ._compile import LIMIT, OFFSET, select_of
from ._criteria import Binder, LookupCriterion, literal_binder, placeholder_binder
from ._memo import memo_attribute, remembered
from .rowscopes import scope_key
from .tenancy import across_tenants

if TYPE_CHECKING:
    from .query import Q

__all__ = ["Shape", "Template", "runnable", "template_key"]

_MEMO = memo_attribute(f"{__name__}.templates")


@dataclass(frozen=True, slots=True)
class Template:
    """A query shape's statement and the names of its value placeholders."""

    statement: SelectOfScalar[Any]
    names: tuple[str, ...]


def template_key(q: Q[Any]) -> Hashable | None:
    """What ``q``'s SQL depends on besides its values; ``None`` when it
    cannot be templated (see the module docstring).

    Example: ``template_key(Q(Hero).where(age=1)) == template_key(Q(Hero).where(age=2))``.
    """
    if q._base is not None:
        return None
    shapes = []
    for criterion in q._criteria:
        if not isinstance(criterion, LookupCriterion) or criterion.shape is None:
            return None
        shapes.append(criterion.shape)
    for order in q._order:
        if not order.reusable:
            return None
    return (
        tuple(shapes),
        q._soft,
        q._order,
        q._includes,
        q._only,
        q._limit is not None,
        bool(q._offset),
        q._lock,
        q._group,
        q._annotated,
        q._all_tenants,
        across_tenants(),
        scope_key(),
    )


#: builds the statement of a query, its values bound by a `Binder`
Shape = Callable[["Q[Any]", Binder], Any]


def _rows(q: Q[Any], bind: Binder) -> SelectOfScalar[Any]:
    return select_of(q, bind=bind)


def _build(q: Q[Any], shape: Shape) -> Template:
    count = sum(len(criterion.values) for criterion in q._criteria)
    return Template(shape(q, placeholder_binder), tuple(f"q{index}" for index in range(count)))


def runnable(
    q: Q[Any], shape: Shape = _rows, variant: Hashable = None
) -> tuple[Any, dict[str, Any] | None]:
    """The statement to execute for ``q`` and its parameters: its shape's
    template and ``q``'s values, or (``None`` parameters) a statement built
    for ``q`` alone. ``shape`` builds another statement than the query's
    rows (a projection), ``variant`` tells its templates apart.

    Example: ``stmt, params = runnable(q); session.execute(stmt, params)``.
    """
    key = template_key(q)
    if key is None:
        return shape(q, literal_binder), None
    memo_key = key if variant is None else (key, variant)
    template: Template = remembered(_MEMO, lambda _model, _key: _build(q, shape), q.model, memo_key)
    values = [value for criterion in q._criteria for value in criterion.values]
    params = dict(zip(template.names, values, strict=True))
    if q._limit is not None:
        params[LIMIT.key] = q._limit
    if q._offset:
        params[OFFSET.key] = q._offset
    return template.statement, params
