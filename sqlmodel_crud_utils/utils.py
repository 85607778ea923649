"""v0.1's helper module, kept so code importing from it keeps working.

``logger`` is the package's stdlib logger (``sqlmodel_crud_utils``): the
library needs neither loguru nor python-dotenv nor python-dateutil.

    >>> from sqlmodel_crud_utils.utils import get_sql_dialect_import, is_date
    >>> get_sql_dialect_import("postgresql").__module__
    'sqlalchemy.dialects.postgresql.dml'
    >>> is_date("2024-01-31"), is_date("not a date")
    (True, False)
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
from typing import Any

__all__ = ["get_sql_dialect_import", "get_val", "is_date", "logger"]

#: The package logger; ``sqlmodel_crud_utils.sync.logger`` and
#: ``sqlmodel_crud_utils.a_sync.logger`` are this same object.
logger = logging.getLogger("sqlmodel_crud_utils")


def get_val(val: str) -> str | None:
    """The value of the environment variable ``val``, or ``None``.

    Example:
        >>> get_val("SURELY_NOT_SET_ANYWHERE") is None
        True
    """
    return os.environ.get(val)


def get_sql_dialect_import(dialect: str) -> Any:
    """The dialect-specific ``insert`` construct of SQLAlchemy's dialect
    module ``sqlalchemy.dialects.<dialect>`` (``"sqlite"``, ``"postgresql"``,
    ``"mysql"``), as v0.1 used for upserts.

    The library itself reads the dialect from the session's bind, never from
    an environment variable. A missing or blank name (v0.1 read it from
    ``SQL_DIALECT``) or an unknown one raises `ValidationError` (a
    ``ValueError``), as upstream 0.4 does.

    Example:
        >>> get_sql_dialect_import("sqlite").__name__
        'insert'
        >>> get_sql_dialect_import("nope")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sqlmodel_crud_utils.exceptions.ValidationError: ... unknown SQL dialect 'nope' ...
    """
    from .exceptions import ValidationError

    if not isinstance(dialect, str) or not dialect.strip():
        raise ValidationError(
            "no SQL dialect given (v0.1 read it from SQL_DIALECT); "
            "pass 'sqlite', 'postgresql' or 'mysql'",
            field="dialect",
            value=dialect,
        )
    name = dialect.strip()
    try:
        module = importlib.import_module(f"sqlalchemy.dialects.{name}")
    except ImportError:
        module = None
    insert = getattr(module, "insert", None)
    if insert is None:
        raise ValidationError(
            f"unknown SQL dialect {dialect!r} (with an insert construct): "
            "pass 'sqlite', 'postgresql' or 'mysql'",
            field="dialect",
            value=dialect,
        )
    return insert


def is_date(val: str, fuzzy: bool = False) -> bool:
    """Whether ``val`` reads as a date or a date-time.

    With python-dateutil installed this is v0.1's check
    (``dateutil.parser.parse(val, fuzzy=fuzzy)`` succeeds); without it,
    ISO 8601 text is recognised (``fuzzy`` is then ignored).

    Example:
        >>> is_date("2024-01-31T12:30:00+02:00"), is_date("no date here")
        (True, False)
    """
    try:
        parser = importlib.import_module("dateutil.parser")  # v0.1's parser, when installed
    except ImportError:
        pass
    else:
        try:
            parser.parse(val, fuzzy=fuzzy)
        except (ValueError, OverflowError, TypeError):
            return False
        return True
    try:
        dt.datetime.fromisoformat(val)
    except (ValueError, TypeError):
        return False
    return True
