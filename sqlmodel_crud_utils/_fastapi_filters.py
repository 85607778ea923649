"""`FilterSet`: an allow-list of `Q` lookups as typed FastAPI query
parameters (the public side is `sqlmodel_crud_utils.fastapi`)."""

from __future__ import annotations

import enum
import inspect as pyinspect
from collections.abc import Mapping, Sequence
from typing import Any, Generic, NoReturn, TypeVar

from fastapi import HTTPException, Query, Request

from .exceptions import QueryError
from .lookups import parse_lookup
from .query import Q

__all__ = ["PAGING", "FilterSet", "refuse_parameter"]

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
PAGING = ("page", "size", "cursor", "before")


class FilterSet(Generic[M]):
    """An allow-list of ``Q`` lookups over ``model``, as a FastAPI dependency.

    ``fields`` maps a field (or a relationship path, ``team__name``) to its
    allowed operators (``"exact"`` is the bare name). ``sort`` lists the
    keys a client may sort by (each also with a ``-`` prefix);
    ``default_sort`` applies when the request gives none. ``max_size`` is
    the default largest page of a list route over these filters
    (`crud_router` takes it unless given its own ``max_size``; a route of
    your own declares ``size: int = Query(20, le=heroes.max_size)``).
    Unknown query parameters are refused (422) unless
    ``forbid_unknown=False``; ``extra`` names parameters the route reads
    itself (paging, by default).

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
        max_size: int = 100,
        *,
        forbid_unknown: bool = True,
        extra: Sequence[str] = PAGING,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        self.model = model
        self.max_size = max_size
        self.forbid_unknown = forbid_unknown
        self.extra = frozenset(extra)
        self._lookups: dict[str, str] = {}  # parameter name -> Q lookup key
        parameters: list[pyinspect.Parameter] = []
        for field, operators in fields.items():
            for op in operators:
                key = field if op == "exact" else f"{field}__{op}"
                lookup = parse_lookup(model, key)  # unknown fields/operators raise here
                if lookup.json_path is not None:
                    raise QueryError(
                        f"FilterSet cannot offer {key!r}: a JSON field's lookups compare by "
                        "the value's type, which a query string does not carry; filter it in "
                        "the route with Q(...).where()",
                        model=model,
                        key=key,
                    )
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
                refuse_parameter(unknown[0], f"unknown query parameter {unknown[0]!r}")
        lookups: dict[str, Any] = {}
        for name, value in values.items():
            if name == "sort" or value is None:
                continue
            if name.endswith("__between"):
                if len(value) != 2:
                    refuse_parameter(name, f"{name} takes exactly two values, got {len(value)}")
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
            refuse_parameter(str(getattr(exc, "key", None) or "query"), str(exc))
        return query


def _annotation(op: str, python_type: type[Any] | None) -> Any:
    if op in _FLAGS:
        return bool
    if op in _TEXT:
        return str
    base = python_type or str
    return list[base] if op in _LISTS else base  # type: ignore[valid-type]


def refuse_parameter(parameter: str, message: str) -> NoReturn:
    """Raise a 422 shaped like FastAPI's own validation errors.

    Example: ``refuse_parameter("hard", "hard delete is not enabled on this route")``.
    """
    raise HTTPException(
        status_code=422,
        detail=[{"loc": ["query", parameter], "msg": message, "type": "value_error"}],
    )
