"""The multi-step write operations, each written once against a sync `Session`.

The legacy functions in `sqlmodel_crud_utils.sync` call these directly;
their async twins in `sqlmodel_crud_utils.a_sync` run the very same code
through ``AsyncSession.run_sync``. Every function here raises on failure
(the v0.1 return conventions are applied by the callers) and leaves the
session rolled back and usable when it does.

Transaction scope: outside `transaction` blocks each write commits (as in
v0.1); inside one it runs in a SAVEPOINT and only flushes. Row-level writes
fire the lifecycle hooks; `bulk_upsert_mappings` (set-based) does not.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Integer, Table, insert, inspect, tuple_
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapper, Session, make_transient, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from ._compat import in_greenlet
from ._translate import first_line
from .exceptions import (
    BulkOperationError,
    QueryError,
    RecordNotFoundError,
    TransactionError,
)
from .hooks import call_hooks
from .lookups import mapper_of, parse_field, parse_lookup
from .mixins import (
    AuditMixin,
    SoftDeleteMixin,
    _stamp_before_flush,
    audit_update_values,
    current_user,
    is_audit_model,
    is_soft_delete_model,
    utc_now,
)
from .query import Q, SoftMode
from .transactions import nested, unit_of_work
from .utils import logger
from .writes import check_row_values

__all__ = [
    "bulk_upsert_mappings",
    "delete_row",
    "find_row",
    "get_one_or_create",
    "insert_data_rows",
    "restore_row",
    "soft_delete_row",
    "update_row",
    "write_row",
]

#: Rows per upsert/insert statement; SQLAlchemy's own insertmanyvalues page.
_ROWS_PER_STATEMENT = 1000

#: Models whose new rows the library's ``before_flush`` listener stamps.
_STAMPED = (AuditMixin, SoftDeleteMixin)


# ---------------------------------------------------------------- scopes


@contextmanager
def _write_scope(session: Session, bulk: bool = False) -> Iterator[None]:
    """`unit_of_work`, plus: on the async path (inside ``run_sync``) and for
    bulk writes the commit does not expire the session's objects. Expired
    objects cannot be loaded lazily outside the greenlet (``MissingGreenlet``),
    and reloading thousands of returned rows one by one would cost a SELECT
    each, so those rows keep the values they were written or returned with.
    """
    keep_loaded = (bulk or in_greenlet()) and session.expire_on_commit
    if keep_loaded:
        session.expire_on_commit = False
    try:
        with unit_of_work(session):
            yield
    finally:
        if keep_loaded:
            session.expire_on_commit = True


def _loaded(session: Session, rows: Sequence[Any]) -> None:
    """On the async path, load what a flush left unloaded (server-side
    defaults and ``onupdate`` values) while still inside the greenlet."""
    if not in_greenlet():
        return
    for row in rows:
        state = inspect(row)
        if state.persistent and state.expired_attributes:
            session.refresh(row)


# ---------------------------------------------------------------- lookups


def soft_scope(include_deleted: bool) -> SoftMode:
    """The `Q.soft` mode for a legacy ``include_deleted`` flag."""
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
    """
    mode: SoftMode = "only" if only_deleted else soft_scope(include_deleted)
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
    """Insert ``row`` (fires ``before_create`` / ``after_create``)."""
    model = type(row)
    call_hooks(model, "before_create", row)
    check_row_values(model, _column_values(row))
    with _write_scope(session):
        session.add(row)
        session.flush()
        _loaded(session, [row])
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
    check_row_values(type(row), values)
    attempted: dict[str, Any] | None = None
    try:
        with _write_scope(session):
            for key, value in values.items():
                setattr(row, key, value)
            attempted = _column_values(row)
            session.flush()
            _loaded(session, [row])
            call_hooks(type(row), "after_update", row)
    except BaseException:
        if attempted is not None:
            _detach_with(session, row, attempted)
        raise
    return row


def _column_values(row: Any) -> dict[str, Any]:
    """The loaded column values of ``row``."""
    keys, _ = _column_keys(type(row))
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
    """
    if is_soft_delete_model(model) and not hard:
        return soft_delete_row(session, model, id_value, pk_field)
    row = find_row(session, model, id_value, pk_field, include_deleted=True)
    call_hooks(type(row), "before_delete", row)
    with _write_scope(session):
        session.delete(row)
        session.flush()
        call_hooks(type(row), "after_delete", row)
    return row


def soft_delete_row(session: Session, model: type[Any], id_value: Any, pk_field: str = "id") -> Any:
    """Flag a live row as deleted (fires ``before_delete`` / ``after_delete``)."""
    _check_soft_model(model, "soft_delete_row")
    row = find_row(session, model, id_value, pk_field)
    call_hooks(type(row), "before_delete", row)
    with _write_scope(session):
        row.soft_delete()
        session.flush()
        _loaded(session, [row])
        call_hooks(type(row), "after_delete", row)
    return row


def restore_row(session: Session, model: type[Any], id_value: Any, pk_field: str = "id") -> Any:
    """Un-delete a soft-deleted row: an update of the deletion fields, so it
    fires ``before_update`` (which may rewrite the data) and ``after_update``."""
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
    """
    values = {key: parse_lookup(model, key).coerce(value) for key, value in lookup.items()}
    for key in values:
        parse_field(model, key)
    query = Q(model).where(**values).soft(soft_scope(include_deleted))
    if include:
        query = query.include(include)
    found = query.first(session)
    if found is not None:
        return found, True
    created = model()
    for key, value in {**values, **(create_values or {})}.items():
        setattr(created, key, value)
    call_hooks(model, "before_create", created)
    check_row_values(model, _column_values(created))
    with _write_scope(session):
        try:
            with nested(session):
                session.add(created)
                session.flush()
        except IntegrityError as exc:
            stmt = query.statement.limit(1).with_for_update(read=True)
            winner = session.execute(stmt).scalars().first()
            if winner is None:
                _refuse_deleted_twin(session, model, values, include_deleted, exc)
                raise
            return winner, True
        _loaded(session, [created])
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


# ------------------------------------------------------------------ bulk


def _insertable_in_bulk(rows: Sequence[Any]) -> bool:
    """Whether every row is a new row of a single-table model, with no
    related objects to cascade and a key that is either given or a
    generated integer."""
    shapes: dict[type[Any], tuple[tuple[str, ...], str | None] | None] = {}
    for row in rows:
        model = type(row)
        if model not in shapes:
            shapes[model] = _bulk_shape(model)
        shape = shapes[model]
        if shape is None or not instance_state(row).transient:
            return False
        values = row.__dict__
        relationships, pk_key = shape
        if any(values.get(key) for key in relationships):
            return False
        if pk_key is not None and values.get(pk_key) is None:
            return False
    return True


_BULK_SHAPES: dict[type[Any], tuple[tuple[str, ...], str | None] | None] = {}


def _bulk_shape(model: type[Any]) -> tuple[tuple[str, ...], str | None] | None:
    """What `_insertable_in_bulk` needs to know of a model: ``None`` when
    its rows must go through the ORM flush (inheritance, a version counter,
    mapper insert events), else its relationship keys and, for a single primary key that
    the database cannot generate, that key's attribute. The mapper's shape
    is worked out once; its events are checked on every call (listeners may
    be added at any time)."""
    mapper = mapper_of(model)
    if mapper.dispatch.before_insert or mapper.dispatch.after_insert:
        return None  # mapper events only run in a real ORM flush
    if model not in _BULK_SHAPES:
        shape: tuple[tuple[str, ...], str | None] | None = None
        if mapper.inherits is None and mapper.version_id_col is None:
            key_columns = mapper.primary_key
            pk_key = None
            if len(key_columns) == 1 and not isinstance(key_columns[0].type, Integer):
                pk_key = mapper.get_property_by_column(key_columns[0]).key
            shape = (tuple(mapper.relationships.keys()), pk_key)
        _BULK_SHAPES[model] = shape
    return _BULK_SHAPES[model]


#: Dialects whose batched INSERT .. RETURNING is done here rather than by the
#: ORM flush (whose per-object unit-of-work bookkeeping dominates a bulk insert).
_BATCHED_INSERT_DIALECTS = frozenset({"sqlite", "postgresql"})


def _bulk_insert(session: Session, rows: Sequence[Any]) -> None:
    """INSERT ``rows`` in batches and make them persistent in ``session``.

    On SQLite and PostgreSQL, rows are inserted with ``INSERT .. RETURNING``
    in batches of executemany parameters (built straight from each row's
    attributes, skipping the ORM flush's per-object bookkeeping), matched
    back to their objects, given their database values, and attached to the
    session as persistent objects. Generated integer keys are matched by
    order: PostgreSQL returns rows in parameter order
    (``sort_by_parameter_order``); SQLite cannot order RETURNING rows, but
    assigns the keys in VALUES order, so rows are sorted on the key. MariaDB,
    and rows the ORM must flush itself (see `_insertable_in_bulk`), go
    through ``add_all`` + ``flush`` (which batches there too).
    """
    dialect = session.connection().dialect
    if (
        dialect.name not in _BATCHED_INSERT_DIALECTS
        or not _insertable_in_bulk(rows)
        or not _only_library_flush_listeners(session)
    ):
        session.add_all(rows)
        session.flush()
        return
    _stamp_rows(session, rows)
    groups: dict[tuple[type[Any], frozenset[str]], list[Any]] = {}
    for row in rows:
        model = type(row)
        columns, defaulted = _column_keys(model)
        present = frozenset(
            key
            for key, value in row.__dict__.items()
            if key in columns and not (value is None and key in defaulted)
        )
        groups.setdefault((model, present), []).append(row)
    ordered = dialect.name != "sqlite"
    inserted: list[tuple[Any, dict[str, Any]]] = []
    for (model, keys), members in groups.items():
        inserted += _insert_group(session, model, sorted(keys), members, ordered)
    # Attached only once every chunk went in: after a failure the rows are
    # still untouched transient objects, ready for the row-by-row retry.
    for row, values in inserted:
        # Loaded values, committed by make_transient_to_detached (what
        # set_committed_value does per key, without its per-key overhead).
        row.__dict__.update(values)
        make_transient_to_detached(row)
    session.add_all(rows)


def _only_library_flush_listeners(session: Session) -> bool:
    """Whether the session's flush events have no listener but this
    library's audit stamping. Your own ``before_flush`` / ``after_flush``
    listeners expect a real ORM flush (with its flush context), so rows are
    then flushed by the ORM, which batches on PostgreSQL and MariaDB too."""
    dispatch = session.dispatch
    return (
        all(listener is _stamp_before_flush for listener in dispatch.before_flush)
        and not dispatch.after_flush
        and not dispatch.after_flush_postexec
    )


def _stamp_rows(session: Session, rows: Sequence[Any]) -> None:
    """Fill the `AuditMixin` / `SoftDeleteMixin` fields of ``rows`` as the
    library's ``before_flush`` listener would in an ORM flush (it looks at
    ``session.new``, so the rows are added for it, then taken back out for
    the batched INSERT)."""
    if not session.dispatch.before_flush:
        return
    if not any(issubclass(model, _STAMPED) for model in {type(row) for row in rows}):
        return
    session.add_all(rows)
    try:
        _stamp_before_flush(session, None, None)
    finally:
        for row in rows:
            if row in session:
                session.expunge(row)


_COLUMN_KEYS: dict[type[Any], tuple[frozenset[str], frozenset[str]]] = {}


def _column_keys(model: type[Any]) -> tuple[frozenset[str], frozenset[str]]:
    """The model's column attribute keys, and those of them whose ``None``
    means "use the default" (see `_defaulted_keys`); worked out once."""
    keys = _COLUMN_KEYS.get(model)
    if keys is None:
        mapper = mapper_of(model)
        keys = (frozenset(mapper.column_attrs.keys()), _defaulted_keys(mapper))
        _COLUMN_KEYS[model] = keys
    return keys


@functools.cache
def _defaulted_keys(mapper: Mapper[Any]) -> frozenset[str]:
    """Fields whose ``None`` means "use the default" to the ORM (generated
    keys, column defaults, server defaults): left out of the INSERT."""
    return frozenset(
        prop.key
        for prop in mapper.column_attrs
        if prop.columns[0].primary_key
        or prop.columns[0].default is not None
        or prop.columns[0].server_default is not None
    )


def _insert_group(
    session: Session, model: type[Any], keys: list[str], rows: list[Any], ordered: bool
) -> list[tuple[Any, dict[str, Any]]]:
    """INSERT one group of rows (same fields given); returns each row with
    its database values. ``ordered``: the dialect returns rows in parameter
    order when asked (``sort_by_parameter_order``)."""
    mapper = mapper_of(model)
    table = cast(Table, mapper.local_table)
    pk = [mapper.get_property_by_column(column).key for column in mapper.primary_key]
    generated = len(pk) == 1 and pk[0] not in keys
    attributes = {prop.key: prop.columns[0] for prop in mapper.column_attrs}
    stmt = insert(table).returning(
        *attributes.values(), sort_by_parameter_order=ordered and generated
    )
    names = list(attributes)
    pk_positions = [names.index(key) for key in pk]
    params_keys = [(key, attributes[key].key) for key in keys]
    inserted: list[tuple[Any, dict[str, Any]]] = []
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        params = [{column: row.__dict__[key] for key, column in params_keys} for row in chunk]
        returned = list(session.execute(stmt, params).all())
        if generated:
            if not ordered:  # SQLite assigns generated keys in VALUES order
                returned.sort(key=lambda values: values[pk_positions[0]])
        else:
            by_key = {tuple(r[i] for i in pk_positions): r for r in returned}
            returned = [by_key[tuple(row.__dict__[k] for k in pk)] for row in chunk]
        inserted += [
            (row, dict(zip(names, values, strict=True)))
            for row, values in zip(chunk, returned, strict=True)
        ]
    return inserted


def insert_data_rows(
    session: Session, rows: Sequence[Any], log: logging.Logger | None = None
) -> list[Any]:
    """Insert ``rows`` in batches (fires ``before_create`` for every row
    first, ``after_create`` for each written row before the commit).

    When the batch INSERT fails it is rolled back and each row is retried on
    its own (reported on ``log`` as v0.1 did: an ERROR for the batch, an
    INFO that rows are retried one by one, an ERROR per row that fails); if
    any row still fails, `BulkOperationError` is raised whose ``errors`` are
    ``{"index", "row", "error", "exception"}`` dicts, with ``successful``
    (the rows written) and ``failed_records`` (the rows that failed). Any
    other failure (the commit, an ``after_create`` hook) rolls everything
    back and propagates.
    Whatever fails, the caller's objects come back as they were handed in:
    transient, with the values they had.
    """
    rows = list(rows)
    for row in rows:
        call_hooks(type(row), "before_create", row)
    saved = [row.__dict__.copy() for row in rows]  # C-level copies: cheap per row
    batch_error: SQLAlchemyError | None = None
    try:
        with _write_scope(session, bulk=True):
            try:
                _bulk_insert(session, rows)
            except SQLAlchemyError as exc:
                batch_error = exc
                raise
            _created(session, rows)
        return rows
    except BaseException:
        _back_to_transient(session, rows, saved)
        if batch_error is None:
            raise
    log = logger if log is None else log
    log.error("insert_data_rows: writing the rows in a batch failed: %s", first_line(batch_error))
    log.info("insert_data_rows: writing the %d rows one by one instead", len(rows))
    try:
        succeeded, errors = _insert_one_by_one(session, rows)
    except BaseException:
        _back_to_transient(session, rows, saved)
        raise
    for error in errors:
        log.error(
            "insert_data_rows: row %d failed: %s", error["index"], first_line(error["exception"])
        )
    if errors:
        failed_rows = [error["row"] for error in errors]
        bulk_error = BulkOperationError(
            len(rows), len(errors), errors, successful=succeeded, failed_records=failed_rows
        )
        raise bulk_error from errors[0]["exception"] or batch_error
    return succeeded


def _created(session: Session, rows: Sequence[Any]) -> None:
    """After the INSERTs, before the commit: load what async code cannot
    load later, then the ``after_create`` hooks (a raising one undoes all)."""
    _loaded(session, rows)
    for row in rows:
        call_hooks(type(row), "after_create", row)


def _back_to_transient(
    session: Session, rows: Sequence[Any], saved: Sequence[dict[str, Any]]
) -> None:
    """Undo what a rolled-back write left on the caller's objects: out of the
    session, no identity (a rolled-back INSERT's objects would otherwise
    look persistent and be skipped by the retry), the values they came with."""
    for row, values in zip(rows, saved, strict=True):
        if row in session:
            session.expunge(row)
        if inspect(row).key is not None:
            make_transient(row)
        state = row.__dict__
        for key in [key for key in state if not key.startswith("_sa_") and key not in values]:
            del state[key]
        state.update((key, value) for key, value in values.items() if not key.startswith("_sa_"))


_PK_KEYS: dict[type[Any], tuple[str, ...]] = {}


def _identity_values(row: Any) -> dict[str, Any]:
    keys = _PK_KEYS.get(type(row))
    if keys is None:
        mapper = inspect(row).mapper
        keys = tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)
        _PK_KEYS[type(row)] = keys
    values = row.__dict__
    return {key: values.get(key) for key in keys}


def _reset_transient(session: Session, row: Any, keys: Mapping[str, Any]) -> None:
    """Undo what a rolled-back batch left on ``row`` (a generated key)."""
    if row in session:
        session.expunge(row)
    for key, value in keys.items():
        row.__dict__[key] = value


def _insert_one_by_one(session: Session, rows: list[Any]) -> tuple[list[Any], list[Any]]:
    """Retry each row in its own SAVEPOINT, all in one unit of work (one
    commit, after the ``after_create`` hooks of the rows written): a failing
    row undoes only itself."""
    succeeded: list[Any] = []
    errors: list[dict[str, Any]] = []
    with _write_scope(session, bulk=True):
        for index, row in enumerate(rows):
            original = _identity_values(row)
            try:
                with nested(session):
                    session.add(row)
                    session.flush()
            except SQLAlchemyError as exc:
                _reset_transient(session, row, original)
                errors.append({"index": index, "row": row, "error": str(exc), "exception": exc})
            else:
                succeeded.append(row)
        _created(session, succeeded)
    return succeeded, errors


#: ORM bulk INSERTs leave ``None`` values out (so server defaults apply);
#: an upsert writes what the mapping says, NULL included.
_NULLS_AS_GIVEN = {"render_nulls": True}

_UPSERT_INSERTS = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
    "mysql": mysql.insert,
    "mariadb": mysql.insert,
}


def bulk_upsert_mappings(
    session: Session,
    model: type[Any],
    payload: Sequence[Mapping[str, Any]],
    pk_fields: Sequence[str] | None = None,
) -> list[Any]:
    """Insert or update ``payload`` (dicts of field values) keyed on
    ``pk_fields`` and return the upserted rows.

    One parameterised ``INSERT .. ON CONFLICT DO UPDATE`` (SQLite,
    PostgreSQL) or ``INSERT .. ON DUPLICATE KEY UPDATE`` (MySQL/MariaDB) is
    executed per chunk with the chunk's mappings as parameters (executemany);
    chunks stay below the backend's bound-parameter limit. Only the fields a
    mapping carries are updated on conflict. When the payload repeats a key,
    the last mapping wins. Rows come back through RETURNING where the backend
    has it, otherwise by a re-select on the keys. No hooks fire.
    """
    payload = list(payload)
    if not payload:
        return []
    key_fields = list(pk_fields or ["id"])
    key_columns = [parse_field(model, name) for name in key_fields]
    dialect = session.connection().dialect  # connected: server capabilities known
    make_insert = _UPSERT_INSERTS.get(dialect.name)
    if make_insert is None:
        raise QueryError(
            f"bulk_upsert_mappings does not support the {dialect.name!r} dialect",
            model=model,
            key="dialect",
        )
    groups = _group_by_fields(model, payload, key_fields)
    limit = int(getattr(dialect, "insertmanyvalues_max_parameters", 32000) or 32000)
    returning = bool(dialect.insert_returning)
    rows: list[Any] = []
    with _write_scope(session, bulk=True):
        for fields, mappings in groups.items():
            stmt = _upsert_statement(make_insert, model, fields, key_fields, key_columns)
            size = max(1, min(_ROWS_PER_STATEMENT, limit // max(1, len(fields))))
            for start in range(0, len(mappings), size):
                chunk = mappings[start : start + size]
                if returning:
                    rows.extend(
                        session.scalars(
                            stmt.returning(model),
                            chunk,
                            execution_options={"populate_existing": True, **_NULLS_AS_GIVEN},
                        ).all()
                    )
                else:
                    session.execute(stmt, chunk, execution_options=_NULLS_AS_GIVEN)
                    rows.extend(_reselect(session, model, key_columns, key_fields, chunk))
    return rows


def _group_by_fields(
    model: type[Any], payload: list[Mapping[str, Any]], key_fields: list[str]
) -> dict[tuple[str, ...], list[Mapping[str, Any]]]:
    """Mappings grouped by their field set (each group is one statement
    shape), de-duplicated on the key (last wins), fields validated once."""
    latest: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    try:
        for mapping in payload:
            latest[tuple(mapping[name] for name in key_fields)] = mapping
    except KeyError as exc:
        raise QueryError(
            f"every mapping needs the key field(s) {key_fields}", model=model, key=str(exc)
        ) from None
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for mapping in latest.values():
        groups.setdefault(tuple(mapping), []).append(mapping)
    for fields in groups:
        for name in fields:
            parse_field(model, name)
    return groups


def _upsert_statement(
    make_insert: Any,
    model: type[Any],
    fields: tuple[str, ...],
    key_fields: list[str],
    key_columns: list[Any],
) -> Any:
    """The upsert for one field set. For `AuditMixin` models the audit
    columns the mappings leave out are stamped in the statement itself (no
    per-row work): inserted rows get ``created_at`` = now and the
    `acting_as` user as ``created_by`` (``updated_at`` stays ``None``, as
    for any new row); updated rows
    get ``updated_at`` = now and ``updated_by`` (when there is a user), as
    `Q.update` does. A mapping's own value wins in both branches."""
    stmt = make_insert(model)
    if is_audit_model(model):
        stmt = stmt.values(**_audit_insert_values(fields))
    updated = [name for name in fields if name not in key_fields]
    if hasattr(stmt, "on_duplicate_key_update"):
        changes = {name: stmt.inserted[name] for name in updated}
        if not changes:
            return stmt.on_duplicate_key_update(
                {name: stmt.inserted[name] for name in key_fields[:1]}
            )
        return stmt.on_duplicate_key_update(audit_update_values(model, changes))
    if not updated:
        # a no-op update rather than DO NOTHING, so RETURNING reports the
        # existing rows too
        first = key_fields[0]
        return stmt.on_conflict_do_update(
            index_elements=key_columns, set_={first: stmt.excluded[first]}
        )
    changes = {name: stmt.excluded[name] for name in updated}
    return stmt.on_conflict_do_update(
        index_elements=key_columns, set_=audit_update_values(model, changes)
    )


def _audit_insert_values(fields: tuple[str, ...]) -> dict[str, Any]:
    now = utc_now()
    user = current_user()
    stamps: dict[str, Any] = {"created_at": now}
    if user is not None:
        stamps["created_by"] = user
    return {name: value for name, value in stamps.items() if name not in fields}


def _reselect(
    session: Session,
    model: type[Any],
    key_columns: list[Any],
    key_fields: list[str],
    chunk: list[Mapping[str, Any]],
) -> list[Any]:
    if len(key_columns) == 1:
        criterion = key_columns[0].in_([mapping[key_fields[0]] for mapping in chunk])
    else:
        keys = [tuple(mapping[name] for name in key_fields) for mapping in chunk]
        criterion = tuple_(*key_columns).in_(keys)
    stmt = Q(model).soft("include").statement.where(criterion)
    result = session.execute(stmt, execution_options={"populate_existing": True})
    return cast("list[Any]", result.scalars().all())
