"""The OpenAPI document against the real thing: `convoship serve` on an ephemeral loopback
port, a bounded, seeded property-based run per operation (hypothesis, the fuzz test's own
request generator: each example sends its mix of schema-shaped, mutated and hostile
requests, and one request the document calls valid), every answer checked
against the document the server itself serves at /openapi.json (tests/fuzz/conformance.py):
a status, content type or body the document does not describe fails, and so does a request
valid by the document that the server refuses as not matching its schema.

`CONVOSHIP_CONFORMANCE_EXAMPLES=200` makes a deeper (slower) local run.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convoship.core import constants as env
from convoship_dev import services
from convoship_dev.router import Router
from convoship_dev.template import load_template
from tests.fuzz.calls import requests
from tests.fuzz.conformance import Conformance
from tests.fuzz.world import World, build_world
from tests.support.local_runner import HttpApiClient, Served, start_served
from tests.support.tokens import make_token

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_PER_OPERATION = int(os.environ.get("CONVOSHIP_CONFORMANCE_EXAMPLES", "10"))
COMMITTED = json.loads((ROOT / "openapi.json").read_text())  # test_openapi keeps it current
OPERATIONS = [
    (method.upper(), path)
    for path, operations in COMMITTED["paths"].items()
    for method in operations
]


@pytest.fixture(scope="module")
def runner(
    database: services.Database, base_env: dict[str, str], tmp_path_factory: Any
) -> Iterator[Served]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONVOSHIP_")}
    environ.pop("PORT", None)
    environ.update(base_env)  # the session's database, Redis and JWT secret
    environ[env.STAGE] = "development"
    environ[env.DATABASE_ADMIN_URL] = database.owner_admin_url
    environ[env.ALLOW_PRIVATE_NETWORK] = "1"  # the world's tool targets a closed loopback port
    served = start_served(environ, tmp_path_factory.mktemp("conformance"))
    yield served
    served.stop()


@pytest.fixture(scope="module")
def conformance(runner: Served) -> Conformance:
    client = HttpApiClient(runner.url)
    served = client.get("/openapi.json")
    client.close()
    assert served.status == 200
    document = json.loads(served.body)
    assert document == COMMITTED  # what the server serves is what the repository holds
    return Conformance(document, Router.from_template(load_template(ROOT / "template.yaml")))


@pytest.fixture
def client(runner: Served) -> Iterator[HttpApiClient]:
    client = HttpApiClient(runner.url)
    yield client
    client.close()


@pytest.fixture
def world(client: HttpApiClient, make_workspace: Callable[..., uuid.UUID]) -> World:
    workspace = make_workspace("Conformance")
    roles = ("owner", "admin", "editor", "viewer")
    return build_world(client, {role: make_token(workspace, role) for role in roles})  # type: ignore[arg-type]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the world is per operation on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(data=st.data())
def test_every_answer_is_documented(
    client: HttpApiClient,
    world: World,
    conformance: Conformance,
    method: str,
    path: str,
    data: st.DataObject,
    record_property: Callable[[str, object], None],
) -> None:
    operation = conformance.document["paths"][path][method.lower()]
    components = conformance.document["components"]["schemas"]
    for valid in (False, True):  # the fuzz test's hostile mix, and one the document calls valid
        strategy = requests(method, path, operation, world, components, valid=valid)
        request = data.draw(strategy, label="valid request" if valid else "request")
        response = request.send(client)  # type: ignore[arg-type]
        answered = conformance.check(response, request)
        record_property("conformance_case", (answered, response.status, request.conforming))
