"""examples/fastapi_app.py driven through FastAPI's TestClient, on every
backend of the matrix, sync routes (``/heroes``) and async routes
(``/async/heroes``) alike, including hostile query parameters."""

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
    example.AppModel.metadata.create_all(backend.engine)
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


@pytest.fixture(params=["", "/async"], ids=["sync", "async"])
def prefix(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [hero["name"] for hero in response.json()["items"]]


def test_list_maps_query_parameters_onto_lookups(client: TestClient, prefix: str) -> None:
    response = client.get(
        f"{prefix}/heroes",
        params={
            "age__gte": "30",
            "name__icontains": "MAN",
            "team__name": "Avengers",
            "order_by": "-age",
        },
    )
    assert names(response) == ["Ant-Man", "Iron Man"]
    first = response.json()["items"][0]
    assert first["team"]["name"] == "Avengers"
    assert response.json()["total"] == 2


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"age__between": "30,40", "order_by": "age"}, ["Daredevil", "Black Widow", "Batman"]),
        ({"age__isnull": "true"}, ["Deadpond"]),
        ({"team_id__isnull": "true", "order_by": "name"}, ["Batman", "Deadpond"]),
        ({"name__istartswith": "d", "order_by": "-name"}, ["Deadpond", "Daredevil"]),
        ({"team__name__icontains": "fend"}, ["Daredevil"]),
        ({"age__lt": "18"}, ["Spider-Man"]),
    ],
)
def test_list_filters(
    client: TestClient, prefix: str, params: dict[str, str], expected: list[str]
) -> None:
    assert names(client.get(f"{prefix}/heroes", params=params)) == expected


def test_offset_pages(client: TestClient, prefix: str) -> None:
    response = client.get(f"{prefix}/heroes", params={"order_by": "name", "page": 2, "size": 3})
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


def test_keyset_pages_walk_every_row_once(client: TestClient, prefix: str) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"order_by": "-name", "size": 3, "team__name": "Avengers"}
    while True:
        response = client.get(f"{prefix}/heroes/keyset", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [hero["name"] for hero in body["items"]]
        if not body["has_next"]:
            assert body["next_cursor"] is None
            break
        params["cursor"] = body["next_cursor"]
    assert seen == ["Spider-Man", "Iron Man", "Black Widow", "Ant-Man"]


def test_crud_round_trip(client: TestClient, prefix: str) -> None:
    created = client.post(f"{prefix}/heroes", json={"name": "Storm", "age": 40})
    assert created.status_code == 201, created.text
    hero_id = created.json()["id"]
    assert created.json()["team"] is None

    defenders = client.get("/heroes", params={"name": "Daredevil"}).json()["items"][0]["team_id"]
    patched = client.patch(f"{prefix}/heroes/{hero_id}", json={"team_id": defenders})
    assert patched.status_code == 200, patched.text
    assert patched.json()["team"]["name"] == "Defenders"
    assert patched.json()["age"] == 40  # untouched by a partial update

    detail = client.get(f"{prefix}/heroes/{hero_id}")
    assert detail.json()["team"]["name"] == "Defenders"

    assert client.delete(f"{prefix}/heroes/{hero_id}").status_code == 204
    missing = client.get(f"{prefix}/heroes/{hero_id}")
    assert missing.status_code == 404
    assert f"id={hero_id}" in missing.json()["detail"]
    assert client.delete(f"{prefix}/heroes/{hero_id}").status_code == 404


def test_create_refuses_unknown_team_and_bad_body(client: TestClient, prefix: str) -> None:
    unknown_team = client.post(f"{prefix}/heroes", json={"name": "X", "team_id": 999_999})
    assert unknown_team.status_code == 422
    assert "team 999999 not found" in unknown_team.text
    negative_age = client.post(f"{prefix}/heroes", json={"name": "X", "age": -1})
    assert negative_age.status_code == 422


HOSTILE = [
    # (query string, status, text the message must contain)
    ("power=9000", 400, "unknown filter 'power'"),
    ("secret_name=Tony Stark", 400, "unknown filter 'secret_name'"),
    ("__class__=x", 400, "unknown filter"),
    ("metadata=x", 400, "unknown filter"),
    ("_sa_instance_state=x", 400, "unknown filter"),
    ("team__headquarters=x", 400, "unknown filter"),
    ("name__regex=.*", 400, "operator 'regex' is not allowed on 'name'"),
    ("name__like=%25", 400, "operator 'like' is not allowed on 'name'"),
    ("age__gte=thirty", 400, "age__gte"),
    ("age__in=1,x", 400, "operator 'in' is not allowed on 'age'"),
    ("id__in=1,x", 400, "id__in"),
    ("age__between=1", 400, "age__between"),
    ("age__isnull=maybe", 400, "age__isnull"),
    ("age=1&age=2", 400, "more than once"),
    ("name=%00", 400, "NUL"),
    ("age=99999999999999999999", 400, "age"),
    ("id__in=" + ",".join(["1"] * 5000), 400, "id__in"),
    ("order_by=secret_name", 400, "cannot sort by 'secret_name'"),
    ("order_by=-__dict__", 400, "cannot sort by"),
    ("order_by=name;DROP TABLE heroes", 400, "cannot sort by"),
    ("page=0", 422, "page"),
    ("page=abc", 422, "page"),
    ("size=100000", 422, "size"),
    ("cursor=abc", 400, "cursor paging is at /heroes/keyset"),
]


@pytest.mark.parametrize(("query", "status", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_list_parameters(
    client: TestClient, prefix: str, query: str, status: int, message: str
) -> None:
    response = client.get(f"{prefix}/heroes?{query}")
    assert response.status_code == status, response.text
    assert message in response.text
    # the tables are intact and the app still answers
    assert client.get(f"{prefix}/heroes").json()["total"] == len(HEROES)


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
def test_injection_strings_are_just_values(client: TestClient, prefix: str, query: str) -> None:
    assert names(client.get(f"{prefix}/heroes?{query}")) == []
    assert client.get(f"{prefix}/heroes").json()["total"] == len(HEROES)


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "garbage"},
        {"cursor": "eyJub3QiOiAiYSBjdXJzb3IifQ"},
        {"cursor": "x" * 5000},
        {"order_by": "age"},
        {"size": "0"},
    ],
    ids=["garbage", "forged", "too-long", "nullable-sort-key", "size-0"],
)
def test_hostile_keyset_parameters(client: TestClient, prefix: str, params: dict[str, str]) -> None:
    response = client.get(f"{prefix}/heroes/keyset", params=params)
    assert response.status_code in (400, 422), response.text
    assert response.json()["detail"]


def test_cursor_of_another_ordering_is_refused(client: TestClient, prefix: str) -> None:
    first = client.get(f"{prefix}/heroes/keyset", params={"order_by": "name", "size": 2}).json()
    response = client.get(
        f"{prefix}/heroes/keyset",
        params={"order_by": "-name", "size": 2, "cursor": first["next_cursor"]},
    )
    assert response.status_code == 400
    assert response.json()["parameter"] == "cursor"
    assert f"invalid or stale cursor {first['next_cursor']!r}" in response.json()["detail"]


def test_bad_path_id_is_422(client: TestClient, prefix: str) -> None:
    assert client.get(f"{prefix}/heroes/abc").status_code == 422


def test_async_url_maps_drivers() -> None:
    assert example.async_url("sqlite:///heroes.db") == "sqlite+aiosqlite:///heroes.db"
    assert example.async_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert example.async_url("mysql+pymysql://u@h/db") == "mysql+aiomysql://u@h/db"


def test_data_is_unchanged(client: TestClient) -> None:
    body = client.get("/heroes", params={"order_by": "id", "size": 100}).json()
    assert [(h["name"], h["age"]) for h in body["items"]] == [(n, a) for n, a, _ in HEROES]
