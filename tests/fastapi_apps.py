"""The app the FastAPI tests drive: `crud_router` over three models, each
mounted twice (a sync session dependency at ``/...``, an async one at
``/async/...``), with `install_error_handlers`."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated

from fastapi import FastAPI, Header
from sqlalchemy.pool import NullPool
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils.fastapi import FilterSet, crud_router, install_error_handlers
from tests.conftest import Backend
from tests.models import Hero
from tests.models_legacy import LegacyTag
from tests.models_softaudit import SaAuthor


def current_user(x_user: Annotated[str | None, Header()] = None) -> str | None:
    return x_user


def session_dependencies(
    backend: Backend,
) -> tuple[
    Callable[[], Iterator[Session]], Callable[[], AsyncIterator[AsyncSession]], Callable[[], None]
]:
    """A sync and an async session dependency on ``backend``, and how to
    dispose of the async engine."""
    async_engine = backend.async_engine(poolclass=NullPool)

    def sync_session() -> Iterator[Session]:
        with Session(backend.engine) as session:
            yield session

    async def async_session() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(async_engine) as session:
            yield session

    def dispose() -> None:
        asyncio.run(async_engine.dispose())

    return sync_session, async_session, dispose


def generated_app(backend: Backend) -> tuple[FastAPI, Callable[[], None]]:
    """The app on ``backend``, and how to dispose of its async engine."""
    sync_session, async_session, dispose = session_dependencies(backend)
    heroes = FilterSet(Hero, fields={"age": ["gte"], "name": ["icontains"]}, sort=["age", "name"])
    app = FastAPI()
    install_error_handlers(app)
    for prefix, dependency in (("", sync_session), ("/async", async_session)):
        app.include_router(
            crud_router(Hero, session=dependency, filters=heroes, prefix=f"{prefix}/heroes")
        )
        app.include_router(
            crud_router(
                Hero,
                session=dependency,
                filters=heroes,
                prefix=f"{prefix}/hero-cursor",
                pagination="cursor",
                routes=("list",),
            )
        )
        app.include_router(
            crud_router(
                SaAuthor,
                session=dependency,
                prefix=f"{prefix}/authors",
                actor=current_user,
                allow_hard_delete=True,
            )
        )
        app.include_router(crud_router(LegacyTag, session=dependency, prefix=f"{prefix}/tags"))
    return app, dispose
