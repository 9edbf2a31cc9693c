"""A tool may not set the headers that frame the HTTP message or concern one hop
(`Content-Length`, `Transfer-Encoding`, `Connection`, `Upgrade`, `TE`, `Trailer`,
`Keep-Alive`, `Proxy-*`, and `Host`): they could smuggle a second request past the allowed
host or desynchronise the connection; nor those that change routing or the method on the far
side (`X-Forwarded-*`, `Forwarded*`, `X-Original-*`, `X-Rewrite-URL`, method overrides,
`X-Host`, client-address headers such as `X-Real-IP`), in any spelling with `_` for `-`
(WSGI and CGI read them alike). Refused at save (422) and, for a config stored before, at
call time, before anything is sent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from tests.support.agents import SLUG, Conn, Token, create_agent, error_locs, problem_of
from tests.support.api_client import ApiClient
from tests.support.chat import chat
from tests.support.http_servers import RecordingServer

TOOLS = f"/v1/ai-agents/{SLUG}/tools"
FRAMING = [
    "Content-Length",
    "content-length",
    "Transfer-Encoding",
    "Connection",
    "Upgrade",
    "TE",
    "Trailer",
    "Keep-Alive",
    "Proxy-Authorization",
    "proxy-connection",
    "Host",
]
# Read by proxies and frameworks on the far side: another host or path behind the allowed
# one, or another method.
ROUTING = [
    "X-Forwarded-Host",
    "x-forwarded-for",
    "X-Forwarded-Proto",
    "Forwarded",
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-HTTP-Method-Override",
    "X-HTTP-Method",
    "X-Method-Override",
    "X-HOST",
    "X_Forwarded_Host",
    "x_http_method_override",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "X-Forwarded-Server",
    "X-Forwarded-Scheme",
    "X-Forwarded-Hostname",
    "X-Original-Host",
    "X-Original-URI",
    "Forwarded-For",
    "X-Real-IP",
    "True-Client-IP",
    "Front-End-Https",
    "content_length",
    "Transfer_Encoding",
]


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer()
    yield recording
    recording.stop()


@pytest.fixture
def editor(
    api: ApiClient,
    token: Token,
    workspace: uuid.UUID,
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()
    editor = str(token(workspace, "editor"))
    create_agent(api, editor, slug=SLUG)
    return editor


def _tool(url: str, header: str) -> dict[str, Any]:
    return {
        "name": "send",
        "config": {"method": "POST", "url": url, "headers": {header: "0"}, "body": {"a": 1}},
    }


@pytest.mark.parametrize("header", FRAMING + ROUTING)
def test_a_framing_hop_or_routing_header_is_refused_at_save(
    api: ApiClient, editor: str, owner_sql: Conn, workspace: uuid.UUID, header: str
) -> None:
    response = api.post(TOOLS, token=editor, json=_tool("https://api.example.com/x", header))
    problem = problem_of(response, 422, "validation")
    locs = error_locs(problem)
    assert any("headers" in loc for loc in locs), locs
    assert any(f"the {header} header" in e["msg"] for e in problem["errors"]), problem
    row = owner_sql.execute(
        "SELECT count(*) AS n FROM ai_agent_tools WHERE workspace_id = %s", (workspace,)
    ).fetchone()
    assert row == {"n": 0}


def test_ordinary_headers_are_still_saved(api: ApiClient, editor: str) -> None:
    ordinary = ("Authorization", "X-Connection-Id", "Content-Type", "Accept", "X-Proxy")
    for name in (*ordinary, "X-Hosts", "X-Request-Method", "X_Request_Id", "X-Originator"):
        tool = {**_tool("https://api.example.com/x", name), "name": f"t_{name.replace('-', '_')}"}
        assert api.post(TOOLS, token=editor, json=tool).status == 201, name


@pytest.mark.parametrize(
    "header",
    [
        "Content-Length",
        "Transfer-Encoding",
        "Connection",
        "X-Forwarded-Host",
        "X-HTTP-Method",
        "X_Forwarded_Host",
        "X-Original-Host",
    ],
)
def test_a_stored_config_with_one_is_refused_at_call_time(
    api: ApiClient,
    editor: str,
    owner_sql: Conn,
    workspace: uuid.UUID,
    server: RecordingServer,
    header: str,
) -> None:
    owner_sql.execute(
        "INSERT INTO ai_agent_tools (workspace_id, agent_id, name, handler_kind, config,"
        " input_schema) SELECT %s, id, 'send', 'http', %s, %s FROM ai_agents"
        " WHERE workspace_id = %s AND slug = %s",
        (
            workspace,
            Jsonb(_tool(server.url + "/x", header)["config"]),
            Jsonb({"type": "object"}),
            workspace,
            SLUG,
        ),
    )
    response = chat(api, editor, "call:send {}")
    assert response.status == 200, response.text
    assert response.json()["reply"] == (
        "tool said: error: refused: this tool's saved config is not valid (headers)"
    )
    assert server.received == []


@pytest.mark.parametrize("header", ["X-Key\n", "X-Key\r", "X Key", "X-Key:"])
def test_a_header_name_that_http_cannot_carry_is_refused_at_save(
    api: ApiClient, editor: str, header: str
) -> None:
    """`$` in a Python pattern also matches before a final newline: the whole name is held
    to the token characters, or a saved tool would fail at its first call."""
    response = api.post(TOOLS, token=editor, json=_tool("https://api.example.com/x", header))
    problem = problem_of(response, 422, "validation")
    assert any("not a valid header name" in e["msg"] for e in problem["errors"]), problem
