"""FastAPI integration (needs the ``fastapi`` extra:
``pip install 'sqlmodel-crud-utils[fastapi]'``; importing the package root
never needs FastAPI).

`FilterSet` turns an allow-list of lookups into real, typed query
parameters: used as ``Depends(filters)`` it yields a `Q` with the request's
filters and sort applied, and every allowed ``field__op`` shows in the
OpenAPI schema with its type (``in`` / ``between`` as arrays), ``sort`` as
an enum of the allowed keys. Anything else is refused with 422 naming the
parameter: an unknown query parameter, a value the column cannot hold, a
``between`` that is not two values.

    >>> from sqlmodel import Field, SQLModel
    >>> class Probe(SQLModel, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     depth: int = 0
    >>> filters = FilterSet(Probe, fields={"depth": ["gte", "between"]}, sort=["depth"])
    >>> [p.name for p in filters.parameters]
    ['depth__gte', 'depth__between', 'sort']

`crud_router` generates the CRUD routes of a model over a sync or an async
session dependency; `install_error_handlers` answers this library's errors
as RFC 9457 problem documents. See docs/fastapi.md.
"""

from ._fastapi_filters import FilterSet
from ._fastapi_problems import (
    Problem,
    install_error_handlers,
    problem_for,
    problem_response,
    problem_responses,
)
from ._fastapi_router import crud_router

__all__ = [
    "FilterSet",
    "Problem",
    "crud_router",
    "install_error_handlers",
    "problem_for",
    "problem_response",
    "problem_responses",
]
