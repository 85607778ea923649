"""`crud_router` and `install_error_handlers` through real HTTP (FastAPI's
TestClient) on every backend, with a sync and an async session dependency:
filters, sort, offset and cursor pages, create / update / delete, soft
delete → 404 → restore, `acting_as` stamped from the actor dependency, and
problem documents for 404 / 409 / 422."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import Engine, event
from sqlmodel import Session

from sqlmodel_crud_utils import Q, QueryError
from sqlmodel_crud_utils.exceptions import ConstraintError, RecordNotFoundError
from sqlmodel_crud_utils.fastapi import (
    FilterSet,
    crud_router,
    problem_for,
)
from tests.conftest import Backend
from tests.fastapi_apps import generated_app, session_dependencies
from tests.models import Hero, Team

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client(backend: Backend) -> Iterator[TestClient]:
    backend.clean()
    app, dispose = generated_app(backend)

    @app.get("/own/{hero_id}")
    def own_route(hero_id: int) -> dict[str, int]:
        raise RecordNotFoundError(Hero, hero_id)

    with TestClient(app) as test_client:
        yield test_client
    dispose()


@pytest.fixture(params=["", "/async"], ids=["sync", "async"])
def root(request: pytest.FixtureRequest, client: TestClient, backend: Backend) -> str:
    backend.clean()
    return str(request.param)


def make_heroes(client: TestClient, root: str) -> list[int]:
    ids = []
    for name, age in (("Iron Man", 48), ("Spider-Man", 17), ("Batman", 40)):
        response = client.post(f"{root}/heroes", json={"name": name, "age": age})
        assert response.status_code == 201, response.text
        assert response.json()["name"] == name
        ids.append(response.json()["id"])
    return ids


def test_list_filters_sorts_and_pages(client, root):
    make_heroes(client, root)
    page = client.get(f"{root}/heroes", params={"age__gte": 18, "sort": "-age"}).json()
    assert [h["name"] for h in page["items"]] == ["Iron Man", "Batman"]
    assert (page["total"], page["page"], page["pages"]) == (2, 1, 1)
    second = client.get(f"{root}/heroes", params={"sort": "age", "size": 2, "page": 2}).json()
    assert [h["name"] for h in second["items"]] == ["Iron Man"]
    assert second["has_prev"] is True


def test_cursor_pages_walk_every_row_once(client, root):
    make_heroes(client, root)
    seen, cursor = [], None
    while True:
        params = {"sort": "name", "size": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"{root}/hero-cursor", params=params).json()
        seen += [h["name"] for h in page["items"]]
        cursor = page["next_cursor"]
        if not page["has_next"]:
            break
    assert seen == ["Batman", "Iron Man", "Spider-Man"]


def test_get_update_delete(client, root):
    first, *_ = make_heroes(client, root)
    assert client.get(f"{root}/heroes/{first}").json()["age"] == 48
    updated = client.patch(f"{root}/heroes/{first}", json={"age": 49})
    assert updated.status_code == 200
    assert (updated.json()["age"], updated.json()["name"]) == (49, "Iron Man")
    assert client.delete(f"{root}/heroes/{first}").status_code == 204
    gone = client.get(f"{root}/heroes/{first}")
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith(PROBLEM)
    assert gone.json()["title"] == "Not Found"
    assert client.patch(f"{root}/heroes/{first}", json={"age": 1}).status_code == 404
    assert client.delete(f"{root}/heroes/{first}").status_code == 404


def test_soft_delete_then_404_then_restore_with_the_actor_stamped(client, root):
    created = client.post(f"{root}/authors", json={"name": "Ada"}, headers={"x-user": "grace"})
    assert created.status_code == 201
    author = created.json()
    assert author["created_by"] == "grace"
    assert "is_deleted" in author
    key = author["id"]
    assert client.delete(f"{root}/authors/{key}", headers={"x-user": "eve"}).status_code == 204
    assert client.get(f"{root}/authors/{key}").status_code == 404
    assert client.get(f"{root}/authors").json()["total"] == 0
    restored = client.post(f"{root}/authors/{key}/restore", headers={"x-user": "eve"})
    assert restored.status_code == 200
    assert restored.json()["is_deleted"] is False
    assert client.get(f"{root}/authors/{key}").json()["name"] == "Ada"
    assert client.delete(f"{root}/authors/{key}", params={"hard": True}).status_code == 204
    assert client.post(f"{root}/authors/{key}/restore").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/heroes", {"name": "x", "id": 5}, 422),  # the key is not in the body
        ("post", "/heroes", {"name": "x" * 101}, 422),  # longer than the column
        ("post", "/heroes", {"name": "x", "age": 2**40}, 422),  # out of the column's range
        ("post", "/heroes", {"age": 3}, 422),  # name is required
        ("post", "/authors", {"name": "a", "is_deleted": True}, 422),  # a managed field
        ("get", "/heroes/99999999999999999999", None, 422),
        ("get", "/heroes/abc", None, 422),
        ("get", "/heroes?sort=power", None, 422),
        ("get", "/heroes?size=100000", None, 422),
        ("get", "/hero-cursor?cursor=garbage", None, 422),
        ("patch", "/heroes/1", {"nope": 1}, 422),
    ],
)
def test_hostile_requests_are_4xx_never_500(client, root, method, path, body, status):
    response = getattr(client, method)(f"{root}{path}", **({"json": body} if body else {}))
    assert response.status_code == status, response.text


def test_a_unique_conflict_is_a_409_problem(client, root):
    assert client.post(f"{root}/tags", json={"name": "red"}).status_code == 201
    conflict = client.post(f"{root}/tags", json={"name": "red"})
    assert conflict.status_code == 409
    assert conflict.headers["content-type"].startswith(PROBLEM)
    problem = conflict.json()
    assert (problem["status"], problem["model"]) == (409, "LegacyTag")
    assert problem["type"].endswith("#constraint")
    assert client.post(f"{root}/tags", json={"name": "blue"}).status_code == 201


def test_the_openapi_schema_documents_routes_pages_and_problems(client):
    schema = client.get("/openapi.json").json()
    listing = schema["paths"]["/heroes"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"age__gte", "sort", "page", "size"}
    ok = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("Page_Hero_")
    assert "422" in listing["responses"]
    one = schema["paths"]["/heroes/{key}"]
    assert set(one["get"]["responses"]) >= {"200", "404", "422"}
    assert set(one["patch"]["responses"]) >= {"200", "404", "409", "422"}
    assert "Problem" in schema["components"]["schemas"]
    cursor = schema["paths"]["/hero-cursor"]["get"]["responses"]["200"]
    assert cursor["content"]["application/json"]["schema"]["$ref"].endswith("CursorPage_Hero_")


def test_problem_statuses():
    assert problem_for(RecordNotFoundError("Hero", 1)).status == 404
    assert problem_for(QueryError("bad", model="Hero", key="age")).status == 422
    assert problem_for(ConstraintError("dup", constraint="uq_name")).status == 409
    assert problem_for(ConstraintError("null", constraint="NOT NULL")).status == 422


def test_a_bad_router_fails_when_it_is_built():
    with pytest.raises(ValueError, match="routes"):
        crud_router(Hero, session=lambda: None, routes=("list", "explode"))
    with pytest.raises(ValueError, match="pagination"):
        crud_router(Hero, session=lambda: None, pagination="pages")


def test_the_handlers_answer_for_the_apps_own_routes(client):
    response = client.get("/own/7")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json() == {
        "type": "https://sqlmodel-crud-utils.readthedocs.io/en/latest/errors/#not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "Hero with id=7 not found",
        "instance": "/own/7",
        "model": "Hero",
    }


HOSTILE_QUERIES = [
    "power=9000",
    "secret_name=Tony Stark",
    "__class__=x",
    "_sa_instance_state=x",
    "name__regex=.*",
    "age__gte=thirty",
    "age__gte=true",
    "age__gte=99999999999999999999",
    "age__gte=-99999999999999999999",
    "name__icontains=%00",
    "sort=secret_name",
    "sort=-__dict__",
    "sort=name;DROP TABLE hero",
    "page=0",
    "page=abc",
    "page=99999999999999999999",
    "size=0",
    "size=100000",
    "size=-1",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_list_queries_are_422(client, root, query):
    response = client.get(f"{root}/heroes?{query}")
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "query",
    [
        "name__icontains=" + "x" * 5000,  # longer than the column: matches nothing
        "name__icontains=%ED%A0%80",  # invalid UTF-8: decoded with replacement characters
    ],
)
def test_odd_text_filters_match_nothing(client, root, query):
    make_heroes(client, root)
    response = client.get(f"{root}/heroes?{query}")
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 0


@pytest.mark.parametrize(
    "cursor",
    ["abc", "", "=" * 50, "eyJ4IjogMX0", "A" * 5000, "%00", "eyJrIjpbMV0sInMiOiIifQ"],
)
def test_forged_cursors_are_422(client, root, cursor):
    response = client.get(f"{root}/hero-cursor", params={"cursor": cursor})
    assert response.status_code in (200, 422), response.text
    if cursor not in ("",):
        assert response.status_code == 422, response.text


class TeamOut(BaseModel):
    name: str


class HeroWithTeam(BaseModel):
    name: str
    team: TeamOut | None = None


def count_selects(engine: Engine) -> Callable[[], int]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    return lambda: len(seen)


@pytest.mark.parametrize("include", [(), ("team",)], ids=["lazy", "include"])
def test_a_nested_read_schema_loads_relationships_with_include(backend, include):
    """Five heroes on five teams: ``include=["team"]`` loads the page in a
    fixed number of queries, without it each hero's team is a query of its
    own (inside the session, so async routers can do it too)."""
    backend.clean()
    sync_session, async_session, dispose = session_dependencies(backend)
    with Session(backend.engine) as session:
        for n in range(5):
            session.add(Hero(name=f"h{n}", team=Team(name=f"t{n}")))
        session.commit()
    app = FastAPI()
    for prefix, dependency in (("", sync_session), ("/async", async_session)):
        app.include_router(
            crud_router(
                Hero,
                session=dependency,
                prefix=f"{prefix}/heroes",
                read_schema=HeroWithTeam,
                include=include,
            )
        )
    selects = count_selects(backend.engine)
    with TestClient(app) as client:
        page = client.get("/heroes").json()
        assert [(h["name"], h["team"]["name"]) for h in page["items"]] == [
            (f"h{n}", f"t{n}") for n in range(5)
        ]
        # the page (its count may be a window over the same query), then the
        # teams: one query with include, one per hero without
        assert selects() <= 3 if include else selects() >= 6
        with Session(backend.engine) as session:
            first = Q(Hero).where(name="h0").one(session).id
        assert client.get(f"/async/heroes/{first}").json()["team"] == {"name": "t0"}
    dispose()
    with pytest.raises(QueryError, match="unknown relationship 'squad'"):
        crud_router(Hero, session=sync_session, include=["squad"])


def test_each_list_route_takes_only_its_own_paging_parameters(client, root):
    assert client.get(f"{root}/heroes", params={"page": 1}).status_code == 200
    refused = client.get(f"{root}/heroes", params={"cursor": "x"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "cursor"]
    assert client.get(f"{root}/hero-cursor", params={"page": 2}).status_code == 422


def test_the_collection_is_the_prefix_itself(client, root):
    schema = client.get("/openapi.json").json()
    assert f"{root}/heroes" in schema["paths"]
    assert f"{root}/heroes/" not in schema["paths"]


def test_hard_delete_is_refused_where_it_is_not_enabled(client, root):
    first, *_ = make_heroes(client, root)
    refused = client.delete(f"{root}/heroes/{first}", params={"hard": True})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "hard"]
    assert "not enabled" in refused.json()["detail"][0]["msg"]
    assert client.get(f"{root}/heroes/{first}").json()["name"] == "Iron Man"  # nothing deleted
    schema = client.get("/openapi.json").json()
    deleting = schema["paths"][f"{root}/heroes/{{key}}"]["delete"]
    assert "hard" not in {p["name"] for p in deleting.get("parameters", [])}
    # the refusal has FastAPI's validation shape, and the schema says so
    invalid = deleting["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    assert invalid.endswith("/HTTPValidationError")
    assert refused.headers["content-type"].startswith("application/json")


def test_the_largest_page_comes_from_the_filters_or_the_router(backend):
    backend.clean()
    sync_session, _, dispose = session_dependencies(backend)
    small = FilterSet(Hero, fields={"age": ["gte"]}, max_size=3)
    app = FastAPI()
    app.include_router(crud_router(Hero, session=sync_session, filters=small, prefix="/small"))
    app.include_router(
        crud_router(Hero, session=sync_session, filters=small, prefix="/big", max_size=50)
    )
    try:
        with TestClient(app) as client:
            for n in range(5):
                assert client.post("/small", json={"name": f"h{n}", "age": n}).status_code == 201
            assert len(client.get("/small", params={"size": 3}).json()["items"]) == 3
            assert client.get("/small").json()["size"] == 3  # the default page fits too
            too_big = client.get("/small", params={"size": 4})
            assert too_big.status_code == 422
            assert too_big.json()["detail"][0]["loc"] == ["query", "size"]
            assert len(client.get("/big", params={"size": 50}).json()["items"]) == 5
            schema = client.get("/openapi.json").json()
            sizes = {
                path: next(
                    p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "size"
                )
                for path in ("/small", "/big")
            }
            assert sizes["/small"]["schema"]["maximum"] == 3
            assert sizes["/big"]["schema"]["maximum"] == 50
    finally:
        dispose()
    with pytest.raises(ValueError, match="max_size"):
        FilterSet(Hero, fields={}, max_size=0)
    with pytest.raises(ValueError, match="max_size"):
        crud_router(Hero, session=sync_session, max_size=0)
