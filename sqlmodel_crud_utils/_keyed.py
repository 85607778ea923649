"""Writes to the rows a list of keys names: `update_by_keys` and
`delete_by_keys` (the legacy ``bulk_update_rows`` and
``delete_rows_within_id_list`` of upstream 0.4).

Each is a set-based `Q` write, one ``UPDATE`` or ``DELETE`` per chunk of
keys (``WHERE pk IN (...)``, one expanding parameter, so every chunk reuses
the compiled statement), all chunks in one unit of work: they commit
together, or nothing is written. Every argument is checked before the
first statement: a key field that is not the primary key, an unknown or
primary-key column in ``data``, a chunk size below 1, ``deleted_by``
without ``soft=True``, ``soft=True`` on a model without the soft-delete
columns; each raises `QueryError` (a `ValidationError`, and so a
``ValueError``) naming the model and the argument.

The keys name rows explicitly, so both reach soft-deleted rows too, except
a soft delete, which flags only live rows (an already deleted row keeps its
``deleted_at`` and ``deleted_by`` and is not counted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from ._rows import write_scope
from .coercion import positive_int
from .exceptions import ConstraintError, QueryError
from .lookups import mapper_of, parse_field, parse_lookup, primary_key_names
from .operators import MAX_IN_VALUES
from .query import Q
from .writes import deletion_values

__all__ = ["SOFT_DELETE_COLUMNS", "delete_by_keys", "distinct_keys", "update_by_keys"]

#: The columns a soft delete writes.
SOFT_DELETE_COLUMNS = ("is_deleted", "deleted_at", "deleted_by")


def distinct_keys(
    keys: Any,
    model: type[Any],
    argument: str = "id_str_list",
    coerce: Callable[[Any], Any] | None = None,
) -> list[Any]:
    """Each key of ``keys`` once, in first-seen order, after ``coerce``
    (so ``1`` and ``"1"`` are one key); `QueryError` for anything but a
    collection of keys (a string is one key, not a list of its characters).

    Example:
        >>> distinct_keys([3, 1, 3], object), distinct_keys(["1", 1], object, coerce=int)
        ([3, 1], [1])
    """
    if isinstance(keys, str | bytes) or not isinstance(keys, Iterable):
        raise QueryError(
            f"{argument} must be a list of keys, got {keys!r}",
            model=model,
            key=argument,
            value=keys,
        )
    try:
        return list(dict.fromkeys(keys if coerce is None else map(coerce, keys)))
    except TypeError:
        raise QueryError(
            f"{argument} holds a value that cannot be a key", model=model, key=argument
        ) from None


def _chunks(model: type[Any], keys: Any, pk_field: str, chunk_size: Any) -> list[list[Any]]:
    if not isinstance(pk_field, str) or pk_field not in primary_key_names(model):
        raise QueryError(
            f"pk_field must be a primary key column of {model.__name__} "
            f"({', '.join(primary_key_names(model))}), got {pk_field!r}",
            model=model,
            key="pk_field",
            value=pk_field,
        )
    size = positive_int(chunk_size, "chunk_size", model, minimum=1)
    if size > MAX_IN_VALUES:
        raise QueryError(
            f"chunk_size is at most {MAX_IN_VALUES:,} (each key is a bound parameter)",
            model=model,
            key="chunk_size",
            value=chunk_size,
        )
    unique = distinct_keys(keys, model, coerce=parse_lookup(model, pk_field).coerce)
    return [unique[start : start + size] for start in range(0, len(unique), size)]


def _checked_data(model: type[Any], data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping) or not data:
        raise QueryError(
            f"data must be a non-empty mapping of column values, got {data!r}",
            model=model,
            key="data",
        )
    keys = set(primary_key_names(model))
    for name in data:
        parse_field(model, name)  # unknown names raise, listing the valid ones
        if name in keys:
            raise QueryError(
                f"data cannot change the primary key column {name!r}",
                model=model,
                key=name,
                value=data[name],
            )
        if data[name] is None and not parse_field(model, name).property.columns[0].nullable:
            # what the database would raise (translated), without the round trip
            raise ConstraintError(
                f"cannot set {name!r} to None: the column is NOT NULL",
                model=model,
                constraint="NOT NULL",
                field=name,
            )
    return dict(data)


def update_by_keys(
    session: Session,
    model: type[Any],
    keys: Any,
    data: Any,
    pk_field: str = "id",
    chunk_size: Any = 500,
) -> int:
    """Set ``data`` on the rows whose ``pk_field`` is in ``keys``; the rows matched.

    Example: ``update_by_keys(session, Hero, [1, 2], {"age": 40})``.
    """
    values = _checked_data(model, data)
    chunks = _chunks(model, keys, pk_field, chunk_size)
    query = Q(model).soft("include")
    with write_scope(session, bulk=True):
        return sum(
            query.where(**{f"{pk_field}__in": chunk}).update(session, **values) for chunk in chunks
        )


def delete_by_keys(
    session: Session,
    model: type[Any],
    keys: Any,
    pk_field: str = "id",
    chunk_size: Any = 500,
    soft: bool = False,
    deleted_by: str | None = None,
) -> int:
    """Delete the rows whose ``pk_field`` is in ``keys`` (``soft=True``:
    flag the live ones as deleted, by ``deleted_by`` or else the `acting_as`
    user); the rows deleted.

    Example: ``delete_by_keys(session, Hero, [1, 2], soft=True, deleted_by="ada")``.
    """
    if deleted_by is not None and not soft:
        raise QueryError(
            "deleted_by is only written by a soft delete: pass soft=True",
            model=model,
            key="deleted_by",
            value=deleted_by,
        )
    if soft:
        missing = [
            name for name in SOFT_DELETE_COLUMNS if name not in mapper_of(model).column_attrs
        ]
        if missing:
            raise QueryError(
                f"soft=True needs the soft-delete columns; {model.__name__} is missing "
                f"{', '.join(missing)} (use SoftDeleteMixin)",
                model=model,
                key="soft",
            )
    chunks = _chunks(model, keys, pk_field, chunk_size)
    with write_scope(session, bulk=True):
        if soft:
            flags = deletion_values(deleted_by)
            live = Q(model).soft("include").where(is_deleted=False)
            return sum(
                live.where(**{f"{pk_field}__in": chunk}).update(session, **flags)
                for chunk in chunks
            )
        every = Q(model).soft("include")
        return sum(
            every.where(**{f"{pk_field}__in": chunk}).delete(session, hard=True) for chunk in chunks
        )
