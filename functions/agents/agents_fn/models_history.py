"""Response bodies of the history routes: versions, conversations, audit events."""

from datetime import datetime
from typing import Any
from uuid import UUID

from convoship.http.models import ResponseModel, VersionOut

__all__ = ["VersionOut"]


class VersionList(ResponseModel):
    items: list[VersionOut]


class ConversationSummary(ResponseModel):
    id: UUID
    channel: str
    status: str
    version: int | None
    usage: dict[str, Any]
    turns: int
    created_at: datetime
    updated_at: datetime


class ConversationPage(ResponseModel):
    items: list[ConversationSummary]
    next_cursor: str | None


class MessageOut(ResponseModel):
    seq: int
    role: str
    content: str
    tool_name: str | None
    tool_args: Any
    created_at: datetime


class ConversationOut(ConversationSummary):
    messages: list[MessageOut]


class AuditEventOut(ResponseModel):
    id: UUID
    occurred_at: datetime
    actor_type: str
    actor_id: str
    action: str
    resource_type: str
    resource_id: str | None
    agent_id: UUID
    agent_slug: str
    request_id: str | None
    before_state: Any
    after_state: Any


class AuditEventPage(ResponseModel):
    items: list[AuditEventOut]
    next_cursor: str | None
