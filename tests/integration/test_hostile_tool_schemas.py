"""Tool input schemas that would make validation recurse forever or too deep are refused at
save; one that got stored anyway is a tool error the model reads, never a 500 (issue 11,
#3 #4); arguments a schema makes costly to check stop at a work budget."""

from __future__ import annotations

import json
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship.runtime import tool_arg_patterns
from tests.support.agents import SLUG, Conn, Token, create_agent, created, problem_of
from tests.support.api_client import ApiClient, ApiResponse
from tests.support.publishing import BASE, publish, set_threshold

DRAFT = "https://json-schema.org/draft/2020-12/schema"
TOOL_URL = "http://127.0.0.1:9/lookup"  # nothing listens: a tool call fails fast, offline


def tool(input_schema: dict[str, Any], name: str = "lookup") -> dict[str, Any]:
    return {
        "name": name,
        "config": {"method": "POST", "url": TOOL_URL},
        "input_schema": input_schema,
    }


def nested_properties(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"p": schema}}
    return schema


SELF = {"type": "object", "$ref": "#"}
MUTUAL = {
    "type": "object",
    "properties": {"a": {"$ref": "#/$defs/x"}},
    "$defs": {"x": {"$ref": "#/$defs/y"}, "y": {"$ref": "#/$defs/x"}},
}
THROUGH_ALL_OF = {
    "type": "object",
    "properties": {"a": {"$ref": "#/$defs/x"}},
    "$defs": {"x": {"allOf": [{"type": "string"}, {"$ref": "#/$defs/x"}]}},
}
THROUGH_ONE_OF = {
    "type": "object",
    "properties": {"a": {"$ref": "#/$defs/x"}},
    "$defs": {"x": {"oneOf": [{"type": "string"}, {"$ref": "#/$defs/x"}]}},
}
CYCLES = [SELF, MUTUAL, THROUGH_ALL_OF, THROUGH_ONE_OF]


def refusal(response: ApiResponse) -> str:
    """The messages of a 422 validation problem about the input schema."""
    problem = problem_of(response, 422, "validation")
    assert all(e["loc"][:2] == ["body", "input_schema"] for e in problem["errors"]), problem
    return " ".join(e["msg"] for e in problem["errors"])


@pytest.fixture
def editor(api: ApiClient, token: Token, workspace: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()
    editor = str(token(workspace, "editor"))
    create_agent(api, editor, slug=SLUG)
    return editor


@pytest.mark.parametrize("schema", CYCLES, ids=["self", "mutual", "allOf", "oneOf"])
def test_a_ref_cycle_is_refused_at_save(api: ApiClient, editor: str, schema: Any) -> None:
    assert "$ref cycle" in refusal(api.post(f"{BASE}/tools", token=editor, json=tool(schema)))
    saved = created(api.post(f"{BASE}/tools", token=editor, json=tool({"type": "object"})))
    patch = api.patch(f"{BASE}/tools/{saved['id']}", token=editor, json={"input_schema": schema})
    assert "$ref cycle" in refusal(patch)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}, "does not resolve"),
        ({"type": "object", "properties": {"a": {"$ref": "#/required"}}, "required": []}, "schema"),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/x~"}}}, "does not resolve"),
    ],
)
def test_a_reference_to_nothing_is_refused_at_save(
    api: ApiClient, editor: str, schema: Any, message: str
) -> None:
    assert message in refusal(api.post(f"{BASE}/tools", token=editor, json=tool(schema)))


def test_a_recursive_schema_that_descends_into_the_arguments_is_kept(
    api: ApiClient, editor: str
) -> None:
    tree = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#"}},
        },
    }
    created(api.post(f"{BASE}/tools", token=editor, json=tool(tree)))


SHADOWING = {
    "$id of the metaschema": (
        {"type": "object", "$id": DRAFT, "properties": {"a": {"$ref": "#"}}},
        "$id",
        "/$id",
    ),
    "$dynamicRef": (
        {"type": "object", "properties": {"a": {"$dynamicRef": "#m"}}},
        "$dynamicRef",
        "/properties/a/$dynamicRef",
    ),
    "$anchor": (
        {"type": "object", "$defs": {"x": {"$anchor": "loop"}}},
        "$anchor",
        "/$defs/x/$anchor",
    ),
    "a $schema that names no JSON Schema draft": (
        {"type": "object", "$schema": "https://evil.example/draft-07/schema#"},
        "$schema",
        "/$schema",
    ),
    "$ref to the metaschema": (
        {"type": "object", "properties": {"a": {"$ref": DRAFT}}},
        "only local references",
        "/properties/a/$ref",
    ),
}


def keyword_refusal(response: ApiResponse, keyword: str, pointer: str) -> None:
    """A 422 whose detail names the keyword and where it stands."""
    problem = problem_of(response, 422, "validation")
    assert keyword in problem["detail"] and f"at {pointer}" in problem["detail"], problem
    assert problem["errors"] == [{"loc": ["body", "input_schema"], "msg": problem["detail"]}]


@pytest.mark.parametrize(("schema", "keyword", "pointer"), SHADOWING.values(), ids=SHADOWING)
def test_keywords_that_could_leave_the_metered_validator_are_refused_at_save(
    api: ApiClient, editor: str, schema: Any, keyword: str, pointer: str
) -> None:
    response = api.post(f"{BASE}/tools", token=editor, json=tool(schema))
    keyword_refusal(response, keyword, pointer)
    saved = created(api.post(f"{BASE}/tools", token=editor, json=tool({"type": "object"})))
    patch = api.patch(f"{BASE}/tools/{saved['id']}", token=editor, json={"input_schema": schema})
    keyword_refusal(patch, keyword, pointer)
    assert api.get(f"{BASE}/tools/{saved['id']}", token=editor).json()["input_schema"] == {
        "type": "object"
    }


@pytest.mark.parametrize(("schema", "keyword", "pointer"), SHADOWING.values(), ids=SHADOWING)
def test_a_stored_schema_that_could_leave_the_metered_validator_is_a_tool_error(
    api: ApiClient,
    editor: str,
    owner_sql: Conn,
    fake_llm: Any,
    schema: Any,
    keyword: str,
    pointer: str,
) -> None:
    # Given a tool whose schema was stored before the keyword check existed
    saved = created(api.post(f"{BASE}/tools", token=editor, json=tool({"type": "object"})))
    owner_sql.execute(
        "UPDATE ai_agent_tools SET input_schema = %s WHERE id = %s", (Jsonb(schema), saved["id"])
    )
    # When the model calls it
    call = 'call:lookup {"a": {"type": "string"}}'
    reply = api.post(f"{BASE}/playground/chat", token=editor, json={"message": call})
    # Then the call is refused cleanly: a tool error naming the keyword, never validated
    assert reply.status == 200, reply.text
    assert "the input schema cannot be checked" in reply.json()["reply"]
    assert keyword in reply.json()["reply"] and pointer in reply.json()["reply"]


@pytest.mark.parametrize("levels", [17, 100])
def test_a_schema_nested_deeper_than_32_is_refused_at_save(
    api: ApiClient, editor: str, levels: int
) -> None:
    response = api.post(f"{BASE}/tools", token=editor, json=tool(nested_properties(levels)))
    assert "deeper than 32" in refusal(response)


def test_a_schema_nested_32_deep_is_kept(api: ApiClient, editor: str) -> None:
    created(api.post(f"{BASE}/tools", token=editor, json=tool(nested_properties(15))))


@pytest.mark.parametrize("schema", [SELF, MUTUAL, {"type": "object", "$ref": "#/$defs/gone"}])
def test_a_cyclic_schema_already_stored_is_a_tool_error_in_every_channel(
    api: ApiClient,
    token: Token,
    workspace: Any,
    editor: str,
    owner_sql: Conn,
    fake_llm: Any,
    schema: Any,
) -> None:
    # Given a tool whose schema was stored before the checks existed
    saved = created(api.post(f"{BASE}/tools", token=editor, json=tool({"type": "object"})))
    owner_sql.execute(
        "UPDATE ai_agent_tools SET input_schema = %s WHERE id = %s", (Jsonb(schema), saved["id"])
    )
    call = 'call:lookup {"a": {"b": 1}}'
    # When the model calls it in the playground, the publish gate and the public embed
    playground = api.post(f"{BASE}/playground/chat", token=editor, json={"message": call})
    assert playground.status == 200, playground.text
    assert "could not be checked against the input schema" in playground.json()["reply"]

    set_threshold(api, token(workspace, "admin"), 0.5)
    evaluation = {
        "name": "calls",
        "input": call,
        "assertions": [{"type": "contains", "value": "x"}],
    }
    created(api.post(f"{BASE}/evals", token=editor, json=evaluation))
    gate = publish(api, editor)
    assert gate.status == 422, gate.text  # the eval ran (and failed its assertion): no 500
    set_threshold(api, token(workspace, "admin"), 0)
    assert publish(api, editor).status == 201

    public_token = api.get(BASE, token=editor).json()["public_token"]
    embed = api.post(f"/v1/embed/{public_token}/chat", json={"message": call})
    # Then every one answers, the tool call ending as an error the model read
    assert embed.status == 200, embed.text
    assert "could not be checked against the input schema" in embed.json()["reply"]


def test_arguments_that_multiply_the_work_are_refused_at_save_and_bounded_at_call(
    api: ApiClient,
    token: Token,
    workspace: Any,
    editor: str,
    owner_sql: Conn,
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The step budget alone stops it: on a loaded machine the matching time allowance
    # (0.1 s of wall time) could run out first and answer with its own message.
    monkeypatch.setattr(tool_arg_patterns, "MATCHING_SECONDS", 60.0)
    # Given a schema where two patterns both match "a": each level of the arguments doubles
    # the work of checking them (2**30 checks at 30 levels)
    doubling = {"type": "object", "patternProperties": {"a": {"$ref": "#"}, "^a": {"$ref": "#"}}}
    refused = refusal(api.post(f"{BASE}/tools", token=editor, json=tool(doubling)))
    assert "level after level" in refused
    # ... stored before that check existed, and published
    saved = created(api.post(f"{BASE}/tools", token=editor, json=tool({"type": "object"})))
    owner_sql.execute(
        "UPDATE ai_agent_tools SET input_schema = %s WHERE id = %s", (Jsonb(doubling), saved["id"])
    )
    set_threshold(api, token(workspace, "admin"), 0)
    assert publish(api, editor).status == 201
    args: dict[str, Any] = {}
    for _ in range(30):
        args = {"a": args}
    # When a visitor makes the model call it with 30 levels of "a"
    public_token = api.get(BASE, token=editor).json()["public_token"]
    message = f"call:lookup {json.dumps(args)}"
    embed = api.post(f"/v1/embed/{public_token}/chat", json={"message": message})
    # Then the check stops at its budget: a tool error the model read, and the turn answers
    assert embed.status == 200, embed.text
    assert "would take too much work" in embed.json()["reply"]


def test_a_backtracking_pattern_is_stopped_and_a_huge_one_refused_at_save(
    api: ApiClient, token: Token, workspace: Any, editor: str, fake_llm: Any
) -> None:
    # Given a tool whose argument must match a pattern that backtracks on some strings
    runaway = {"type": "object", "properties": {"q": {"type": "string", "pattern": "^(a|aa)+$"}}}
    created(api.post(f"{BASE}/tools", token=editor, json=tool(runaway)))
    set_threshold(api, token(workspace, "admin"), 0)
    assert publish(api, editor).status == 201
    # When a visitor makes the model call it with such a string
    public_token = api.get(BASE, token=editor).json()["public_token"]
    message = f"call:lookup {json.dumps({'q': 'a' * 60 + '!'})}"
    embed = api.post(f"/v1/embed/{public_token}/chat", json={"message": message})
    # Then matching stops: a tool error the model read, and the turn answers
    assert embed.status == 200, embed.text
    assert "took longer than 0.1 s and was stopped" in embed.json()["reply"]
    # And a pattern that would compile into too much is never saved
    huge = {
        "type": "object",
        "properties": {"q": {"type": "string", "pattern": "(?:x{2000}){2000}"}},
    }
    assert "too large" in refusal(api.post(f"{BASE}/tools", token=editor, json=tool(huge, "h")))


def test_a_huge_schema_is_refused_by_its_size_before_anything_reads_it(
    api: ApiClient, editor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over 64 KiB: refused before the metaschema, the patterns or the references are read."""
    from convoship.studio import input_schema

    def costly(*_: Any) -> None:
        raise AssertionError("a costly check ran on a schema refused by its size")

    monkeypatch.setattr(input_schema, "check_schema_patterns", costly)
    monkeypatch.setattr(input_schema, "_in_place_graph", costly)
    patterns = {f"^p{i}(a|aa)+$": {"type": "string", "pattern": "(x+x+)+y"} for i in range(3000)}
    huge = {"type": "object", "patternProperties": patterns}
    response = api.post(f"{BASE}/tools", token=editor, json=tool(huge))
    problem = problem_of(response, 422, "validation")
    assert "bytes; the limit is 65536" in problem["detail"]
    assert problem["errors"][0]["loc"] == ["body", "input_schema"]
