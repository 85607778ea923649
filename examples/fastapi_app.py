"""Heroes and teams over sqlmodel-crud-utils: ``fastapi dev examples/fastapi_app.py``.

``HEROES_DATABASE_URL`` picks the database (default ``sqlite:///heroes.db``).
``/heroes`` uses a sync session and offset pages, ``/async/heroes`` an async
one and cursor pages; both filter (``?age__gte=30&team__name=Avengers``),
sort (``?sort=-age``), soft-delete and restore, and stamp the ``X-User``
header into the audit columns. Errors are RFC 9457 problems (404/409/422).
"""

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header, Request
from sqlalchemy.engine import make_url
from sqlalchemy.orm import registry
from sqlmodel import Field, Relationship, Session, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import (
    AuditMixin,
    SoftDeleteMixin,
    create_async_pooled_engine,
    create_pooled_engine,
)
from sqlmodel_crud_utils.fastapi import FilterSet, crud_router, install_error_handlers


class AppModel(SQLModel, registry=registry()):
    """Keeps these tables apart from the test suite's; subclass `SQLModel` in your app."""


class TeamBase(SQLModel):
    name: str = Field(max_length=100, unique=True)
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


class Hero(HeroBase, AuditMixin, SoftDeleteMixin, AppModel, table=True):
    __tablename__ = "heroes"
    id: int | None = Field(default=None, primary_key=True)
    team: Team | None = Relationship(back_populates="members")


class TeamRead(TeamBase):
    id: int


class HeroRead(HeroBase):
    id: int
    team: TeamRead | None = None
    created_by: str | None = None
    updated_by: str | None = None


hero_filters = FilterSet(
    Hero,
    fields={
        "id": ["exact", "in"],
        "name": ["exact", "icontains", "istartswith"],
        "age": ["exact", "lt", "gte", "between", "isnull"],
        "team_id": ["exact", "isnull"],
        "team__name": ["exact", "icontains"],
    },
    sort=["id", "name", "age"],
    default_sort="id",
)


def async_url(url: str) -> str:
    """The async-driver twin of a sync database URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    driver = {"sqlite": "aiosqlite", "postgresql": "psycopg", "mysql": "aiomysql"}[backend]
    return parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


async def get_async_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(request.app.state.async_engine) as session:
        yield session


def current_user(x_user: Annotated[str | None, Header(max_length=100)] = None) -> str | None:
    return x_user


def create_app(database_url: str | None = None) -> FastAPI:
    """The app on ``database_url``; tables are created at startup."""
    url = database_url or os.environ.get("HEROES_DATABASE_URL", "sqlite:///heroes.db")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_pooled_engine(url)
        app.state.async_engine = create_async_pooled_engine(async_url(url))
        AppModel.metadata.create_all(app.state.engine)
        yield
        await app.state.async_engine.dispose()
        app.state.engine.dispose()

    app = FastAPI(title="Heroes", lifespan=lifespan)
    install_error_handlers(app)
    options = dict(filters=hero_filters, read_schema=HeroRead, include=["team"], actor=current_user)
    app.include_router(crud_router(Hero, session=get_session, prefix="/heroes", **options))
    app.include_router(
        crud_router(
            Hero, session=get_async_session, prefix="/async/heroes", pagination="cursor", **options
        )
    )
    app.include_router(crud_router(Team, session=get_session, routes=("list", "get", "create")))
    return app


app = create_app()
