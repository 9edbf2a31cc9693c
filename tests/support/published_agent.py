"""A published agent behind a public token, for the embed turn tests (a pytest plugin of
tests/conftest.py): its editor's and admin's tokens, the agent itself (LIMIT and BUDGET at
their defaults, 1,000 requests a minute), the statements each round trip sent, and counts
of what its turns left in the database."""

from __future__ import annotations

from typing import Any

import pytest

from convoship.db import read_batch
from tests.support.agents import SLUG, Conn, Token, count, create_agent
from tests.support.api_client import ApiClient
from tests.support.publishing import publish, set_threshold

SYSTEM_PROMPT = "You help."
MAX_OUTPUT = 8


@pytest.fixture
def editor(token: Token, workspace: Any) -> str:
    return str(token(workspace, "editor"))


@pytest.fixture
def admin(token: Token, workspace: Any) -> str:
    return str(token(workspace, "admin"))


@pytest.fixture
def public(api: ApiClient, editor: str, admin: str) -> str:
    """A published agent with LIMIT and BUDGET (its defaults), 1,000 requests a minute."""
    config = {"system_prompt": SYSTEM_PROMPT, "max_output_tokens": MAX_OUTPUT}
    agent = create_agent(api, editor, slug=SLUG, config=config)
    set_threshold(api, admin, 0, rpm=1000)
    assert publish(api, editor).status == 201
    return str(agent["public_token"])


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements of each batch sent to PostgreSQL (one round trip each)."""
    sent: list[str] = []
    real_send = read_batch.ReadBatch._send

    def counting(batch: read_batch.ReadBatch) -> Any:
        sent.append(" ; ".join(str(query) for query, _ in batch._queries))
        return real_send(batch)

    monkeypatch.setattr(read_batch.ReadBatch, "_send", counting)
    return sent


def reservations(owner_sql: Conn, workspace: Any) -> int:
    """Turn reservations held in the workspace."""
    return count(
        owner_sql,
        "SELECT count(*) FROM ai_agent_turn_reservations WHERE workspace_id = %s",
        workspace,
    )


def daily_tokens(owner_sql: Conn, workspace: Any) -> int:
    """The workspace's agents' tokens of every day."""
    return count(
        owner_sql,
        "SELECT COALESCE(sum(tokens), 0) FROM ai_agent_usage_daily WHERE workspace_id = %s",
        workspace,
    )


def held_while_the_model_thinks(
    monkeypatch: pytest.MonkeyPatch, owner_sql: Conn, conversation: Any
) -> list[int]:
    """The tokens the conversation's reservations hold each time a turn calls the model
    (what the turn reserved), appended as turns run."""
    from convoship.chat import turn as chat_turn
    from convoship.chat.model_reply import model_reply as real_reply

    held: list[int] = []

    def watching(*args: Any) -> Any:
        held.extend(
            row["tokens"]
            for row in owner_sql.execute(
                "SELECT tokens FROM ai_agent_turn_reservations WHERE conversation_id = %s",
                (conversation,),
            ).fetchall()
        )
        return real_reply(*args)

    monkeypatch.setattr(chat_turn, "model_reply", watching)
    return held
