"""Request and response bodies of the tool routes."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field

from convoship.http.models import ResponseModel
from convoship.studio.tool_spec import TOOL_NAME

from .models_common import Given, Patch


class ToolPatch(Patch):
    name: Given[Annotated[str, Field(pattern=TOOL_NAME.pattern)]] = None
    description: Given[Annotated[str, Field(max_length=2000)]] = None
    handler_kind: Given[Literal["http"]] = None
    config: Annotated[
        Given[dict[str, Any]], Field(description="merged onto the current config")
    ] = None
    input_schema: Annotated[Given[dict[str, Any]], Field(description="replaces the schema")] = None


class ToolOut(ResponseModel):
    id: UUID
    name: str
    description: str
    handler_kind: str
    config: dict[str, Any]
    input_schema: dict[str, Any]
    secret_refs: list[str]
    created_at: datetime
    updated_at: datetime


class ToolList(ResponseModel):
    items: list[ToolOut]
