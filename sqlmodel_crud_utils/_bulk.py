"""The bulk insert of `insert_data_rows`, written once against a sync `Session`.

Rows go in with batched ``INSERT .. RETURNING`` statements where the
dialect and the rows allow it (SQLite, PostgreSQL: see `_bulk_insert`),
else through the ORM flush, which batches too. When the batch fails, each
row is retried in its own SAVEPOINT and the failures are reported as
`BulkOperationError`. Hooks: ``before_create`` for every row first,
``after_create`` for each written row before the commit.

    >>> ROWS_PER_STATEMENT
    1000
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Integer, Table, insert, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, make_transient, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state

from ._cached import _touch_flushed
from ._history import _before_flush, _record_flush, record_inserted
from ._listeners import _check_tenants_before_flush, _stamp_before_flush
from ._memo import memoized
from ._rows import column_keys, loaded, write_scope
from ._translate import first_line
from .audit import AuditMixin
from .exceptions import BulkOperationError
from .hooks import call_hooks
from .lookups import mapper_of, primary_key_names
from .scopes import SoftDeleteMixin
from .tenancy import TenantScoped
from .transactions import nested, savepoints_available
from .utils import logger
from .versioning import remember_versions

__all__ = ["ROWS_PER_STATEMENT", "insert_data_rows"]

#: Rows per upsert/insert statement; SQLAlchemy's own insertmanyvalues page.
ROWS_PER_STATEMENT = 1000

#: Models whose new rows the library's ``before_flush`` listener stamps.
_STAMPED = (AuditMixin, SoftDeleteMixin, TenantScoped)


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


def _bulk_shape(model: type[Any]) -> tuple[tuple[str, ...], str | None] | None:
    """What `_insertable_in_bulk` needs to know of a model: ``None`` when
    its rows must go through the ORM flush (inheritance, a version counter,
    mapper insert events), else its relationship keys and, for a single primary key that
    the database cannot generate, that key's attribute. The mapper's shape
    is worked out once (`_mapper_shape`); its events are checked on every
    call (listeners may be added at any time)."""
    mapper = mapper_of(model)
    if mapper.dispatch.before_insert or mapper.dispatch.after_insert:
        return None  # mapper events only run in a real ORM flush
    return _mapper_shape(model, "")


@memoized
def _mapper_shape(model: type[Any], _: str) -> tuple[tuple[str, ...], str | None] | None:
    mapper = mapper_of(model)
    if mapper.inherits is not None or mapper.version_id_col is not None:
        return None
    key_columns = mapper.primary_key
    pk_key = None
    if len(key_columns) == 1 and not isinstance(key_columns[0].type, Integer):
        pk_key = primary_key_names(model)[0]
    return tuple(mapper.relationships.keys()), pk_key


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
        columns, defaulted = column_keys(model)
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
    record_inserted(session, inserted)
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
        all(listener in _LIBRARY_BEFORE_FLUSH for listener in dispatch.before_flush)
        and all(listener in _LIBRARY_AFTER_FLUSH for listener in dispatch.after_flush)
        and not dispatch.after_flush_postexec
    )


# The library's own flush listeners, which the batched path stands in for:
# it stamps the mixins itself, records history itself (`record_inserted`),
# and its INSERTs are seen by the cache's ``do_orm_execute`` listener.
_LIBRARY_BEFORE_FLUSH = (
    _stamp_before_flush,
    _before_flush,
    _check_tenants_before_flush,
    remember_versions,
)
_LIBRARY_AFTER_FLUSH = (_record_flush, _touch_flushed)


def _stamp_rows(session: Session, rows: Sequence[Any]) -> None:
    """Fill (and check) the mixin fields of ``rows`` as the library's
    ``before_flush`` listeners would in an ORM flush (they look at
    ``session.new``, so the rows are added for them, then taken back out for
    the batched INSERT)."""
    if not session.dispatch.before_flush:
        return
    if not any(issubclass(model, _STAMPED) for model in {type(row) for row in rows}):
        return
    session.add_all(rows)
    try:
        for listener in (_stamp_before_flush, _check_tenants_before_flush):
            if listener in session.dispatch.before_flush:
                listener(session, None, None)
    finally:
        for row in rows:
            if row in session:
                session.expunge(row)


def _insert_group(
    session: Session, model: type[Any], keys: list[str], rows: list[Any], ordered: bool
) -> list[tuple[Any, dict[str, Any]]]:
    """INSERT one group of rows (same fields given); returns each row with
    its database values. ``ordered``: the dialect returns rows in parameter
    order when asked (``sort_by_parameter_order``)."""
    mapper = mapper_of(model)
    table = cast(Table, mapper.local_table)
    pk = primary_key_names(model)
    generated = len(pk) == 1 and pk[0] not in keys
    attributes = {prop.key: prop.columns[0] for prop in mapper.column_attrs}
    stmt = insert(table).returning(
        *attributes.values(), sort_by_parameter_order=ordered and generated
    )
    names = list(attributes)
    pk_positions = [names.index(key) for key in pk]
    params_keys = [(key, attributes[key].key) for key in keys]
    inserted: list[tuple[Any, dict[str, Any]]] = []
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
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

    Example: ``heroes = insert_data_rows(session, [Hero(name="A"), Hero(name="B")])``.
    """
    rows = list(rows)
    for row in rows:
        call_hooks(type(row), "before_create", row)
    saved = [row.__dict__.copy() for row in rows]  # C-level copies: cheap per row
    batch_error: SQLAlchemyError | None = None
    try:
        with write_scope(session, bulk=True):
            try:
                _bulk_insert(session, rows)
            except SQLAlchemyError as exc:
                batch_error = exc
                raise
            _created(session, rows)
        return rows
    except BaseException:
        _back_to_transient(session, rows, saved)
        if batch_error is None or not savepoints_available(session):
            raise  # without SAVEPOINT, no row can be retried alone
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
    loaded(session, rows)
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


def _identity_values(row: Any) -> dict[str, Any]:
    values = row.__dict__
    return {key: values.get(key) for key in primary_key_names(type(row))}


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
    with write_scope(session, bulk=True):
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
