"""Over 100 hostile requests against examples/fastapi_app.py, on every
backend, sync and async routers: each is answered with a 4xx, never a 500, and no
request leaves a row behind.

Bodies carry values the database would refuse (out-of-range integers,
oversize strings, NUL, lone surrogates, NULL in NOT NULL columns), wrong
JSON types; query strings carry booleans and garbage on comparisons, forged
cursors, unknown keys and paging parameters of the other router.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Backend
from tests.test_fastapi_app import example

BIG = [2**31, 2**32, 3_000_000_000, 2**63, 2**64, -(2**31) - 1, -(2**63) - 1, 10**30]
BAD_TEXT = ["a\x00b", "\x00", "\ud800", "x" * 101, "ok\udfff"]
WRONG_TYPES: list[Any] = [[], {}, 1.5, "abc"]

CREATE_BODIES: list[dict[str, Any]] = (
    [{"name": "Big", "age": value} for value in BIG]
    + [{"name": "Big", "team_id": value} for value in BIG]
    + [{"name": text} for text in BAD_TEXT]
    + [{"name": "Secret", "secret_name": text} for text in BAD_TEXT]
    + [{"name": "Typed", "age": value} for value in WRONG_TYPES]
    + [{"name": value} for value in [None, 123, [], {}, True]]
    + [{"age": 30}, {"name": "Neg", "age": -1}, {"name": "NoTeam", "team_id": -5}]
)
UPDATE_BODIES: list[dict[str, Any]] = (
    [{"age": value} for value in BIG]
    + [{"name": text} for text in BAD_TEXT]
    + [{"name": None}, {"secret_name": None}, {"team_id": 2**40}, {"age": "old"}]
)
NESTED_CURSOR = base64.urlsafe_b64encode(b"[" * 3000).decode()
QUERIES: list[dict[str, str]] = [
    {"age__gte": "true"},
    {"age__gt": "False"},
    {"age__lt": "abc"},
    {"age__gte": "99999999999999999999"},
    {"age__gte": "¹²"},
    {"age": "1e400"},
    {"age__between": "1"},
    {"age__between": "1,2,3"},
    {"age__isnull": "maybe"},
    {"id__in": "1,,2"},
    {"team_id__in": "a,b"},
    {"name": "\x00"},
    {"team__name__icontains": "a\x00"},
    {"sort": "secret_name"},
    {"sort": "-"},
    {"page": "0"},
    {"size": "1000"},
    {"unknown": "1"},
    {"age__regex": ".*"},
]
#: Raw query strings, sent as they are.
RAW_QUERIES = ["age__gte=%00", "age__in=1,2,%00"]
CURSOR_QUERIES: list[dict[str, str]] = [
    {"cursor": "garbage"},
    {"cursor": NESTED_CURSOR},
    {"cursor": "A" * 5000},
    {"size": "0"},
    {"page": "2"},
]
TEAM_BODIES: list[dict[str, Any]] = (
    [{"name": text} for text in BAD_TEXT]
    + [{"name": "HQ", "headquarters": text} for text in BAD_TEXT]
    + [{"name": None}, {}, {"name": 5}, {"name": "x", "headquarters": []}]
)
BAD_KEYS = ["99999999999999999999", "abc", "-99999999999999999999"]


def hostile_requests(heroes: str) -> list[tuple[str, str, Any]]:
    """The requests against one hero router (``/heroes`` has offset pages,
    ``/async/heroes`` cursor pages)."""
    requests: list[tuple[str, str, Any]] = [("POST", heroes, body) for body in CREATE_BODIES]
    requests += [("PATCH", f"{heroes}/{{id}}", body) for body in UPDATE_BODIES]
    requests += [("GET", heroes, query) for query in QUERIES]
    requests += [("GET", f"{heroes}?{raw}", None) for raw in RAW_QUERIES]
    if heroes.startswith("/async"):
        requests += [("GET", heroes, query) for query in CURSOR_QUERIES]
    requests += [("POST", "/teams", body) for body in TEAM_BODIES]
    requests += [
        (verb, f"{heroes}/{key}{tail}", None)
        for key in BAD_KEYS
        for verb, tail in (("GET", ""), ("DELETE", ""), ("POST", "/restore"))
    ]
    requests += [("POST", heroes, raw) for raw in ("[]", "1", "null", "{")]
    requests += [
        ("POST", heroes, f'{{"name": "Odd", "age": {number}}}')
        for number in ("NaN", "Infinity", "-Infinity", "1e400")
    ]
    return requests


def test_there_are_at_least_100_hostile_requests() -> None:
    assert len(hostile_requests("/heroes")) >= 100


@pytest.fixture(scope="module")
def client(backend: Backend) -> Iterator[TestClient]:
    example.AppModel.metadata.drop_all(backend.engine)
    app = example.create_app(backend.sync_url)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    example.AppModel.metadata.drop_all(backend.engine)


@pytest.mark.parametrize("heroes", ["/heroes", "/async/heroes"], ids=["sync", "async"])
def test_every_hostile_request_gets_a_4xx(client: TestClient, heroes: str) -> None:
    team = client.post("/teams", json={"name": f"Keepers{heroes}"}).json()["id"]
    hero = client.post(heroes, json={"name": "Keeper", "age": 40, "team_id": team}).json()
    before = client.get("/heroes", params={"size": 100}).json()
    answers: dict[str, int] = {}
    for verb, path, payload in hostile_requests(heroes):
        url = path.replace("{id}", str(hero["id"]))
        if verb == "GET":
            response = client.get(url, params=payload)
        else:  # JSON with \u escapes, so lone surrogates reach the app as such
            content = payload if isinstance(payload, str) else json.dumps(payload)
            response = client.request(
                verb, url, content=content, headers={"content-type": "application/json"}
            )
        answers[f"{verb} {path} {payload!r}"[:160]] = response.status_code
    not_4xx = {request: status for request, status in answers.items() if not 400 <= status < 500}
    assert not not_4xx, "\n".join(f"{status}: {request}" for request, status in not_4xx.items())
    assert client.get("/heroes", params={"size": 100}).json() == before


@pytest.mark.parametrize("heroes", ["/heroes", "/async/heroes"], ids=["sync", "async"])
def test_refused_values_name_the_field(client: TestClient, heroes: str) -> None:
    """The problem document says which field: a value no column of the type
    can hold is a 422 naming the field (the same on every backend), as is a
    NULL for a NOT NULL column (naming the constraint too); a boolean on a
    comparison is FastAPI's 422 naming the parameter."""
    hero = client.post(heroes, json={"name": "Named"}).json()
    response = client.post(heroes, json={"name": "Big", "age": 2**31})
    assert (response.status_code, response.json()["field"]) == (422, "age")
    response = client.post(heroes, json={"name": "x\x00y"})
    assert (response.status_code, response.json()["field"]) == (422, "name")
    response = client.patch(f"{heroes}/{hero['id']}", json={"name": None})
    assert (response.status_code, response.json()["field"]) == (422, "name")
    assert response.json()["constraint"] == "NOT NULL"
    response = client.get(heroes, params={"age__gte": "true"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "age__gte"]
    assert client.get(f"{heroes}/{hero['id']}").json()["name"] == "Named"
