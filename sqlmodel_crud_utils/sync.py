"""The v0.1 functions, for a sync `Session`: thin presets over `Q` and the
shared write modules (`_rows`, `_bulk`, `_upsert`).

Parameter names, order, defaults and return conventions are v0.1's, so
code written for 0.1 runs unchanged:

    >>> from sqlmodel import Field, Session, SQLModel, create_engine
    >>> class Parrot(SQLModel, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     name: str
    >>> engine = create_engine("sqlite://")
    >>> SQLModel.metadata.create_all(engine)
    >>> with Session(engine) as session:
    ...     ok, pet = write_row(Parrot(name="Rex"), session)
    ...     found, rows = get_rows(session, Parrot, name__like="e")
    ...     (ok, pet.id), (found, [row.name for row in rows])
    ((True, 1), (True, ['Rex']))

New keyword-only options on every function: ``raise_on_error=False``
(``True`` raises `RecordNotFoundError`, `MultipleRecordsError`,
`BulkOperationError`, or `TransactionError` for a database error, with the
original as ``__cause__``), ``include_deleted=False`` on reads and
``hard=False`` on `delete_row`. Bad filters or fields raise `QueryError`
whatever ``raise_on_error`` says: they are programming errors.

Failures reported as values are logged at ERROR on this module's
``logger`` (the package's stdlib logger ``sqlmodel_crud_utils``), looked up
per call: v0.1 users' tests that patch ``sqlmodel_crud_utils.sync.logger``
(or its ``error`` method) see them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlmodel.sql.expression import SelectOfScalar

from . import _bulk, _keyed, _rows, _upsert
from ._keyed import distinct_keys
from ._legacy import legacy_failures, legacy_write, note_failed_write
from ._translate import database_errors
from .builder import QueryBuilder as QueryBuilder  # upstream 0.4 exports it here
from .coercion import TRUE_WORDS as _TRUE_WORDS
from .exceptions import BulkOperationError, QueryError, RecordNotFoundError
from .lookups import mapper_of
from .query import Q, _soft_options
from .scopes import has_soft_scope
from .utils import logger

__all__ = [
    "bulk_update_rows",
    "bulk_upsert_mappings",
    "delete_row",
    "delete_rows_within_id_list",
    "get_one_or_create",
    "get_result_from_query",
    "get_row",
    "get_rows",
    "get_rows_within_id_list",
    "insert_data_rows",
    "restore_row",
    "soft_delete_row",
    "update_row",
    "write_row",
]

#: The logger of the calling module, for a call made through
#: `sqlmodel_crud_utils.a_sync` (see `_log`).
_CALLER_LOGGER: ContextVar[logging.Logger | None] = ContextVar(
    "sqlmodel_crud_utils_legacy_logger", default=None
)


def _log() -> logging.Logger:
    """The logger the legacy functions report failures on: this module's
    ``logger`` attribute, or ``a_sync.logger`` for a call made through
    `sqlmodel_crud_utils.a_sync`. Both are looked up per call, so code that
    patches ``sqlmodel_crud_utils.sync.logger`` (or its ``error`` method),
    as v0.1 users do in their tests, sees the calls."""
    return _CALLER_LOGGER.get() or logger


@contextmanager
def _logging_to(log: logging.Logger) -> Iterator[None]:
    """Report the failures of the legacy calls made in the block on ``log``
    (used by `sqlmodel_crud_utils.a_sync`, internal)."""
    token = _CALLER_LOGGER.set(log)
    try:
        yield
    finally:
        _CALLER_LOGGER.reset(token)


#: Keys per query in `get_rows_within_id_list` (each is a bound parameter).
_IDS_PER_QUERY = 10_000


def _as_list(keys: str | Iterable[str]) -> list[str]:
    return [keys] if isinstance(keys, str) else list(keys)


def _loading(
    query: Q[Any],
    selectin: bool,
    select_in_keys: str | Iterable[str] | None,
    lazy: bool,
    lazy_load_keys: str | Iterable[str] | None,
) -> Q[Any]:
    if selectin and select_in_keys:
        query = query.include(*_as_list(select_in_keys))
    if lazy and lazy_load_keys:
        query = query.include(*_as_list(lazy_load_keys), strategy="lazy")
    return query


def _selects_one_thing(query: Any) -> bool:
    """One entity (``select(Hero)``, from SQLAlchemy's ``select`` too) or
    one column: the first row is returned as that object or value."""
    described = getattr(query, "column_descriptions", None)
    if described is not None:
        return len(described) == 1
    columns = getattr(query, "selected_columns", None)
    return columns is not None and len(columns) == 1


def get_result_from_query(
    query: Any, session: Session, *, raise_on_error: bool = False, include_deleted: bool = False
) -> Any:
    """The first row of ``query`` or ``None``; never raises on several rows
    (the query runs once). Soft-deleted rows of the queried models are left
    out unless ``include_deleted=True``.

    Example::

        hero = get_result_from_query(select(Hero).where(Hero.age > 30), session)

    ``Q`` equivalent: ``Q(Hero).where(age__gt=30).first(session)``.
    """
    if not include_deleted and not has_soft_scope(query):
        for description in getattr(query, "column_descriptions", ()):
            entity = description.get("entity")
            if entity is not None:
                query = query.options(*_soft_options(entity, "exclude"))
    with legacy_failures("get_result_from_query", raise_on_error, _log()), database_errors(session):
        result = session.execute(query)
        if isinstance(query, SelectOfScalar) or _selects_one_thing(query):
            return result.scalars().first()
        return result.first()
    return None


def get_one_or_create(
    session_inst: Session,
    model: type[Any],
    create_method_kwargs: dict[str, Any] | None = None,
    selectin: bool = False,
    select_in_key: str | None = None,
    *,
    raise_on_error: bool = False,
    include_deleted: bool = False,
    **kwargs: Any,
) -> tuple[Any, bool]:
    """``(row, existed)``: the row whose fields equal ``kwargs``, or a new one
    made from ``kwargs`` + ``create_method_kwargs`` and committed.

    The second item is ``True`` when the row already existed (v0.1's order).
    When another transaction inserts the same unique row concurrently, the
    loser re-reads and returns the winner's row (``existed=True``). On
    failure with ``raise_on_error=False``: ``(None, False)``.

    Example::

        team, existed = get_one_or_create(session, Team, name="Avengers")
    """
    include = select_in_key if selectin and select_in_key else None
    with legacy_write("get_one_or_create", raise_on_error, session_inst, _log(), model):
        return _rows.get_one_or_create(
            session_inst,
            model,
            kwargs,
            create_method_kwargs,
            include,
            include_deleted=include_deleted,
        )
    return None, False


def write_row(
    data_row: Any, session_inst: Session, *, raise_on_error: bool = False
) -> tuple[bool, Any]:
    """Insert one row and commit: ``(True, row)`` or ``(False, None)``.

    Example::

        ok, hero = write_row(Hero(name="Deadpond"), session)

    ``Q`` equivalent: none (a plain ``session.add`` + ``commit``).
    """
    with legacy_write("write_row", raise_on_error, session_inst, _log(), type(data_row)):
        return True, _rows.write_row(session_inst, data_row)
    return False, None


def insert_data_rows(
    data_rows: Sequence[Any], session_inst: Session, *, raise_on_error: bool = False
) -> tuple[bool | tuple[bool], Any]:
    """Insert many rows in batches: ``(True, rows)``.

    When the batch fails, each row is retried on its own and the result is
    ``(status, {"success": [...], "failed": [...]})``: ``status`` is
    ``True`` when at least one row was written and, as in every upstream
    release, the tuple ``(False,)`` when none was (a tuple is truthy:
    test ``status is True``, not ``if status:``). With ``raise_on_error=True``
    a partial failure raises `BulkOperationError` (``errors`` say which rows
    failed and why; rows that could be written stay written, unless the call
    runs inside `transaction`, which then rolls back as a whole).

    Example::

        ok, heroes = insert_data_rows([Hero(name="A"), Hero(name="B")], session)
    """
    rows = list(data_rows)
    with legacy_write("insert_data_rows", raise_on_error, session_inst, _log()):
        try:
            written = _bulk.insert_data_rows(session_inst, rows, _log())
        except BulkOperationError as exc:
            if raise_on_error:
                raise
            note_failed_write(session_inst, exc)
            return _inserted_status(exc.succeeded), {
                "success": exc.succeeded,
                "failed": exc.failed_records or [],
            }
        if len(written) == len(rows):
            return True, written
        return True, {"success": written, "failed": []}
    return _inserted_status([]), {"success": [], "failed": rows}


def _inserted_status(written: Sequence[Any]) -> bool | tuple[bool]:
    """v0.1's status of a row-by-row insert: ``True``, or ``(False,)``."""
    return True if written else (False,)


def get_row(
    id_str: Any,
    session_inst: Session,
    model: type[Any],
    selectin: bool = False,
    lazy: bool = False,
    lazy_load_keys: str | list[str] | None = None,
    select_in_keys: str | list[str] | None = None,
    pk_field: str = "id",
    use_cache: bool = False,
    cache_ttl: float | None = None,
    *,
    raise_on_error: bool = False,
    include_deleted: bool = False,
) -> tuple[bool, Any]:
    """``(True, row)`` for the row with ``pk_field == id_str``, else
    ``(False, None)``. String keys are coerced to the field's type.
    ``use_cache=True`` answers from the configured cache (`configure_cache`)
    when it can, keeping the row ``cache_ttl`` seconds (``None``: the
    backend's default); see `Q.cached`.

    Example::

        found, hero = get_row(1, session, Hero, selectin=True, select_in_keys=["team"])

    ``Q`` equivalent: ``Q(Hero).include("team").where(id=1).one_or_none(session)``.
    """
    with legacy_failures("get_row", raise_on_error, _log(), model):
        query = Q(model).where(**{pk_field: id_str}).soft(_rows.soft_mode(include_deleted))
        query = _loading(query, selectin, select_in_keys, lazy, lazy_load_keys)
        if use_cache:
            query = query.cached(cache_ttl)
        row = query.one_or_none(session_inst)
        if row is None:
            raise RecordNotFoundError(model, id_str, pk_field)
        return True, row
    return False, None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return bool(value)


def _rows_query(
    model: type[Any], text_field: str | None, include_deleted: bool, kwargs: dict[str, Any]
) -> Q[Any]:
    sort_field = kwargs.pop("sort_field", None)
    sort_desc = _truthy(kwargs.pop("sort_desc", False))
    lookups: dict[str, Any] = {}
    for key, value in kwargs.items():
        if text_field and key == text_field:
            lookups[f"{key}__match"] = value
        elif key.endswith("__like"):  # v0.1: %value%, its own % and _ stay wildcards
            lookups[key] = f"%{value}%"
        else:
            lookups[key] = value
    query = Q(model).where(**lookups).soft(_rows.soft_mode(include_deleted))
    if sort_field:
        query = query.order_by(f"-{sort_field}" if sort_desc else sort_field)
    return query


def get_rows(
    session_inst: Session,
    model: type[Any],
    selectin: bool = False,
    select_in_keys: str | list[str] | None = None,
    lazy: bool = False,
    lazy_load_keys: str | list[str] | None = None,
    page_size: int = 100,
    page: int = 1,
    text_field: str | None = None,
    stmnt: Any = None,
    use_cache: bool = False,
    cache_ttl: float | None = None,
    *,
    raise_on_error: bool = False,
    include_deleted: bool = False,
    **kwargs: Any,
) -> tuple[bool, list[Any]]:
    """``(found, rows)``: one page of rows matching ``kwargs``.

    ``kwargs`` are `Q` lookups (``age__gte=18``, ``name__icontains="man"``,
    ``team__name="Avengers"``, ...) plus ``sort_field`` / ``sort_desc``.
    As in v0.1, ``field__like="x"`` is the pattern ``%x%``, where ``%`` and
    ``_`` in ``x`` act as wildcards too (use ``field__contains`` to match
    them literally), and the value of
    ``text_field`` (when given) is a full-text ``match``. With a custom
    ``stmnt`` the filters, ordering and loading are applied on top of it,
    but not ``page`` / ``page_size``: the statement keeps its own LIMIT and
    OFFSET (all its rows when it has none), as in v0.1 and upstream 0.4; a
    statement of several columns returns its rows (tuples), one of a
    single column its values; it keeps its own order too (``sort_field``
    adds to it). Without ``sort_field`` and ``stmnt`` the rows are ordered
    by primary key, so pages are stable. An empty page is ``(False, [])``, also with
    ``raise_on_error=True`` (matching nothing is not an error).
    ``use_cache`` / ``cache_ttl`` as for `get_row` (a custom ``stmnt`` is
    never cached).

    Example::

        found, heroes = get_rows(session, Hero, age__gte=18, sort_field="age", page_size=10)

    ``Q`` equivalent: ``Q(Hero).where(age__gte=18).order_by("age").page(1, 10).all(session)``.
    """
    with legacy_failures("get_rows", raise_on_error, _log(), model):
        query = _rows_query(model, text_field, include_deleted, dict(kwargs))
        query = _loading(query, selectin, select_in_keys, lazy, lazy_load_keys)
        if use_cache:
            query = query.cached(cache_ttl)
        if stmnt is None:
            query = query._stably_ordered().page(page, size=page_size)
        else:  # the caller's statement keeps its own paging (v0.1, upstream 0.4)
            # and its own order: appending the key could break GROUP BY / DISTINCT
            query = query._based_on(stmnt)
        rows = query.all(session_inst)
        return bool(rows), rows
    return False, []


def get_rows_within_id_list(
    id_str_list: Iterable[Any],
    session_inst: Session,
    model: type[Any],
    pk_field: str = "id",
    *,
    raise_on_error: bool = False,
    include_deleted: bool = False,
) -> tuple[bool, list[Any]]:
    """``(found, rows)`` for the rows whose ``pk_field`` is in ``id_str_list``
    (``(False, [])`` for an empty list or no match). Long lists are queried
    in chunks of 10,000 keys, under every backend's bound-parameter limit.

    Example::

        found, heroes = get_rows_within_id_list([1, 2, 3], session, Hero)

    ``Q`` equivalent: ``Q(Hero).where(id__in=[1, 2, 3]).all(session)``.
    """
    rows = _rows_within_id_list(
        id_str_list, session_inst, model, pk_field, raise_on_error, include_deleted
    )
    return (bool(rows), rows) if rows is not None else (False, [])


def _rows_within_id_list(
    id_str_list: Iterable[Any],
    session_inst: Session,
    model: type[Any],
    pk_field: str,
    raise_on_error: bool,
    include_deleted: bool,
) -> list[Any] | None:
    """The rows of `get_rows_within_id_list`, or ``None`` when the query
    failed (reported as its failure value); shared with the async twin,
    whose v0.1 success flag means "the query ran"."""
    with legacy_failures("get_rows_within_id_list", raise_on_error, _log(), model):
        ids = distinct_keys(id_str_list, model)
        scope = Q(model).soft(_rows.soft_mode(include_deleted))
        rows: list[Any] = []
        for start in range(0, len(ids), _IDS_PER_QUERY):  # under every bind-parameter limit
            chunk = ids[start : start + _IDS_PER_QUERY]
            rows += scope.where(**{f"{pk_field}__in": chunk}).all(session_inst)
        return rows
    return None


def update_row(
    id_str: Any,
    data: Mapping[str, Any],
    session_inst: Session,
    model: type[Any],
    pk_field: str = "id",
    *,
    raise_on_error: bool = False,
) -> tuple[bool, Any]:
    """Set ``data`` on the row and commit: ``(True, row)``; ``(False, None)``
    when there is no such row.

    When the row exists but the update fails (the flush or the commit is
    refused, a hook raises), the result is v0.1's ``(False, row)``: the row
    carries the values that were attempted, but it is detached from the
    session, so nothing unsaved is left behind for a later commit to write
    (``session.merge(row)`` or ``update_row`` again to retry).

    Example::

        ok, hero = update_row(1, {"age": 41}, session, Hero)

    ``Q`` equivalent (set-based, no hooks): ``Q(Hero).where(id=1).update(session, age=41)``.
    """
    mapper_of(model)
    if not isinstance(data, Mapping):
        raise QueryError(
            f"data must be a mapping of field to value, got {data!r}", model=model, key="data"
        )
    found: list[Any] = []
    with legacy_write("update_row", raise_on_error, session_inst, _log(), model):
        return True, _rows.update_row(session_inst, model, id_str, data, pk_field, found=found)
    return False, (found[0] if found else None)


def delete_row(
    id_str: Any,
    session_inst: Session,
    model: type[Any],
    pk_field: str = "id",
    *,
    hard: bool = False,
    raise_on_error: bool = False,
) -> bool:
    """Delete the row and commit; ``True`` when it was deleted. Models with
    `SoftDeleteMixin` are soft-deleted unless ``hard=True``.

    Example::

        deleted = delete_row(1, session, Hero)

    ``Q`` equivalent (set-based, no hooks): ``Q(Hero).where(id=1).delete(session)``.
    """
    with legacy_write("delete_row", raise_on_error, session_inst, _log(), model):
        _rows.delete_row(session_inst, model, id_str, pk_field, hard)
        return True
    return False


def soft_delete_row(
    id_str: Any,
    session_inst: Session,
    model: type[Any],
    pk_field: str = "id",
    *,
    raise_on_error: bool = False,
) -> bool:
    """Soft-delete a live row of a `SoftDeleteMixin` model and commit.

    Example::

        deleted = soft_delete_row(1, session, Document)
    """
    with legacy_write("soft_delete_row", raise_on_error, session_inst, _log(), model):
        _rows.soft_delete_row(session_inst, model, id_str, pk_field)
        return True
    return False


def restore_row(
    id_str: Any,
    session_inst: Session,
    model: type[Any],
    pk_field: str = "id",
    *,
    raise_on_error: bool = False,
) -> bool:
    """Restore a soft-deleted row and commit; ``False`` when no deleted row
    has that key.

    Example::

        restored = restore_row(1, session, Document)
    """
    with legacy_write("restore_row", raise_on_error, session_inst, _log(), model):
        _rows.restore_row(session_inst, model, id_str, pk_field)
        return True
    return False


def bulk_upsert_mappings(
    payload: Sequence[Mapping[str, Any]],
    session_inst: Session,
    model: type[Any],
    pk_fields: list[str] | None = None,
    update_columns: Sequence[str] | None = None,
    *,
    raise_on_error: bool = False,
) -> tuple[bool, list[Any]]:
    """Insert-or-update many rows from dicts and commit: ``(True, rows)``
    with the upserted rows; ``(False, [])`` on failure (with
    ``raise_on_error=True``: `BulkOperationError`). Keyed on ``pk_fields``
    (default ``["id"]``; composite keys allowed). Set-based: no hooks fire.
    ``update_columns`` (upstream 0.4) restricts what a conflict updates to
    those fields; a bad list raises `QueryError` before any statement.

    Example::

        ok, heroes = bulk_upsert_mappings([{"id": 1, "name": "A"}], session, Hero)
    """
    if isinstance(payload, str | bytes | Mapping) or not isinstance(payload, Sequence | Iterable):
        raise QueryError(
            f"payload must be a list of mappings, got {payload!r}", model=model, key="payload"
        )
    payload = list(payload)
    if not all(isinstance(mapping, Mapping) for mapping in payload):
        raise QueryError("payload must be a list of mappings", model=model, key="payload")
    with legacy_write("bulk_upsert_mappings", raise_on_error, session_inst, _log(), model):
        try:
            return True, _upsert.bulk_upsert_mappings(
                session_inst, model, payload, pk_fields, update_columns
            )
        except SQLAlchemyError as exc:
            if not raise_on_error:
                raise
            total = len(payload)
            raise BulkOperationError(
                total, total, [{"error": str(exc)}], failed_records=list(payload)
            ) from exc
    return False, []


def bulk_update_rows(
    id_str_list: Iterable[Any],
    data: Mapping[str, Any],
    session_inst: Session,
    model: type[Any],
    pk_field: str = "id",
    chunk_size: int = 500,
) -> tuple[bool, int]:
    """Set ``data`` on every row whose ``pk_field`` is in ``id_str_list``
    and commit: ``(True, rows_updated)`` (keys with no row are skipped).
    One set-based ``UPDATE`` per ``chunk_size`` keys, all committed together;
    no hooks fire; `AuditMixin`'s ``updated_at`` (and, under `acting_as`,
    ``updated_by``) is stamped. Soft-deleted rows are updated too (the keys name them).

    As in upstream 0.4 it raises rather than returning ``False``: a bad
    argument (empty ``data``, an unknown or primary-key column, a
    ``pk_field`` that is not the primary key, ``chunk_size`` < 1) is a
    `QueryError` (a ``ValueError``) before any statement; a value the
    database refuses is `ValidationError` / `ConstraintError`, with nothing
    written.

    Example::

        ok, count = bulk_update_rows([1, 2], {"age": 40}, session, Hero)

    ``Q`` equivalent: ``Q(Hero).soft("include").where(id__in=[1, 2]).update(session, age=40)``.
    """
    with legacy_write("bulk_update_rows", True, session_inst, _log(), model):
        return True, _keyed.update_by_keys(
            session_inst, model, id_str_list, data, pk_field, chunk_size
        )
    raise AssertionError("unreachable: failures raise")  # pragma: no cover


def delete_rows_within_id_list(
    id_str_list: Iterable[Any],
    session_inst: Session,
    model: type[Any],
    pk_field: str = "id",
    chunk_size: int = 500,
    soft: bool = False,
    deleted_by: str | None = None,
) -> tuple[bool, int]:
    """Delete every row whose ``pk_field`` is in ``id_str_list`` and commit:
    ``(True, rows_deleted)``. A hard ``DELETE`` unless ``soft=True``, which
    flags the live rows as `SoftDeleteMixin.soft_delete` does (by
    ``deleted_by``, else the `acting_as` user); already deleted rows are
    left as they are and not counted. One statement per ``chunk_size`` keys,
    all committed together; no hooks fire. Raises as `bulk_update_rows` does.

    Example::

        ok, count = delete_rows_within_id_list([1, 2], session, Hero)

    ``Q`` equivalent: ``Q(Hero).soft("include").where(id__in=[1, 2]).delete(session, hard=True)``.
    """
    with legacy_write("delete_rows_within_id_list", True, session_inst, _log(), model):
        return True, _keyed.delete_by_keys(
            session_inst, model, id_str_list, pk_field, chunk_size, soft, deleted_by
        )
    raise AssertionError("unreachable: failures raise")  # pragma: no cover
