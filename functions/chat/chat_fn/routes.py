"""Playground chat (studio), and the public embed: profile and chat."""

from typing import Annotated

from fastapi import Header, Path, Response

from convoship.chat import turn as chat_turns
from convoship.http.deps import Editor
from convoship.http.responses import json_response
from convoship.http.routing import api_router

from .models import ChatIn, ChatOut, EmbedProfile

router = api_router(tags=("chat",))
# The public routes every visitor's turn pays for: requests read as prepared when declared.
embed_router = api_router(tags=("chat",), prepared=True)
PublicToken = Annotated[str, Path(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
_CHAT_RESPONSES: dict[int | str, dict[str, str]] = {
    403: {"description": "forbidden, or origin-not-allowed (embed AUTH)"},
    404: {"description": "unknown agent, unpublished agent or unknown conversation"},
    413: {"description": "payload-too-large: over LIMIT max_input_chars"},
    422: {"description": "validation, or the conversation reached LIMIT max_turns"},
    429: {"description": "rate-limited (Retry-After) or budget-exceeded"},
    502: {"description": "upstream-unavailable: the model provider failed"},
    503: {"description": "llm-not-configured, or a dependency is down"},
}


def _answer(result: chat_turns.ChatResult) -> Response:
    return json_response(ChatOut, result.body, result.headers)


@router.post(
    "/v1/ai-agents/{slug}/playground/chat", response_model=ChatOut, responses=_CHAT_RESPONSES
)
async def playground_chat(slug: str, body: ChatIn, ctx: Editor) -> Response:
    """One turn against the agent's draft (channel `playground`)."""
    request = chat_turns.ChatRequest(body.message, body.conversation_id)
    return _answer(chat_turns.playground_turn(ctx.workspace_id, slug, request))


@embed_router.get(
    "/v1/embed/{public_token}",
    response_model=EmbedProfile,
    responses={404: {"description": "unknown or unpublished"}},
)
async def embed_profile(public_token: PublicToken) -> Response:
    """The published agent's name and greeting, for the widget."""
    return json_response(EmbedProfile, chat_turns.embed_profile(public_token))


@embed_router.post(
    "/v1/embed/{public_token}/chat", response_model=ChatOut, responses=_CHAT_RESPONSES
)
async def embed_chat(
    public_token: PublicToken,
    body: ChatIn,
    origin: Annotated[str | None, Header(max_length=2048)] = None,
    x_visitor_token: Annotated[str | None, Header(max_length=4096)] = None,
) -> Response:
    """One turn against the latest published version (channel `embed`)."""
    request = chat_turns.ChatRequest(
        body.message, body.conversation_id, origin=origin, visitor_token=x_visitor_token
    )
    return _answer(chat_turns.embed_turn(public_token, request))
