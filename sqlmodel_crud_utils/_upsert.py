"""`bulk_upsert_mappings`: dialect-correct upserts, one statement per chunk.

``INSERT .. ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL, ``INSERT ..
ON DUPLICATE KEY UPDATE`` on MySQL/MariaDB, written once against a sync
`Session`; set-based, so no hooks fire. `AuditMixin` columns are stamped
in the statement itself.

    >>> sorted(_UPSERT_INSERTS)
    ['mariadb', 'mysql', 'postgresql', 'sqlite']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import tuple_
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session

from ._bulk import ROWS_PER_STATEMENT
from ._history import capture, record_upserted
from ._rows import write_scope
from .audit import audit_update_values, current_user, is_audit_model, utc_now
from .exceptions import QueryError
from .lookups import mapper_of, parse_field
from .query import Q
from .tenancy import refuse_other_tenants_keys, stamp_tenant_rows
from .tracking import is_tracked_model
from .versioning import is_versioned_model

__all__ = ["bulk_upsert_mappings"]

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
    update_columns: Sequence[str] | None = None,
) -> list[Any]:
    """Insert or update ``payload`` (dicts of field values) keyed on
    ``pk_fields`` and return the upserted rows.

    ``update_columns`` restricts what a conflict updates to those fields
    (field names, as for ``pk_fields``); ``None``: every field a mapping
    carries, the key fields too on SQLite and PostgreSQL (rewritten with
    their own values, as in upstream 0.4; not on MySQL/MariaDB, where a
    conflict on another unique key would move the row). It is checked
    before any statement (`QueryError`): a non-empty list of field names
    of the model, none of them a key field, each set by at least one
    mapping; repeated names count once.

    One parameterised ``INSERT .. ON CONFLICT DO UPDATE`` (SQLite,
    PostgreSQL) or ``INSERT .. ON DUPLICATE KEY UPDATE`` (MySQL/MariaDB) is
    executed per chunk with the chunk's mappings as parameters (executemany);
    chunks stay below the backend's bound-parameter limit. Only the fields a
    mapping carries are updated on conflict. When the payload repeats a key,
    the last mapping wins. Rows come back through RETURNING where the backend
    has it, otherwise by a re-select on the keys. No hooks fire. For a
    `TrackChangesMixin` model the chunk's existing rows are read (and
    locked) first, and an insert or update record is written per row.

    Example: ``heroes = bulk_upsert_mappings(session, Hero, [{"id": 1, "name": "A"}])``.
    """
    key_fields = list(pk_fields or ["id"])
    key_columns = [parse_field(model, name) for name in key_fields]
    payload = stamp_tenant_rows(model, list(payload))
    only = None if update_columns is None else _update_columns(model, update_columns, key_fields)
    if only is not None:
        unset = [name for name in only if not any(name in mapping for mapping in payload)]
        if unset:
            raise QueryError(
                f"update_columns names {', '.join(map(repr, unset))}, which no mapping sets",
                model=model,
                key="update_columns",
                value=unset,
            )
    if not payload:
        return []
    dialect = session.connection().dialect  # connected: server capabilities known
    make_insert = _UPSERT_INSERTS.get(dialect.name)
    if make_insert is None:
        raise QueryError(
            f"bulk_upsert_mappings does not support the {dialect.name!r} dialect",
            model=model,
            key="dialect",
        )
    refuse_other_tenants_keys(session, model, key_fields, payload)
    groups = _group_by_fields(model, payload, key_fields)
    limit = int(getattr(dialect, "insertmanyvalues_max_parameters", 32000) or 32000)
    returning = bool(dialect.insert_returning)
    tracked = is_tracked_model(model)
    rows: list[Any] = []
    with write_scope(session, bulk=True):
        for fields, mappings in groups.items():
            stmt = _upsert_statement(make_insert, model, fields, key_fields, key_columns, only)
            size = max(1, min(ROWS_PER_STATEMENT, limit // max(1, len(fields))))
            for start in range(0, len(mappings), size):
                chunk = mappings[start : start + size]
                old = None
                if tracked:
                    keys = [tuple(mapping[name] for name in key_fields) for mapping in chunk]
                    old = capture(session, model, key_columns, keys)
                done = len(rows)
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
                if old is not None:
                    record_upserted(session, model, old, rows[done:])
    return rows


def _update_columns(
    model: type[Any], update_columns: Any, key_fields: list[str]
) -> tuple[str, ...]:
    """``update_columns`` checked (see `bulk_upsert_mappings`), each once."""
    if isinstance(update_columns, str | bytes) or not isinstance(update_columns, Iterable):
        raise QueryError(
            f"update_columns must be a list of field names, got {update_columns!r}",
            model=model,
            key="update_columns",
            value=update_columns,
        )
    names = list(update_columns)
    if not names or not all(isinstance(name, str) for name in names):
        raise QueryError(
            f"update_columns must be a non-empty list of field names, got {names!r}",
            model=model,
            key="update_columns",
            value=names,
        )
    unknown = [name for name in names if name not in mapper_of(model).column_attrs]
    if unknown:
        raise QueryError(
            f"update_columns names unknown fields of {model.__name__}: "
            f"{', '.join(map(repr, unknown))}",
            model=model,
            key="update_columns",
            value=unknown,
        )
    keys = [name for name in names if name in key_fields]
    if keys:
        raise QueryError(
            f"Conflict-target (key) fields cannot be in update_columns: "
            f"{', '.join(map(repr, keys))}",
            model=model,
            key="update_columns",
            value=keys,
        )
    return tuple(dict.fromkeys(names))


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
    only: tuple[str, ...] | None = None,
) -> Any:
    """The upsert for one field set, updating ``only`` those fields on a
    conflict (``None``: every field the mappings carry, keys included but on
    MySQL/MariaDB, as upstream 0.4 does). For `AuditMixin` models the audit
    columns the mappings leave out are stamped in the statement itself (no
    per-row work): inserted rows get ``created_at`` = now and the
    `acting_as` user as ``created_by`` (``updated_at`` stays ``None``, as
    for any new row); updated rows
    get ``updated_at`` = now and ``updated_by`` (when there is a user), as
    `Q.update` does. A mapping's own value wins in both branches."""
    stmt = make_insert(model)
    if is_audit_model(model):
        stmt = stmt.values(**_audit_insert_values(fields))
    mysql_style = hasattr(stmt, "on_duplicate_key_update")
    if only is not None:
        updated = [name for name in only if name in fields]
    elif mysql_style:
        # ON DUPLICATE KEY fires on any unique key, not only the key fields:
        # rewriting them could move the row to another key
        updated = [name for name in fields if name not in key_fields]
    else:  # the conflict is on the key fields: rewriting them changes nothing
        updated = list(fields)
    column_of = {
        name: mapper_of(model).column_attrs[name].columns[0].key for name in (*fields, *key_fields)
    }
    incoming = stmt.inserted if mysql_style else stmt.excluded
    # a key field rewritten with its own value when nothing else is to be
    # updated: a no-op rather than DO NOTHING, so RETURNING reports the row
    names = updated or key_fields[:1]
    changes = {column_of[name]: incoming[column_of[name]] for name in names}
    if updated:
        changes = audit_update_values(model, changes)
        if is_versioned_model(model):  # an update of the row: bump its version
            changes["version"] = model.__table__.c.version + 1
    if mysql_style:
        return stmt.on_duplicate_key_update(changes)
    return stmt.on_conflict_do_update(index_elements=key_columns, set_=changes)


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
