"""Property-based fuzzing of every route of every function, from the OpenAPI document.

For each operation, hypothesis (seeded: derandomize) sends a bounded number of requests
through the in-process API Gateway emulation: schema-shaped bodies with hostile values mixed
in, valid bodies with hostile mutations, hostile raw bodies and content types, path and query
values, X-Request-Id, X-Visitor-Token, Origin and Authorization headers; studio routes mostly
with a valid owner token, embed routes without one. Each operation starts from a fresh
workspace holding one of everything, so the ids in paths are mostly real and requests reach
the routes' logic; the model is the loopback fake, which calls tools when asked to.

Every answer must be below 500, and every 4xx an RFC 9457 problem, except the gateway's own
`{"message": ...}` answers (authorizer 401/403, no route 404) that HTTP APIs cannot reshape.
tests/fuzz/conftest.py prints how many requests were sent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship_dev.openapi import combined_openapi
from tests.fuzz.calls import check, requests
from tests.fuzz.world import World, build_world
from tests.support.api_client import ApiClient

# Bounded for `make test`; CONVOSHIP_FUZZ_EXAMPLES=500 makes a deeper (slower) local run.
EXAMPLES_PER_ROUTE = int(os.environ.get("CONVOSHIP_FUZZ_EXAMPLES", "40"))
DOCUMENT = combined_openapi()
OPERATIONS = [
    (method.upper(), path)
    for path, operations in DOCUMENT["paths"].items()
    for method in operations
]


@pytest.fixture
def world(
    api: ApiClient,
    make_workspace: Callable[..., uuid.UUID],
    token: Callable[..., str],
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")  # the tool targets a closed loopback port
    reset_settings()
    workspace = make_workspace("Fuzz")
    roles = ("owner", "admin", "editor", "viewer")
    return build_world(api, {role: token(workspace, role) for role in roles})


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
@settings(
    max_examples=EXAMPLES_PER_ROUTE,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the world is per route on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(data=st.data())
def test_no_input_reaches_a_500(
    api: ApiClient,
    world: World,
    method: str,
    path: str,
    data: st.DataObject,
    record_property: Callable[[str, object], None],
) -> None:
    operation = DOCUMENT["paths"][path][method.lower()]
    components = DOCUMENT["components"]["schemas"]
    request = data.draw(requests(method, path, operation, world, components), label="request")
    response = request.send(api)
    record_property("fuzz_case", (f"{method} {path}", response.status))  # see conftest.py
    check(response, request)
