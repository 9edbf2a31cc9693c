"""Request and response bodies of the agent and guardrail routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from convoship.studio.agents import SLUG, AgentConfig
from convoship.studio.guardrail_configs import GuardrailKind

from .models_common import Given, Patch

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


class AgentOut(BaseModel):
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


class AgentList(BaseModel):
    items: list[AgentOut]


class GuardrailIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    kind: GuardrailKind
    config: Annotated[
        dict[str, Any] | None, Field(description="the kind's default config when absent")
    ] = None
    enabled: bool = True


class GuardrailPatch(Patch):
    config: Annotated[
        Given[dict[str, Any]], Field(description="merged onto the current config")
    ] = None
    enabled: Given[bool] = None


class GuardrailOut(BaseModel):
    id: UUID
    kind: GuardrailKind
    config: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class GuardrailList(BaseModel):
    items: list[GuardrailOut]


class AgentCreated(AgentOut):
    guardrails: list[GuardrailOut]
