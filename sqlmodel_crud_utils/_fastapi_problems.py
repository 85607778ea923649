"""This library's errors as RFC 9457 problem documents (the public side is
`sqlmodel_crud_utils.fastapi`)."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from .exceptions import (
    ConflictError,
    ConstraintError,
    DatabaseConnectionError,
    MultipleRecordsError,
    QueryError,
    RecordNotFoundError,
    SQLModelCRUDError,
    TenantError,
    ValidationError,
)

__all__ = [
    "PROBLEM_JSON",
    "Problem",
    "install_error_handlers",
    "problem_for",
    "problem_response",
    "problem_responses",
]

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem document, as `install_error_handlers` answers.

    ``type`` names the kind of problem (a fragment of this library's
    errors page), ``model`` / ``field`` / ``constraint`` say what was at
    fault when the error knows.

    Example:
        >>> Problem(type="about:blank", title="Not Found", status=404).status
        404
    """

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    model: str | None = None
    field: str | None = None
    constraint: str | None = None
    current_version: int | None = None


#: status, title and ``type`` fragment of each library error (most specific first)
_PROBLEMS: tuple[tuple[type[SQLModelCRUDError], int, str, str], ...] = (
    (RecordNotFoundError, 404, "Not Found", "not-found"),
    (MultipleRecordsError, 409, "Conflict", "multiple-records"),
    (ConflictError, 409, "Conflict", "version"),
    (TenantError, 403, "Forbidden", "tenant"),
    (ConstraintError, 409, "Conflict", "constraint"),
    (QueryError, 422, "Unprocessable Content", "query"),
    (ValidationError, 422, "Unprocessable Content", "validation"),
    (DatabaseConnectionError, 503, "Service Unavailable", "database-unavailable"),
)
_ERRORS_PAGE = "https://sqlmodel-crud-utils.readthedocs.io/en/latest/errors/"
#: constraints a client breaks by sending a bad value, not a conflicting one
_VALUE_CONSTRAINTS = frozenset({"NOT NULL", "CHECK"})


def problem_for(exc: SQLModelCRUDError, instance: str | None = None) -> Problem | None:
    """The problem document for one of this library's errors (``None`` for
    errors a client cannot cause, which stay 500s).

    Example:
        >>> problem_for(RecordNotFoundError("Hero", 7)).status
        404
    """
    for kind, status, title, fragment in _PROBLEMS:
        if isinstance(exc, kind):
            constraint = getattr(exc, "constraint", None)
            if kind is ConstraintError and constraint in _VALUE_CONSTRAINTS:
                status, title, fragment = 422, "Unprocessable Content", "constraint"
            model = getattr(exc, "model", None)
            return Problem(
                type=_ERRORS_PAGE + "#" + fragment,
                title=title,
                status=status,
                detail=str(exc),
                instance=instance,
                model=getattr(model, "__name__", None if model is None else str(model)),
                field=getattr(exc, "field", None),
                constraint=constraint,
                current_version=getattr(exc, "current", None) if kind is ConflictError else None,
            )
    return None


def problem_response(exc: SQLModelCRUDError, instance: str | None = None) -> JSONResponse:
    """``exc`` as an ``application/problem+json`` response (see
    `problem_for`); an error a client cannot cause is raised again.

    Example:
        >>> problem_response(RecordNotFoundError("Hero", 7)).status_code
        404
    """
    problem = problem_for(exc, instance)
    if problem is None:
        raise exc
    return _AsciiJSONResponse(
        problem.model_dump(exclude_none=True), status_code=problem.status, media_type=PROBLEM_JSON
    )


class _AsciiJSONResponse(JSONResponse):
    """JSON with ``\\u`` escapes: a client's text echoed in an error (a lone
    surrogate such as ``"\\ud800"``) cannot be UTF-8 encoded as it is."""

    def render(self, content: Any) -> bytes:
        return json.dumps(_finite(content), allow_nan=False, separators=(",", ":")).encode("ascii")


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats (a client's ``NaN`` echoed back) as
    strings, which JSON can carry."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, SQLModelCRUDError):
        raise exc
    return problem_response(exc, request.url.path)


async def _request_validation_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422 body, rendered so that any input it echoes encodes."""
    assert isinstance(exc, RequestValidationError)
    return _AsciiJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Answer this library's errors as RFC 9457 ``application/problem+json``:
    a missing row 404, a unique or foreign-key conflict (and several rows
    where one was expected) 409, a bad filter, value or NOT NULL / CHECK
    violation 422, a lost database 503. Programming errors (`UsageError`)
    stay 500s. FastAPI's own request validation errors keep their shape,
    rendered with ``\\u`` escapes so that echoing a client's lone surrogate
    cannot turn the 422 into a 500.

    Example::

        app = FastAPI()
        install_error_handlers(app)
    """
    for kind, _status, _title, _fragment in _PROBLEMS:
        app.add_exception_handler(kind, _problem_handler)
    app.add_exception_handler(RequestValidationError, _request_validation_handler)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` documenting `Problem` bodies for ``statuses``.

    Example:
        >>> sorted(problem_responses(404, 422))
        [404, 422]
    """
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": _DESCRIPTIONS.get(status, "Problem"),
        }
        for status in statuses
    }


_DESCRIPTIONS = {
    404: "No such row",
    409: "The write conflicts with existing rows",
    422: "A parameter or value was refused",
    503: "The database is unavailable",
}
