"""examples/fastapi_app.py driven through FastAPI's TestClient, on every
backend of the matrix: the sync router (``/heroes``, offset pages) and the
async one (``/async/heroes``, cursor pages), filters, nested teams, the
actor header, soft delete and restore, and hostile query parameters."""

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Backend

APP_PATH = Path(__file__).resolve().parent.parent / "examples" / "fastapi_app.py"


def load_example() -> Any:
    name = "examples_fastapi_app"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, APP_PATH)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


example = load_example()

HEROES = [
    ("Iron Man", 48, "Avengers"),
    ("Spider-Man", 17, "Avengers"),
    ("Black Widow", 35, "Avengers"),
    ("Ant-Man", 49, "Avengers"),
    ("Daredevil", 32, "Defenders"),
    ("Batman", 40, None),
    ("Deadpond", None, None),
]


@pytest.fixture(scope="module")
def client(backend: Backend) -> Iterator[TestClient]:
    """One seeded app per backend for the module: tests that write put the
    data back (checked by `test_data_is_unchanged`)."""
    example.AppModel.metadata.drop_all(backend.engine)
    app = example.create_app(backend.sync_url)
    with TestClient(app) as test_client:
        teams = {}
        for team in ("Avengers", "Defenders"):
            response = test_client.post("/teams", json={"name": team})
            assert response.status_code == 201, response.text
            teams[team] = response.json()["id"]
        for name, age, team in HEROES:
            body = {"name": name, "age": age, "team_id": teams.get(team) if team else None}
            assert test_client.post("/heroes", json=body).status_code == 201
        yield test_client
    example.AppModel.metadata.drop_all(backend.engine)


@pytest.fixture(params=["/heroes", "/async/heroes"], ids=["sync", "async"])
def heroes(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [hero["name"] for hero in response.json()["items"]]


def walk(client: TestClient, params: dict[str, Any]) -> list[str]:
    """Every hero of the async router's cursor pages, in order."""
    seen: list[str] = []
    params = {**params}
    while True:
        response = client.get("/async/heroes", params=params)
        seen += names(response)
        body = response.json()
        if not body["has_next"]:
            assert body["next_cursor"] is None
            return seen
        params["cursor"] = body["next_cursor"]


def test_filters_sort_and_nested_teams(client: TestClient, heroes: str) -> None:
    params = {"age__gte": 30, "name__icontains": "MAN", "team__name": "Avengers", "sort": "-age"}
    response = client.get(heroes, params=params)
    assert names(response) == ["Ant-Man", "Iron Man"]
    assert response.json()["items"][0]["team"]["name"] == "Avengers"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"age__between": [30, 40], "sort": "age"}, ["Daredevil", "Black Widow", "Batman"]),
        ({"age__isnull": "true"}, ["Deadpond"]),
        ({"team_id__isnull": "true", "sort": "name"}, ["Batman", "Deadpond"]),
        ({"name__istartswith": "d", "sort": "-name"}, ["Deadpond", "Daredevil"]),
        ({"team__name__icontains": "fend"}, ["Daredevil"]),
        ({"age__lt": 18}, ["Spider-Man"]),
        ({"id__in": [1, 2]}, ["Iron Man", "Spider-Man"]),
    ],
)
def test_list_filters(
    client: TestClient, heroes: str, params: dict[str, Any], expected: list[str]
) -> None:
    if heroes == "/async/heroes":
        assert walk(client, {**params, "size": 2}) == expected
    else:
        assert names(client.get(heroes, params=params)) == expected


def test_offset_pages(client: TestClient) -> None:
    response = client.get("/heroes", params={"sort": "name", "page": 2, "size": 3})
    assert names(response) == ["Daredevil", "Deadpond", "Iron Man"]
    body = response.json()
    assert {k: body[k] for k in ("total", "page", "size", "pages", "has_next", "has_prev")} == {
        "total": 7,
        "page": 2,
        "size": 3,
        "pages": 3,
        "has_next": True,
        "has_prev": True,
    }


def test_cursor_pages_walk_every_row_once(client: TestClient) -> None:
    seen = walk(client, {"sort": "-name", "size": 3, "team__name": "Avengers"})
    assert seen == ["Spider-Man", "Iron Man", "Black Widow", "Ant-Man"]


def test_crud_round_trip_with_the_actor_stamped(client: TestClient, heroes: str) -> None:
    created = client.post(heroes, json={"name": "Storm", "age": 40}, headers={"x-user": "ororo"})
    assert created.status_code == 201, created.text
    assert (created.json()["team"], created.json()["created_by"]) == (None, "ororo")
    hero_id = created.json()["id"]

    defenders = client.get("/teams/2").json()
    assert defenders["name"] == "Defenders"
    patched = client.patch(
        f"{heroes}/{hero_id}", json={"team_id": defenders["id"]}, headers={"x-user": "logan"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["team"]["name"] == "Defenders"
    assert (patched.json()["age"], patched.json()["updated_by"]) == (40, "logan")
    assert client.get(f"{heroes}/{hero_id}").json()["team"]["name"] == "Defenders"

    assert client.delete(f"{heroes}/{hero_id}").status_code == 204  # a soft delete
    missing = client.get(f"{heroes}/{hero_id}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert f"id={hero_id}" in missing.json()["detail"]
    assert client.delete(f"{heroes}/{hero_id}").status_code == 404
    restored = client.post(f"{heroes}/{hero_id}/restore")
    assert (restored.status_code, restored.json()["name"]) == (200, "Storm")
    # the example allows no hard delete: put the data back through the database
    with example.Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        session.delete(session.get(example.Hero, hero_id))
        session.commit()


def test_writes_refused_with_problems(client: TestClient, heroes: str) -> None:
    unknown_team = client.post(heroes, json={"name": "X", "team_id": 999_999})
    assert (unknown_team.status_code, unknown_team.json()["model"]) == (409, "Hero")
    assert unknown_team.json()["constraint"]
    duplicate = client.post("/teams", json={"name": "Avengers"})
    assert (duplicate.status_code, duplicate.json()["field"]) == (409, "name")
    assert client.post(heroes, json={"name": "X", "age": -1}).status_code == 422
    assert client.post(heroes, json={"name": "X", "is_deleted": True}).status_code == 422


HOSTILE = [
    # (query string, the parameter the 422 names)
    ("power=9000", "power"),
    ("secret_name=Tony Stark", "secret_name"),
    ("__class__=x", "__class__"),
    ("_sa_instance_state=x", "_sa_instance_state"),
    ("team__headquarters=x", "team__headquarters"),
    ("name__regex=.*", "name__regex"),
    ("age__gte=thirty", "age__gte"),
    ("age__gte=true", "age__gte"),
    ("age__in=1", "age__in"),
    ("id__in=1&id__in=x", "id__in"),
    ("age__between=1", "age__between"),
    ("age__isnull=maybe", "age__isnull"),
    ("name=%00", "name"),
    ("age=99999999999999999999", "age"),
    ("sort=secret_name", "sort"),
    ("sort=-__dict__", "sort"),
    ("sort=name;DROP TABLE heroes", "sort"),
    ("size=100000", "size"),
]


@pytest.mark.parametrize(("query", "parameter"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_list_parameters(
    client: TestClient, heroes: str, query: str, parameter: str
) -> None:
    response = client.get(f"{heroes}?{query}")
    assert response.status_code == 422, response.text
    assert parameter in response.text
    assert len(walk(client, {"size": 100})) == len(HEROES)  # the table is intact


@pytest.mark.parametrize(
    "query",
    [
        "name=' OR 1=1 --",
        "name=Batman'; DROP TABLE heroes; --",
        'team__name=" OR ""="',
        "name__icontains=%25",
        "name__icontains=_",
    ],
)
def test_injection_strings_are_just_values(client: TestClient, heroes: str, query: str) -> None:
    assert names(client.get(f"{heroes}?{query}")) == []
    assert len(walk(client, {"size": 100})) == len(HEROES)


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "eyJub3QiOiAiYSBjdXJzb3IifQ", "x" * 5000],
    ids=["garbage", "forged", "too-long"],
)
def test_hostile_cursors(client: TestClient, cursor: str) -> None:
    response = client.get("/async/heroes", params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert "cursor" in response.text


def test_cursor_of_another_ordering_is_refused(client: TestClient) -> None:
    first = client.get("/async/heroes", params={"sort": "name", "size": 2}).json()
    response = client.get(
        "/async/heroes", params={"sort": "-name", "size": 2, "cursor": first["next_cursor"]}
    )
    assert (response.status_code, response.json()["field"]) == (422, "cursor")
    assert "invalid or stale cursor" in response.json()["detail"]


def test_bad_path_ids_are_422(client: TestClient, heroes: str) -> None:
    assert client.get(f"{heroes}/abc").status_code == 422
    assert client.get(f"{heroes}/99999999999999999999").status_code == 422


def test_the_openapi_schema_shows_the_example(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    listing = schema["paths"]["/heroes"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"age__between", "team__name", "sort"}
    cursor = schema["paths"]["/async/heroes"]["get"]["responses"]["200"]
    assert "CursorPage" in cursor["content"]["application/json"]["schema"]["$ref"]
    assert set(schema["paths"]["/heroes/{key}"]["patch"]["responses"]) >= {"404", "409", "422"}


def test_async_url_maps_drivers() -> None:
    assert example.async_url("sqlite:///heroes.db") == "sqlite+aiosqlite:///heroes.db"
    assert example.async_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert example.async_url("mysql+pymysql://u@h/db") == "mysql+aiomysql://u@h/db"


def test_data_is_unchanged(client: TestClient) -> None:
    body = client.get("/heroes", params={"sort": "id", "size": 100}).json()
    assert [(h["name"], h["age"]) for h in body["items"]] == [(n, a) for n, a, _ in HEROES]


def test_cursor_pages_walk_back_with_before(client: TestClient) -> None:
    params: dict[str, Any] = {"sort": "name", "size": 2}
    first = client.get("/async/heroes", params=params).json()
    second = client.get("/async/heroes", params={**params, "cursor": first["next_cursor"]}).json()
    assert (second["has_prev"], first["has_prev"]) == (True, False)
    back = client.get("/async/heroes", params={**params, "before": second["prev_cursor"]}).json()
    assert [h["name"] for h in back["items"]] == [h["name"] for h in first["items"]]
    both = client.get(
        "/async/heroes", params={**params, "cursor": first["next_cursor"], "before": "x"}
    )
    assert both.status_code == 422
    assert client.get("/heroes", params={"before": first["next_cursor"]}).status_code == 422
