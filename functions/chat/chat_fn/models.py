"""Request and response bodies of the chat routes."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from convoship.http.models import ResponseModel


def _no_nul(value: str) -> str:
    """Refused here, before the model runs: no text column could store it afterwards."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[str, Field(min_length=1), AfterValidator(_no_nul)]
    conversation_id: UUID | None = None


class ChatUsage(ResponseModel):
    input_tokens: int
    output_tokens: int


class ChatOut(ResponseModel):
    conversation_id: UUID
    reply: str
    escalated: bool
    usage: ChatUsage


class EmbedProfile(ResponseModel):
    name: str
    greeting: str | None
