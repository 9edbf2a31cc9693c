"""Scrubbing is no prefix oracle. The model never reads a secret value (tool results, error
texts and its own tool calls are scrubbed before it sees them), so a reply or an eval output
is scrubbed of whole values only: a reply that ends with a guess reads the same whether the
guess begins a secret the turn loaded or not. A tool response cut at the size cap is
scrubbed before it is cut, so no part of a value the cut splits survives it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship.runtime.tool_calls import MAX_RESPONSE_CHARS
from convoship.security.visitor_tokens import sign
from tests.support.agents import SLUG, Token, create_agent, created
from tests.support.api_client import ApiClient
from tests.support.chat import chat, embed
from tests.support.http_servers import RecordingServer, Seen
from tests.support.publishing import BASE, add_eval, publish, set_guardrail, set_threshold

TOOL_SECRET = "sk-live-Oracle/Secret+Value-0042"
SIGNING_KEY = "visitor-signing-key-of-the-shop-0123456789"
ORIGIN = "https://shop.example.com"


def _guesses(secret: str) -> list[tuple[str, str]]:
    """(a prefix of the secret, a guess as long that is none), from short to long."""
    pairs = []
    for size in (3, 5, 6, 12, len(secret) // 2, len(secret) - 1):
        prefix = secret[:size]
        wrong = prefix[:-1] + ("#" if prefix[-1] != "#" else "%")
        pairs.append((prefix, wrong))
    return pairs


def _reflect(seen: Seen) -> tuple[int, bytes]:
    """Answers with its `q` query parameter as plain text; /pad/K puts K bytes of `x`
    first, so that a long enough K makes the size cap fall into what follows."""
    parts = urlsplit(seen["path"])
    query = parse_qs(parts.query).get("q", [""])[0]
    pad = int(parts.path.rsplit("/", 1)[1]) if parts.path.startswith("/pad/") else 0
    return 200, b"x" * pad + query.encode()


@pytest.fixture
def reflector() -> Iterator[RecordingServer]:
    server = RecordingServer(_reflect)
    yield server
    server.stop()


@pytest.fixture
def editor(
    api: ApiClient,
    token: Token,
    workspace: uuid.UUID,
    fake_llm: Any,
    reflector: RecordingServer,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """An agent whose tool `reflect` sends TOOL_SECRET and answers with its query."""
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    secret = {"name": "KEY", "value": TOOL_SECRET, "allowed_hosts": ["127.0.0.1"]}
    assert api.post("/v1/secrets", token=admin, json=secret).status == 201
    create_agent(api, editor, slug=SLUG)
    tool = {
        "name": "reflect",
        "config": {
            "method": "GET",
            "url": reflector.url + "/pad/{{pad}}",
            "headers": {"X-Key": "{{secret:KEY}}"},
        },
        "input_schema": {
            "type": "object",
            "properties": {"q": {"type": "string"}, "pad": {"type": "integer"}},
            "required": ["q", "pad"],
        },
    }
    created(api.post(f"{BASE}/tools", token=editor, json=tool))
    return editor


def _reflected(api: ApiClient, editor: str, guess: str, pad: int = 0) -> str:
    response = chat(api, editor, "call:reflect " + json.dumps({"q": guess, "pad": pad}))
    assert response.status == 200, response.text
    return str(response.json()["reply"])


def test_a_reply_ending_in_a_guess_does_not_tell_a_prefix_of_a_tool_secret(
    api: ApiClient, editor: str, reflector: RecordingServer
) -> None:
    for prefix, wrong in _guesses(TOOL_SECRET):
        for guess in (prefix, wrong, prefix.upper()):
            assert _reflected(api, editor, guess) == f"tool said: HTTP 200\n{guess}", guess
    assert reflector.received[-1]["headers"]["X-Key"] == TOOL_SECRET  # the turn loaded it
    assert _reflected(api, editor, TOOL_SECRET) == "tool said: HTTP 200\n[secret]"


def test_an_eval_output_ending_in_a_guess_does_not_tell_a_prefix(
    api: ApiClient, editor: str, token: Token, workspace: uuid.UUID
) -> None:
    admin = token(workspace, "admin")
    prefix, wrong = TOOL_SECRET[:12], TOOL_SECRET[:11] + "#"
    for name, guess in (("prefix", prefix), ("wrong", wrong)):
        message = "call:reflect " + json.dumps({"q": guess, "pad": 0})
        add_eval(api, editor, name, message, ("contains", "tool said"))
    set_threshold(api, admin, 0.5)  # the gate runs
    response = publish(api, editor)
    assert response.status == 201, response.text
    outputs = {r["name"]: r["output"] for r in response.json()["eval_results"]}
    assert outputs == {
        "prefix": f"tool said: HTTP 200\n{prefix}",
        "wrong": f"tool said: HTTP 200\n{wrong}",
    }


def test_an_embed_reply_does_not_tell_a_prefix_of_the_visitor_token_signing_key(
    api: ApiClient, token: Token, workspace: uuid.UUID, fake_llm: Any
) -> None:
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    agent = create_agent(api, editor, slug=SLUG)
    secret = {"name": "SIGNING", "value": SIGNING_KEY}
    assert api.post("/v1/secrets", token=admin, json=secret).status == 201
    set_guardrail(api, editor, "AUTH", visitor_token_secret="{{secret:SIGNING}}")
    assert publish(api, editor).status == 201
    headers = {
        "origin": ORIGIN,
        "x-visitor-token": sign({"sub": "v1", "exp": 4102444800}, SIGNING_KEY),
    }
    for prefix, wrong in _guesses(SIGNING_KEY):
        for guess in (prefix, wrong):
            response = embed(api, agent["public_token"], guess, **headers)
            assert response.status == 200, response.text
            assert response.json()["reply"] == f"echo: {guess}", guess


@pytest.mark.parametrize("inside", [1, 3, 5, 6, 12, len(TOOL_SECRET) - 1])
def test_a_secret_the_size_cap_splits_leaves_nothing_behind(
    api: ApiClient, editor: str, inside: int
) -> None:
    """The cap falls `inside` characters into the secret: the value is scrubbed whole."""
    reply = _reflected(api, editor, TOOL_SECRET + " and more", pad=MAX_RESPONSE_CHARS - inside)
    kept = "x" * (MAX_RESPONSE_CHARS - inside)
    assert reply == f"tool said: HTTP 200\n{kept}[secret]\n[response truncated]"


def test_a_prefix_at_the_size_cap_is_cut_like_any_other_text(api: ApiClient, editor: str) -> None:
    pad = MAX_RESPONSE_CHARS - 5
    for guess in (TOOL_SECRET[:12], TOOL_SECRET[:11] + "#"):
        reply = _reflected(api, editor, guess, pad=pad)
        assert reply == f"tool said: HTTP 200\n{'x' * pad}{guess[:5]}\n[response truncated]"


def test_the_model_never_reads_a_value_of_the_run_no_call_has_used_yet(
    api: ApiClient, editor: str, token: Token, workspace: uuid.UUID, fake_llm: Any
) -> None:
    """A tool whose service echoes the value of a secret only another tool sends: scrubbed
    before the model reads it, though no call of this turn has used that secret yet."""
    admin = token(workspace, "admin")
    other = "sk-live-Other/Tools-Secret-77"
    secret = {"name": "OTHER", "value": other, "allowed_hosts": ["127.0.0.1"]}
    assert api.post("/v1/secrets", token=admin, json=secret).status == 201
    tool = {
        "name": "other_tool",
        "config": {
            "method": "GET",
            "url": "http://127.0.0.1:9/x",
            "headers": {"K": "{{secret:OTHER}}"},
        },
    }
    created(api.post(f"{BASE}/tools", token=editor, json=tool))
    reply = _reflected(api, editor, f"echoed: {other}")
    tool_messages = [m for m in fake_llm.requests[-1].body["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == ["HTTP 200\nechoed: [secret]"]
    assert reply == "tool said: HTTP 200\nechoed: [secret]"
