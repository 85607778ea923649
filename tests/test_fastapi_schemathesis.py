"""schemathesis against the generated app's ``/openapi.json``, on every
backend: no generated request is ever answered with a 500."""

import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import Backend
from tests.fastapi_apps import generated_app

# schemathesis 4 needs Python 3.11; the Python 3.10 floor cell runs the rest
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis needs Python >= 3.11")


def test_no_generated_request_is_a_500(backend: Backend) -> None:
    """Every operation of ``/openapi.json``, 15 derandomised examples each
    (schemathesis strategies run by hypothesis; its pytest plugin is not
    used, it does not support this pytest)."""
    backend.clean()
    app, dispose = generated_app(backend)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    server_errors: list[str] = []
    operations = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1

            @given(case=operation.as_strategy())
            @settings(
                max_examples=15,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def no_server_error(case: schemathesis.Case) -> None:
                response = case.call()
                if response.status_code >= 500:
                    server_errors.append(f"{case.method} {case.formatted_path}: {response.text}")

            no_server_error()
    finally:
        dispose()
    assert operations >= 20
    assert not server_errors, server_errors[:5]
