"""Case 12: a generated list route vs a hand-written FastAPI route (issue 14).

Both answer ``GET ?age__gte=30&name__icontains=man&sort=-age&size=20``
with 20 heroes and the total, through FastAPI's ``TestClient``: ours is
`crud_router` with a `FilterSet`; the baseline declares the same query
parameters and runs the same ``select()`` plus a ``COUNT``. FastCRUD's
``crud_router`` list route is measured beside them when FastCRUD is
installed (it is async-only, so it gets an ``AsyncSession``).
"""

# No ``from __future__ import annotations``: FastAPI reads the routes'
# annotations, which name a dependency defined inside `_app`.
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession  # FastCRUD calls execute(), not exec()
from sqlmodel import Session, col, select

from sqlmodel_crud_utils.fastapi import FilterSet, crud_router

from .cases import case
from .harness import Check, Context
from .models import BenchHero

__all__: list[str] = []

PARAMS = {"age__gte": 30, "name__icontains": "man", "sort": "-age", "size": 20}


def _app(ctx: Context) -> tuple[FastAPI, list[str]]:
    """The app with each variant's route, and the variants it has."""

    def sync_session() -> Iterator[Session]:
        with Session(ctx.engine) as session:
            yield session

    app = FastAPI()
    heroes = FilterSet(BenchHero, fields={"age": ["gte"], "name": ["icontains"]}, sort=["age"])
    app.include_router(
        crud_router(
            BenchHero, session=sync_session, filters=heroes, routes=("list",), prefix="/ours"
        )
    )

    @app.get("/hand")
    def hand_list(
        session: Annotated[Session, Depends(sync_session)],
        age__gte: Annotated[int | None, Query()] = None,
        name__icontains: Annotated[str | None, Query()] = None,
        sort: Annotated[str, Query()] = "age",
        size: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        stmt = select(BenchHero)
        if age__gte is not None:
            stmt = stmt.where(BenchHero.age >= age__gte)
        if name__icontains is not None:
            stmt = stmt.where(col(BenchHero.name).icontains(name__icontains))
        order = col(BenchHero.age).desc() if sort == "-age" else col(BenchHero.age)
        rows = session.exec(stmt.order_by(order, col(BenchHero.id)).limit(size)).all()
        total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
        return {"items": [row.model_dump() for row in rows], "total": total}

    variants = ["hand-written route", "crud_router"]
    try:
        from fastcrud import crud_router as fastcrud_router
    except ImportError:
        return app, variants

    async def async_session() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(ctx.async_engine) as session:
            yield session

    app.include_router(
        fastcrud_router(
            session=async_session,
            model=BenchHero,
            create_schema=BenchHero,
            update_schema=BenchHero,
            path="/fastcrud",
            tags=["fastcrud"],
            included_methods=["read_multi"],
            filter_config={"age__gte": None, "name__ilike": None},
        )
    )
    return app, [*variants, "FastCRUD crud_router"]


@case("12", "generated list route vs hand-written FastAPI route")
async def generated_route(ctx: Context) -> None:
    app, names = _app(ctx)
    client = TestClient(app)
    paths = {
        "hand-written route": ("/hand", PARAMS),
        "crud_router": ("/ours", PARAMS),
        "FastCRUD crud_router": (
            "/fastcrud",
            {"age__gte": 30, "name__ilike": "%man%", "sort": "-age", "offset": 0, "limit": 20},
        ),
    }

    def call(name: str) -> Any:
        path, params = paths[name]

        def run() -> Any:
            response = client.get(path, params=params)
            assert response.status_code == 200, response.text
            return response

        return run

    for name in names:  # every variant answers the same 20 rows
        body = call(name)().json()
        rows = body.get("items", body.get("data"))
        assert rows is not None, (name, body)
        assert len(rows) == 20, (name, body)
    await ctx.compare(
        "GET 20 rows, 2 filters, sort, through TestClient",
        {name: call(name) for name in names},
        [
            Check("crud_router", "hand-written route", 1.10, noisy=True),
            *(
                [Check("crud_router", "FastCRUD crud_router", 1.0, note="beside FastCRUD")]
                if "FastCRUD crud_router" in names
                else []
            ),
        ],
    )
