"""A model that answers with what no database or response can carry (lone surrogates, NUL,
numbers past a double, arguments nested past the parser) ends the turn normally: the
values are made storable or the call is a tool error, never a 500 or a 422 blaming the
caller (found while fuzzing for issue 11)."""

from __future__ import annotations

from typing import Any

import pytest

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from tests.support.agents import SLUG, Conn, Token, create_agent, created
from tests.support.api_client import ApiClient
from tests.support.chat import chat, transcript
from tests.support.publishing import BASE, set_guardrail

TOOL = {
    "name": "lookup",
    "config": {"method": "POST", "url": "http://127.0.0.1:9/orders/{{q}}"},  # nothing listens
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
}


@pytest.fixture
def editor(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()
    editor = str(token(workspace, "editor"))
    create_agent(api, editor, slug=SLUG)
    created(api.post(f"{BASE}/tools", token=editor, json=TOOL))
    set_guardrail(api, editor, "LIMIT", max_input_chars=20000)
    return editor


# The fake model calls the tool with these arguments, as JSON text (escapes and all).
@pytest.mark.parametrize(
    ("arguments", "stored"),
    [
        ('{"q": "\\ud800"}', {"q": "\ufffd"}),
        ('{"q": "a\\u0000b"}', {"q": "a\ufffdb"}),
        ('{"q\\u0000": "x", "\\udfff": "y"}', {"q\ufffd": "x", "\ufffd": "y"}),
    ],
    ids=["surrogate", "NUL", "keys"],
)
def test_unstorable_text_in_tool_arguments_is_stored_replaced(
    api: ApiClient, editor: str, owner_sql: Conn, arguments: str, stored: dict[str, Any]
) -> None:
    response = chat(api, editor, f"call:lookup {arguments}")
    assert response.status == 200, response.text
    rows = transcript(owner_sql, response.json()["conversation_id"])
    assert [r["tool_args"] for r in rows if r["role"] == "tool"] == [stored]


@pytest.mark.parametrize(
    "arguments",
    [
        '{"q": 1e400}',
        '{"q": NaN}',
        '{"q": ' + "[" * 3000 + "]" * 3000 + "}",
        '{"q": 1' + "0" * 5000 + "}",
    ],
    ids=["1e400", "NaN", "deep", "digits"],
)
def test_arguments_that_are_not_json_are_a_tool_error(
    api: ApiClient, editor: str, arguments: str
) -> None:
    response = chat(api, editor, f"call:lookup {arguments}")
    assert response.status == 200, response.text
    assert response.json()["reply"] == "tool said: error: the arguments must be a JSON object"
