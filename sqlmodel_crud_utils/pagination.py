"""Page models and keyset cursors.

`Page` and `CursorPage` are generic pydantic models, so they serve directly
as FastAPI ``response_model`` (``Page[HeroRead]``).

A keyset cursor is an opaque URL-safe string holding the sort-key values of
the last row of a page and a checksum over those values and the query's
ordering. A cursor that was edited, truncated, or made for another ordering
fails the checksum and raises `QueryError`. The checksum is not a secret
signature: a cursor carries nothing but sort-key values, and the query's own
filters always apply, so a hand-made cursor cannot reach rows the query
could not return anyway.

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
import math
import uuid
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from .exceptions import QueryError

__all__ = ["CursorPage", "Page", "decode_cursor", "encode_cursor"]

T = TypeVar("T")

#: Longest cursor accepted (and issued): about 6 KB of sort-key values.
MAX_CURSOR_LENGTH = 8192


class Page(BaseModel, Generic[T]):
    """One page of an offset-paginated query (`Q.paginate`).

    Attributes:
        items: the rows of this page.
        total: rows matching the query on all pages.
        page: this page's number, starting at 1.
        size: the page size asked for.
        pages: how many pages there are (0 when nothing matches).
        has_next: whether a later page exists.
        has_prev: whether an earlier page exists.

    Example:
        >>> page = Page[int].build([1, 2], total=5, page=1, size=2)
        >>> page.pages, page.has_next, page.has_prev
        (3, True, False)
    """

    items: list[T]
    total: int
    page: int
    size: int
    pages: int
    has_next: bool
    has_prev: bool

    @classmethod
    def build(cls, items: list[T], *, total: int, page: int, size: int) -> Page[T]:
        """Make a page, deriving ``pages``, ``has_next`` and ``has_prev``.

        Example:
            >>> Page[str].build(["a"], total=1, page=1, size=10).pages
            1
        """
        pages = math.ceil(total / size) if size else 0
        return cls.model_construct(
            items=items,
            total=total,
            page=page,
            size=size,
            pages=pages,
            has_next=page < pages,
            has_prev=page > 1,
        )


class CursorPage(BaseModel, Generic[T]):
    """One page of a keyset-paginated query (`Q.keyset`).

    Pass ``next_cursor`` as ``after=`` to get the following page.

    Attributes:
        items: the rows of this page.
        next_cursor: the cursor of the next page, ``None`` on the last page.
        has_next: whether a later page exists.

    Example:
        >>> CursorPage[int](items=[1], next_cursor=None, has_next=False).has_next
        False
    """

    items: list[T]
    next_cursor: str | None
    has_next: bool


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

    Values come back JSON-plain (dates as ISO strings); the caller coerces
    them to the column types. Raises `QueryError` for anything else.

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
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise error from exc
    if checksum != _checksum(signature, payload) or not isinstance(values, list):
        raise error
    return values
