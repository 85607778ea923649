"""`crud_router`: the generated CRUD routes of `sqlmodel_crud_utils.fastapi`.

Each route's work is one sync function of a sync ``Session`` (`_Work`); a
router over an ``AsyncSession`` dependency runs the same function through
``AsyncSession.run_sync``, so sync and async routers share one
implementation. Library errors become problem documents inside the route
(see `problem_for`), so the routes answer 4xx even in an app that did not
call `install_error_handlers`.
"""

from __future__ import annotations

import copy
import inspect as pyinspect
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, create_model
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from . import sync
from ._fastapi_filters import PAGING, FilterSet, refuse_parameter
from ._fastapi_problems import problem_response, problem_responses
from .audit import AuditMixin, TimestampMixin, acting_as
from .exceptions import RecordNotFoundError, SQLModelCRUDError
from .keyset import MAX_CURSOR_LENGTH
from .lookups import mapper_of, parse_lookup, primary_key_names
from .pagination import CursorPage, Page
from .query import Q
from .scopes import SoftDeleteMixin, is_soft_delete_model
from .tenancy import TenantMixin, tenant_scope
from .versioning import VersionMixin, is_versioned_model

__all__ = ["crud_router"]

ROUTES = ("list", "get", "create", "update", "delete", "restore")
#: Fields the library fills (audit and soft-delete columns): never in a body.
_MANAGED = frozenset(
    {
        *getattr(AuditMixin, "__annotations__", {}),
        *getattr(TimestampMixin, "__annotations__", {}),
        *getattr(SoftDeleteMixin, "__annotations__", {}),
        *getattr(TenantMixin, "__annotations__", {}),
        *getattr(VersionMixin, "__annotations__", {}),
    }
)


def crud_router(
    model: type[Any],
    *,
    session: Callable[..., Any],
    filters: FilterSet[Any] | None = None,
    create_schema: type[BaseModel] | None = None,
    update_schema: type[BaseModel] | None = None,
    read_schema: type[BaseModel] | None = None,
    prefix: str | None = None,
    tags: Sequence[str] | None = None,
    pagination: str = "offset",
    routes: Sequence[str] = ROUTES,
    actor: Callable[..., Any] | None = None,
    tenant: Callable[..., Any] | None = None,
    allow_hard_delete: bool = False,
    max_size: int | None = None,
    include: Sequence[str] = (),
) -> APIRouter:
    """An ``APIRouter`` with the CRUD routes of ``model`` (import it from
    `sqlmodel_crud_utils.fastapi`):

    * ``GET {prefix}`` — a `Page` (``pagination="offset"``: ``?page=&size=``) or a
      `CursorPage` (``"cursor"``: ``?cursor=&size=``) of rows, filtered and
      sorted by ``filters`` (a `FilterSet`; none: no filter parameters);
      ``size`` is at most ``max_size`` (default: the filters' ``max_size``, 100);
    * ``GET {prefix}/{key}``, ``POST {prefix}`` (201), ``PATCH /{key}``, ``DELETE /{key}``
      (204; a soft delete on `SoftDeleteMixin` models, ``?hard=true`` only
      with ``allow_hard_delete=True``), ``POST /{key}/restore`` (soft-delete
      models only). ``routes`` picks which exist.

    ``session`` is a dependency yielding a ``Session`` or an
    ``AsyncSession`` (an ``async def`` generator makes async routes); the
    routes do the same work either way. Each write is one legacy write (its
    own transaction); ``actor``, a dependency returning the current user,
    fills the audit columns through `acting_as`; ``tenant``, a dependency
    returning the current tenant id, runs every route inside `tenant_scope`
    (for `TenantMixin` models: without it their routes answer 403). A
    `VersionMixin` model's ``PATCH`` takes the ``version`` the client read
    and answers 409 with the current one when it is stale. Bodies default to the
    model's columns without the primary key and the audit / soft-delete
    fields (``extra="forbid"``; all optional for ``PATCH``), responses to the
    model itself; ``include`` names relationships to load with every row
    (`Q.include`), so a ``read_schema`` with nested models costs one query
    per relationship rather than one per row. Errors answer as problem documents (see
    `install_error_handlers`): 404, 409, 422; never a 500 for what a client
    sends.

    Example::

        app.include_router(crud_router(Hero, session=get_session, filters=hero_filters,
                                       read_schema=HeroRead, include=["team"]))
    """
    unknown = sorted(set(routes) - set(ROUTES))
    if unknown:
        raise ValueError(f"unknown routes {unknown}; known: {ROUTES}")
    if pagination not in ("offset", "cursor"):
        raise ValueError(f"pagination must be 'offset' or 'cursor', got {pagination!r}")
    keys = primary_key_names(model)
    if len(keys) != 1:
        raise ValueError(
            f"crud_router needs a single-column primary key; {model.__name__} has {keys}"
        )
    pk = keys[0]
    read = read_schema or model
    is_async = pyinspect.isasyncgenfunction(session) or pyinspect.iscoroutinefunction(session)
    work = _Work(model, pk, read, tuple(include))
    router = APIRouter(
        prefix=prefix or f"/{model.__tablename__}", tags=list(tags or [model.__name__])
    )
    paging = ("page", "size") if pagination == "offset" else ("cursor", "before", "size")
    filter_set = _reading_only(filters or FilterSet(model, fields={}), paging)
    for path in include:
        Q(model).include(path)  # an unknown relationship fails here, not per request
    key_type = parse_lookup(model, pk).python_type or str
    key = _param("key", Annotated[key_type, Path(description=f"{model.__name__}.{pk}")])
    db = _param("db", Annotated[Any, Depends(session)])
    who = _param("who", Annotated[Any, Depends(actor or _nobody)])
    owner = _param("owner", Annotated[Any, Depends(tenant or _nobody)])
    largest = filter_set.max_size if max_size is None else max_size
    if largest < 1:
        raise ValueError(f"max_size must be at least 1, got {largest}")
    size = _param("size", Annotated[int, Query(ge=1, le=largest)], min(20, largest))

    def run(args: dict[str, Any], call: Callable[..., Any], *values: Any) -> Any:
        """``call(sync_session, *values)``, acting as ``who`` in tenant
        ``owner``; on an async session through ``run_sync`` (the endpoint
        awaits it)."""
        user, scope = args.get("who"), args.get("owner")
        if isinstance(args["db"], AsyncSession):
            return args["db"].run_sync(
                lambda sync_session: _scoped(user, scope, call, sync_session, *values)
            )
        return _scoped(user, scope, call, args["db"], *values)

    def route(
        path: str,
        method: str,
        name: str,
        parameters: list[pyinspect.Parameter],
        call: Callable[[dict[str, Any]], Any],
        **options: Any,
    ) -> None:
        """Register a sync or async endpoint with ``parameters``, answering
        library errors as problem documents."""
        if is_async:

            async def endpoint(**args: Any) -> Any:
                try:
                    outcome = call(args)
                    return await outcome if pyinspect.isawaitable(outcome) else outcome
                except SQLModelCRUDError as exc:
                    return problem_response(exc)

            chosen: Callable[..., Any] = endpoint
        else:

            def sync_endpoint(**args: Any) -> Any:
                try:
                    return call(args)
                except SQLModelCRUDError as exc:
                    return problem_response(exc)

            chosen = sync_endpoint
        chosen.__signature__ = pyinspect.Signature([*parameters, owner])  # type: ignore[attr-defined]
        chosen.__name__ = f"{name}_{model.__name__.lower()}"
        router.add_api_route(path, chosen, methods=[method.upper()], **options)

    if "list" in routes:
        filtered = _param("q", Annotated[Q[Any], Depends(filter_set)])
        if pagination == "offset":
            page = _param("page", Annotated[int, Query(ge=1, le=10**9)], 1)
            route(
                "",
                "get",
                "list",
                [filtered, db, page, size],
                lambda a: run(a, work.page, a["q"], a["page"], a["size"]),
                response_model=Page[read],  # type: ignore[valid-type]
                responses=problem_responses(422),
            )
        else:
            cursor = _cursor_param("cursor", "next_cursor of a page: the page after it")
            before = _cursor_param("before", "prev_cursor of a page: the page before it")
            route(
                "",
                "get",
                "list",
                [filtered, db, cursor, before, size],
                lambda a: run(a, work.cursor_page, a["q"], a["size"], a["cursor"], a["before"]),
                response_model=CursorPage[read],  # type: ignore[valid-type]
                responses=problem_responses(422),
            )
    if "get" in routes:
        route(
            "/{key}",
            "get",
            "get",
            [key, db],
            lambda a: run(a, work.get, a["key"]),
            response_model=read,
            responses=problem_responses(404, 422),
        )
    if "create" in routes:
        create = create_schema or _body_schema(model, f"{model.__name__}Create", optional=False)
        route(
            "",
            "post",
            "create",
            [_param("body", create), db, who],
            lambda a: run(a, work.create, a["body"]),
            response_model=read,
            status_code=201,
            responses=problem_responses(409, 422),
        )
    if "update" in routes:
        update = update_schema or _body_schema(model, f"{model.__name__}Update", optional=True)
        route(
            "/{key}",
            "patch",
            "update",
            [key, _param("body", update), db, who],
            lambda a: run(a, work.update, a["key"], a["body"]),
            response_model=read,
            responses=problem_responses(404, 409, 422),
        )
    if "delete" in routes:
        # without allow_hard_delete the request is read to refuse ?hard= (_hard_delete)
        hard = _param("hard", bool, False) if allow_hard_delete else _param("request", Request)
        route(
            "/{key}",
            "delete",
            "delete",
            [key, db, who, hard],
            lambda a: run(a, work.delete, a["key"], _hard_delete(a)),
            status_code=204,
            response_class=Response,
            responses=problem_responses(404, 409),  # 422s are FastAPI's validation shape
        )
    if "restore" in routes and is_soft_delete_model(model):
        route(
            "/{key}/restore",
            "post",
            "restore",
            [key, db, who],
            lambda a: run(a, work.restore, a["key"]),
            response_model=read,
            responses=problem_responses(404),
        )
    return router


def _hard_delete(args: dict[str, Any]) -> bool:
    """The ``hard`` flag of a DELETE; a ``?hard=`` sent to a route without
    ``allow_hard_delete`` is refused (422), never ignored."""
    request = args.get("request")
    if request is not None and "hard" in request.query_params:
        refuse_parameter("hard", "hard delete is not enabled on this route")
    return bool(args.get("hard", False))


def _reading_only(filters: FilterSet[Any], paging: Sequence[str]) -> FilterSet[Any]:
    """``filters`` accepting only this route's paging parameters (``?page=``
    on a cursor route is refused like any unknown parameter)."""
    scoped = copy.copy(filters)
    scoped.extra = (filters.extra - frozenset(PAGING)) | frozenset(paging)
    return scoped


def _cursor_param(name: str, description: str) -> pyinspect.Parameter:
    query = Query(max_length=MAX_CURSOR_LENGTH, description=description)
    return _param(name, Annotated[str | None, query], None)


def _nobody() -> None:
    return None


def _param(
    name: str, annotation: Any, default: Any = pyinspect.Parameter.empty
) -> pyinspect.Parameter:
    return pyinspect.Parameter(
        name, pyinspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


def _scoped(who: Any, owner: Any, call: Callable[..., Any], session: Session, *args: Any) -> Any:
    """``call(session, *args)`` acting as ``who`` in tenant ``owner`` (each
    only when given)."""
    with ExitStack() as scopes:
        if who is not None:
            scopes.enter_context(acting_as(str(who)))
        if owner is not None:
            scopes.enter_context(tenant_scope(owner))
        return call(session, *args)


class _Work:
    """What each route does, on a sync session (one implementation)."""

    def __init__(
        self, model: type[Any], pk: str, read: type[Any], include: tuple[str, ...]
    ) -> None:
        self.model = model
        self.pk = pk
        self.read = read
        self.include = include

    def _loaded(self, q: Q[Any]) -> Q[Any]:
        return q.include(*self.include) if self.include else q

    def _out(self, row: Any) -> Any:
        if self.read is self.model:
            return row
        return self.read.model_validate(row, from_attributes=True)

    def _missing(self, key: Any) -> RecordNotFoundError:
        return RecordNotFoundError(self.model, key, self.pk)

    def _shown(self, found: Page[Any] | CursorPage[Any]) -> Any:
        """``found`` with its rows in the read schema."""
        fields = {name: getattr(found, name) for name in type(found).model_fields}
        kind = Page[Any] if isinstance(found, Page) else CursorPage[Any]
        return kind.model_construct(**{**fields, "items": [self._out(r) for r in found.items]})

    def page(self, session: Session, q: Q[Any], page: int, size: int) -> Any:
        return self._shown(self._loaded(q).paginate(session, page=page, size=size))

    def cursor_page(
        self, session: Session, q: Q[Any], size: int, after: str | None, before: str | None
    ) -> Any:
        found = self._loaded(q).keyset(session, size=size, after=after, before=before)
        return self._shown(found)

    def get(self, session: Session, key: Any) -> Any:
        row = self._loaded(Q(self.model)).where(**{self.pk: key}).one_or_none(session)
        if row is None:
            raise self._missing(key)
        return self._out(row)

    def create(self, session: Session, body: BaseModel) -> Any:
        row = self.model(**body.model_dump())
        _written, written = sync.write_row(row, session, raise_on_error=True)
        return self.get(session, getattr(written, self.pk))

    def update(self, session: Session, key: Any, body: BaseModel) -> Any:
        changes = body.model_dump(exclude_unset=True)
        if not changes:
            return self.get(session, key)
        sync.update_row(key, changes, session, self.model, self.pk, raise_on_error=True)
        return self.get(session, key)

    def delete(self, session: Session, key: Any, hard: bool) -> Response:
        sync.delete_row(key, session, self.model, self.pk, hard=hard, raise_on_error=True)
        return Response(status_code=204)

    def restore(self, session: Session, key: Any) -> Any:
        sync.restore_row(key, session, self.model, self.pk, raise_on_error=True)
        return self.get(session, key)


def _body_schema(model: type[Any], name: str, *, optional: bool) -> type[BaseModel]:
    """A request body of ``model``'s own columns: no primary key, none of the
    fields the library fills (audit, soft delete, tenant, version); every
    field optional for a PATCH, which also takes the ``version`` the client
    read of a `VersionMixin` model."""
    keys = set(primary_key_names(model))
    mapped = set(mapper_of(model).column_attrs.keys())
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if field_name in keys or field_name in _MANAGED or field_name not in mapped:
            continue
        if optional:
            fields[field_name] = (info.annotation | None, None)
        else:
            fields[field_name] = (info.annotation, info)
    if optional and is_versioned_model(model):
        # the version the client read: a stale one answers 409 (ConflictError)
        fields["version"] = (int | None, None)
    schema: type[BaseModel] = create_model(name, __config__={"extra": "forbid"}, **fields)
    return schema
