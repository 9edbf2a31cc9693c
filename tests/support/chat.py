"""Chat requests through the gateway emulation, and transcripts read back as the owner."""

from __future__ import annotations

from typing import Any

from tests.support.agents import Conn
from tests.support.api_client import ApiClient, ApiResponse
from tests.support.publishing import BASE

PLAYGROUND = f"{BASE}/playground/chat"


def chat(api: ApiClient, editor: str, message: str, conversation_id: Any = None) -> ApiResponse:
    body: dict[str, Any] = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = str(conversation_id)
    return api.post(PLAYGROUND, token=editor, json=body)


def embed(
    api: ApiClient, public_token: str, message: str, conversation_id: Any = None, **headers: str
) -> ApiResponse:
    body: dict[str, Any] = {"message": message}
    if conversation_id is not None:
        body["conversation_id"] = str(conversation_id)
    return api.post(f"/v1/embed/{public_token}/chat", json=body, headers=headers)


def transcript(owner_sql: Conn, conversation_id: str) -> list[dict[str, Any]]:
    return owner_sql.execute(
        "SELECT seq, role, content, tool_name, tool_args FROM ai_agent_messages"
        " WHERE conversation_id = %s ORDER BY seq",
        (conversation_id,),
    ).fetchall()
