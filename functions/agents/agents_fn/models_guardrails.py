"""Request and response bodies of the guardrail routes."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from convoship.http.models import ResponseModel
from convoship.studio.guardrail_configs import GuardrailKind

from .models_common import Given, Patch


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


class GuardrailOut(ResponseModel):
    id: UUID
    kind: GuardrailKind
    config: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class GuardrailList(ResponseModel):
    items: list[GuardrailOut]
