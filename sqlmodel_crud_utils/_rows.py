"""Row writes, each written once against a sync `Session`: insert, update,
delete, soft delete, restore and get-or-create, and the write scope they
(and the bulk writes of `_bulk` and `_upsert`) run in.

The legacy functions in `sqlmodel_crud_utils.sync` call these directly;
their async twins in `sqlmodel_crud_utils.a_sync` run the very same code
through ``AsyncSession.run_sync``. Every function here raises on failure
(the v0.1 return conventions are applied by the callers) and leaves the
session rolled back and usable when it does.

Transaction scope (`write_scope`): outside `transaction` blocks each write
commits (as in v0.1); inside one it runs in a SAVEPOINT and only flushes.
Row writes fire the lifecycle hooks.

    >>> soft_mode(True), soft_mode(False)
    ('include', 'exclude')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ._compat import in_greenlet, set_committed_value
from ._memo import memoized
from .exceptions import ConflictError, QueryError, RecordNotFoundError, TransactionError
from .hooks import call_hooks
from .lookups import mapper_of, parse_field, parse_lookup, primary_key_names
from .query import Q, SoftMode
from .scopes import is_soft_delete_model
from .transactions import keeping_loaded, nested, savepoints_available, unit_of_work
from .versioning import VersionMixin, current_version, expect_version
from .writes import check_row_values

__all__ = [
    "column_keys",
    "column_values",
    "delete_row",
    "find_row",
    "get_one_or_create",
    "loaded",
    "restore_row",
    "soft_delete_row",
    "soft_mode",
    "update_row",
    "write_scope",
    "write_row",
]


# ---------------------------------------------------------------- scopes


@contextmanager
def write_scope(session: Session, bulk: bool = False) -> Iterator[None]:
    """`unit_of_work`, plus: on the async path (inside ``run_sync``) and for
    bulk writes the commit does not expire the session's objects. Expired
    objects cannot be loaded lazily outside the greenlet (``MissingGreenlet``),
    and reloading thousands of returned rows one by one would cost a SELECT
    each, so those rows keep the values they were written or returned with.

    Example::

        with write_scope(session):
            session.add(row)
            session.flush()
    """
    if (bulk or in_greenlet()) and session.expire_on_commit:
        with keeping_loaded(session), unit_of_work(session):
            yield
    else:
        with unit_of_work(session):
            yield


def loaded(session: Session, rows: Sequence[Any]) -> None:
    """On the async path, load what a flush left unloaded (server-side
    defaults and ``onupdate`` values) while still inside the greenlet.

    Example: ``loaded(session, [row])`` right after ``session.flush()``.
    """
    if not in_greenlet():
        return
    for row in rows:
        state = inspect(row)
        if state.persistent and state.expired_attributes:
            session.refresh(row)


# ---------------------------------------------------------------- lookups


def soft_mode(include_deleted: bool) -> SoftMode:
    """The `Q.soft` mode for a legacy ``include_deleted`` flag.

    Example:
        >>> soft_mode(include_deleted=True)
        'include'
    """
    return "include" if include_deleted else "exclude"


def find_row(
    session: Session,
    model: type[Any],
    id_value: Any,
    pk_field: str = "id",
    *,
    include_deleted: bool = False,
    only_deleted: bool = False,
) -> Any:
    """The one row whose ``pk_field`` equals ``id_value``.

    Raises `RecordNotFoundError` when there is none, `MultipleRecordsError`
    when ``pk_field`` is not unique and several match, `QueryError` for an
    unknown field or a value that does not fit it.

    Example: ``hero = find_row(session, Hero, 7)`` (raises when there is no row 7).
    """
    mode: SoftMode = "only" if only_deleted else soft_mode(include_deleted)
    row = Q(model).where(**{pk_field: id_value}).soft(mode).one_or_none(session)
    if row is None:
        raise RecordNotFoundError(model, id_value, pk_field)
    return row


def _check_soft_model(model: type[Any], operation: str) -> None:
    if not is_soft_delete_model(model):
        raise QueryError(
            f"{operation} needs a model with SoftDeleteMixin", model=model, key=operation
        )


# ------------------------------------------------------------ single rows


def write_row(session: Session, row: Any) -> Any:
    """Insert ``row`` (fires ``before_create`` / ``after_create``).

    Example: ``hero = write_row(session, Hero(name="Deadpond"))``.
    """
    model = type(row)
    call_hooks(model, "before_create", row)
    check_row_values(model, column_values(row))
    with write_scope(session):
        session.add(row)
        session.flush()
        loaded(session, [row])
        call_hooks(model, "after_create", row)
    return row


def update_row(
    session: Session,
    model: type[Any],
    id_value: Any,
    data: Mapping[str, Any],
    pk_field: str = "id",
    *,
    found: list[Any] | None = None,
) -> Any:
    """Set ``data`` on the row with ``pk_field == id_value``.

    Unknown fields in ``data`` raise `QueryError` before anything is
    written. ``before_update`` hooks may rewrite the data. The row, once
    found, is appended to ``found`` (so a caller can report it when the
    update fails; see `_apply_update`).

    Example: ``hero = update_row(session, Hero, 7, {"age": 41})``.
    """
    for key in data:
        parse_field(model, key)
    row = find_row(session, model, id_value, pk_field)
    if found is not None:
        found.append(row)
    return _apply_update(session, row, dict(data))


def _apply_update(session: Session, row: Any, data: dict[str, Any]) -> Any:
    """Set ``data`` on ``row`` between the update hooks (``before_update``
    may rewrite the data; its fields are checked again) and save it.

    When saving fails, the write is rolled back and ``row`` is detached
    from the session carrying the values that were attempted (v0.1 returned
    the row with the data applied): nothing unsaved stays in the session
    for a later commit to write."""
    values = call_hooks(type(row), "before_update", row, data)
    for key in values:
        parse_field(type(row), key)
    if isinstance(row, VersionMixin) and "version" in values:
        expect_version(row, values.pop("version"))  # what the caller read
    check_row_values(type(row), values)
    attempted: dict[str, Any] | None = None
    read_version = getattr(row, "version", None)
    try:
        with write_scope(session):
            for key, value in values.items():
                setattr(row, key, value)
            attempted = column_values(row)
            session.flush()
            loaded(session, [row])
            call_hooks(type(row), "after_update", row)
    except BaseException as exc:
        if attempted is not None:
            _detach_with(session, row, attempted)
        if isinstance(exc, StaleDataError) and isinstance(row, VersionMixin):
            key = attempted.get(primary_key_names(type(row))[0]) if attempted else None
            raise ConflictError(
                type(row),
                key,
                expected=read_version,
                current=None if key is None else current_version(session, type(row), (key,)),
                original_error=exc,
            ) from exc
        raise
    return row


def column_values(row: Any) -> dict[str, Any]:
    """The loaded column values of ``row``.

    Example: ``column_values(Hero(name="A"))`` is ``{"id": None, "name": "A", ...}``.
    """
    keys, _ = column_keys(type(row))
    return {key: value for key, value in row.__dict__.items() if key in keys}


def _detach_with(session: Session, row: Any, values: Mapping[str, Any]) -> None:
    """Take ``row`` out of ``session`` and give it ``values`` as its loaded
    (unmodified) state, so it reads as given and a later flush of the
    session cannot write it."""
    if row in session:
        session.expunge(row)
    for key, value in values.items():
        set_committed_value(row, key, value)


def delete_row(
    session: Session, model: type[Any], id_value: Any, pk_field: str = "id", hard: bool = False
) -> Any:
    """Delete the row; soft-delete models are soft-deleted unless ``hard``.

    A hard delete also finds rows that are already soft-deleted (purging
    them is its purpose).

    Example: ``delete_row(session, Hero, 7, hard=True)``.
    """
    if is_soft_delete_model(model) and not hard:
        return soft_delete_row(session, model, id_value, pk_field)
    row = find_row(session, model, id_value, pk_field, include_deleted=True)
    call_hooks(type(row), "before_delete", row)
    with write_scope(session):
        session.delete(row)
        session.flush()
        call_hooks(type(row), "after_delete", row)
    return row


def soft_delete_row(session: Session, model: type[Any], id_value: Any, pk_field: str = "id") -> Any:
    """Flag a live row as deleted (fires ``before_delete`` / ``after_delete``).

    Example: ``soft_delete_row(session, Document, 7)``.
    """
    _check_soft_model(model, "soft_delete_row")
    row = find_row(session, model, id_value, pk_field)
    call_hooks(type(row), "before_delete", row)
    with write_scope(session):
        row.soft_delete()
        session.flush()
        loaded(session, [row])
        call_hooks(type(row), "after_delete", row)
    return row


def restore_row(session: Session, model: type[Any], id_value: Any, pk_field: str = "id") -> Any:
    """Un-delete a soft-deleted row: an update of the deletion fields, so it
    fires ``before_update`` (which may rewrite the data) and ``after_update``.

    Example: ``restore_row(session, Document, 7)``.
    """
    _check_soft_model(model, "restore_row")
    row = find_row(session, model, id_value, pk_field, only_deleted=True)
    return _apply_update(
        session, row, {"is_deleted": False, "deleted_at": None, "deleted_by": None}
    )


def get_one_or_create(
    session: Session,
    model: type[Any],
    lookup: Mapping[str, Any],
    create_values: Mapping[str, Any] | None = None,
    include: str | None = None,
    *,
    include_deleted: bool = False,
) -> tuple[Any, bool]:
    """``(row, existed)``: the row matching ``lookup`` (field=value pairs),
    created from ``lookup`` + ``create_values`` when there is none.

    The INSERT runs in a SAVEPOINT: when a concurrent transaction inserted
    the same unique row first, the savepoint is rolled back and the winner's
    row is re-read (with a locking read, so MariaDB's REPEATABLE READ
    snapshot does not hide it) and returned as existing.

    Example: ``team, existed = get_one_or_create(session, Team, {"name": "Avengers"})``.
    """
    values = {key: parse_lookup(model, key).coerce(value) for key, value in lookup.items()}
    for key in values:
        parse_field(model, key)
    query = Q(model).where(**values).soft(soft_mode(include_deleted))
    if include:
        query = query.include(include)
    found = query.first(session)
    if found is not None:
        return found, True
    created = model()
    for key, value in {**values, **(create_values or {})}.items():
        setattr(created, key, value)
    call_hooks(model, "before_create", created)
    check_row_values(model, column_values(created))
    recoverable = savepoints_available(session)
    with write_scope(session):
        try:
            with nested(session) if recoverable else nullcontext():
                session.add(created)
                session.flush()
        except IntegrityError as exc:
            if not recoverable:  # the transaction did not survive: no winner to read
                raise
            stmt = query.statement.limit(1).with_for_update(read=True)
            winner = session.execute(stmt).scalars().first()
            if winner is None:
                _refuse_deleted_twin(session, model, values, include_deleted, exc)
                raise
            return winner, True
        loaded(session, [created])
        if include:  # loaded as a found row's would be (async code cannot lazy-load)
            loading = query.statement.limit(1).execution_options(populate_existing=True)
            session.execute(loading).scalars().first()
        call_hooks(model, "after_create", created)
    return created, False


def _refuse_deleted_twin(
    session: Session,
    model: type[Any],
    values: Mapping[str, Any],
    include_deleted: bool,
    error: IntegrityError,
) -> None:
    """After a failed create: when a soft-deleted row matches ``values``
    (so it holds the unique key), say so instead of a bare IntegrityError."""
    if include_deleted or not is_soft_delete_model(model):
        return
    if not Q(model).where(**values).soft("only").exists(session):
        return
    described = ", ".join(f"{key}={value!r}" for key, value in values.items())
    raise TransactionError(
        f"{model.__name__} with {described} exists but is soft-deleted and holds a unique "
        "key, so no live row can be created; restore it (restore_row) or pass "
        "include_deleted=True to get it"
    ) from error


# ------------------------------------------------------------ column facts


@memoized
def _column_keys(model: type[Any], _: str) -> tuple[frozenset[str], frozenset[str]]:
    mapper = mapper_of(model)
    defaulted = frozenset(
        prop.key
        for prop in mapper.column_attrs
        if prop.columns[0].primary_key
        or prop.columns[0].default is not None
        or prop.columns[0].server_default is not None
    )
    return frozenset(mapper.column_attrs.keys()), defaulted


def column_keys(model: type[Any]) -> tuple[frozenset[str], frozenset[str]]:
    """The model's column attribute keys, and those of them whose ``None``
    means "use the default" to the ORM (generated keys, column defaults,
    server defaults: left out of an INSERT); memoized per model.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Vole(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        ...     name: str
        >>> [sorted(keys) for keys in column_keys(Vole)]
        [['id', 'name'], ['id']]
    """
    return _column_keys(model, "")
