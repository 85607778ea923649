"""How a cached read is keyed, stored, served and invalidated (the public
side is `sqlmodel_crud_utils.cache`).

**Keys.** A query served by a statement template (see
`sqlmodel_crud_utils._templates`) is keyed by the hash of the database
(URL without password; an in-memory SQLite engine is its own database),
the kind of answer (rows, count, exists), the template's SQL, the
soft-delete scope, the `acting_as` user and the values, each value of a
plain type (``str``, numbers, ``None``, dates and times, ``Decimal``,
``UUID``, ``bytes``, enum members, lists of these). A query with raw
SQLAlchemy clauses is keyed the same way by its compiled SQL and bound
values (`statement_plan`), when it reads only its model's tables and holds
no ``text()`` or ``literal_column()``. Anything else (a caller's
statement, ``include()``, ``only()``, a model whose relationships load
``lazy="joined"``, values of other types) is read uncached.

**Generations.** Every table the statement reads (relationship filters
included) has a generation token in the backend; an entry's key carries
the tokens read *before* the query ran. A commit that wrote a table
replaces its token, then drops its entries; a read that raced with that
commit stored its (old) row under the old token, where nobody looks.

**Freshness.** A read stores its result only when its snapshot is at least
as new as the tokens it read: its transaction began with this read, or the
connection reads per statement (READ COMMITTED or lower, SQLite outside a
transaction). A session holding uncommitted writes (flushed or pending)
neither reads nor fills the cache. Empty answers are not stored.

**Invalidation.** ``after_flush`` and ``do_orm_execute`` (INSERT, UPDATE,
DELETE statements) record the tables a session writes in
``session.info``; ``after_commit`` invalidates them; the end of a root
transaction without a commit forgets them. An invalidation the backend
failed is retried before the next cached read, and until it succeeds
cached reads go to the database.

    >>> _plain_value([1, "a", None])
    True
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import os
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Column, Table, event, inspect
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import ORMExecuteState, Session, make_transient_to_detached
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnClause, TextClause
from sqlalchemy.sql.selectable import TableClause

from . import cache
from ._memo import memo_attribute, memoized, remembered
from ._templates import runnable, template_key
from .audit import current_user
from .cache import CacheBackend, warn_failure
from .rowscopes import active_scope_options
from .tenancy import cache_scope

if TYPE_CHECKING:
    from .query import Q

__all__ = [
    "TOUCHED",
    "install_listeners",
    "invalidate_tables",
    "models_written",
    "read_through",
    "statement_plan",
    "tables_of",
]

_R = TypeVar("_R")

#: ``session.info`` key: the tables the session wrote in its open transaction.
TOUCHED = "sqlmodel_crud_utils.cache.touched"
_MODELS = "sqlmodel_crud_utils.cache.models"
_PER_STATEMENT = frozenset({"READ COMMITTED", "READ UNCOMMITTED", "AUTOCOMMIT"})
_SQL = memo_attribute(f"{__name__}.sql")

_pending: set[str] = set()
_pending_lock = threading.Lock()
_databases: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


# ----------------------------------------------------------------- reading


def read_through(session: Session, q: Q[Any], kind: str, run: Callable[[], _R]) -> _R:
    """``run()``'s answer for ``q`` (``kind``: ``"rows"``, ``"count"`` or
    ``"exists"``), from the configured backend when it holds it, stored
    there after ``run()`` when it may be (see the module docstring)."""
    backend = cache.get_cache()
    if backend is None or _has_writes(session) or not _retry_pending(backend):
        return run()
    plan = _plan(session, q, kind)
    if plan is None:
        return run()
    namespaces, key = plan
    try:
        slot = key + "|" + ".".join(backend.generation(name) for name in namespaces)
        stored = backend.get(namespaces[0], slot)
    except Exception as exc:
        warn_failure(backend, exc, stacklevel=4)
        return run()
    if stored is not None:
        answer = _decode(q.model, kind, stored)
        if answer is not _UNREADABLE:
            backend.stats.hits += 1
            return answer  # type: ignore[no-any-return]
    backend.stats.misses += 1
    fresh = _sees_latest(session, q.model)
    answer = run()
    if fresh and answer and not _has_writes(session):
        encoded = _encode(q.model, kind, answer)
        if encoded is not None:
            try:
                backend.set(namespaces[0], slot, encoded, q._cache_ttl)
                backend.stats.stores += 1
            except Exception as exc:
                warn_failure(backend, exc, stacklevel=4)
    return answer


def _has_writes(session: Session) -> bool:
    return bool(session.info.get(TOUCHED) or session.new or session.dirty or session.deleted)


def _sees_latest(session: Session, model: type[Any]) -> bool:
    """Whether a read run now sees every commit made before it started."""
    if not session.in_transaction():
        return True
    conn = session.connection(bind_arguments={"mapper": inspect(model)})
    level = conn.get_execution_options().get("isolation_level") or conn.default_isolation_level
    if level in _PER_STATEMENT:
        return True
    if conn.dialect.name == "sqlite":
        # the sqlite3 modules begin a transaction at the first write only
        return not getattr(conn.connection.driver_connection, "in_transaction", True)
    return False


def _plan(session: Session, q: Q[Any], kind: str) -> tuple[tuple[str, ...], str] | None:
    """The tables ``q`` reads (its own first) and its entry key, or ``None``
    when ``q`` is read uncached."""
    if q._includes or q._only or not _cacheable_model(q.model, ""):
        return None
    if active_scope_options(q.model):
        return None  # a registered scope's criteria may read per-request values
    tenant = cache_scope(q.model, q._all_tenants)
    shape = template_key(q)
    if shape is None:
        # raw clauses: keyed by their compiled SQL when they read only the
        # model's own tables (a caller's base statement is never cached)
        if q._base is not None:
            return None
        return statement_plan(session, q.model, kind, q.statement, across=q._all_tenants)
    stmt, params = runnable(q)
    values = tuple((params or {}).values())
    if not all(_plain_value(value) for value in values):
        return None
    database = _database(session, q.model)
    sql, namespaces = remembered(
        _SQL, lambda _model, _key: _described(stmt, q.model), q.model, (shape, database[0])
    )
    return namespaces, _digest(
        f"{database[1]}|{kind}|{sql}|{q._soft}|{tenant}|{current_user()!r}|{values!r}"
    )


_EAGER = frozenset({"joined", "selectin", "subquery", "immediate"})


@memoized
def _cacheable_model(model: type[Any], _: str) -> bool:
    """Whether rows of ``model`` can be rebuilt from their columns alone: no
    relationship loads eagerly by default (a hit would lack it) and no
    column is an expression (``column_property``) reading other tables."""
    mapper = inspect(model)
    if any(rel.lazy in _EAGER for rel in mapper.relationships):
        return False
    columns = [column for attr in mapper.column_attrs for column in attr.columns]
    return all(isinstance(column, Column) for column in columns)


def statement_plan(
    session: Session, model: type[Any], kind: str, stmt: Any, *, across: bool = False
) -> tuple[tuple[str, ...], str] | None:
    """The tables and key of a statement built outside a template, or
    ``None``: it reads another table (written without it being seen here),
    holds raw SQL (``text()``, ``literal_column()``: what they read is
    unknown), or a value of no stable ``repr``."""
    if not _cacheable_model(model, "") or active_scope_options(model):
        return None
    tenant = cache_scope(model, across)
    own = tables_of(model)
    for element in visitors.iterate(stmt):
        if isinstance(element, TableClause) and _table_name(element) not in own:
            return None
        if isinstance(element, TextClause) or (
            isinstance(element, ColumnClause) and element.is_literal
        ):
            return None
    bind = session.get_bind(mapper=inspect(model))
    database = _identify(bind)[1]
    compiled = stmt.compile(dialect=bind.dialect)
    values = tuple(compiled.params.items())
    if not all(_plain_value(value) for _, value in values):
        return None
    # the soft-delete scope is in the compiled SQL here (no template key)
    return own, _digest(
        f"{database}|{kind}|{_digest(str(compiled))}|{tenant}|{current_user()!r}|{values!r}"
    )


def _described(stmt: Any, model: type[Any]) -> tuple[str, tuple[str, ...]]:
    """A template's SQL (hashed) and the tables it reads, its model's first."""
    own = tables_of(model)
    read = {
        _table_name(element)
        for element in visitors.iterate(stmt)
        if isinstance(element, TableClause) and _table_name(element) not in own
    }
    sql = str(stmt.compile())
    return _digest(sql), own + tuple(sorted(read))


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _table_name(table: TableClause) -> str:
    return str(getattr(table, "fullname", table.name))


def _database(session: Session, model: type[Any]) -> tuple[str, str]:
    """The dialect name and an identity of the database ``model`` is read from."""
    return _identify(session.get_bind(mapper=inspect(model)))


def _identify(bind: Any) -> tuple[str, str]:
    engine = bind.engine if isinstance(bind, Connection) else bind
    identity = _databases.get(engine)
    if identity is None:
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            url = url.set(database=os.path.abspath(url.database))  # one file, one name
        identity = url.render_as_string(hide_password=True)
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            identity += "#" + uuid.uuid4().hex  # private to this engine
        _databases[engine] = identity
    translated = bind.get_execution_options().get("schema_translate_map")
    if translated:  # the same statement reads another schema's tables
        identity += "|" + repr(sorted(translated.items(), key=repr))
    return engine.dialect.name, identity


_PLAIN = frozenset({str, int, float, bool, type(None), dt.datetime, dt.date, dt.time})
_PLAIN |= {dt.timedelta, Decimal, uuid.UUID, bytes}


def _plain_value(value: Any) -> bool:
    """Whether ``value`` has a ``repr`` that names it in every process."""
    kind = type(value)
    if kind in _PLAIN:
        return True
    if isinstance(value, enum.Enum):
        return type(value).__repr__ is enum.Enum.__repr__
    if kind in (list, tuple, set, frozenset):
        return all(_plain_value(item) for item in value)
    if kind is dict:
        return all(_plain_value(k) and _plain_value(v) for k, v in value.items())
    return False


# ----------------------------------------------------------------- encoding

_UNREADABLE = object()


class _Unencodable(Exception):
    pass


@memoized
def _fields(model: type[Any], _: str) -> tuple[tuple[str, ...], tuple[type[enum.Enum] | None, ...]]:
    mapper = inspect(model)
    keys = tuple(attr.key for attr in mapper.column_attrs)
    enums = tuple(
        getattr(attr.columns[0].type, "enum_class", None)
        if isinstance(attr.columns[0].type, SAEnum)
        else None
        for attr in mapper.column_attrs
    )
    return keys, enums


def _encode(model: type[Any], kind: str, answer: Any) -> Any:
    """``answer`` as JSON-compatible data, ``None`` when it cannot be."""
    if kind != "rows":
        return answer
    keys, enums = _fields(model, "")
    try:
        return [_encode_row(model, keys, enums, row) for row in answer]
    except _Unencodable:
        return None


def _encode_row(
    model: type[Any],
    keys: tuple[str, ...],
    enums: tuple[type[enum.Enum] | None, ...],
    row: Any,
) -> list[Any]:
    if type(row) is not model:
        raise _Unencodable
    loaded = inspect(row).dict
    try:
        return [
            _encode_value(loaded[key], enum_class)
            for key, enum_class in zip(keys, enums, strict=True)
        ]
    except KeyError:  # a deferred column that was not loaded
        raise _Unencodable from None


def _encode_value(value: Any, enum_class: type[enum.Enum] | None = None) -> Any:
    kind = type(value)
    if kind in (str, int, float, bool) or value is None:
        return value
    if kind is dt.datetime:
        return ["dt", value.isoformat()]
    if kind is dt.date:
        return ["d", value.isoformat()]
    if kind is dt.time:
        return ["t", value.isoformat()]
    if kind is dt.timedelta:
        return ["td", [value.days, value.seconds, value.microseconds]]
    if kind is Decimal:
        return ["dec", str(value)]
    if kind is uuid.UUID:
        return ["uuid", value.hex]
    if kind is bytes:
        return ["b", base64.b64encode(value).decode()]
    if isinstance(value, enum.Enum) and isinstance(value, enum_class or ()):
        return ["enum", value.name]  # decoded through the column's enum class
    if kind in (dict, list) and _json_value(value):
        return ["json", _copy_json(value)]  # the row's own dict may change later
    raise _Unencodable


def _json_value(value: Any) -> bool:
    if isinstance(value, dict):
        return all(type(k) is str and _json_value(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_value(item) for item in value)
    return type(value) in (str, int, float, bool) or value is None


def _decode(model: type[Any], kind: str, stored: Any) -> Any:
    if kind != "rows":
        return stored
    keys, enums = _fields(model, "")
    try:
        return [_decode_row(model, keys, enums, values) for values in stored]
    except Exception:
        return _UNREADABLE


def _decode_row(
    model: type[Any],
    keys: tuple[str, ...],
    enums: tuple[type[enum.Enum] | None, ...],
    values: list[Any],
) -> Any:
    """A detached instance holding ``values`` (as if read by a closed session)."""
    if len(values) != len(keys):
        raise ValueError("entry does not match the model")
    row = inspect(model).class_manager.new_instance()
    # loaded values, committed by make_transient_to_detached (as _bulk does)
    row.__dict__.update(
        (key, _decode_value(value, enum_class))
        for key, enum_class, value in zip(keys, enums, values, strict=True)
    )
    make_transient_to_detached(row)
    return row


def _decode_value(value: Any, enum_class: type[enum.Enum] | None) -> Any:
    if not isinstance(value, list):
        return value
    tag, data = value
    if tag == "dt":
        return dt.datetime.fromisoformat(data)
    if tag == "d":
        return dt.date.fromisoformat(data)
    if tag == "t":
        return dt.time.fromisoformat(data)
    if tag == "td":
        return dt.timedelta(days=data[0], seconds=data[1], microseconds=data[2])
    if tag == "dec":
        return Decimal(data)
    if tag == "uuid":
        return uuid.UUID(data)
    if tag == "b":
        return base64.b64decode(data)
    if tag == "enum" and enum_class is not None:
        return enum_class[data]
    if tag == "json":
        return _copy_json(data)
    raise ValueError(f"unknown cache tag {tag!r}")


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


# ------------------------------------------------------------- invalidation


def tables_of(model: type[Any]) -> tuple[str, ...]:
    """The tables a write to ``model`` changes: its own (all of them, for
    joined inheritance), then its many-to-many association tables.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Perch(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> tables_of(Perch)
        ('perch',)
    """
    return _tables(model, "")


@memoized
def _tables(model: type[Any], _: str) -> tuple[str, ...]:
    mapper = inspect(model)
    own = [table for table in mapper.tables if isinstance(table, Table)]
    links = {
        rel.secondary
        for rel in mapper.relationships
        if isinstance(rel.secondary, Table) and rel.secondary not in own
    }
    cascaded = _cascaded_from([*own, *links])
    names = [table.fullname for table in own]
    extra = {table.fullname for table in (*links, *cascaded)} - set(names)
    return tuple(names) + tuple(sorted(extra))


def _cascaded_from(tables: list[Table]) -> set[Table]:
    """Tables the database itself changes when ``tables`` change: those
    whose foreign keys reference them with ON DELETE / ON UPDATE actions,
    and so on down."""
    found: set[Table] = set()
    pending = list(tables)
    while pending:
        table = pending.pop()
        for other in table.metadata.tables.values():
            if other in found or other in tables:
                continue
            if any(
                key.column.table is table and (key.ondelete or key.onupdate)
                for key in other.foreign_keys
            ):
                found.add(other)
                pending.append(other)
    return found


def invalidate_tables(backend: CacheBackend, tables: Iterable[str]) -> None:
    """Replace each table's generation token, then drop its entries; a
    table the backend fails on is retried before the next cached read."""
    for table in tables:
        try:
            backend.new_generation(table)
            backend.invalidate(table)
            backend.stats.invalidations += 1
        except Exception as exc:
            with _pending_lock:
                _pending.add(table)
            warn_failure(backend, exc, stacklevel=4)


def _retry_pending(backend: CacheBackend) -> bool:
    """Whether no invalidation is outstanding (retrying those that are)."""
    if not _pending:
        return True
    with _pending_lock:
        tables = list(_pending)
        _pending.clear()
    invalidate_tables(backend, tables)
    return not _pending


def forget_pending() -> None:
    """Drop outstanding invalidations (a new backend starts empty)."""
    with _pending_lock:
        _pending.clear()


def models_written(session: Any) -> set[type[Any]]:
    """The models ``session`` wrote in its open transaction (ORM flushes)."""
    info = getattr(session, "info", None)
    if not isinstance(info, dict):
        return set()
    return set(info.get(_MODELS, ()))


def _touch(session: Session, tables: Iterable[str], model: type[Any] | None = None) -> None:
    info = session.info
    touched = info.get(TOUCHED)
    if touched is None:
        touched = info[TOUCHED] = set()
    touched.update(tables)
    if model is not None:
        info.setdefault(_MODELS, set()).add(model)


def _touch_flushed(session: Session, flush_context: Any) -> None:
    for group in (session.new, session.dirty, session.deleted):
        for obj in group:
            model = type(obj)
            _touch(session, tables_of(model), model)


def _touch_executed(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    statement: Any = state.statement
    table = getattr(statement, "table", None)
    tables = {table.fullname} if isinstance(table, Table) else set()
    entity = (getattr(statement, "entity_description", None) or {}).get("type")
    if isinstance(entity, type) and hasattr(entity, "__mapper__"):
        tables.update(tables_of(entity))
    if tables:
        _touch(state.session, tables)


def _invalidate_committed(session: Session) -> None:
    session.info.pop(_MODELS, None)
    touched = session.info.pop(TOUCHED, None)
    if not touched:
        return
    outer = session.bind
    if isinstance(outer, Connection) and outer.in_transaction():
        # the session joined a transaction its caller owns: nothing is
        # committed until that connection commits
        outer.info.setdefault(TOUCHED, set()).update(touched)
        for name, listener in (
            ("commit", _invalidate_on_commit),
            ("rollback", _forget_on_rollback),
        ):
            if not event.contains(outer, name, listener):
                event.listen(outer, name, listener)
        return
    backend = cache.get_cache()
    if backend is not None:
        invalidate_tables(backend, touched)


def _invalidate_on_commit(connection: Connection) -> None:
    touched = connection.info.pop(TOUCHED, None)
    backend = cache.get_cache()
    if touched and backend is not None:
        invalidate_tables(backend, touched)


def _forget_on_rollback(connection: Connection) -> None:
    connection.info.pop(TOUCHED, None)


def _forget_uncommitted(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(TOUCHED, None)
        session.info.pop(_MODELS, None)


def install_listeners() -> None:
    """Record and invalidate written tables on every ``Session`` (installed
    when a backend is first configured; a process that never caches pays
    nothing)."""
    for name, listener in (
        ("after_flush", _touch_flushed),
        ("do_orm_execute", _touch_executed),
        ("after_commit", _invalidate_committed),
        ("after_transaction_end", _forget_uncommitted),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
