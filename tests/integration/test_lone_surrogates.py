"""A lone UTF-16 surrogate (`"\\ud800"`, valid JSON) anywhere in a JSON body is a 422 with
its location, on every route, and nothing is written (issue 11, #5)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.agents import (
    SLUG,
    Conn,
    Token,
    create_agent,
    problem_of,
    table_counts,
)
from tests.support.api_client import ApiClient
from tests.support.publishing import BASE

TOOL_URL = "https://api.example.com/orders"


def tool(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"method": "POST", "url": TOOL_URL, **overrides.pop("config", {})}
    return {"name": "lookup", "config": config, **overrides}


CASES: list[tuple[str, str, Any, list[Any]]] = [
    ("POST", "/v1/ai-agent-drafts", {"data": {"k": "a\ud800b"}}, ["body", "data", "k"]),
    ("POST", "/v1/ai-agent-drafts", {"data": {"a\udfffb": 1}}, ["body", "data"]),
    ("POST", "/v1/ai-agent-drafts", {"data": {"list": [1, "\udbff"]}}, ["body", "data", "list", 1]),
    (
        "POST",
        f"{BASE}/tools",
        tool(config={"body": {"q": "\ud800"}}),
        ["body", "config", "body", "q"],
    ),
    (
        "POST",
        f"{BASE}/tools",
        tool(config={"headers": {"X-Key": "v\ud800"}}),
        ["body", "config", "headers", "X-Key"],
    ),
    (
        "POST",
        f"{BASE}/tools",
        tool(input_schema={"type": "object", "description": "\udc00"}),
        ["body", "input_schema", "description"],
    ),
    ("POST", "/v1/ai-agents", {"name": "\ud83d"}, ["body", "name"]),  # a high half alone
    ("PATCH", f"{BASE}", {"description": "x\ude00"}, ["body", "description"]),
    ("POST", f"{BASE}/playground/chat", {"message": "\ud800"}, ["body", "message"]),
    ("POST", "/v1/secrets", {"name": "K", "value": "\ud800"}, ["body", "value"]),
]


@pytest.mark.parametrize(("method", "path", "body", "loc"), CASES, ids=lambda c: str(c)[:30])
def test_a_lone_surrogate_is_422_at_its_location(
    api: ApiClient,
    token: Token,
    workspace: Any,
    owner_sql: Conn,
    method: str,
    path: str,
    body: Any,
    loc: list[Any],
) -> None:
    create_agent(api, token(workspace, "editor"), slug=SLUG)
    before = table_counts(owner_sql)
    response = api.request(method, path, token=token(workspace, "owner"), json=body)
    problem = problem_of(response, 422, "validation")
    assert problem["errors"][0]["loc"] == loc, problem
    assert "surrogate" in problem["errors"][0]["msg"]
    assert table_counts(owner_sql) == before


def test_a_lone_surrogate_on_the_public_embed_is_422(
    api: ApiClient, token: Token, workspace: Any
) -> None:
    agent = create_agent(api, token(workspace, "editor"), slug=SLUG)
    response = api.post(f"/v1/embed/{agent['public_token']}/chat", json={"message": "hi\ud800"})
    assert problem_of(response, 422, "validation")["errors"][0]["loc"] == ["body", "message"]


@pytest.mark.parametrize(
    "text",
    [
        "emoji \U0001f600",  # a valid pair, sent as \ud83d\ude00
        "\\ud800",  # the six characters, escaped: no surrogate at all
        "\\\U0001f600",  # an escaped backslash, then a valid pair
    ],
)
def test_surrogate_pairs_and_escaped_backslashes_pass(
    api: ApiClient, token: Token, workspace: Any, text: str
) -> None:
    response = api.post(
        "/v1/ai-agent-drafts", token=token(workspace, "editor"), json={"data": {"t": text}}
    )
    assert response.status == 201, response.text
    assert response.json()["data"]["t"] == text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-32-be"])
def test_a_lone_surrogate_in_a_utf16_or_utf32_body_is_422(
    api: ApiClient, token: Token, workspace: Any, encoding: str
) -> None:
    # json reads UTF-16 and UTF-32 bodies too; the escape is then not an ASCII byte run.
    body = '{"data": {"k": "\\ud800"}}'.encode(encoding)
    response = api.post(
        "/v1/ai-agent-drafts",
        token=token(workspace, "editor"),
        data=body,
        content_type="application/json",
    )
    assert problem_of(response, 422, "validation")["errors"][0]["loc"] == ["body", "data", "k"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/secrets", {"name": "K", "value": "sk-live-Wr1teOnly-v4lue\ud800"}),
        ("POST", "/v1/secrets", {"name": "K", "value": {"sk-live-Wr1teOnly-v4lue\ud800": 1}}),
        (
            "PATCH",
            "/v1/workspaces/agent-llm",
            {"provider": "openai", "api_key": "sk-live-Wr1teOnly-v4lue\udfff"},
        ),
    ],
    ids=["secret value", "a key", "BYOK api_key"],
)
def test_the_422_names_where_the_surrogate_is_but_never_quotes_the_value(
    api: ApiClient, token: Token, workspace: Any, method: str, path: str, body: Any
) -> None:
    response = api.request(method, path, token=token(workspace, "owner"), json=body)
    problem = problem_of(response, 422, "validation")
    assert problem["errors"][0]["loc"][:2] == ["body", "value" if "secret" in path else "api_key"]
    assert "surrogate" in problem["errors"][0]["msg"]
    for piece in ("sk-live", "Wr1teOnly", "v4lue", "\\ud800", "\\udfff"):
        assert piece not in response.text, piece


def _raw(encoding: str, before: str, after: str) -> bytes:
    """JSON text holding a lone surrogate's code unit written raw, not escaped: bytes no
    conforming encoder writes, which json.loads(bytes) still reads ('surrogatepass')."""
    unit = {"utf-8": b"\xed\xa0\x80", "utf-16-le": b"\x00\xd8", "utf-32-le": b"\x00\xd8\x00\x00"}
    return before.encode(encoding) + unit[encoding] + after.encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-32-le"])
@pytest.mark.parametrize(
    ("method", "path", "before", "after", "loc"),
    [
        ("POST", "/v1/ai-agent-drafts", '{"data": {"k": "a', 'b"}}', ["body", "data", "k"]),
        (
            "POST",
            f"{BASE}/tools",
            '{"name": "lookup", "config": {"method": "POST", "url": "'
            + TOOL_URL
            + '", "headers": {"X-Key": "',
            '"}}}',
            ["body", "config", "headers", "X-Key"],
        ),
        (
            "POST",
            f"{BASE}/tools",
            '{"name": "lookup", "config": {"method": "POST", "url": "' + TOOL_URL + '"},'
            ' "input_schema": {"type": "object", "description": "',
            '"}}',
            ["body", "input_schema", "description"],
        ),
    ],
    ids=["draft data", "tool header", "tool input schema"],
)
def test_a_lone_surrogate_written_raw_is_422_too(
    api: ApiClient,
    token: Token,
    workspace: Any,
    owner_sql: Conn,
    encoding: str,
    method: str,
    path: str,
    before: str,
    after: str,
    loc: list[Any],
) -> None:
    """Found by an attack review: the raw spelling passed the guard, which looked for the
    escape only, and a free-form field (draft data, a tool's config) reached a UTF-8 encode:
    500. Every encoding json reads takes the raw spelling."""
    create_agent(api, token(workspace, "editor"), slug=SLUG)
    before_counts = table_counts(owner_sql)
    response = api.request(
        method,
        path,
        token=token(workspace, "owner"),
        data=_raw(encoding, before, after),
        content_type="application/json",
    )
    problem = problem_of(response, 422, "validation")
    assert problem["errors"][0]["loc"] == loc, problem
    assert "surrogate" in problem["errors"][0]["msg"]
    assert table_counts(owner_sql) == before_counts


def test_a_body_the_strict_parser_refuses_is_still_searched() -> None:
    """NaN is not JSON, yet the routes' parser reads it: a body holding one and a lone
    surrogate is searched as the routes would read it, not passed over."""
    from convoship.http.body_guard import _finding

    assert _finding(b'{"a": NaN, "b": "\\ud800"}') == (
        ["body", "b"],
        _finding(b'{"b": "\\ud800"}')[1],
    )  # type: ignore[index]
    assert _finding(b'{"a": NaN, "b": "fine"}') is None
    assert _finding(b"[" * 100_000) is None  # nesting past the parser: the route's 422
