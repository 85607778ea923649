"""The v0.1 functions for an ``AsyncSession`` (SQLModel's or SQLAlchemy's).

Each one runs its sync twin from `sqlmodel_crud_utils.sync` through
``AsyncSession.run_sync``: one implementation, two ways in. Parameters,
defaults and return conventions are the sync ones, with two exceptions
kept from v0.1's async module: ``get_rows_within_id_list`` answers
``(True, rows)`` whenever its query ran (``rows`` is a `RowList`, with
v0.1's ``.all()``), and ``get_row`` keeps v0.1's async positional order,
``select_in_keys`` right after ``selectin`` (then ``lazy``,
``lazy_load_keys``), where the sync ``get_row`` has ``lazy,
lazy_load_keys, select_in_keys``. Positional v0.1 calls keep working on
both; by keyword the order does not matter.

Failures are reported on this module's ``logger`` (the package logger,
the same object as ``sync.logger``; patching either works).

What the functions return is loaded before they return (relationships
only when asked for with ``selectin``), so reading attributes afterwards
never needs a lazy load (``MissingGreenlet``). Async lifecycle hooks
(``async def`` methods) are awaited.

    >>> import asyncio
    >>> from sqlalchemy.ext.asyncio import create_async_engine
    >>> from sqlmodel import Field, SQLModel
    >>> from sqlmodel.ext.asyncio.session import AsyncSession
    >>> class Kitten(SQLModel, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     name: str
    >>> async def main():
    ...     engine = create_async_engine("sqlite+aiosqlite://")
    ...     async with engine.begin() as conn:
    ...         await conn.run_sync(SQLModel.metadata.create_all)
    ...     async with AsyncSession(engine) as session:
    ...         ok, cat = await write_row(Kitten(name="Tom"), session)
    ...         found, rows = await get_rows(session, Kitten, name="Tom")
    ...     await engine.dispose()
    ...     return ok, cat.id, found, len(rows)
    >>> asyncio.run(main())
    (True, 1, True, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from . import sync
from .builder import AsyncQueryBuilder as AsyncQueryBuilder  # upstream 0.4 exports it here
from .utils import logger

_T = TypeVar("_T")


class RowList(list[Any]):
    """The rows of async `get_rows_within_id_list`: a plain ``list`` that
    also answers v0.1's ``.all()`` (v0.1 returned a SQLAlchemy result, and
    callers wrote ``found, result = await ...; rows = result.all()``).

    Example:
        >>> rows = RowList(["a", "b"])
        >>> rows.all(), rows == ["a", "b"]
        (['a', 'b'], True)
    """

    def all(self) -> list[Any]:
        """The rows, as a new plain list (v0.1's ``result.all()``).

        Example:
            >>> RowList([1]).all()
            [1]
        """
        return list(self)


async def _run(session: AsyncSession, call: Callable[[Session], _T]) -> _T:
    """``session.run_sync(call)``, with the failures of the legacy call
    reported on this module's ``logger`` (looked up per call, so patching
    ``sqlmodel_crud_utils.a_sync.logger`` works as it did in v0.1)."""
    with sync._logging_to(logger):
        return await session.run_sync(call)


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


async def get_result_from_query(
    query: Any,
    session: AsyncSession,
    *,
    raise_on_error: bool = False,
    include_deleted: bool = False,
) -> Any:
    """Async twin of `sqlmodel_crud_utils.sync.get_result_from_query` (same parameters and
    return values), running it through ``AsyncSession.run_sync``.

    Example::

        hero = await a_get_result_from_query(select(Hero).where(Hero.age > 30), session)
    """
    return await _run(
        session,
        lambda s: sync.get_result_from_query(
            query, s, raise_on_error=raise_on_error, include_deleted=include_deleted
        ),
    )


async def get_one_or_create(
    session_inst: AsyncSession,
    model: type[Any],
    create_method_kwargs: dict[str, Any] | None = None,
    selectin: bool = False,
    select_in_key: str | None = None,
    *,
    raise_on_error: bool = False,
    include_deleted: bool = False,
    **kwargs: Any,
) -> tuple[Any, bool]:
    """Async twin of `sqlmodel_crud_utils.sync.get_one_or_create` (same parameters and
    return values), running it through ``AsyncSession.run_sync``.

    Example::

        hero, existed = await a_get_one_or_create(session, Hero, name="Deadpond")
    """
    return await _run(
        session_inst,
        lambda s: sync.get_one_or_create(
            s,
            model,
            create_method_kwargs,
            selectin,
            select_in_key,
            raise_on_error=raise_on_error,
            include_deleted=include_deleted,
            **kwargs,
        ),
    )


async def write_row(
    data_row: Any, session_inst: AsyncSession, *, raise_on_error: bool = False
) -> tuple[bool, Any]:
    """Async twin of `sqlmodel_crud_utils.sync.write_row` (same parameters and
    return values), running it through ``AsyncSession.run_sync``.

    Example: ``ok, hero = await a_write_row(Hero(name="Deadpond"), session)``
    """
    return await _run(
        session_inst, lambda s: sync.write_row(data_row, s, raise_on_error=raise_on_error)
    )


async def insert_data_rows(
    data_rows: Sequence[Any], session_inst: AsyncSession, *, raise_on_error: bool = False
) -> tuple[bool | tuple[bool], Any]:
    """Async twin of `sqlmodel_crud_utils.sync.insert_data_rows` (same parameters and
    return values), running it through ``AsyncSession.run_sync``.

    Example::

        ok, heroes = await a_insert_data_rows([Hero(name="A"), Hero(name="B")], session)
    """
    return await _run(
        session_inst, lambda s: sync.insert_data_rows(data_rows, s, raise_on_error=raise_on_error)
    )


async def get_row(
    id_str: Any,
    session_inst: AsyncSession,
    model: type[Any],
    selectin: bool = False,
    select_in_keys: str | list[str] | None = None,
    lazy: bool = False,
    lazy_load_keys: str | list[str] | None = None,
    pk_field: str = "id",
    use_cache: bool = False,
    cache_ttl: float | None = None,
    *,
    raise_on_error: bool = False,
    include_deleted: bool = False,
) -> tuple[bool, Any]:
    """Async twin of `sqlmodel_crud_utils.sync.get_row` (same return values),
    running it through ``AsyncSession.run_sync``.

    The parameters keep v0.1's async order, which differs from the sync one:
    ``select_in_keys`` comes right after ``selectin`` (positional v0.1 calls
    keep working; by keyword the order does not matter).

    Example::

        found, hero = await a_get_row(1, session, Hero, True, ["team"])
    """
    return await _run(
        session_inst,
        lambda s: sync.get_row(
            id_str,
            s,
            model,
            selectin,
            lazy,
            lazy_load_keys,
            select_in_keys,
            pk_field,
            use_cache,
            cache_ttl,
            raise_on_error=raise_on_error,
            include_deleted=include_deleted,
        ),
    )


async def get_rows(
    session_inst: AsyncSession,
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
    """Async twin of `sqlmodel_crud_utils.sync.get_rows` (same parameters and
    return values), running it through ``AsyncSession.run_sync``.

    Example::

        found, heroes = await a_get_rows(session, Hero, age__gte=18, sort_field="age")
    """
    return await _run(
        session_inst,
        lambda s: sync.get_rows(
            s,
            model,
            selectin,
            select_in_keys,
            lazy,
            lazy_load_keys,
            page_size,
            page,
            text_field,
            stmnt,
            use_cache,
            cache_ttl,
            raise_on_error=raise_on_error,
            include_deleted=include_deleted,
            **kwargs,
        ),
    )


async def get_rows_within_id_list(
    id_str_list: Iterable[Any],
    session_inst: AsyncSession,
    model: type[Any],
    pk_field: str = "id",
    *,
    raise_on_error: bool = False,
    include_deleted: bool = False,
) -> tuple[bool, RowList]:
    """Async twin of `sqlmodel_crud_utils.sync.get_rows_within_id_list`
    (same parameters), running it through ``AsyncSession.run_sync``.

    Returns v0.1's async convention, which differs from the sync one:
    ``(True, rows)`` whenever the query ran, also when nothing matched;
    ``(False, [])`` only when it failed. ``rows`` is a `RowList`: a list
    that also has v0.1's ``.all()``.

    Example::

        found, rows = await a_get_rows_within_id_list([1, 2, 3], session, Hero)
        heroes = rows.all()  # v0.1 style; ``rows`` is a list already
    """
    rows = await _run(
        session_inst,
        lambda s: sync._rows_within_id_list(
            id_str_list, s, model, pk_field, raise_on_error, include_deleted
        ),
    )
    return (True, RowList(rows)) if rows is not None else (False, RowList())


async def update_row(
    id_str: Any,
    data: Mapping[str, Any],
    session_inst: AsyncSession,
    model: type[Any],
    pk_field: str = "id",
    *,
    raise_on_error: bool = False,
) -> tuple[bool, Any]:
    """Async twin of `sqlmodel_crud_utils.sync.update_row` (same parameters and
    return values), running it through ``AsyncSession.run_sync``.

    Example: ``ok, hero = await a_update_row(1, {"age": 41}, session, Hero)``
    """
    return await _run(
        session_inst,
        lambda s: sync.update_row(id_str, data, s, model, pk_field, raise_on_error=raise_on_error),
    )


async def delete_row(
    id_str: Any,
    session_inst: AsyncSession,
    model: type[Any],
    pk_field: str = "id",
    *,
    hard: bool = False,
    raise_on_error: bool = False,
) -> bool:
    """Async twin of `sqlmodel_crud_utils.sync.delete_row` (same parameters and
    return values), running it through ``AsyncSession.run_sync``.

    Example: ``deleted = await a_delete_row(1, session, Hero)``
    """
    return await _run(
        session_inst,
        lambda s: sync.delete_row(
            id_str, s, model, pk_field, hard=hard, raise_on_error=raise_on_error
        ),
    )


async def soft_delete_row(
    id_str: Any,
    session_inst: AsyncSession,
    model: type[Any],
    pk_field: str = "id",
    *,
    raise_on_error: bool = False,
) -> bool:
    """Async twin of `sqlmodel_crud_utils.sync.soft_delete_row` (same parameters and
    return values), running it through ``AsyncSession.run_sync``.

    Example: ``deleted = await a_soft_delete_row(1, session, Document)``
    """
    return await _run(
        session_inst,
        lambda s: sync.soft_delete_row(id_str, s, model, pk_field, raise_on_error=raise_on_error),
    )


async def restore_row(
    id_str: Any,
    session_inst: AsyncSession,
    model: type[Any],
    pk_field: str = "id",
    *,
    raise_on_error: bool = False,
) -> bool:
    """Async twin of `sqlmodel_crud_utils.sync.restore_row` (same parameters and
    return values), running it through ``AsyncSession.run_sync``.

    Example: ``restored = await a_restore_row(1, session, Document)``
    """
    return await _run(
        session_inst,
        lambda s: sync.restore_row(id_str, s, model, pk_field, raise_on_error=raise_on_error),
    )


async def bulk_upsert_mappings(
    payload: Sequence[Mapping[str, Any]],
    session_inst: AsyncSession,
    model: type[Any],
    pk_fields: list[str] | None = None,
    update_columns: Sequence[str] | None = None,
    *,
    raise_on_error: bool = False,
) -> tuple[bool, list[Any]]:
    """Async twin of `sqlmodel_crud_utils.sync.bulk_upsert_mappings` (same parameters and
    return values), running it through ``AsyncSession.run_sync``.

    Example::

        ok, heroes = await a_bulk_upsert_mappings([{"id": 1, "name": "A"}], session, Hero)
    """
    return await _run(
        session_inst,
        lambda s: sync.bulk_upsert_mappings(
            payload, s, model, pk_fields, update_columns, raise_on_error=raise_on_error
        ),
    )


async def bulk_update_rows(
    id_str_list: Iterable[Any],
    data: Mapping[str, Any],
    session_inst: AsyncSession,
    model: type[Any],
    pk_field: str = "id",
    chunk_size: int = 500,
) -> tuple[bool, int]:
    """Async twin of `sqlmodel_crud_utils.sync.bulk_update_rows` (same parameters and
    return values), running it through ``AsyncSession.run_sync``.

    Example: ``ok, count = await a_bulk_update_rows([1, 2], {"age": 40}, session, Hero)``
    """
    return await _run(
        session_inst,
        lambda s: sync.bulk_update_rows(id_str_list, data, s, model, pk_field, chunk_size),
    )


async def delete_rows_within_id_list(
    id_str_list: Iterable[Any],
    session_inst: AsyncSession,
    model: type[Any],
    pk_field: str = "id",
    chunk_size: int = 500,
    soft: bool = False,
    deleted_by: str | None = None,
) -> tuple[bool, int]:
    """Async twin of `sqlmodel_crud_utils.sync.delete_rows_within_id_list` (same
    parameters and return values), running it through ``AsyncSession.run_sync``.

    Example: ``ok, count = await a_delete_rows_within_id_list([1, 2], session, Hero)``
    """
    return await _run(
        session_inst,
        lambda s: sync.delete_rows_within_id_list(
            id_str_list, s, model, pk_field, chunk_size, soft, deleted_by
        ),
    )
