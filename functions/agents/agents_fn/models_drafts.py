"""Request and response bodies of the wizard draft routes."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from convoship.http.models import ResponseModel


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    data: dict[str, Any]


class DraftOut(ResponseModel):
    id: UUID
    data: dict[str, Any]
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class DraftList(ResponseModel):
    items: list[DraftOut]
