"""Request and response bodies of the eval routes."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from convoship.http.models import ResponseModel
from convoship.studio.evals import EvalAssertion

from .models_common import Given, Patch


class EvalPatch(Patch):
    name: Given[Annotated[str, Field(min_length=1, max_length=200)]] = None
    input: Given[Annotated[str, Field(min_length=1, max_length=20_000)]] = None
    assertions: Given[
        Annotated[
            list[EvalAssertion], Field(min_length=1, max_length=50, description="replaces the list")
        ]
    ] = None


class EvalOut(ResponseModel):
    id: UUID
    name: str
    input: str
    assertions: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class EvalList(ResponseModel):
    items: list[EvalOut]
