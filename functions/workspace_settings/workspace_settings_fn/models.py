"""Request and response bodies of the workspace_settings routes."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from convoship.http.models import Given, Patch, ResponseModel, no_nul
from convoship.secrets.hosts import MAX_ALLOWED_HOSTS, normalize_allowed_hosts
from convoship.secrets.refs import SECRET_NAME


class AgentOpsPatch(Patch):
    rpm_cap_per_agent: Annotated[int, Field(ge=0, le=100_000)] | None = None
    eval_pass_threshold: Given[Annotated[float, Field(ge=0, le=1)]] = None


class EffectiveCaps(ResponseModel):
    public_rpm_cap: int
    playground_rpm_cap: int | None


class AgentOpsOut(ResponseModel):
    rpm_cap_per_agent: int | None
    eval_pass_threshold: float
    effective: EffectiveCaps
    updated_at: datetime | None


Provider = Literal["openai", "openai_compatible", "anthropic", "bedrock"]


class AgentLlmPatch(Patch):
    provider: Provider | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    base_url: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    api_key: Annotated[str, Field(min_length=1, max_length=4096)] | None = None


class AgentLlmOut(ResponseModel):
    provider: Provider | None
    model: str | None
    base_url: str | None
    api_key_set: bool
    api_key_hint: str | None
    updated_at: datetime | None


def _hosts(entries: list[str]) -> list[str]:
    return normalize_allowed_hosts(entries)  # HostNotAllowed is a ValueError: a 422


AllowedHosts = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=260)]],
    Field(
        max_length=MAX_ALLOWED_HOSTS,
        description="Hosts a tool may send this secret to: exact names or addresses, or"
        " `*.example.com` for every name below example.com. Empty: no tool may use it (an AUTH"
        " guardrail's visitor_token_secret still may).",
        examples=[["api.example.com", "*.example.org"]],
    ),
    AfterValidator(_hosts),
]


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[str, Field(pattern=SECRET_NAME.pattern)]
    value: Annotated[str, Field(min_length=1, max_length=8192), AfterValidator(no_nul)]
    allowed_hosts: Given[AllowedHosts] = None  # omitted: none, or a replaced secret's own


class SecretHostsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    allowed_hosts: AllowedHosts


class SecretOut(ResponseModel):
    name: str
    allowed_hosts: list[str]
    created_at: datetime
    updated_at: datetime
    updated_by: str | None


class SecretList(ResponseModel):
    items: list[SecretOut]


class AuditEntry(ResponseModel):
    id: UUID
    occurred_at: datetime
    actor_type: str
    actor_id: str
    action: str
    resource_type: str
    resource_id: str | None
    agent_id: UUID | None
    agent_slug: str | None
    request_id: str | None
    before_state: Any
    after_state: Any
    seq: int
    prev_hash: str
    hash: str


class AuditPage(ResponseModel):
    items: list[AuditEntry]
    next_cursor: str | None


class ChainHead(ResponseModel):
    seq: int
    hash: str


class CheckpointOut(ResponseModel):
    seq: int
    signed_at: datetime


class AuditVerification(ResponseModel):
    ok: bool
    rows: int
    head: ChainHead
    first_bad_seq: int | None
    checkpoint: CheckpointOut | None
    detail: str | None
