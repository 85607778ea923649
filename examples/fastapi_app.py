"""A FastAPI app over sqlmodel-crud-utils: heroes and their teams.

Run it::

    pip install "fastapi[standard]" sqlmodel-crud-utils aiosqlite
    fastapi dev examples/fastapi_app.py          # or: uvicorn examples.fastapi_app:app

The database URL comes from ``HEROES_DATABASE_URL`` (default: the SQLite file
``heroes.db`` in the working directory); the async routes use the matching
async driver (``aiosqlite``, ``psycopg``, ``aiomysql``).

Routes (the ``/async`` ones are the same API on an ``AsyncSession``)::

    GET    /heroes            offset pages: Page[HeroRead]
    GET    /heroes/keyset     cursor pages: CursorPage[HeroRead]  (?cursor=...)
    GET    /heroes/{id}       one hero with its team (404 if none)
    POST   /heroes            create (201)
    PATCH  /heroes/{id}       partial update
    DELETE /heroes/{id}       delete (204)
    POST   /teams             create a team
    ... and /async/heroes, /async/heroes/keyset, /async/heroes/{id}, ...

Filtering: query parameters map onto `Q` lookups through an explicit
allow-list (`FILTERS`): ``?age__gte=30&name__icontains=man&team__name=Avengers``.
Sorting: ``?order_by=-age,name`` over `SORTABLE`. Offset pages use
``?page=&size=``; cursor pages use ``?cursor=&size=`` on ``/heroes/keyset``
(a separate route, because its response has a different shape: ``items``,
``next_cursor``, ``has_next``).

Anything outside the allow-lists, a value that does not fit the column, or
a forged cursor is answered with **400** and a message naming the parameter
(the `QueryError` handler below); out-of-range ``page``/``size`` with FastAPI's
own **422**. A missing hero is a **404** (the `RecordNotFoundError` handler).

Writes go through the library's row functions with ``raise_on_error=True``:
a value the column cannot store (an integer out of its range, text longer
than the column, NUL, a lone surrogate) is a **422** naming the field
(`ValidationError`), a broken constraint (NULL in a NOT NULL column, a
duplicate) a **409** (`ConstraintError`), a lost database a **503**. No body
or query string a client sends can turn into a 500.
"""

import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import registry
from sqlmodel import Field, Relationship, Session, SQLModel, create_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import (
    CursorPage,
    Page,
    Q,
    QueryError,
    RecordNotFoundError,
    ValidationError,
    a_update_row,
    a_write_row,
    update_row,
    write_row,
)
from sqlmodel_crud_utils.exceptions import ConstraintError, DatabaseConnectionError

DEFAULT_DATABASE_URL = "sqlite:///heroes.db"

# ----------------------------------------------------------------------------- models


class AppModel(SQLModel, registry=registry()):
    """Base of this app's tables. Its own registry keeps the example's tables
    apart from other SQLModel models in the same process (the test suite);
    in your own app, subclass `SQLModel` directly."""


class TeamBase(SQLModel):
    name: str = Field(max_length=100)
    headquarters: str = Field(default="", max_length=100)


class Team(TeamBase, AppModel, table=True):
    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    members: list["Hero"] = Relationship(back_populates="team")


class HeroBase(SQLModel):
    name: str = Field(max_length=100, index=True)
    secret_name: str = Field(default="", max_length=100)
    age: int | None = Field(default=None, ge=0, index=True)
    team_id: int | None = Field(default=None, foreign_key="teams.id")


class Hero(HeroBase, AppModel, table=True):
    __tablename__ = "heroes"

    id: int | None = Field(default=None, primary_key=True)
    team: Team | None = Relationship(back_populates="members")


class TeamCreate(TeamBase):
    pass


class TeamRead(TeamBase):
    id: int


class HeroCreate(HeroBase):
    pass


class HeroUpdate(SQLModel):
    name: str | None = Field(default=None, max_length=100)
    secret_name: str | None = Field(default=None, max_length=100)
    age: int | None = Field(default=None, ge=0)
    team_id: int | None = None


class HeroRead(HeroBase):
    id: int
    team: TeamRead | None = None


# --------------------------------------------------- query parameters -> Q lookups

#: The only filters the list endpoints accept: field path -> allowed operators.
#: ``field=value`` means ``eq``. Anything else is refused with a 400.
FILTERS: dict[str, frozenset[str]] = {
    "id": frozenset({"eq", "in"}),
    "name": frozenset({"eq", "icontains", "istartswith"}),
    "age": frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "between", "isnull"}),
    "team_id": frozenset({"eq", "in", "isnull"}),
    "team__name": frozenset({"eq", "icontains"}),
}
#: Fields the list endpoints can sort on (``order_by=-age,name``).
SORTABLE = frozenset({"id", "name", "age"})
#: Keyset pages need non-NULL sort keys.
KEYSET_SORTABLE = frozenset({"id", "name"})
#: Operators whose value is a comma-separated list, and its longest length.
LIST_OPERATORS = frozenset({"in", "between"})
MAX_LIST_VALUES = 100
#: Query parameters the list routes declare themselves (not filters).
OFFSET_PARAMETERS = frozenset({"page", "size", "order_by"})
KEYSET_PARAMETERS = frozenset({"cursor", "size", "order_by"})


def _split(key: str) -> tuple[str, str]:
    field, _, op = key.rpartition("__")
    if field in FILTERS:
        return field, op
    return key, "eq"


def hero_filters(request: Request, reserved: frozenset[str]) -> Q[Hero]:
    """Turn the request's filter parameters into a `Q`, allowing only `FILTERS`.

    ``?age__gte=30&team__name=Avengers`` -> ``Q(Hero).where(age__gte="30",
    team__name="Avengers")``; values stay strings and `Q` coerces them to
    the column types (or raises `QueryError`).
    """
    lookups: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in reserved:
            continue
        if key == "cursor":
            raise QueryError("cursor paging is at /heroes/keyset", model=Hero, key=key)
        field, op = _split(key)
        allowed = FILTERS.get(field)
        if allowed is None:
            choices = ", ".join(sorted(FILTERS))
            raise QueryError(
                f"unknown filter {key!r}; filterable fields: {choices}", model=Hero, key=key
            )
        if op not in allowed:
            choices = ", ".join(sorted(allowed))
            raise QueryError(
                f"operator {op!r} is not allowed on {field!r}; allowed: {choices}",
                model=Hero,
                key=key,
            )
        lookup = field if op == "eq" else f"{field}__{op}"
        if lookup in lookups:
            raise QueryError(f"filter {key!r} given more than once", model=Hero, key=key)
        values = value.split(",") if op in LIST_OPERATORS else [value]
        check_values(lookup, values)
        lookups[lookup] = values if op in LIST_OPERATORS else value
    return Q(Hero).where(**lookups)


def check_values(lookup: str, values: list[str]) -> None:
    """Refuse overlong lists; `Q` itself refuses values the column could never
    hold (NUL characters, integers outside the column's range, ...)."""
    if len(values) > MAX_LIST_VALUES:
        raise QueryError(f"at most {MAX_LIST_VALUES} values", model=Hero, key=lookup)


def sort_keys(order_by: str | None, sortable: frozenset[str]) -> list[str]:
    """``"-age,name"`` -> ``["-age", "name"]``, allowing only ``sortable`` fields."""
    keys = [key.strip() for key in (order_by or "id").split(",") if key.strip()]
    for key in keys:
        if key.removeprefix("-") not in sortable:
            raise QueryError(
                f"cannot sort by {key!r}; sortable fields: {', '.join(sorted(sortable))}",
                model=Hero,
                key="order_by",
            )
    return keys


PageNumber = Annotated[int, Query(ge=1, le=10_000, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=100, description="rows per page")]
OrderBy = Annotated[str | None, Query(max_length=100, description="e.g. -age,name")]
Cursor = Annotated[str | None, Query(max_length=4096, description="next_cursor of a page")]


def hero_list(request: Request, order_by: OrderBy = None) -> Q[Hero]:
    """Dependency: the filtered, sorted hero query of a list request."""
    q = hero_filters(request, OFFSET_PARAMETERS)
    return q.order_by(*sort_keys(order_by, SORTABLE)).include("team")


def hero_keyset(request: Request, order_by: OrderBy = None) -> Q[Hero]:
    """Dependency: like `hero_list`, sortable only on non-NULL fields."""
    q = hero_filters(request, KEYSET_PARAMETERS)
    return q.order_by(*sort_keys(order_by, KEYSET_SORTABLE)).include("team")


HeroList = Annotated[Q[Hero], Depends(hero_list)]
HeroKeyset = Annotated[Q[Hero], Depends(hero_keyset)]
WITH_TEAM = Q(Hero).include("team")


def read_page(page: Page[Hero]) -> Page[HeroRead]:
    items = [HeroRead.model_validate(hero, from_attributes=True) for hero in page.items]
    return Page[HeroRead].build(items, total=page.total, page=page.page, size=page.size)


def read_cursor_page(page: CursorPage[Hero]) -> CursorPage[HeroRead]:
    items = [HeroRead.model_validate(hero, from_attributes=True) for hero in page.items]
    return CursorPage[HeroRead](items=items, next_cursor=page.next_cursor, has_next=page.has_next)


# ----------------------------------------------------------------------- sessions


def async_url(url: str) -> str:
    """The async-driver twin of a sync database URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    drivers = {"sqlite": "aiosqlite", "postgresql": "psycopg", "mysql": "aiomysql"}
    async_parsed = parsed.set(drivername=f"{backend}+{drivers[backend]}")
    return async_parsed.render_as_string(hide_password=False)


def make_engines(url: str) -> tuple[Engine, AsyncEngine]:
    connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    return engine, create_async_engine(async_url(url), pool_pre_ping=True)


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


async def get_async_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(request.app.state.async_engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
AsyncSessionDep = Annotated[AsyncSession, Depends(get_async_session)]


# --------------------------------------------------------------------- sync routes


def check_team(session: Session, team_id: int | None) -> None:
    if team_id is not None and not Q(Team).where(id=team_id).exists(session):
        raise HTTPException(422, f"team {team_id} not found")


def register_sync_routes(app: FastAPI) -> None:
    @app.get("/heroes", response_model=Page[HeroRead], tags=["sync"])
    def list_heroes(
        session: SessionDep, q: HeroList, page: PageNumber = 1, size: PageSize = 20
    ) -> Page[HeroRead]:
        return read_page(q.paginate(session, page=page, size=size))

    @app.get("/heroes/keyset", response_model=CursorPage[HeroRead], tags=["sync"])
    def list_heroes_keyset(
        session: SessionDep, q: HeroKeyset, cursor: Cursor = None, size: PageSize = 20
    ) -> CursorPage[HeroRead]:
        return read_cursor_page(q.keyset(session, size=size, after=cursor))

    @app.get("/heroes/{hero_id}", response_model=HeroRead, tags=["sync"])
    def read_hero(session: SessionDep, hero_id: int) -> Hero:
        return WITH_TEAM.where(id=hero_id).one(session)

    @app.post("/heroes", response_model=HeroRead, status_code=201, tags=["sync"])
    def create_hero(session: SessionDep, data: HeroCreate) -> Hero:
        check_team(session, data.team_id)
        _, hero = write_row(Hero.model_validate(data), session, raise_on_error=True)
        return WITH_TEAM.where(id=hero.id).one(session)

    @app.patch("/heroes/{hero_id}", response_model=HeroRead, tags=["sync"])
    def update_hero(session: SessionDep, hero_id: int, data: HeroUpdate) -> Hero:
        changes = data.model_dump(exclude_unset=True)
        check_team(session, changes.get("team_id"))
        update_row(hero_id, changes, session, Hero, raise_on_error=True)
        return WITH_TEAM.where(id=hero_id).one(session)

    @app.delete("/heroes/{hero_id}", status_code=204, tags=["sync"])
    def delete_hero(session: SessionDep, hero_id: int) -> Response:
        if not Q(Hero).where(id=hero_id).delete(session):
            raise RecordNotFoundError(Hero, hero_id)
        session.commit()
        return Response(status_code=204)

    @app.post("/teams", response_model=TeamRead, status_code=201, tags=["sync"])
    def create_team(session: SessionDep, data: TeamCreate) -> Team:
        _, team = write_row(Team.model_validate(data), session, raise_on_error=True)
        return team


# -------------------------------------------------------------------- async routes


def register_async_routes(app: FastAPI) -> None:
    @app.get("/async/heroes", response_model=Page[HeroRead], tags=["async"])
    async def list_heroes(
        session: AsyncSessionDep, q: HeroList, page: PageNumber = 1, size: PageSize = 20
    ) -> Page[HeroRead]:
        return read_page(await q.a_paginate(session, page=page, size=size))

    @app.get("/async/heroes/keyset", response_model=CursorPage[HeroRead], tags=["async"])
    async def list_heroes_keyset(
        session: AsyncSessionDep, q: HeroKeyset, cursor: Cursor = None, size: PageSize = 20
    ) -> CursorPage[HeroRead]:
        return read_cursor_page(await q.a_keyset(session, size=size, after=cursor))

    @app.get("/async/heroes/{hero_id}", response_model=HeroRead, tags=["async"])
    async def read_hero(session: AsyncSessionDep, hero_id: int) -> Hero:
        # include("team") loads the relationship now: a lazy load later, while
        # FastAPI serialises the response, would raise MissingGreenlet.
        return await WITH_TEAM.where(id=hero_id).a_one(session)

    @app.post("/async/heroes", response_model=HeroRead, status_code=201, tags=["async"])
    async def create_hero(session: AsyncSessionDep, data: HeroCreate) -> Hero:
        await session.run_sync(check_team, data.team_id)
        _, hero = await a_write_row(Hero.model_validate(data), session, raise_on_error=True)
        return await WITH_TEAM.where(id=hero.id).a_one(session)

    @app.patch("/async/heroes/{hero_id}", response_model=HeroRead, tags=["async"])
    async def update_hero(session: AsyncSessionDep, hero_id: int, data: HeroUpdate) -> Hero:
        changes = data.model_dump(exclude_unset=True)
        await session.run_sync(check_team, changes.get("team_id"))
        await a_update_row(hero_id, changes, session, Hero, raise_on_error=True)
        return await WITH_TEAM.where(id=hero_id).a_one(session)

    @app.delete("/async/heroes/{hero_id}", status_code=204, tags=["async"])
    async def delete_hero(session: AsyncSessionDep, hero_id: int) -> Response:
        if not await Q(Hero).where(id=hero_id).a_delete(session):
            raise RecordNotFoundError(Hero, hero_id)
        await session.commit()
        return Response(status_code=204)


# ------------------------------------------------------------------ error handlers


async def query_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Bad filters, sort keys, values and cursors: the client's fault, a 400
    naming the offending parameter. (Never a 500: nothing reached the SQL.)"""
    assert isinstance(exc, QueryError)
    return JSONResponse({"detail": str(exc), "parameter": exc.key}, status_code=400)


async def not_found_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def invalid_value_handler(request: Request, exc: Exception) -> JSONResponse:
    """A value the column cannot store (checked before the database sees it,
    or refused by it): 422, naming the field."""
    assert isinstance(exc, ValidationError)
    return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=422)


async def constraint_handler(request: Request, exc: Exception) -> JSONResponse:
    """A write that breaks a constraint (NOT NULL, unique, foreign key): 409."""
    assert isinstance(exc, ConstraintError)
    return JSONResponse(
        {"detail": str(exc), "field": exc.field, "constraint": exc.constraint}, status_code=409
    )


async def request_validation_handler(request: Request, exc: Exception) -> Response:
    """FastAPI's own 422, rendered with ASCII escapes: its default handler
    echoes the input, and text with a lone surrogate (``"\\ud800"`` in
    JSON) cannot be encoded as UTF-8, which would turn the 422 into a 500."""
    assert isinstance(exc, RequestValidationError)
    body = json.dumps({"detail": jsonable_encoder(exc.errors())})  # ensure_ascii
    return Response(body, status_code=422, media_type="application/json")


async def unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "the database is unavailable"}, status_code=503)


# ---------------------------------------------------------------------------- app


def create_app(database_url: str | None = None) -> FastAPI:
    """Build the app for ``database_url`` (default: ``HEROES_DATABASE_URL``
    or ``sqlite:///heroes.db``). Tables are created at startup."""
    url = database_url or os.environ.get("HEROES_DATABASE_URL", DEFAULT_DATABASE_URL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine, async_engine = make_engines(url)
        AppModel.metadata.create_all(engine)
        app.state.engine, app.state.async_engine = engine, async_engine
        yield
        await async_engine.dispose()
        engine.dispose()

    app = FastAPI(title="Heroes", lifespan=lifespan)
    # Starlette picks the handler of the most specific class: QueryError and
    # ConstraintError are ValidationErrors with handlers of their own.
    app.add_exception_handler(QueryError, query_error_handler)
    app.add_exception_handler(ConstraintError, constraint_handler)
    app.add_exception_handler(ValidationError, invalid_value_handler)
    app.add_exception_handler(RecordNotFoundError, not_found_handler)
    app.add_exception_handler(DatabaseConnectionError, unavailable_handler)
    app.add_exception_handler(RequestValidationError, request_validation_handler)
    register_sync_routes(app)
    register_async_routes(app)
    return app


app = create_app()
