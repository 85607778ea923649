"""Projections: a query's rows as plain values, without ORM objects
(`Q.values`, `Q.values_list`).

    Q(Hero).where(age__gte=18).values(session, "name", "team__name")
    # [{"name": "Iron Man", "team__name": "Avengers"}, ...]
    Q(Hero).order_by("id").values_list(session, "id", "name")  # [(1, "Iron Man"), ...]
    Q(Hero).values_list(session, "name", flat=True)             # ["Iron Man", ...]

The statement selects only the named columns and runs on the session's
connection: no entity is built, no identity map is consulted, nothing is
loaded into the session, so it is the fast read path for lists, exports
and API responses that need a few fields.
The query's filters, soft-delete scope, order, limit and offset apply; its
``include`` / ``only`` do not (there are no objects to load).

A field may follow to-one relationships (``team__name``,
``team__city__name``): each relationship on the way is LEFT OUTER JOINed
once, so a hero without a team still has its row (``team__name`` is
``None``), as is one whose team is soft-deleted (the soft-delete scope
applies to the joined rows too). To-many relationships would repeat rows and
are refused; count them with aggregates instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult, Select
from sqlalchemy.orm import Session, aliased

from ._compile import select_of
from ._criteria import Binder, literal_binder
from ._templates import runnable
from .exceptions import QueryError
from .lookups import mapper_of, parse_lookup

if TYPE_CHECKING:
    from .query import Q

__all__ = ["as_dicts", "field_columns", "projected", "projected_rows", "projection"]


def projection(q: Q[Any], fields: Sequence[str]) -> tuple[Select[Any], dict[str, Any] | None]:
    """The statement selecting ``fields`` of ``q``'s rows and its
    parameters: a statement template per query shape and fields, as `Q.all`
    has (see `sqlmodel_crud_utils._templates`)."""
    names = tuple(fields)
    return runnable(q, lambda query, bind: projected(query, names, bind), ("values", names))


def projected(q: Q[Any], fields: Sequence[str], bind: Binder = literal_binder) -> Select[Any]:
    """The ``SELECT`` of ``fields`` (all of the model's columns when empty)
    for ``q``'s rows, each labelled with its field string, values bound by
    ``bind``; `QueryError` for an unknown field, a to-many path or a field
    named twice."""
    annotations = {annotation.name: annotation.expression for annotation in q._annotated}
    names = list(fields) or [
        *(attr.key for attr in mapper_of(q.model).column_attrs),
        *annotations,
    ]
    plain = [name for name in names if name not in annotations]
    stmt, columns = field_columns(q, select_of(q, loading=False, bind=bind), plain, "values()")
    selected = dict(zip(plain, columns, strict=True))
    if len(names) - len(plain) != len(set(names) - set(plain)):
        raise QueryError("an annotation is named twice", model=q.model, key="values")
    labelled = [
        (annotations[name] if name in annotations else selected[name]).label(name) for name in names
    ]
    return stmt.with_only_columns(*labelled, maintain_column_froms=True)


def field_columns(
    q: Q[Any], stmt: Select[Any], names: Sequence[str], caller: str
) -> tuple[Select[Any], list[Any]]:
    """The columns of field paths ``names`` of ``q``'s model, and ``stmt``
    with a LEFT OUTER JOIN for each to-one relationship they walk (once per
    path). `QueryError` (naming ``caller``) for a name that is not a field
    path, a to-many path or a name given twice."""
    if len(set(names)) != len(names):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise QueryError(f"fields named twice: {repeated}", model=q.model, key=repeated[0])
    joins: dict[tuple[str, ...], Any] = {}
    columns = []
    for name in names:
        if not isinstance(name, str):
            raise QueryError(f"{caller} takes field names, got {name!r}", model=q.model, key=name)
        lookup = parse_lookup(q.model, name)
        if lookup.op != "eq" or name.endswith("__eq"):
            raise QueryError(
                f"{caller} takes field paths, not lookups: {name!r}", model=q.model, key=name
            )
        if lookup.json_path:
            raise QueryError(
                f"{caller} takes fields, not keys inside a JSON field: {name!r} (select "
                f"{lookup.field!r} and read the key from it)",
                model=q.model,
                key=name,
            )
        owner: Any = q.model
        path: tuple[str, ...] = ()
        for hop in lookup.hops:
            if hop.collection:
                raise QueryError(
                    f"{caller} follows to-one relationships only; {hop.attribute.key!r} in "
                    f"{name!r} is to-many (it would repeat rows)",
                    model=q.model,
                    key=name,
                )
            path += (hop.attribute.key,)
            if path not in joins:
                target = aliased(hop.target)
                stmt = stmt.outerjoin(target, getattr(owner, hop.attribute.key))
                joins[path] = target
            owner = joins[path]
        columns.append(getattr(owner, lookup.field))
    return stmt, columns


def projected_rows(
    session: Session, stmt: Select[Any], params: dict[str, Any] | None
) -> CursorResult[Any]:
    """``stmt``'s rows, executed on the session's connection for it (a
    replica on a routed session) after the session's autoflush: plain rows,
    none of the ORM's per-row result processing."""
    if session.autoflush:
        session.flush()
    return session.connection(bind_arguments={"clause": stmt}).execute(stmt, params)


def as_dicts(keys: tuple[str, ...], rows: Iterable[Any]) -> list[dict[str, Any]]:
    """``rows`` as dicts of ``keys``.

    Example:
        >>> as_dicts(("id", "name"), [(1, "Ann"), (2, "Bo")])
        [{'id': 1, 'name': 'Ann'}, {'id': 2, 'name': 'Bo'}]
    """
    return _dict_maker(keys)(rows)


@lru_cache(maxsize=256)
def _dict_maker(keys: tuple[str, ...]) -> Callable[[Iterable[Any]], list[dict[str, Any]]]:
    """A function turning rows into dicts of ``keys``: a list comprehension
    with the keys as constants, about three times faster than
    ``dict(zip(keys, row))`` per row. The keys are passed in as values, never
    written into the code."""
    values = ", ".join(f"v{index}" for index in range(len(keys)))
    items = ", ".join(f"k{index}: v{index}" for index in range(len(keys)))
    namespace = {f"k{index}": key for index, key in enumerate(keys)}
    code = f"def make(rows):\n    return [{{{items}}} for {values}, in rows]\n"
    exec(code, namespace)
    maker: Callable[[Iterable[Any]], list[dict[str, Any]]] = namespace["make"]  # type: ignore[assignment]
    return maker
