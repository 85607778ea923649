"""Column types: `UTCDateTime`, a datetime column that reads back aware UTC.

>>> from sqlalchemy.dialects import postgresql
>>> UTCDateTime().load_dialect_impl(postgresql.dialect()).timezone
True
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.types import TypeDecorator

from ._compat import construct

__all__ = ["UTCDateTime"]

#: MySQL/MariaDB ``DATETIME(6)``: microseconds, as the other backends keep.
_MYSQL_DATETIME = construct(mysql.DATETIME, fsp=6)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A datetime column that always reads back as timezone-aware UTC.

    Stored as ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL, ``DATETIME(6)``
    (naive UTC, microseconds kept) on MySQL/MariaDB and naive UTC text on
    SQLite. Aware values are converted to UTC before they are stored; a
    *naive* value is taken to be UTC already (the convention of
    ``datetime.utcnow()`` and of most databases), on every backend alike.

    Example:
        >>> from sqlalchemy.dialects import sqlite
        >>> column_type, lite = UTCDateTime(), sqlite.dialect()
        >>> paris = dt.timezone(dt.timedelta(hours=1))
        >>> column_type.process_bind_param(dt.datetime(2024, 1, 1, 13, tzinfo=paris), lite)
        datetime.datetime(2024, 1, 1, 12, 0)
        >>> column_type.process_result_value(dt.datetime(2024, 1, 1, 12), lite)
        datetime.datetime(2024, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[dt.datetime]:
        return dt.datetime

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(_MYSQL_DATETIME)
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, dt.datetime):
            return value
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        # no dialect (a direct call): the naive UTC value most backends store
        keeps_zone = getattr(dialect, "name", None) == "postgresql"
        return value if keeps_zone else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, dt.datetime):
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)
