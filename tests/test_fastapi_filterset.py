"""`FilterSet` through real HTTP (FastAPI's TestClient) on every backend,
with a sync and an async session dependency: typed filters, sort, the
OpenAPI schema, and 422 for anything outside the allow-list."""

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import Q, QueryError
from sqlmodel_crud_utils.fastapi import FilterSet
from tests.conftest import Backend
from tests.fastapi_apps import session_dependencies
from tests.models import Hero, Team

heroes = FilterSet(
    Hero,
    fields={
        "age": ["gte", "lte", "between", "in"],
        "name": ["exact", "icontains"],
        "team__name": ["exact"],
        "born": ["isnull"],
    },
    sort=["age", "name"],
    default_sort=["-age", "name"],
)


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in rows]


@pytest.fixture(scope="module")
def client(backend: Backend) -> Iterator[TestClient]:
    backend.clean()
    with Session(backend.engine) as session:
        avengers = Team(name="Avengers")
        session.add(avengers)
        session.flush()
        session.add_all(
            [
                Hero(name="Iron Man", age=48, team_id=avengers.id),
                Hero(name="Spider-Man", age=17, team_id=avengers.id),
                Hero(name="Batman", age=40),
                Hero(name="Deadpond", age=None),
            ]
        )
        session.commit()
    sync_session, async_session, dispose = session_dependencies(backend)
    app = FastAPI()

    @app.get("/heroes")
    def list_heroes(
        q: Annotated[Q[Hero], Depends(heroes)], session: Annotated[Session, Depends(sync_session)]
    ) -> list[dict[str, Any]]:
        return [hero.model_dump(mode="json") for hero in q.all(session)]

    @app.get("/async/heroes")
    async def a_list_heroes(
        q: Annotated[Q[Hero], Depends(heroes)],
        session: Annotated[AsyncSession, Depends(async_session)],
    ) -> list[dict[str, Any]]:
        return [hero.model_dump(mode="json") for hero in await q.a_all(session)]

    with TestClient(app) as test_client:
        yield test_client
    dispose()


@pytest.fixture(params=["/heroes", "/async/heroes"])
def route(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_filters_and_the_default_sort(client, route):
    every = names(client.get(route).json())  # default sort: -age, name (NULL's place varies)
    assert sorted(every) == ["Batman", "Deadpond", "Iron Man", "Spider-Man"]
    assert [name for name in every if name != "Deadpond"] == ["Iron Man", "Batman", "Spider-Man"]
    got = client.get(route, params={"age__gte": 18}).json()
    assert names(got) == ["Iron Man", "Batman"]
    got = client.get(route, params={"age__between": [17, 40], "sort": "age"}).json()
    assert names(got) == ["Spider-Man", "Batman"]
    got = client.get(route, params={"age__in": [17, 48], "sort": "-name"}).json()
    assert names(got) == ["Spider-Man", "Iron Man"]
    assert names(client.get(route, params={"team__name": "Avengers", "sort": "name"}).json()) == [
        "Iron Man",
        "Spider-Man",
    ]
    assert names(client.get(route, params={"name__icontains": "MAN", "sort": "name"}).json()) == [
        "Batman",
        "Iron Man",
        "Spider-Man",
    ]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"power": "9000"}, "power"),
        ({"age__gte": "old"}, "age__gte"),
        ({"age__gte": str(10**20)}, "age__gte"),
        ({"age__between": ["1"]}, "age__between"),
        ({"sort": "power"}, "sort"),
        ({"age__lt": "3"}, "age__lt"),  # an operator that is not allowed
    ],
)
def test_anything_outside_the_allow_list_is_a_422_naming_it(client, route, params, named):
    response = client.get(route, params=params)
    assert response.status_code == 422, response.text
    assert named in {str(part) for error in response.json()["detail"] for part in error["loc"]}


def test_the_openapi_schema_lists_typed_filters_and_the_sort_enum(client):
    schema = client.get("/openapi.json").json()
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/heroes"]["get"]["parameters"]}
    assert set(parameters) >= {"age__gte", "age__between", "name", "team__name", "born__isnull"}
    assert {"type": "integer"} in parameters["age__gte"]["anyOf"]
    assert {"type": "array", "items": {"type": "integer"}} in parameters["age__between"]["anyOf"]
    assert {"type": "boolean"} in parameters["born__isnull"]["anyOf"]
    sort = parameters["sort"]["anyOf"][0]["items"]
    enum_values = schema["components"]["schemas"][sort["$ref"].rsplit("/", 1)[1]]["enum"]
    assert sorted(enum_values) == ["-age", "-name", "age", "name"]


def test_a_bad_allow_list_fails_when_it_is_declared():
    with pytest.raises(QueryError, match="nope"):
        FilterSet(Hero, fields={"nope": ["exact"]})
    with pytest.raises(QueryError):
        FilterSet(Hero, fields={"age": ["gte"]}, sort=["power"])


def test_json_keys_are_not_offered_as_query_parameters():
    from tests.models_json import JsDevice

    with pytest.raises(QueryError, match="FilterSet cannot offer 'settings__theme'"):
        FilterSet(JsDevice, fields={"settings__theme": ["exact"]})
