"""Annotations: values computed per row from its related rows (`Q.annotate`).

    q = Q(Team).annotate(n_members=Count("members"), oldest=Max("members__age"))
    q.where(n_members__gte=3).order_by("-n_members").values(session, "name", "n_members")
    # [{"name": "Avengers", "n_members": 3}]

Each annotation is an aggregate (`Count`, `Sum`, `Avg`, `Min`, `Max`) over
the rows a relationship path reaches from the row: ``Count("members")``
counts them, ``Avg("members__age")`` averages a field of theirs, and a path
may walk several relationships (``Count("members__pets")``). It is written as
a correlated scalar subquery, so two annotations over two to-many
relationships never multiply each other's rows (what a JOIN with GROUP BY
would do), and a row without related rows counts 0 (the others give
``None``). The soft-delete scope applies inside: soft-deleted related rows
are not counted.

An annotation can then be used like a field of the query: filtered with the
usual operators (``where(n_members__gte=3)``, a condition on the aggregate:
what HAVING is to a grouped query), ordered on (``order_by("-n_members")``),
and read in `Q.values` / `Q.values_list` rows (``values()`` without fields
returns the columns and every annotation). `Q.count`, `Q.paginate` and the
other terminals honour the filters; ORM objects do not carry the values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import aliased

from .aggregates import Aggregate, Avg, Count
from .coercion import column_python_type
from .exceptions import QueryError
from .lookups import Lookup, mapper_of, primary_key_names
from .operators import get_operator
from .scopes import live_link

if TYPE_CHECKING:
    from .query import Q

__all__ = ["Annotation", "annotation_of", "annotation_lookup"]


@dataclass(frozen=True, slots=True)
class Annotation:
    """One annotation of a query: its name, the aggregate's shape
    (function, field, distinct) and its SQL (a correlated scalar subquery).

    Equal annotations have equal names and shapes, so queries annotated the
    same way share their statement templates.

    Example: ``annotation_of(Team, "n", Count("members")).name == "n"``.
    """

    name: str
    shape: tuple[str, str | None, bool]
    expression: ColumnElement[Any] = field(compare=False, hash=False)
    python_type: type[Any] | None = field(compare=False, hash=False)


def annotation_of(model: type[Any], name: str, aggregate: Any) -> Annotation:
    """The annotation ``name=aggregate`` of ``model``'s rows; `QueryError`
    for a name that is taken or an aggregate that does not walk a
    relationship.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Lonely(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> annotation_of(Lonely, "n", Count("id"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils.exceptions.QueryError: Lonely: annotate() aggregates related rows...
    """
    mapper = mapper_of(model)
    if not name.isidentifier() or name.startswith("_") or "__" in name:
        raise QueryError(
            f"annotation names are identifiers without '__' or a leading '_', got {name!r}",
            model=model,
            key=name,
        )
    if name in mapper.attrs:
        raise QueryError(
            f"annotation name {name!r} is already a field or relationship of {model.__name__}",
            model=model,
            key=name,
        )
    if not isinstance(aggregate, Aggregate):
        raise QueryError(
            f"annotate() takes Count, Sum, Avg, Min or Max; {name}={aggregate!r}",
            model=model,
            key=name,
        )
    hops, column, kind = _path(model, name, aggregate)
    if not hops:
        raise QueryError(
            f"annotate() aggregates related rows: {name}={aggregate!r} names no relationship "
            "(for a column of the row itself, select it with values())",
            model=model,
            key=name,
        )
    expression = _correlated(model, hops, aggregate, column)
    return Annotation(name, aggregate.shape, expression, _result_type(aggregate, kind))


def _path(
    model: type[Any], name: str, aggregate: Aggregate
) -> tuple[list[Any], str | None, type[Any] | None]:
    """The relationships ``aggregate``'s field walks, its column on the
    last model (``None`` when the field names a relationship: rows counted)
    and the column's Python type."""
    names = (aggregate.field or "").split("__") if aggregate.field else []
    hops: list[Any] = []
    current = model
    for index, part in enumerate(names):
        mapper = mapper_of(current)
        last = index == len(names) - 1
        if part in mapper.relationships:
            hops.append(getattr(current, part))
            current = mapper.relationships[part].mapper.class_
            continue
        if last and part in mapper.column_attrs:
            kind = column_python_type(getattr(current, part))
            _check_type(model, name, aggregate, kind)
            return hops, part, kind
        raise QueryError(
            f"unknown field or relationship {part!r} in {aggregate!r}; relationships of "
            f"{current.__name__}: {', '.join(sorted(mapper.relationships.keys())) or '(none)'}",
            model=current,
            key=name,
        )
    if not isinstance(aggregate, Count):
        raise QueryError(
            f"{aggregate!r} needs a field of the related rows (for example "
            f"'{aggregate.field}__<field>')",
            model=model,
            key=name,
        )
    return hops, None, None


def _check_type(model: type[Any], name: str, aggregate: Aggregate, kind: type[Any] | None) -> None:
    if (
        aggregate.accepts is not None
        and kind is not None
        and not issubclass(kind, aggregate.accepts)
    ):
        raise QueryError(
            f"{type(aggregate).__name__}() cannot aggregate {aggregate.field!r} ({kind.__name__})",
            model=model,
            key=name,
        )


def _correlated(
    model: type[Any], hops: list[Any], aggregate: Aggregate, column: str | None
) -> ColumnElement[Any]:
    """``aggregate`` over the rows ``hops`` reach from each row of ``model``:
    the row's own alias joined along the path, correlated by primary key."""
    own = aliased(model)
    current: Any = own
    stmt_joins = []
    for hop in hops:
        target = aliased(hop.property.mapper.class_)
        on = getattr(current, hop.key).of_type(target)
        link = live_link(hop.property)  # many-to-many through a soft-delete link: live links
        stmt_joins.append((target, on if link is None else on.and_(link)))
        current = target
    measured = aggregate.expression(getattr(current, column) if column else None)
    keys = [getattr(own, key) == getattr(model, key) for key in primary_key_names(model)]
    stmt = select(measured).select_from(own)
    for target, on in stmt_joins:
        stmt = stmt.join(target, on)
    expression: ColumnElement[Any] = stmt.where(and_(*keys)).scalar_subquery()
    return expression


def _result_type(aggregate: Aggregate, kind: type[Any] | None) -> type[Any] | None:
    """The Python type values compared with the annotation are coerced to."""
    if isinstance(aggregate, Count):
        return int
    if isinstance(aggregate, Avg):
        return float
    return kind


def annotation_lookup(q: Q[Any], key: str) -> Lookup | None:
    """The lookup ``key`` (``n_members__gte``) on an annotation of ``q``,
    or ``None`` when ``key`` does not start with an annotation's name.

    Example: ``annotation_lookup(Q(Team).annotate(n=Count("members")), "n__gt")``.
    """
    name, _, op = key.partition("__")
    annotation = next((a for a in q._annotated if a.name == name), None)
    if annotation is None:
        return None
    op = op or "eq"
    operator = get_operator(op)
    if operator is None or "__" in op:
        raise QueryError(
            f"unknown operator {op!r} in '{key}' on annotation {name!r}",
            model=q.model,
            key=key,
        )
    kind = annotation.python_type
    if not operator.applies_to(kind) or (op == "match" and kind is not str):
        raise QueryError(
            f"operator '{op}' in '{key}' does not apply to annotation {name!r} "
            f"({kind.__name__ if kind else 'a value'})",
            model=q.model,
            key=key,
        )
    expression = annotation.expression
    return Lookup(
        q.model,
        key,
        (),
        name,
        op,
        cast("Any", expression),
        annotation.python_type,
        operator=operator,
        bind_key=name,
        bind_type=expression.type,
    )


def annotated(q: Q[Any], aggregates: dict[str, Any]) -> tuple[Annotation, ...]:
    """The annotations ``aggregates`` adds to ``q``; `QueryError` for none,
    a name given before, or a grouped query (see `annotation_of`).

    Example: ``annotated(Q(Team), {"n": Count("members")})``.
    """
    if not aggregates:
        raise QueryError("annotate() needs at least one aggregate", model=q.model, key="annotate")
    if q._group:
        raise QueryError(
            "annotate() computes values per row; per group, use group_by().aggregate()",
            model=q.model,
            key="annotate",
        )
    taken = {annotation.name for annotation in q._annotated}
    for name in aggregates:
        if name in taken:
            raise QueryError(f"annotation {name!r} is defined twice", model=q.model, key=name)
    return tuple(annotation_of(q.model, name, value) for name, value in aggregates.items())


def annotation_criteria(
    q: Q[Any], lookups: dict[str, Any]
) -> tuple[list[ColumnElement[bool]], dict[str, Any]]:
    """The conditions of the lookups on ``q``'s annotations among
    ``lookups`` (checked now: `QueryError` for a bad value), and the other
    lookups.

    Example: ``annotation_criteria(q, {"n__gte": 3, "name": "x"})``.
    """
    if not q._annotated:
        return [], lookups
    conditions: list[ColumnElement[bool]] = []
    rest: dict[str, Any] = {}
    for key, value in lookups.items():
        lookup = annotation_lookup(q, key) if isinstance(key, str) else None
        if lookup is None:
            rest[key] = value
        else:
            conditions.append(lookup.clause(value))
    return conditions, rest


def annotation_order(q: Q[Any], key: str) -> tuple[ColumnElement[Any], bool] | None:
    """The expression and direction of sort key ``key`` (``"-n"``) when it
    names one of ``q``'s annotations, else ``None``.

    Example: ``annotation_order(Q(Team).annotate(n=Count("members")), "-n")``.
    """
    descending = key.startswith("-")
    name = key[1:] if descending or key.startswith("+") else key
    for annotation in q._annotated:
        if annotation.name == name:
            return annotation.expression, descending
    return None
