"""What may be written, and the set-based writes of a `Q` (one ``UPDATE
... WHERE`` or ``DELETE ... WHERE``).

`settable` checks one value against its column; `check_row_values` checks
the values of a row write (the legacy functions) the same way, so a value
one backend would store and another refuse (an integer out of the column's
range, text longer than the column, NUL, a lone surrogate, text for a
number) is refused on every backend, before any SQL runs.

The query's criteria and soft-delete scope choose the rows; values are
coerced and checked like lookup values, and refused (as `QueryError`) when
the column cannot store them, before any SQL runs. A write the database
refuses is translated like every `Q` statement (a broken foreign key or
unique constraint is a `ConstraintError`). Hooks do not fire and nothing is
committed.

    >>> from sqlmodel import Field, SQLModel
    >>> class Jar(SQLModel, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     label: str = Field(default="", max_length=5)
    >>> from sqlmodel_crud_utils import Q
    >>> settable(Jar, "label", "jam")
    'jam'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, delete, update
from sqlalchemy.orm import Session

from ._compile import root_soft_criteria, scoped_criteria, soft_options
from ._history import run_tracked
from .audit import audit_update_values, current_user, utc_now
from .exceptions import QueryError, ValidationError
from .lookups import parse_field, parse_lookup, primary_key_names
from .scopes import is_soft_delete_model
from .tenancy import ACROSS_TENANTS, check_tenant_change
from .tracking import is_tracked_model
from .versioning import is_versioned_model

if TYPE_CHECKING:
    from .query import Q

__all__ = ["check_row_values", "delete_rows", "deletion_values", "settable", "update_rows"]


def update_rows(q: Q[Any], session: Session, values: dict[str, Any]) -> int:
    """Set ``values`` on every row of ``q`` (see `Q.update`); the rows matched."""
    if not values:
        raise QueryError("update() needs at least one field=value", model=q.model, key="values")
    checked = {
        parse_field(q.model, key).key: settable(q.model, key, value)
        for key, value in values.items()
    }
    if is_tracked_model(q.model):
        moved = sorted(set(checked) & set(primary_key_names(q.model)))
        if moved:
            raise QueryError(
                "a set-based update cannot change the primary key of a TrackChangesMixin "
                "model (its history is keyed on it); use update_row",
                model=q.model,
                key=moved[0],
            )
    if "tenant_id" in checked and not q._all_tenants:
        check_tenant_change(q.model, checked["tenant_id"])
    written = audit_update_values(q.model, checked)
    if is_versioned_model(q.model):
        if "version" in checked:
            raise QueryError(
                "version is managed by VersionMixin (every update bumps it)",
                model=q.model,
                key="version",
            )
        written = {**written, "version": cast(Any, q.model).version + 1}
    where = _criteria(q)
    options = _options(q)
    stmt = update(q.model).where(*where).values(written).options(*options)
    return _run(session, q.model, stmt, where, options, "update")


def _options(q: Q[Any]) -> tuple[Any, ...]:
    options = soft_options(q.model, q._soft)
    return (*options, ACROSS_TENANTS) if q._all_tenants else options


def delete_rows(q: Q[Any], session: Session, hard: bool) -> int:
    """Delete (or soft-delete) every row of ``q`` (see `Q.delete`); the rows matched."""
    if is_soft_delete_model(q.model) and not hard:
        return update_rows(q, session, deletion_values())
    where = _criteria(q)
    options = _options(q)
    stmt = delete(q.model).where(*where).options(*options)
    return _run(session, q.model, stmt, where, options, "delete")


def deletion_values(user: str | None = None) -> dict[str, Any]:
    """The columns a set-based soft delete writes: flagged now, by ``user``
    or else the `acting_as` user.

    Example:
        >>> values = deletion_values("ada")
        >>> sorted(values), values["deleted_by"]
        (['deleted_at', 'deleted_by', 'is_deleted'], 'ada')
    """
    return {
        "is_deleted": True,
        "deleted_at": utc_now(),
        "deleted_by": current_user() if user is None else user,
    }


def settable(model: type[Any], key: str, value: Any) -> Any:
    """``value`` coerced for column ``key``, refused when the column cannot
    store it: ``None`` for NOT NULL, text longer than its length.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Lid(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        ...     size: int
        >>> settable(Lid, "size", None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils.exceptions.QueryError: Lid: cannot set 'size' to None: ... NOT NULL
    """
    coerced = parse_lookup(model, key).coerce(value)
    column = parse_field(model, key).property.columns[0]
    problem = None
    if coerced is None and not column.nullable:
        problem = "the column is NOT NULL"
    length = getattr(column.type, "length", None)
    if isinstance(coerced, str) and isinstance(length, int) and len(coerced) > length:
        problem = f"the column holds at most {length} characters"
    if problem is not None:
        raise QueryError(
            f"cannot set {key!r} to {value!r}: {problem}", model=model, key=key, value=value
        )
    return coerced


def check_row_values(model: type[Any], values: Mapping[str, Any]) -> None:
    """Refuse, as `ValidationError` naming the model, the column and the
    value, a value of a row write that its column cannot store (see
    `settable`). ``None`` is left to the database (a NOT NULL column with a
    default takes it on insert).

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Mug(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        ...     size: int = 0
        >>> check_row_values(Mug, {"size": 2**40})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils.exceptions.ValidationError: Validation failed for field 'size': ...
    """
    for key, value in values.items():
        if value is None:
            continue
        try:
            settable(model, key, value)
        except QueryError as exc:
            raise ValidationError(str(exc), field=key, value=value) from None


def _criteria(q: Q[Any]) -> tuple[ColumnElement[bool], ...]:
    if q._limit is not None or q._offset:
        raise QueryError(
            "update()/delete() act on every matching row; remove limit/offset/page",
            model=q.model,
            key="limit",
        )
    # "exclude" reaches the root rows through the loader criteria of
    # `soft_options`; writing it here too would repeat the predicate
    return scoped_criteria(q) + (root_soft_criteria(q) if q._soft == "only" else ())


def _run(
    session: Session,
    model: type[Any],
    stmt: Any,
    where: tuple[ColumnElement[bool], ...],
    options: tuple[Any, ...],
    operation: str,
) -> int:
    """Run the statement (recording the change history of a
    `TrackChangesMixin` model); the rows it matched."""
    if is_tracked_model(model):
        return run_tracked(session, model, stmt, where, options, operation)
    result: Any = session.execute(stmt)  # typed as a plain `Result`, without rowcount
    return int(result.rowcount)
