"""How change history is recorded on each write path (the public side is
`sqlmodel_crud_utils.tracking`).

* **ORM flushes** (``session.add`` + commit, the legacy row functions, soft
  delete and restore): ``before_flush`` reads what the flush would lose
  (an expired row's values before its DELETE, the old value of a field set
  on an expired row); ``after_flush`` reads inserted rows' values, updated
  rows' old values (``committed_state``) and deleted rows' last values,
  and writes the records.
* **Set-based UPDATE / DELETE** (`run_tracked`, under `Q.update` /
  `Q.delete`): a keyed pre-select ``FOR UPDATE`` reads the matched rows'
  old values; the statement then runs restricted to those keys, taking the
  new values (or the deleted keys) with ``RETURNING`` where the dialect has
  it, by a re-select on the keys where not (MariaDB's UPDATE).
* **Upserts** (`capture` before, `record_upserted` after) and the **batched
  INSERT** of ``insert_data_rows`` (`record_inserted`).

Records of one statement or flush go to the history table in one
executemany, through the model's bind, inside the same transaction.

    >>> jsonable({"when": __import__("datetime").date(2024, 5, 1)})
    {'when': '2024-05-01'}
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, event, insert, inspect, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.sql.elements import ClauseElement

from ._memo import memoized
from .audit import current_user, utc_now
from .tracking import change_history_table, is_tracked_model, row_key, tracked_fields

__all__ = [
    "capture",
    "install_tracking",
    "record_inserted",
    "record_upserted",
    "run_tracked",
]

#: Keys per statement of a tracked set-based write (far below every
#: backend's bound-parameter limit).
KEYS_PER_STATEMENT = 10_000
_ACTOR_LENGTH = 100

Change = tuple[tuple[Any, ...], str, dict[str, list[Any]]]


# ------------------------------------------------------------------ records


def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it (dates as ISO text, decimals and UUIDs
    as text, bytes as base64, enums by value)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    return str(value)


def actor(session: Session) -> str | None:
    """Who made the change: the `acting_as` user, else
    ``session.info["changed_by"]`` (as text, at most 100 characters)."""
    who = current_user()
    if who is None:
        who = session.info.get("changed_by")
    return None if who is None else str(who)[:_ACTOR_LENGTH]


def write_records(session: Session, model: type[Any], changes: Sequence[Change]) -> None:
    """Insert one history record per change, in one executemany."""
    if not changes:
        return
    mapper = inspect(model)
    table = mapper.local_table
    # what every record of the batch shares is bound once, not per row
    stmt = insert(change_history_table).values(
        table_name=getattr(table, "name", str(table)),
        table_schema=getattr(table, "schema", None),
        changed_by=actor(session),
        changed_at=utc_now(),
    )
    params = [
        {
            "row_pk": row_key(key),
            "operation": operation,
            "changes": {name: [jsonable(old), jsonable(new)] for name, (old, new) in diff.items()},
        }
        for key, operation, diff in changes
    ]
    session.connection(bind_arguments={"mapper": mapper}).execute(stmt, params)


def _diff(fields: Sequence[str], old: Sequence[Any], new: Sequence[Any]) -> dict[str, list[Any]]:
    if old == new:
        return {}
    return {
        fields[index]: [before, new[index]]
        for index, before in enumerate(old)
        if before != new[index]
    }


def _created(fields: Sequence[str], new: Sequence[Any]) -> dict[str, list[Any]]:
    return _diff(fields, [None] * len(fields), new)


def _removed(fields: Sequence[str], old: Sequence[Any]) -> dict[str, list[Any]]:
    return _diff(fields, old, [None] * len(fields))


# --------------------------------------------------------------- ORM flushes


@memoized
def _primary_key_fields(model: type[Any], _: str) -> tuple[str, ...]:
    mapper = inspect(model)
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)


def _insert_change(model: type[Any], values: dict[str, Any]) -> Change:
    """The record of a row inserted with ``values`` (by field name)."""
    fields = tracked_fields(model)
    key = tuple(values.get(name) for name in _primary_key_fields(model, ""))
    return key, "insert", _created(fields, [values.get(field) for field in fields])


_OLD_VALUES = "sqlmodel_crud_utils.history.old"


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    """Read what the records will need and the flush would lose: the last
    values of expired rows about to be deleted, the old values of fields
    set on an expired row (one SELECT of those fields per row, only then;
    done here rather than by active history so that setting a field of an
    expired row never loads, which async code relies on), and the old
    values of fields set to a SQL expression (``qty = Item.qty + 1``),
    whose new values only the database knows."""
    for obj in session.deleted:
        if not is_tracked_model(obj):
            continue
        state: Any = inspect(obj)
        if state.key is not None and state.unloaded.intersection(tracked_fields(type(obj))):
            session.refresh(obj, attribute_names=list(tracked_fields(type(obj))))
    for obj in session.dirty:
        if not is_tracked_model(obj):
            continue
        state = inspect(obj)
        if state.key is None:
            continue
        fields = tracked_fields(state.class_)
        olds = {f: old for f, old in state.committed_state.items() if f in fields}
        unknown = [f for f, old in olds.items() if old is NO_VALUE]
        if unknown:
            olds.update(zip(unknown, _current(session, state, unknown), strict=True))
        computed = [f for f in olds if _is_expression(state.dict.get(f))]
        if unknown or computed:
            flush_context.attributes.setdefault(_OLD_VALUES, {})[state] = (olds, computed)


def _is_expression(value: Any) -> bool:
    return isinstance(value, ClauseElement) or hasattr(value, "__clause_element__")


def _current(session: Session, state: Any, fields: Sequence[str]) -> Sequence[Any]:
    """The stored values of ``fields`` of ``state``'s row (``None`` each
    when the row is gone)."""
    keys, _ = _columns(state.class_)
    stmt = select(*(getattr(state.class_, f) for f in fields)).where(
        *(column == value for column, value in zip(keys, state.key[1], strict=True))
    )
    row = session.connection(bind_arguments={"mapper": state.mapper}).execute(stmt).first()
    return [None] * len(fields) if row is None else tuple(row)


def _record_flush(session: Session, flush_context: Any) -> None:
    by_model: dict[type[Any], list[Change]] = {}
    read_before = flush_context.attributes.get(_OLD_VALUES, {})
    for obj in session.new:
        if is_tracked_model(obj):
            model = type(obj)
            by_model.setdefault(model, []).append(_insert_change(model, inspect(obj).dict))
    for obj in session.dirty:
        if is_tracked_model(obj):
            state: Any = inspect(obj)
            if state.key is None:
                continue
            model = type(obj)
            fields = tracked_fields(model)
            olds, computed = read_before.get(state, (None, ()))
            if olds is None:
                olds = {f: old for f, old in state.committed_state.items() if f in fields}
            news = {f: state.dict.get(f) for f in olds}
            if computed:
                news.update(zip(computed, _current(session, state, computed), strict=True))
            diff = {f: [old, news[f]] for f, old in olds.items() if old != news[f]}
            if diff:
                by_model.setdefault(model, []).append((state.key[1], "update", diff))
    for obj in session.deleted:
        if is_tracked_model(obj):
            state = inspect(obj)
            model = type(obj)
            fields = tracked_fields(model)
            diff = _removed(fields, [state.dict.get(field) for field in fields])
            by_model.setdefault(model, []).append((state.key[1], "delete", diff))
    for model, changes in by_model.items():
        write_records(session, model, changes)


def install_tracking() -> None:
    """Install the flush listeners on every ``Session`` (once)."""
    for name, listener in (("before_flush", _before_flush), ("after_flush", _record_flush)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


#: The flush listeners of this module (a batched insert records itself).
FLUSH_LISTENERS = (_before_flush, _record_flush)


# ------------------------------------------------------------ set-based writes


def _columns(model: type[Any]) -> tuple[list[Any], list[Any]]:
    """The primary-key attributes and the tracked attributes of ``model``."""
    keys = [getattr(model, name) for name in _primary_key_fields(model, "")]
    return keys, [getattr(model, field) for field in tracked_fields(model)]


def _among(keys: list[Any], chunk: Sequence[tuple[Any, ...]]) -> ColumnElement[bool]:
    if len(keys) == 1:
        first: ColumnElement[Any] = keys[0]
        return first.in_([key[0] for key in chunk])
    return tuple_(*keys).in_(chunk)


def run_tracked(
    session: Session,
    model: type[Any],
    stmt: Any,
    where: Sequence[ColumnElement[bool]],
    options: Sequence[Any],
    operation: str,
) -> int:
    """Run the ORM ``update()`` / ``delete()`` ``stmt`` (matching ``where``
    under ``options``) and record what it changed; the rows it matched."""
    keys, fields = _columns(model)
    width = len(keys)
    names = tracked_fields(model)
    old = _locked(session, model, where, options)
    if not old:
        return 0
    dialect = session.connection(bind_arguments={"mapper": inspect(model)}).dialect
    matched = 0
    changes: list[Change] = []
    ordered = list(old)
    for start in range(0, len(ordered), KEYS_PER_STATEMENT):
        chunk = ordered[start : start + KEYS_PER_STATEMENT]
        restricted = stmt.where(_among(keys, chunk))
        if operation == "delete":
            if dialect.delete_returning:
                gone = [tuple(row) for row in session.execute(restricted.returning(*keys))]
            else:
                result: Any = session.execute(restricted)
                gone = chunk if result.rowcount == len(chunk) else _missing(session, keys, chunk)
            matched += len(gone)
            changes += [(key, "delete", _removed(names, old[key])) for key in gone]
            continue
        if dialect.update_returning:
            rows = list(session.execute(restricted.returning(*keys, *fields)))
        else:
            session.execute(restricted)
            rows = list(session.execute(select(*keys, *fields).where(_among(keys, chunk))))
        matched += len(rows)
        for row in rows:
            key = tuple(row[:width])
            diff = _diff(names, old[key], row[width:])
            if diff:
                changes.append((key, "update", diff))
    write_records(session, model, changes)
    return matched


def _missing(session: Session, keys: list[Any], chunk: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Of ``chunk``'s keys, those no longer in the table."""
    left = {tuple(row) for row in session.execute(select(*keys).where(_among(keys, chunk)))}
    return [key for key in chunk if key not in left]


def _locked(
    session: Session,
    model: type[Any],
    where: Sequence[ColumnElement[bool]],
    options: Sequence[Any] = (),
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The tracked values, by primary key, of ``model``'s rows matching
    ``where``, locked (``FOR UPDATE``) for the write that follows."""
    keys, fields = _columns(model)
    width = len(keys)
    pre = select(*keys, *fields).where(*where).options(*options).with_for_update()
    return {tuple(row[:width]): tuple(row[width:]) for row in session.execute(pre)}


def capture(
    session: Session, model: type[Any], key_columns: Sequence[Any], keys: Sequence[tuple[Any, ...]]
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The tracked values (by primary key) of the rows whose ``key_columns``
    are among ``keys``, locked for the upsert that follows."""
    return _locked(session, model, [_among(list(key_columns), keys)])


def record_upserted(
    session: Session,
    model: type[Any],
    old: dict[tuple[Any, ...], tuple[Any, ...]],
    rows: Sequence[Any],
) -> None:
    """Record the upserted ``rows`` (loaded instances): an insert for a key
    `capture` did not see, an update of the changed fields otherwise."""
    names = tracked_fields(model)
    pk = _primary_key_fields(model, "")
    changes: list[Change] = []
    for row in rows:
        values = inspect(row).dict
        key = tuple(values.get(name) for name in pk)
        before = old.get(key)
        if before is None:
            changes.append(_insert_change(model, values))
            continue
        diff = _diff(names, before, tuple(values.get(name) for name in names))
        if diff:
            changes.append((key, "update", diff))
    write_records(session, model, changes)


def record_inserted(session: Session, inserted: Sequence[tuple[Any, dict[str, Any]]]) -> None:
    """Record rows the batched INSERT wrote (each with its database values)."""
    by_model: dict[type[Any], list[Change]] = {}
    for row, values in inserted:
        model = type(row)
        if is_tracked_model(model):
            by_model.setdefault(model, []).append(_insert_change(model, values))
    for model, changes in by_model.items():
        write_records(session, model, changes)
