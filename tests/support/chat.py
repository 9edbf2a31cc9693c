"""Chat requests through the gateway emulation, and transcripts read back as the owner."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


def all_at_once(calls: list[Callable[[], ApiResponse]]) -> list[ApiResponse]:
    """The calls' answers, each call on a thread of its own, all released together."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], ApiResponse]) -> ApiResponse:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))
