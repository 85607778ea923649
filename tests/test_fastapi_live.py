"""The generated app under a real server (uvicorn on 127.0.0.1), on every
backend, sync and async routes."""

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from tests.conftest import Backend
from tests.fastapi_apps import generated_app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(backend: Backend) -> Iterator[str]:
    backend.clean()
    app, dispose = generated_app(backend)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uvi = uvicorn.Server(config)
    thread = threading.Thread(target=uvi.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvi.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    uvi.should_exit = True
    thread.join(timeout=20)
    dispose()


@pytest.mark.parametrize("root", ["", "/async"], ids=["sync", "async"])
def test_a_real_server_serves_the_generated_routes(server, root):
    with httpx.Client(base_url=server, timeout=10) as http:
        created = http.post(f"{root}/authors", json={"name": "Ada"}, headers={"x-user": "grace"})
        assert created.status_code == 201, created.text
        key = created.json()["id"]
        assert created.json()["created_by"] == "grace"
        listed = http.get(f"{root}/authors").json()
        assert key in [author["id"] for author in listed["items"]]
        assert http.delete(f"{root}/authors/{key}").status_code == 204
        missing = http.get(f"{root}/authors/{key}")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert http.post(f"{root}/authors/{key}/restore").status_code == 200
        assert http.get(f"{root}/heroes", params={"size": 10**6}).status_code == 422
