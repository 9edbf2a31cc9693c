"""One fuzzed request to an OpenAPI operation, and what its answer must look like."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.fuzz import hostile as hs
from tests.fuzz.schema_values import SchemaValues, dumps, mutated
from tests.fuzz.world import VALID_BODIES, World
from tests.support.api_client import ApiClient, ApiResponse

# API Gateway's own answers (authorizer 401/403, no route 404): HTTP APIs cannot reshape them.
GATEWAY_ANSWERS = ({"message": "Unauthorized"}, {"message": "Forbidden"}, {"message": "Not Found"})


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


HOSTILE_TOKENS = [
    "",
    "a.b.c",
    f"{_b64('[' * 1500)}.{_b64('{}')}.AAAA",
    f"{_b64('{}')}.{_b64('[' * 1500)}.AAAA",
    f"{_b64(json.dumps({'alg': 'none'}))}.{_b64('{}')}.",
    f"{_b64(json.dumps({'alg': 'HS256'}))}.{_b64('1' + '0' * 5000)}.AAAA",
    "x" * 9000,
    "é.é.é",
]


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path?query, percent-encoded
    headers: dict[str, str]
    auth: str | None  # the Authorization header
    body: bytes | None
    content_type: str | None
    # Every part drawn valid by the OpenAPI document (real path values, schema-shaped query
    # and body, a valid token): the server must not refuse it as not matching the schema.
    conforming: bool = False

    def describe(self) -> str:
        body = (self.body or b"")[:300]
        auth = None if self.auth is None else self.auth[:60]
        return (
            f"{self.method} {self.target[:300]} authorization={auth!r} headers={self.headers}"
            f" content-type={self.content_type!r} body={body!r}"
        )

    def send(self, api: ApiClient) -> ApiResponse:
        return api.request(
            self.method,
            self.target,
            raw_auth=self.auth,
            data=self.body,
            content_type=self.content_type,
            headers=self.headers,
        )


def _spellable(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without its null branch: a query string cannot spell null
    (leaving the parameter out is how a client sends none)."""
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    return {**schema, "anyOf": branches} if branches else schema


def _target(
    draw: st.DrawFn,
    path: str,
    operation: dict[str, Any],
    world: World,
    hostile: bool,
    values: SchemaValues,
    valid: bool,
) -> tuple[str, bool]:
    target, conforming = path, not hostile
    for name in re.findall(r"\{(\w+)\}", path):
        real = world.path_values_for(path, name)
        kind = draw(st.integers(0, 4 if valid else 7))
        if kind < 5:
            value = draw(st.sampled_from(real))
        elif kind < 7:
            value, conforming = draw(st.sampled_from(hs.PATH_VALUES)), False
        else:
            value, conforming = hs.percent(draw(hs.ANY_TEXT)), False
        target = target.replace("{" + name + "}", value)
    query: list[tuple[str, str]] = []
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and draw(st.booleans()):
            value = values.value(draw, _spellable(parameter["schema"]), hostile)
            text = value if isinstance(value, str) else json.dumps(value)
            query.append((parameter["name"], hs.percent(text)))
    if hostile and draw(st.integers(0, 4)) == 0:
        query.append((draw(st.sampled_from(["next_cursor", "x", "limit", "%00"])), "1"))
    return target + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else ""), conforming


def _auth(draw: st.DrawFn, world: World, valid: bool) -> tuple[str | None, bool]:
    kind = draw(st.integers(0, 7 if valid else 9))
    if kind < 7:
        return f"Bearer {world.tokens['owner']}", True
    if kind == 7:
        return f"Bearer {world.tokens['viewer']}", True
    return draw(
        st.sampled_from([None, "Bearer", "Basic dXNlcjpwYXNz"])
        | st.sampled_from(HOSTILE_TOKENS).map(lambda t: f"Bearer {t}")
        | hs.HEADER_TEXT
    ), False


def _body(
    draw: st.DrawFn,
    key: str,
    operation: dict[str, Any],
    hostile: bool,
    values: SchemaValues,
    valid: bool,
) -> tuple[bytes | None, bool]:
    request_body = operation.get("requestBody")
    if request_body is None and (valid or draw(st.integers(0, 9)) > 0):
        return None, True
    # valid: a seed as it is (0, 1) or a schema-shaped body (6-8), never mutated or raw
    kind = draw(st.sampled_from([0, 1, 6, 7, 8]) if valid else st.integers(0, 9))
    if request_body is not None and kind < 9:
        if key in VALID_BODIES and kind < 6:
            seed = VALID_BODIES[key]
            return dumps(mutated(draw, seed) if kind > 1 else seed), kind <= 1
        schema = request_body["content"]["application/json"]["schema"]
        return dumps(values.value(draw, schema, hostile)), not hostile
    return draw(st.sampled_from(hs.RAW_BODIES)), False


@st.composite
def requests(
    draw: st.DrawFn,
    method: str,
    path: str,
    operation: dict[str, Any],
    world: World,
    components: dict[str, Any],
    valid: bool = False,
) -> Request:
    """A request to one operation; with valid, one the document calls valid (what the
    conformance test needs more of than the hostile mix gives)."""
    values = SchemaValues(components)
    hostile = False if valid else draw(st.booleans())
    target, conforming = _target(draw, path, operation, world, hostile, values, valid)
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["x-request-id"] = draw(hs.REQUEST_IDS)
    auth = None
    if path.startswith("/v1/embed/"):
        if draw(st.booleans()):
            origins = st.sampled_from(["https://shop.example.com", "null", ""]) | hs.HEADER_TEXT
            headers["origin"] = draw(origins)
        kind = draw(st.integers(0, 1 if valid else 5))
        if kind > 0:
            tokens = world.visitor_tokens if kind == 1 else HOSTILE_TOKENS
            headers["x-visitor-token"] = draw(
                hs.HEADER_TEXT if kind == 5 else st.sampled_from(tokens)
            )
            conforming = conforming and kind in (1, 5)
    else:
        auth, valid_auth = _auth(draw, world, valid)
        conforming = conforming and valid_auth
    body, valid_body = _body(draw, f"{method} {path}", operation, hostile, values, valid)
    content_type = None
    if body is not None:
        content_type = draw(st.sampled_from(hs.CONTENT_TYPES)) if hostile else "application/json"
    conforming = conforming and valid_body
    return Request(method, target, headers, auth, body, content_type, conforming)


def check(response: ApiResponse, request: Request) -> None:
    """No 5xx; every 4xx a problem (or one of the gateway's own answers)."""
    where = f"{response.status} for {request.describe()}\n{response.body[:500]!r}"
    assert response.status < 500, where
    if response.status < 400:
        return
    content_type = response.headers.get("content-type", "")
    if content_type == "application/json" and response.json() in GATEWAY_ANSWERS:
        assert response.status in (401, 403, 404), where
        return
    assert content_type.startswith("application/problem+json"), where
    problem = response.json()
    assert isinstance(problem.get("type"), str) and problem["type"].startswith("/problems/"), where
    assert isinstance(problem.get("title"), str) and problem["title"], where
    assert problem.get("status") == response.status, where
    assert response.headers.get("x-request-id"), where
