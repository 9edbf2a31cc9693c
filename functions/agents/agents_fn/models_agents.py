"""Request and response bodies of the agent routes."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from convoship.http.models import ResponseModel
from convoship.studio.agents import SLUG, AgentConfig

from .models_common import Given, Patch
from .models_guardrails import GuardrailOut

AgentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=2000)]


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: AgentName
    slug: Annotated[str, Field(pattern=SLUG.pattern)] | None = None
    description: Description | None = None
    config: AgentConfig = AgentConfig()


class AgentPatch(Patch):
    name: Given[AgentName] = None
    description: Description | None = None
    config: Annotated[
        Given[dict[str, Any]], Field(description="merged onto the current config")
    ] = None


class AgentOut(ResponseModel):
    id: UUID
    slug: str
    name: str
    description: str | None
    config: dict[str, Any]
    published_version: int | None
    public_token: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class AgentList(ResponseModel):
    items: list[AgentOut]


class AgentCreated(AgentOut):
    guardrails: list[GuardrailOut]
