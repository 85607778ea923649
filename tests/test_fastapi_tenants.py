"""The FastAPI router on tenant and versioned models: ``tenant=`` scopes
every route (404 for another tenant's row, rows stamped on create), a
stale ``version`` on PATCH answers 409 with the current version, and a
router without a tenant answers 403; sync and async session dependencies,
every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Header
from fastapi.testclient import TestClient
from sqlalchemy.pool import NullPool
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import Q, all_tenants
from sqlmodel_crud_utils.fastapi import crud_router, install_error_handlers
from tests.models_tenancy import TnUser


def tenant_header(x_tenant: int = Header()) -> int:
    return x_tenant


@pytest.fixture(params=["sync", "async"])
def client(request: pytest.FixtureRequest, backend: Any) -> Iterator[TestClient]:
    backend.clean()
    with all_tenants(), Session(backend.engine) as session:
        session.add_all([TnUser(name="a1", tenant_id=1), TnUser(name="b1", tenant_id=2)])
        session.commit()
    if request.param == "sync":

        def sync_session() -> Iterator[Session]:
            with Session(backend.engine) as s:
                yield s

        dependency: Any = sync_session
        engine = None
    else:
        engine = backend.async_engine(poolclass=NullPool)

        async def async_session() -> AsyncIterator[AsyncSession]:
            async with AsyncSession(engine) as s:
                yield s

        dependency = async_session
    app = FastAPI()
    app.include_router(
        crud_router(TnUser, session=dependency, prefix="/users", tenant=tenant_header)
    )
    app.include_router(crud_router(TnUser, session=dependency, prefix="/unscoped"))
    install_error_handlers(app)
    with TestClient(app) as test_client:
        yield test_client
    if engine is not None:
        asyncio.run(engine.dispose())


def ids(backend: Any) -> dict[str, int]:
    with all_tenants(), Session(backend.engine) as session:
        return {u.name: u.id for u in Q(TnUser).all(session)}  # type: ignore[misc]


def test_routes_are_scoped_to_the_tenant(client: TestClient, backend: Any) -> None:
    keys = ids(backend)
    one = {"x-tenant": "1"}
    listed = client.get("/users", headers=one)
    assert listed.status_code == 200, listed.text
    assert [row["name"] for row in listed.json()["items"]] == ["a1"]
    assert client.get(f"/users/{keys['b1']}", headers=one).status_code == 404
    assert client.get(f"/users/{keys['a1']}", headers=one).json()["tenant_id"] == 1
    created = client.post("/users", json={"name": "a2"}, headers=one)
    assert created.status_code == 201, created.text
    assert (created.json()["tenant_id"], created.json()["version"]) == (1, 1)
    forged = client.post("/users", json={"name": "x", "tenant_id": 2}, headers=one)
    assert forged.status_code == 422
    assert client.patch(f"/users/{keys['b1']}", json={"age": 3}, headers=one).status_code == 404
    assert client.get("/users", headers={"x-tenant": "2"}).json()["total"] == 1


def test_a_stale_version_answers_409_with_the_current_one(client: TestClient, backend: Any) -> None:
    key = ids(backend)["a1"]
    one = {"x-tenant": "1"}
    fresh = client.patch(f"/users/{key}", json={"age": 4, "version": 1}, headers=one)
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["version"] == 2
    stale = client.patch(f"/users/{key}", json={"age": 5, "version": 1}, headers=one)
    assert stale.status_code == 409, stale.text
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["current_version"] == 2
    assert client.get(f"/users/{key}", headers=one).json()["age"] == 4


def test_a_router_without_a_tenant_answers_403(client: TestClient) -> None:
    refused = client.get("/unscoped")
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("#tenant")
