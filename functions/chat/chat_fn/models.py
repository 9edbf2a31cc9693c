"""Request and response bodies of the chat routes."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from convoship.http.models import ResponseModel


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[str, Field(min_length=1)]
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
