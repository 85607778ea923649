"""Full-text search of one text column (the ``match`` lookup), compiled per dialect.

>>> from sqlalchemy import column
>>> FullTextMatch(column("bio"), "the wizards of Oz").words
'wizards'
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, false
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean

from ._compat import compiles

__all__ = ["FullTextMatch"]


#: InnoDB's default full-text stopwords: a required (``+``) stopword or a
#: word shorter than ``innodb_ft_min_token_size`` (3) would match nothing.
_INNODB_STOPWORD_TEXT = (
    "a about an are as at be by com de en for from how i in is it la of on or "
    "that the this to was what when where who will with und www"
)
_INNODB_STOPWORDS = frozenset(_INNODB_STOPWORD_TEXT.split())
_MIN_WORD = 3


def _words(value: str) -> list[str]:
    return re.findall(r"\w+", value)


class FullTextMatch(ColumnElement[bool]):
    """Full-text search of one text column: a row matches when its text
    contains every *searchable word* of the value, case-insensitively.

    The searchable words are the same on every backend: the value's runs of
    letters and digits, without words shorter than 3 characters and
    without InnoDB's default stopwords (``the``, ``of``, ``with``...), which
    MariaDB does not index. Anything else in the value (quotes, ``+ - * ~``
    and other boolean-mode operators) is ignored, so user input is safe to
    pass. A value without a searchable word (``""``, ``"%"``, ``"the"``,
    ``"x' OR 1=1 --"``) matches nothing. Compiled per dialect:

    * PostgreSQL: ``column @@ plainto_tsquery(:words)`` with the server's
      ``default_text_search_config`` (usually ``english``: words are
      stemmed, so ``wizards`` also finds ``wizard``).
    * MySQL/MariaDB: ``MATCH (column) AGAINST (:terms IN BOOLEAN MODE)``
      with ``+word`` for each word (the column needs a ``FULLTEXT`` index).
      Whole words, no stemming; InnoDB indexes rows at commit, so rows
      written in the current transaction are not found yet.
    * SQLite has no full-text search on ordinary tables: each word must
      occur as a case-insensitive substring, so ``wiz`` finds ``wizard``
      there only.

    The number of searchable words is part of the statement's shape:
    values with the same word count share one cached compiled statement.

    Example:
        >>> from sqlalchemy import column
        >>> from sqlalchemy.dialects.postgresql import psycopg
        >>> str(FullTextMatch(column("bio"), "wizard").compile(dialect=psycopg.dialect()))
        'bio @@ plainto_tsquery(%(bio_1)s::VARCHAR)'
        >>> match = FullTextMatch(column("bio"), "the -old 'wizard' of Oz")
        >>> match.words, match.mysql_terms
        ('old wizard', '+old +wizard')
    """

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True
    # Lets SQLAlchemy copy and adapt the element (e.g. inside ``has()``/``any()``).
    _traverse_internals = [  # noqa: RUF012 (declared so on the base class)
        ("_expression", InternalTraversal.dp_clauseelement),
        ("_mysql", InternalTraversal.dp_clauseelement),
        ("_fallback", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, value: str) -> None:
        self.column = column
        self.value = value
        words = [
            word
            for word in _words(value)
            if len(word) >= _MIN_WORD and word.lower() not in _INNODB_STOPWORDS
        ]
        self.words = " ".join(words)
        self.mysql_terms = " ".join(f"+{word}" for word in words)
        self._expression = column.match(self.words) if words else false()
        self._mysql = column.match(self.mysql_terms) if words else false()
        substrings = [column.icontains(word, autoescape=True) for word in words]
        self._fallback = and_(*substrings) if substrings else false()

    @property
    def _from_objects(self) -> list[Any]:
        return list(self._expression._from_objects)

    def _gen_cache_key(self, anon_map: Any, bindparams: list[Any]) -> Any:
        # Every rendering goes into the key, so that the bound values of
        # whichever one a dialect compiles are refreshed on a cache hit.
        return (
            FullTextMatch,
            self._expression._gen_cache_key(anon_map, bindparams),
            self._mysql._gen_cache_key(anon_map, bindparams),
            self._fallback._gen_cache_key(anon_map, bindparams),
        )


@compiles(FullTextMatch)
def _compile_match(element: FullTextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element._expression, **kw)


@compiles(FullTextMatch, "mysql")
@compiles(FullTextMatch, "mariadb")
def _compile_match_mysql(element: FullTextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element._mysql, **kw)


@compiles(FullTextMatch, "sqlite")
def _compile_match_sqlite(element: FullTextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element._fallback, **kw)
