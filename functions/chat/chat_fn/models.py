"""Request and response bodies of the chat routes."""

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from convoship.http.models import ResponseModel, no_nul


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A NUL is refused here, before the model runs: no text column could store it afterwards.
    message: Annotated[str, Field(min_length=1), AfterValidator(no_nul)]
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
