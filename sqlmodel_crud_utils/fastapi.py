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
"""

from __future__ import annotations

import enum
import inspect as pyinspect
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from .exceptions import (
    ConstraintError,
    DatabaseConnectionError,
    MultipleRecordsError,
    QueryError,
    RecordNotFoundError,
    SQLModelCRUDError,
    ValidationError,
)
from .lookups import parse_lookup
from .query import Q

__all__ = ["FilterSet", "Problem", "crud_router", "install_error_handlers", "problem_responses"]

M = TypeVar("M")

#: Operators whose value is a list of the column's values.
_LISTS = frozenset({"in", "not_in", "between"})
#: Operators whose value is a flag, whatever the column.
_FLAGS = frozenset({"isnull"})
#: Operators matching text, whatever the column.
_TEXT = frozenset(
    {"contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "like",
     "ilike", "iexact", "regex", "iregex", "match"}
)  # fmt: skip
#: Query parameters the list routes read themselves (paging).
PAGING = ("page", "size", "cursor")


class FilterSet(Generic[M]):
    """An allow-list of ``Q`` lookups over ``model``, as a FastAPI dependency.

    ``fields`` maps a field (or a relationship path, ``team__name``) to its
    allowed operators (``"exact"`` is the bare name). ``sort`` lists the
    keys a client may sort by (each also with a ``-`` prefix);
    ``default_sort`` applies when the request gives none. Unknown query
    parameters are refused (422) unless ``forbid_unknown=False``; ``extra``
    names parameters the route reads itself (paging, by default).

    Example::

        heroes = FilterSet(Hero, fields={"age": ["gte", "lte"], "name": ["icontains"]},
                           sort=["age", "name"], default_sort="-age")

        @app.get("/heroes")
        def list_heroes(q: Q[Hero] = Depends(heroes), session: Session = Depends(get_session)):
            return q.paginate(session, page=1, size=20)
    """

    def __init__(
        self,
        model: type[M],
        fields: Mapping[str, Sequence[str]],
        sort: Sequence[str] = (),
        default_sort: str | Sequence[str] | None = None,
        *,
        forbid_unknown: bool = True,
        extra: Sequence[str] = PAGING,
    ) -> None:
        self.model = model
        self.forbid_unknown = forbid_unknown
        self.extra = frozenset(extra)
        self._lookups: dict[str, str] = {}  # parameter name -> Q lookup key
        parameters: list[pyinspect.Parameter] = []
        for field, operators in fields.items():
            for op in operators:
                key = field if op == "exact" else f"{field}__{op}"
                lookup = parse_lookup(model, key)  # unknown fields/operators raise here
                parameters.append(
                    pyinspect.Parameter(
                        key,
                        pyinspect.Parameter.KEYWORD_ONLY,
                        default=Query(None, description=f"{model.__name__}.{field} {op}"),
                        annotation=_annotation(lookup.op, lookup.python_type) | None,
                    )
                )
                self._lookups[key] = key
        self.sort_keys = tuple(sort)
        for key in self.sort_keys:
            Q(model).order_by(key)  # unknown sort keys raise here
        self.default_sort = (default_sort,) if isinstance(default_sort, str) else default_sort
        if self.sort_keys:
            choices = {name: name for key in self.sort_keys for name in (key, f"-{key}")}
            make_enum: Any = enum.Enum  # a name known only at run time
            sort_enum: Any = make_enum(f"{model.__name__}Sort", choices, type=str)
            parameters.append(
                pyinspect.Parameter(
                    "sort",
                    pyinspect.Parameter.KEYWORD_ONLY,
                    default=Query(None, description="sort key; a leading '-' sorts descending"),
                    annotation=list[sort_enum] | None,
                )
            )
        self.parameters = tuple(parameters)
        request = pyinspect.Parameter(
            "request", pyinspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
        )
        self.__signature__ = pyinspect.Signature([request, *parameters])

    def __call__(self, request: Request, **values: Any) -> Q[M]:
        """The request's `Q` (FastAPI calls this with the parsed parameters).

        Example: ``q = filters(request, age__gte=30)``.
        """
        if self.forbid_unknown:
            known = set(self._lookups) | self.extra | ({"sort"} if self.sort_keys else set())
            unknown = sorted(set(request.query_params) - known)
            if unknown:
                _refuse(unknown[0], f"unknown query parameter {unknown[0]!r}")
        lookups: dict[str, Any] = {}
        for name, value in values.items():
            if name == "sort" or value is None:
                continue
            if name.endswith("__between"):
                if len(value) != 2:
                    _refuse(name, f"{name} takes exactly two values, got {len(value)}")
                value = tuple(value)
            lookups[self._lookups[name]] = value
        query = Q(self.model)
        try:
            if lookups:
                query = query.where(**lookups)
            chosen = [key.value for key in values.get("sort") or ()] or self.default_sort or ()
            if chosen:
                query = query.order_by(*chosen)
        except QueryError as exc:
            _refuse(str(getattr(exc, "key", None) or "query"), str(exc))
        return query


def _annotation(op: str, python_type: type[Any] | None) -> Any:
    if op in _FLAGS:
        return bool
    if op in _TEXT:
        return str
    base = python_type or str
    return list[base] if op in _LISTS else base  # type: ignore[valid-type]


def _refuse(parameter: str, message: str) -> None:
    """A 422 shaped like FastAPI's own validation errors."""
    raise HTTPException(
        status_code=422,
        detail=[{"loc": ["query", parameter], "msg": message, "type": "value_error"}],
    )


# ------------------------------------------------------------------- errors

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem document, as `install_error_handlers` answers.

    ``type`` names the kind of problem (a fragment of this library's
    errors page), ``model`` / ``field`` / ``constraint`` say what was at
    fault when the error knows.

    Example:
        >>> Problem(type="about:blank", title="Not Found", status=404).status
        404
    """

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    model: str | None = None
    field: str | None = None
    constraint: str | None = None


#: status, title and ``type`` fragment of each library error (most specific first)
_PROBLEMS: tuple[tuple[type[SQLModelCRUDError], int, str, str], ...] = (
    (RecordNotFoundError, 404, "Not Found", "not-found"),
    (MultipleRecordsError, 409, "Conflict", "multiple-records"),
    (ConstraintError, 409, "Conflict", "constraint"),
    (QueryError, 422, "Unprocessable Content", "query"),
    (ValidationError, 422, "Unprocessable Content", "validation"),
    (DatabaseConnectionError, 503, "Service Unavailable", "database-unavailable"),
)
_ERRORS_PAGE = "https://sqlmodel-crud-utils.readthedocs.io/en/latest/errors/"
#: constraints a client breaks by sending a bad value, not a conflicting one
_VALUE_CONSTRAINTS = frozenset({"NOT NULL", "CHECK"})


def problem_for(exc: SQLModelCRUDError, instance: str | None = None) -> Problem | None:
    """The problem document for one of this library's errors (``None`` for
    errors a client cannot cause, which stay 500s).

    Example:
        >>> problem_for(RecordNotFoundError("Hero", 7)).status
        404
    """
    for kind, status, title, fragment in _PROBLEMS:
        if isinstance(exc, kind):
            constraint = getattr(exc, "constraint", None)
            if kind is ConstraintError and constraint in _VALUE_CONSTRAINTS:
                status, title, fragment = 422, "Unprocessable Content", "constraint"
            model = getattr(exc, "model", None)
            return Problem(
                type=_ERRORS_PAGE + "#" + fragment,
                title=title,
                status=status,
                detail=str(exc),
                instance=instance,
                model=getattr(model, "__name__", None if model is None else str(model)),
                field=getattr(exc, "field", None),
                constraint=constraint,
            )
    return None


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    problem = problem_for(exc, request.url.path) if isinstance(exc, SQLModelCRUDError) else None
    if problem is None:
        raise exc
    return JSONResponse(
        problem.model_dump(exclude_none=True), status_code=problem.status, media_type=PROBLEM_JSON
    )


def install_error_handlers(app: FastAPI) -> None:
    """Answer this library's errors as RFC 9457 ``application/problem+json``:
    a missing row 404, a unique or foreign-key conflict (and several rows
    where one was expected) 409, a bad filter, value or NOT NULL / CHECK
    violation 422, a lost database 503. Programming errors (`UsageError`)
    stay 500s.

    Example::

        app = FastAPI()
        install_error_handlers(app)
    """
    for kind, _status, _title, _fragment in _PROBLEMS:
        app.add_exception_handler(kind, _problem_handler)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` documenting `Problem` bodies for ``statuses``.

    Example:
        >>> sorted(problem_responses(404, 422))
        [404, 422]
    """
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": _DESCRIPTIONS.get(status, "Problem"),
        }
        for status in statuses
    }


_DESCRIPTIONS = {
    404: "No such row",
    409: "The write conflicts with existing rows",
    422: "A parameter or value was refused",
    503: "The database is unavailable",
}


def crud_router(
    model: type[Any],
    *,
    session: Any,
    filters: FilterSet[Any] | None = None,
    create_schema: type[BaseModel] | None = None,
    update_schema: type[BaseModel] | None = None,
    read_schema: type[BaseModel] | None = None,
    prefix: str | None = None,
    tags: Sequence[str] | None = None,
    pagination: str = "offset",
    routes: Sequence[str] = ("list", "get", "create", "update", "delete", "restore"),
    actor: Any = None,
    allow_hard_delete: bool = False,
    max_size: int = 100,
) -> Any:
    """An ``APIRouter`` with the CRUD routes of ``model``:

    * ``GET /`` — a `Page` (``pagination="offset"``: ``?page=&size=``) or a
      `CursorPage` (``"cursor"``: ``?cursor=&size=``) of rows, filtered and
      sorted by ``filters`` (a `FilterSet`; none: no filter parameters);
      ``size`` is at most ``max_size``;
    * ``GET /{key}``, ``POST /`` (201), ``PATCH /{key}``, ``DELETE /{key}``
      (204; a soft delete on `SoftDeleteMixin` models, ``?hard=true`` only
      with ``allow_hard_delete=True``), ``POST /{key}/restore`` (soft-delete
      models only). ``routes`` picks which exist.

    ``session`` is a dependency yielding a ``Session`` or an
    ``AsyncSession`` (an ``async def`` generator makes async routes); the
    routes do the same work either way. Each write is one legacy write (its
    own transaction); ``actor``, a dependency returning the current user,
    fills the audit columns through `acting_as`. Bodies default to the
    model's columns without the primary key and the audit / soft-delete
    fields (``extra="forbid"``; all optional for ``PATCH``), responses to the
    model itself. Errors answer as problem documents (see
    `install_error_handlers`): 404, 409, 422; never a 500 for what a client
    sends.

    Example::

        app.include_router(crud_router(Hero, session=get_session, filters=hero_filters))
    """
    from ._fastapi_router import crud_router as build

    return build(
        model,
        session=session,
        filters=filters,
        create_schema=create_schema,
        update_schema=update_schema,
        read_schema=read_schema,
        prefix=prefix,
        tags=tags,
        pagination=pagination,
        routes=routes,
        actor=actor,
        allow_hard_delete=allow_hard_delete,
        max_size=max_size,
    )
