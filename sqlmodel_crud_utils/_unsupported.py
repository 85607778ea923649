"""The compile error of a lookup a dialect cannot write.

Some lookups exist on some databases only (PostgreSQL ARRAY operators, JSON
containment). Their SQL elements raise `UnsupportedSQL` when compiled for
another dialect; `Q.sql` and every terminal turn it into `QueryError`,
before anything is sent to the database.

    >>> issubclass(UnsupportedSQL, CompileError)
    True
"""

from __future__ import annotations

from sqlalchemy.exc import CompileError

__all__ = ["UnsupportedSQL"]


class UnsupportedSQL(CompileError):
    """A lookup the dialect it is compiled for cannot write.

    Example:
        >>> str(UnsupportedSQL("ARRAY lookups need PostgreSQL, not sqlite"))
        'ARRAY lookups need PostgreSQL, not sqlite'
    """
