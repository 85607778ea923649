"""Change history: one record per inserted, updated or deleted row of a
`TrackChangesMixin` model, written in the same transaction as the change.

Every write path records: ORM flushes (``session.add`` + commit, the legacy
row functions, soft delete and restore), set-based `Q.update` / `Q.delete`
(and so ``bulk_update_rows`` and ``delete_rows_within_id_list``),
``bulk_upsert_mappings`` and the batched ``insert_data_rows``. A record
holds the table, the row's primary key (``"1"``; ``"1,2"`` for composite
keys), the operation (``insert``, ``update``, ``delete``; a soft delete or a
restore is an ``update`` of the flags), the changed fields as
``{field: [old, new]}`` (JSON: dates as ISO text, decimals and UUIDs as
text), the actor and the time. The actor is the `acting_as` user, else
``session.info["changed_by"]`` (as text, at most 100 characters).

A rolled-back transaction leaves no history. Fields named in
``__track_exclude__`` are never recorded. The history table lives in its
own metadata, `HISTORY_METADATA` (create it with your migrations, or
``HISTORY_METADATA.create_all(engine)``); records go through the model's
bind. Writes the library cannot see (raw SQL, ``session.connection()``)
are not recorded. See docs/change-history.md.

    >>> from sqlmodel import Field, SQLModel
    >>> class TrackedMemo(TrackChangesMixin, SQLModel, table=True):
    ...     __track_exclude__ = ("secret",)
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     text: str = ""
    ...     secret: str = ""
    >>> is_tracked_model(TrackedMemo), tracked_fields(TrackedMemo)
    (True, ('id', 'text'))
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import JSON, Column, Index, Integer, MetaData, String, Table, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ._legacy import legacy_failures
from ._memo import memoized
from ._translate import database_errors
from .types import UTCDateTime
from .utils import logger

__all__ = [
    "HISTORY_METADATA",
    "TrackChangesMixin",
    "a_get_change_history",
    "change_history_table",
    "get_change_history",
    "is_tracked_model",
    "register_change_tracking",
    "row_key",
    "tracked_fields",
]


class HistoryMetaData(MetaData):
    """The metadata holding `change_history_table`, kept apart from your
    models' metadata (``SQLModel.metadata.create_all`` does not create it).

    Example::

        HISTORY_METADATA.create_all(engine)  # or add it to your migrations' target metadata
    """


HISTORY_METADATA = HistoryMetaData()

#: One row per recorded change (see the module docstring).
change_history_table = Table(
    "change_history",
    HISTORY_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("table_name", String(255), nullable=False),
    Column("table_schema", String(255), nullable=True),
    Column("row_pk", String(255), nullable=False),
    Column("operation", String(10), nullable=False),
    Column("changes", JSON, nullable=False),
    Column("changed_by", String(100), nullable=True),
    Column("changed_at", UTCDateTime(), nullable=False),
    Index("ix_change_history_row", "table_name", "row_pk"),
)


class TrackChangesMixin:
    """Record every insert, update and delete of this model's rows in
    `change_history_table`; ``__track_exclude__`` names fields never
    recorded (secrets, large blobs).

    Example::

        class Invoice(TrackChangesMixin, SQLModel, table=True):
            __track_exclude__ = ("pdf",)
            id: int | None = Field(default=None, primary_key=True)
            total: Decimal
            pdf: bytes = b""
    """

    __track_exclude__: ClassVar[tuple[str, ...]] = ()


def is_tracked_model(model: Any) -> bool:
    """Whether ``model`` (a class or an instance) records its changes.

    Example:
        >>> is_tracked_model(int)
        False
    """
    cls = model if isinstance(model, type) else type(model)
    return issubclass(cls, TrackChangesMixin)


def tracked_fields(model: type[Any]) -> tuple[str, ...]:
    """The fields of ``model`` whose changes are recorded: its columns but
    those in ``__track_exclude__``.

    Example: ``tracked_fields(Invoice) == ("id", "total")``.
    """
    return _tracked_fields(model, "")


@memoized
def _tracked_fields(model: type[Any], _: str) -> tuple[str, ...]:
    excluded = set(getattr(model, "__track_exclude__", ()))
    return tuple(attr.key for attr in inspect(model).column_attrs if attr.key not in excluded)


def row_key(values: tuple[Any, ...]) -> str:
    """A primary key as history stores it: its values joined by commas.

    Example:
        >>> row_key((1, 2)), row_key(("a",))
        ('1,2', 'a')
    """
    return ",".join(str(value) for value in values)


def register_change_tracking() -> None:
    """Install the change-history listeners now. Mapping a
    `TrackChangesMixin` model installs them by itself; this is kept for
    upstream's API and may be called any number of times.

    Example:
        >>> register_change_tracking(); register_change_tracking()
    """
    from ._history import install_tracking

    install_tracking()


def get_change_history(
    session: Session,
    model: type[Any],
    pk: Any,
    *,
    raise_on_error: bool = False,
) -> tuple[bool, list[dict[str, Any]]]:
    """``(True, records)``: the history of ``model``'s row ``pk`` (a tuple
    for a composite key), oldest first, each a dict of the table's columns
    (``operation``, ``changes``, ``changed_by``, ``changed_at``, ...).
    ``(False, [])`` when the history cannot be read (no history table, say;
    the session is rolled back); ``raise_on_error=True`` raises instead.

    Example::

        ok, records = get_change_history(session, Hero, 1)
        [r["operation"] for r in records]  # ['insert', 'update']
    """
    with legacy_failures("get_change_history", raise_on_error, logger, model):
        table = inspect(model).local_table
        schema = getattr(table, "schema", None)
        history = change_history_table
        stmt = (
            select(history)
            .where(
                history.c.table_name == table.name,
                history.c.table_schema.is_(None)
                if schema is None
                else history.c.table_schema == schema,
                history.c.row_pk == row_key(pk if isinstance(pk, tuple) else (pk,)),
            )
            .order_by(history.c.id)
        )
        with database_errors(session):
            rows = session.execute(stmt, bind_arguments={"mapper": inspect(model)})
            return True, [dict(row._mapping) for row in rows]
    return False, []


async def a_get_change_history(
    session: AsyncSession,
    model: type[Any],
    pk: Any,
    *,
    raise_on_error: bool = False,
) -> tuple[bool, list[dict[str, Any]]]:
    """Async twin of `get_change_history`.

    Example: ``ok, records = await a_get_change_history(session, Hero, 1)``.
    """
    return await session.run_sync(
        lambda sync: get_change_history(sync, model, pk, raise_on_error=raise_on_error)
    )
