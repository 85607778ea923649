"""Page models: `Page` (offset pages) and `CursorPage` (keyset pages).

Both are generic pydantic models, so they serve directly as FastAPI
``response_model`` (``Page[HeroRead]``). The keyset cursor codec lives in
`keyset` (``encode_cursor``, ``decode_cursor`` and ``MAX_CURSOR_LENGTH``
are still importable from here).

    >>> Page[int].build([1], total=1, page=1, size=10).pages
    1
"""

from __future__ import annotations

import math
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

__all__ = ["CursorPage", "Page"]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of an offset-paginated query (`Q.paginate`).

    Attributes:
        items: the rows of this page.
        total: rows matching the query on all pages (``None`` with
            ``paginate(..., count=False)``).
        page: this page's number, starting at 1.
        size: the page size asked for.
        pages: how many pages there are (0 when nothing matches; ``None``
            without a count).
        has_next: whether a later page exists.
        has_prev: whether an earlier page exists.

    Example:
        >>> page = Page[int].build([1, 2], total=5, page=1, size=2)
        >>> page.pages, page.has_next, page.has_prev
        (3, True, False)
    """

    items: list[T]
    total: int | None
    page: int
    size: int
    pages: int | None
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

    @classmethod
    def uncounted(cls, items: list[T], *, has_next: bool, page: int, size: int) -> Page[T]:
        """Make a page whose total is not known (``total`` and ``pages`` are
        ``None``).

        Example:
            >>> Page[str].uncounted(["a"], has_next=True, page=1, size=1).total is None
            True
        """
        return cls.model_construct(
            items=items,
            total=None,
            page=page,
            size=size,
            pages=None,
            has_next=has_next,
            has_prev=page > 1,
        )


class CursorPage(BaseModel, Generic[T]):
    """One page of a keyset-paginated query (`Q.keyset`).

    Pass ``next_cursor`` as ``after=`` to get the following page,
    ``prev_cursor`` as ``before=`` to get the preceding one.

    Attributes:
        items: the rows of this page, in the query's order.
        next_cursor: the cursor of the next page, ``None`` on the last page.
        has_next: whether a later page exists.
        prev_cursor: the cursor of the previous page, ``None`` on the first.
        has_prev: whether an earlier page exists.
        total: rows matching the query on all pages, with
            ``keyset(..., with_total=True)``; else ``None``.

    Example:
        >>> CursorPage[int](items=[1], next_cursor=None, has_next=False).has_prev
        False
    """

    items: list[T]
    next_cursor: str | None
    has_next: bool
    prev_cursor: str | None = None
    has_prev: bool = False
    total: int | None = None


_MOVED_TO_KEYSET = frozenset({"MAX_CURSOR_LENGTH", "decode_cursor", "encode_cursor"})


def __getattr__(name: str) -> Any:
    # The cursor codec moved to `keyset` (which imports this module); its
    # 0.2.0 import path keeps working.
    if name in _MOVED_TO_KEYSET:
        from . import keyset

        return getattr(keyset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
