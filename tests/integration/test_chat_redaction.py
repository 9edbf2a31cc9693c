"""REDACT on the chat path: what is stored is redacted with the guardrail's settings, and a
redaction that fails stores a placeholder, never the raw text."""

from __future__ import annotations

import json
from typing import Any

import pytest

import convoship.chat.transcript as chat_transcript
from tests.support.agents import SLUG, Conn, create_agent
from tests.support.api_client import ApiClient
from tests.support.chat import chat, transcript
from tests.support.publishing import set_guardrail


@pytest.fixture
def agent(api: ApiClient, editor: str) -> dict[str, Any]:
    return create_agent(api, editor, slug=SLUG, config={"system_prompt": "You help."})


def stored(owner_sql: Conn, conversation_id: str) -> str:
    return json.dumps([r["content"] for r in transcript(owner_sql, conversation_id)])


def test_credentials_and_national_phones_are_redacted_by_default(
    api: ApiClient, editor: str, agent: dict[str, Any], fake_llm: Any, owner_sql: Conn
) -> None:
    message = "key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1w, phone 020 7946 0958, mail jörg@bü.de"
    body = chat(api, editor, message).json()
    text = stored(owner_sql, body["conversation_id"])
    assert "Ab3dEf6h" not in text and "7946" not in text and "jörg" not in text
    rows = transcript(owner_sql, body["conversation_id"])
    assert rows[0]["content"] == "key [CREDENTIAL], phone [PHONE], mail [EMAIL]"


def test_phone_regions_of_the_guardrail_apply(
    api: ApiClient, editor: str, agent: dict[str, Any], fake_llm: Any, owner_sql: Conn
) -> None:
    set_guardrail(api, editor, "REDACT", phone_regions=["FR"])
    body = chat(api, editor, "fr 01 23 45 67 89, us (415) 555-0132").json()
    rows = transcript(owner_sql, body["conversation_id"])
    assert rows[0]["content"] == "fr [PHONE], us (415) 555-0132"


def test_a_failing_redaction_stores_a_placeholder_and_counts_it(
    api: ApiClient,
    editor: str,
    agent: dict[str, Any],
    fake_llm: Any,
    owner_sql: Conn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import convoship.runtime.pii as pii

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("detector bug")

    emitted: list[tuple[str, float]] = []
    real_add = chat_transcript.metrics.add_metric

    def add_metric(name: str, unit: Any, value: float, **kwargs: Any) -> None:
        emitted.append((name, value))
        real_add(name=name, unit=unit, value=value, **kwargs)

    monkeypatch.setattr(pii, "redact_value", broken)
    monkeypatch.setattr(chat_transcript.metrics, "add_metric", add_metric)
    response = chat(api, editor, "my card is 4111 1111 1111 1111")
    assert response.status == 200, response.text
    assert "4111 1111 1111 1111" in response.json()["reply"]  # the live reply is unchanged
    rows = transcript(owner_sql, response.json()["conversation_id"])
    assert [r["content"] for r in rows] == [chat_transcript.REDACTION_FAILED] * 2
    assert "4111" not in stored(owner_sql, response.json()["conversation_id"])
    assert emitted.count(("RedactionFailed", 1)) == 2
