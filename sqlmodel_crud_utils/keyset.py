"""Keyset ("cursor") pagination and its cursor codec.

Pages after the first are found by comparing the query's sort keys with
the last row seen, never with OFFSET, so a page costs the same however deep
it is. A cursor is an opaque URL-safe string holding the sort-key values of
the last row of a page and a checksum over those values and the query's
ordering. A cursor that was edited, truncated, or made for another ordering
fails the checksum and raises `QueryError`. The checksum is not a secret
signature: a cursor carries nothing but sort-key values (each coerced and
checked like a lookup value), and the query's own filters always apply, so
a hand-made cursor cannot reach rows the query could not return anyway.

    >>> token = encode_cursor("Hero:-age,id", [30, 7])
    >>> decode_cursor("Hero:-age,id", token)
    [30, 7]
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import enum
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import BigInteger, BindParameter, ColumnElement, and_, or_, tuple_
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import InstrumentedAttribute, Session

from ._compile import counted, select_of
from ._criteria import Binder
from ._templates import runnable
from .coercion import MAX_ROWS, positive_int
from .exceptions import QueryError
from .lookups import mapper_of, parse_lookup, primary_key_names
from .pagination import CursorPage

if TYPE_CHECKING:
    from .query import Q

__all__ = ["MAX_CURSOR_LENGTH", "decode_cursor", "encode_cursor", "keyset_page"]

M = TypeVar("M")

#: Longest cursor accepted (and issued): about 6 KB of sort-key values.
MAX_CURSOR_LENGTH = 8192

#: What a decoded cursor may hold: JSON scalars (``None`` is never issued).
_SCALARS = (bool, int, float, str)

_Keys = Sequence[tuple[InstrumentedAttribute[Any], bool]]


def keyset_page(
    q: Q[M],
    session: Session,
    size: Any,
    after: str | None,
    before: str | None = None,
    with_total: bool = False,
) -> CursorPage[M]:
    """One page of ``q`` after cursor ``after`` or before cursor ``before``
    (see `Q.keyset`). Its statement is a template per query shape and
    direction (see `sqlmodel_crud_utils._templates`): the cursor's values
    and the page size are parameters."""
    size = positive_int(size, "size", q.model, minimum=1, maximum=MAX_ROWS - 1)
    if after is not None and before is not None:
        raise QueryError("keyset() takes after= or before=, not both", model=q.model, key="cursor")
    keys = _keyset_order(q)
    _check_comparable(q, session, keys)
    backward = before is not None
    cursor = before if backward else after
    walked = tuple((column, descending != backward) for column, descending in keys)
    loaded = q._with(_limit=None, _offset=None)
    if q._only:  # the cursors need the sort keys of the first and last rows
        loaded = loaded._with(_only=q._only + tuple(column for column, _ in keys))
    signature = _signature(q, keys)

    def shape(query: Q[Any], bind: Binder) -> Any:
        stmt = select_of(query, ordering=False, paging=False, bind=bind)
        if cursor is not None:
            stmt = stmt.where(
                _beyond(walked, [_bound(i, column) for i, (column, _) in enumerate(keys)])
            )
        stmt = stmt.order_by(*(column.desc() if desc else column for column, desc in walked))
        return stmt.limit(_PAGE_LIMIT)

    stmt, params = runnable(loaded, shape, ("keyset", signature, backward, cursor is not None))
    params = dict(params or {})
    if cursor is not None:
        params.update(_cursor_params(q, keys, signature, cursor))
    params[_PAGE_LIMIT.key] = size + 1
    rows = list(q._execute(session, stmt, params))
    more = len(rows) > size
    items = rows[:size]
    if backward:
        items.reverse()
    # forward: more rows after; backward: more rows before. The side we came
    # from has rows (the cursor's row, at least, when it was made).
    has_next = True if backward else more
    has_prev = more if backward else cursor is not None
    next_cursor = _cursor_of(q, keys, signature, items[-1]) if items and has_next else None
    prev_cursor = _cursor_of(q, keys, signature, items[0]) if items and has_prev else None
    total = int(session.execute(counted(q, paging=False)).scalar_one()) if with_total else None
    return CursorPage[M].model_construct(
        items=items,
        next_cursor=next_cursor,
        has_next=has_next and next_cursor is not None,
        prev_cursor=prev_cursor,
        has_prev=has_prev and prev_cursor is not None,
        total=total,
    )


#: The LIMIT of a keyset page (the page size plus one), a parameter.
_PAGE_LIMIT = BindParameter("q_keyset_limit", type_=BigInteger())  # sizes up to 2**63 - 2


def _bound(index: int, column: InstrumentedAttribute[Any]) -> BindParameter[Any]:
    """The placeholder of the cursor's ``index``-th value, typed as ``column``."""
    return BindParameter(f"q_cursor_{index}", type_=column.type)


def _cursor_params(q: Q[Any], keys: _Keys, signature: str, cursor: str) -> dict[str, Any]:
    """The values of ``cursor`` (made for ``keys``), coerced to the columns'
    types, by placeholder name; `QueryError` for a bad cursor."""
    raw = decode_cursor(signature, cursor, model=q.model)
    if len(raw) != len(keys):
        raise QueryError("invalid or stale cursor", model=q.model, key="cursor", value=cursor)
    return {
        f"q_cursor_{index}": parse_lookup(q.model, column.key).coerce(value)
        for index, ((column, _), value) in enumerate(zip(keys, raw, strict=True))
    }


def _cursor_of(q: Q[Any], keys: _Keys, signature: str, row: Any) -> str:
    values = [getattr(row, column.key) for column, _ in keys]
    if any(value is None for value in values):
        raise QueryError(
            "keyset() cannot page past a row whose sort key is NULL",
            model=q.model,
            key="order_by",
        )
    return encode_cursor(signature, values, model=q.model)


def _keyset_order(q: Q[Any]) -> list[tuple[InstrumentedAttribute[Any], bool]]:
    keys: list[tuple[InstrumentedAttribute[Any], bool]] = []
    for order in q._order:
        if order.column is None:
            raise QueryError(
                f"keyset() needs plain column sort keys, got {order.expression}",
                model=q.model,
                key="order_by",
            )
        keys.append((order.column, order.descending))
    directions = {descending for _, descending in keys}
    tie = directions.pop() if len(directions) == 1 else False
    present = {column.key for column, _ in keys}
    for name in primary_key_names(q.model):
        if name not in present:
            keys.append((getattr(q.model, name), tie))
    return keys


def _check_comparable(q: Q[Any], session: Session, keys: _Keys) -> None:
    """MySQL/MariaDB sort a native ENUM column by its position in the
    type but compare it as text, so a cursor on it would skip rows."""
    dialect = session.get_bind(mapper=mapper_of(q.model)).dialect.name
    if dialect not in ("mysql", "mariadb"):
        return
    for column, _ in keys:
        column_type = column.property.columns[0].type
        if isinstance(column_type, SAEnum) and column_type.native_enum:
            raise QueryError(
                f"keyset() cannot page by ENUM column {column.key!r} on MySQL/MariaDB "
                "(sorted by position, compared as text); sort by another column",
                model=q.model,
                key="order_by",
            )


def _signature(q: Q[Any], keys: _Keys) -> str:
    return f"{q.model.__name__}:" + ",".join(
        ("-" if descending else "") + column.key for column, descending in keys
    )


def _beyond(walked: _Keys, bounds: Sequence[Any]) -> ColumnElement[bool]:
    """The rows past the cursor row ``bounds`` in the direction ``walked``
    (the query's keys, or all of them reversed to page backward)."""
    directions = {descending for _, descending in walked}
    if len(directions) == 1:
        columns = tuple_(*(column for column, _ in walked))
        return columns < tuple_(*bounds) if directions.pop() else columns > tuple_(*bounds)
    alternatives = []
    for index, (column, descending) in enumerate(walked):
        equal = [walked[j][0] == bounds[j] for j in range(index)]
        step = column < bounds[index] if descending else column > bounds[index]
        alternatives.append(and_(*equal, step))
    return or_(*alternatives)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):  # before int/str: IntEnum and StrEnum are both
        return value.name  # what SQLAlchemy's Enum stores; decoded back by name
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    raise QueryError(f"cannot put a {type(value).__name__} value in a keyset cursor")


def _checksum(signature: str, payload: str) -> str:
    digest = hashlib.sha256(f"{signature}\x00{payload}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()


def encode_cursor(signature: str, values: Sequence[Any], *, model: Any = None) -> str:
    """Encode sort-key ``values`` for the ordering named by ``signature``.

    Example:
        >>> isinstance(encode_cursor("Hero:id", [1]), str)
        True
    """
    payload = json.dumps([_plain(value) for value in values], separators=(",", ":"))
    document = json.dumps([_checksum(signature, payload), payload], separators=(",", ":"))
    token = base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")
    if len(token) > MAX_CURSOR_LENGTH:
        raise QueryError(
            f"keyset sort values are too long for a cursor ({len(token)} characters, at most "
            f"{MAX_CURSOR_LENGTH}); sort on shorter columns",
            model=model,
            key="cursor",
        )
    return token


def decode_cursor(signature: str, token: Any, *, model: Any = None) -> list[Any]:
    """Decode a cursor made by `encode_cursor` for the same ``signature``.

    Values come back JSON-plain (dates as ISO strings; never ``null``, a
    list or an object); the caller coerces them to the column types. Raises
    `QueryError` for anything else, however deeply nested.

    Example:
        >>> decode_cursor("Hero:id", "bm9wZQ")
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils.exceptions.QueryError: invalid or stale cursor 'bm9wZQ'
    """
    error = QueryError(f"invalid or stale cursor {token!r}", model=model, key="cursor", value=token)
    if not isinstance(token, str) or not token or len(token) > MAX_CURSOR_LENGTH:
        raise error
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        checksum, payload = json.loads(raw)
        values = json.loads(payload)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
        raise error from exc
    if (
        not isinstance(payload, str)
        or checksum != _checksum(signature, payload)
        or not isinstance(values, list)
        or not all(isinstance(value, _SCALARS) for value in values)
    ):
        raise error
    return values
