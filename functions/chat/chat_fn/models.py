"""Request and response bodies of the chat routes."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _no_nul(value: str) -> str:
    """Refused here, before the model runs: no text column could store it afterwards."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[str, Field(min_length=1), AfterValidator(_no_nul)]
    conversation_id: UUID | None = None


class ChatUsage(BaseModel):
    input_tokens: int
    output_tokens: int


class ChatOut(BaseModel):
    conversation_id: UUID
    reply: str
    escalated: bool
    usage: ChatUsage


class EmbedProfile(BaseModel):
    name: str
    greeting: str | None
