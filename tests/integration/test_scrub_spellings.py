"""Finding 3 of issue 9: a value a run used is scrubbed in every spelling, from tool results,
tool arguments, replies, error texts, what is persisted and what the model sees next.

A loopback tool answers with the secret it was sent, spelled as the model asks; the model
(the loopback fake) also passes the spelled value back as an argument.
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from psycopg.types.json import Jsonb

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship.runtime.tool_calls import MAX_RESPONSE_CHARS
from tests.support.agents import SLUG, Conn, Token, create_agent
from tests.support.api_client import ApiClient
from tests.support.chat import chat, transcript
from tests.support.http_servers import RecordingServer, Seen
from tests.support.spellings import SPELLINGS, VALUE, leaks, spelled


def _spell(seen: Seen) -> tuple[int, bytes]:
    """/spell/NAME: the value in that spelling; /cut/NAME/K: padding, then the spelling,
    so that the 16 KiB cut falls K characters into it."""
    parts = unquote(seen["path"].split("?")[0]).strip("/").split("/")
    text = spelled(parts[1])
    if parts[0] == "cut":
        head = text[: int(parts[2])].encode()
        return 200, b"x" * (MAX_RESPONSE_CHARS - len(head)) + head + text.encode()[len(head) :]
    return 200, json.dumps({"echo": text, "status": "ok"}, ensure_ascii=False).encode()


@pytest.fixture
def spelling_server() -> Iterator[RecordingServer]:
    server = RecordingServer(_spell)
    yield server
    server.stop()


@pytest.fixture
def editor(
    api: ApiClient,
    token: Token,
    workspace: uuid.UUID,
    fake_llm: Any,
    spelling_server: RecordingServer,
    owner_sql: Conn,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    assert api.post("/v1/secrets", token=admin, json={"name": "KEY", "value": VALUE}).status == 201
    # Every call below is refused unless the host is allowed: what they assert shows it was.
    api.patch("/v1/secrets/KEY", token=admin, json={"allowed_hosts": ["127.0.0.1"]})
    create_agent(api, editor, slug=SLUG)
    tool = {
        "method": "GET",
        "url": spelling_server.url + "/{{mode}}",
        "headers": {"X-Key": "{{secret:KEY}}"},
    }
    schema = {
        "type": "object",
        "properties": {"mode": {"type": "string"}, "note": {"type": "string"}},
    }
    _insert_tool(owner_sql, workspace, "spell", tool, ["KEY"], schema)  # scrubbing is tested
    return editor


def _insert_tool(
    owner_sql: Conn,
    workspace: uuid.UUID,
    name: str,
    config: dict[str, Any],
    refs: list[str],
    schema: dict[str, Any] | None = None,
) -> None:
    owner_sql.execute(
        "INSERT INTO ai_agent_tools (workspace_id, agent_id, name, handler_kind, config,"
        " input_schema, secret_refs) SELECT %s, id, %s, 'http', %s, %s, %s FROM ai_agents"
        " WHERE workspace_id = %s AND slug = %s",
        (
            workspace,
            name,
            Jsonb(config),
            Jsonb(schema or {"type": "object"}),
            refs,
            workspace,
            SLUG,
        ),
    )


def _everything_seen(response: Any, owner_sql: Conn, fake_llm: Any) -> dict[str, str]:
    """Every place the value might reach: the reply, what was persisted, what the model
    read after the tool answered (its tool result and its own call, as shown back)."""
    rows = transcript(owner_sql, response.json()["conversation_id"])
    after_tool = fake_llm.requests[-1].body["messages"]
    shown_back = [m for m in after_tool if m["role"] in ("assistant", "tool")]
    return {
        "reply": response.json()["reply"],
        "transcript": "\n".join(str(r["content"]) for r in rows),
        "tool_args": json.dumps([r["tool_args"] for r in rows], ensure_ascii=False),
        "tool_args_decoded": "\n".join(
            str(v) for r in rows if r["tool_args"] for v in r["tool_args"].values()
        ),
        "model_next": "\n".join(str(m.get("content")) for m in shown_back),
        "model_next_calls": "\n".join(
            str(c["function"]["arguments"]) for m in shown_back for c in m.get("tool_calls") or []
        ),
    }


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_each_spelling_is_scrubbed_everywhere(
    api: ApiClient,
    editor: str,
    owner_sql: Conn,
    fake_llm: Any,
    spelling_server: RecordingServer,
    spelling: str,
) -> None:
    args = {"mode": f"spell/{spelling}", "note": spelled(spelling)}
    response = chat(api, editor, "call:spell " + json.dumps(args))
    assert response.status == 200, response.text
    assert spelling_server.received[-1]["headers"]["X-Key"] == VALUE  # the tool got it
    seen = _everything_seen(response, owner_sql, fake_llm)
    assert "HTTP 200" in seen["reply"] and '"status": "ok"' in seen["reply"]
    for where, text in seen.items():
        assert leaks(text) == [], (where, text)
    assert "[secret]" in seen["reply"] and "[secret]" in seen["tool_args_decoded"]


@pytest.mark.parametrize(
    "spelling",
    [
        "raw",
        "json",
        "quote",
        "quote-plus-lower-hex",
        "base64url",
        "hex",
        "upper-case",
        "html-twice",
        "json-percent-json",
        "zero-width-spaces",
        "full-width",
    ],
)
def test_a_value_cut_by_the_response_size_cap_is_scrubbed(
    api: ApiClient, editor: str, owner_sql: Conn, fake_llm: Any, spelling: str
) -> None:
    whole = spelled(spelling)
    for keep in (len(whole) // 2, len(whole) - 1):
        response = chat(api, editor, "call:spell " + json.dumps({"mode": f"cut/{spelling}/{keep}"}))
        assert response.status == 200, response.text
        seen = _everything_seen(response, owner_sql, fake_llm)
        assert "[response truncated]" in seen["reply"]
        for where, text in seen.items():
            assert whole[: keep - 2] not in text, (where, keep)
            assert fold_free(whole[: keep - 2]) not in fold_free(text), (where, keep)


def fold_free(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def test_a_value_in_a_urls_host_is_scrubbed_from_the_error_text(
    api: ApiClient,
    token: Token,
    workspace: uuid.UUID,
    editor: str,
    owner_sql: Conn,
    fake_llm: Any,
) -> None:
    """An old tool with a secret in its host: the error names the host, lower-cased."""
    host_value = "Internal-Gateway-Ab12Cd34"
    admin = token(workspace, "admin")
    assert (
        api.post("/v1/secrets", token=admin, json={"name": "HOST", "value": host_value}).status
        == 201
    )
    _insert_tool(
        owner_sql,
        workspace,
        "gateway",
        {"method": "GET", "url": "http://{{secret:HOST}}:9/x"},
        ["HOST"],
    )
    from convoship.core.observability import logger

    logs = io.StringIO()
    listener = logging.StreamHandler(logs)
    listener.setFormatter(logger.registered_formatter)
    logger.addHandler(listener)
    try:
        response = chat(api, editor, "call:gateway {}")
    finally:
        logger.removeHandler(listener)
    assert response.status == 200, response.text
    seen = _everything_seen(response, owner_sql, fake_llm)
    assert "error" in seen["reply"]
    for where, text in {**seen, "logs": logs.getvalue(), "response": response.text}.items():
        assert host_value.lower() not in text.lower(), where
