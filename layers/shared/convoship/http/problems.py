"""RFC 9457 problem responses: the one place that maps failures to HTTP."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from convoship.core import errors
from convoship.core.observability import logger

PROBLEM_JSON = "application/problem+json"

# Domain exception -> (status, slug, title). Subclasses resolve through the MRO.
_PROBLEMS: dict[type[errors.ConvoshipError], tuple[int, str, str]] = {
    errors.Unauthorized: (401, "unauthorized", "Authentication required"),
    errors.Forbidden: (403, "forbidden", "Not allowed"),
    errors.NotFound: (404, "not-found", "Not found"),
    errors.Conflict: (409, "conflict", "Conflict"),
    errors.ValidationFailed: (422, "validation", "Invalid request"),
    errors.PayloadTooLarge: (413, "payload-too-large", "Payload too large"),
    errors.RateLimited: (429, "rate-limited", "Too many requests"),
    errors.BudgetExceeded: (429, "budget-exceeded", "Token budget exceeded"),
    errors.EvalGateFailed: (422, "eval-gate-failed", "Evaluation gate failed"),
    errors.OriginNotAllowed: (403, "origin-not-allowed", "Origin not allowed"),
    errors.LlmNotConfigured: (503, "llm-not-configured", "No language model configured"),
    errors.UpstreamUnavailable: (502, "upstream-unavailable", "Upstream unavailable"),
    errors.ServiceUnavailable: (503, "service-unavailable", "Service unavailable"),
    errors.DecryptionFailed: (500, "internal", "Internal error"),
    errors.ConfigurationError: (503, "service-unavailable", "Service unavailable"),
}

_HTTP_SLUGS = {
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
}


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    /,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_for(error_type: type[errors.ConvoshipError]) -> tuple[int, str, str]:
    """(status, slug, title) of a domain exception class (also for the OpenAPI document)."""
    for cls in error_type.__mro__:
        if cls in _PROBLEMS:
            return _PROBLEMS[cls]
    return 500, "internal", "Internal error"


def domain_problem(exc: errors.ConvoshipError) -> JSONResponse:
    status, slug, title = problem_for(type(exc))
    headers: dict[str, str] = dict(exc.headers)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    extra = dict(exc.extra)
    if isinstance(exc, errors.ValidationFailed):
        extra["errors"] = exc.errors
    if status >= 500:
        logger.warning("request failed", extra={"problem": slug, "error": type(exc).__name__})
        detail = exc.detail if slug != "internal" else None
    else:
        detail = exc.detail
    return problem(status, slug, title, detail, headers=headers or None, **extra)


# What the OpenAPI document describes (types, required, bounds, patterns) is one kind of
# refusal; a rule a model's own validator checks (a valid host, an input schema that is a
# JSON Schema) is another, which no schema spells: the detail says which it was.
SCHEMA_MISMATCH = "the request does not match the schema"
RULE_BROKEN = "a value in the request breaks a rule of the resource"
_RULE_ERRORS = frozenset({"value_error", "assertion_error"})


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            msg = "body is not valid JSON"
        out.append({"loc": loc, "msg": msg})
    return out


def _validation_detail(exc: RequestValidationError) -> str:
    types = {err.get("type") for err in exc.errors()}
    return RULE_BROKEN if types <= _RULE_ERRORS else SCHEMA_MISMATCH


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.ConvoshipError)
    async def _domain(_: Request, exc: errors.ConvoshipError) -> JSONResponse:
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(
            422,
            "validation",
            "Invalid request",
            _validation_detail(exc),
            errors=_validation_errors(exc),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body its JSON parser gave up on (nested past Python's
            # recursion limit): as invalid as any other body that is not JSON.
            return problem(
                422,
                "validation",
                "Invalid request",
                SCHEMA_MISMATCH,
                errors=[{"loc": ["body"], "msg": "body cannot be parsed as JSON"}],
            )
        slug, title = _HTTP_SLUGS.get(exc.status_code, ("error", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, slug, title, detail, headers=headers)

    @app.exception_handler(psycopg.DataError)
    async def _unstorable(_: Request, exc: psycopg.DataError) -> JSONResponse:
        # SQLSTATE class 22: a value the database cannot take (a NUL character in text,
        # a number out of range); the input is at fault, and nothing was written.
        return problem(
            422,
            "validation",
            "Invalid request",
            "a value in the request cannot be stored",
            errors=[{"loc": ["body"], "msg": "contains a value that cannot be stored"}],
        )

    @app.exception_handler(psycopg.IntegrityError)
    async def _integrity(_: Request, exc: psycopg.IntegrityError) -> JSONResponse:
        # Constraint errors the data-access code did not expect where it ran: typically
        # surfacing at COMMIT (queued audit rows, deferred constraints) under a race.
        if isinstance(exc, psycopg.errors.CheckViolation | psycopg.errors.NotNullViolation):
            return problem(
                422,
                "validation",
                "Invalid request",
                "a value breaks a constraint",
                errors=[{"loc": ["body"], "msg": "a value breaks a constraint"}],
            )
        return problem(409, "conflict", "Conflict", "the change conflicts with the current state")

    @app.exception_handler(psycopg.OperationalError)
    async def _db_down(_: Request, exc: psycopg.OperationalError) -> JSONResponse:
        return domain_problem(errors.ServiceUnavailable("the database is unavailable"))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return problem(500, "internal", "Internal error")
