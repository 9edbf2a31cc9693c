"""Routes of the workspace_settings function. Each parses, calls the layer, returns."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Query, Response

from convoship.audit import search as audit_search
from convoship.core.settings import get_settings
from convoship.core.validation import utc_time
from convoship.http.deps import Admin, Viewer, WorkspaceRead, WorkspaceTx
from convoship.http.routing import api_router
from convoship.secrets import store as secrets_store
from convoship.studio import agent_ops, llm_settings
from convoship.studio.agent_ops import playground_rpm_cap, public_rpm_cap

from .models import (
    AgentLlmOut,
    AgentLlmPatch,
    AgentOpsOut,
    AgentOpsPatch,
    AuditPage,
    AuditVerification,
    SecretHostsPatch,
    SecretIn,
    SecretList,
    SecretOut,
)

router = api_router(prefix="/v1")


def _ops_out(ops: agent_ops.AgentOps) -> AgentOpsOut:
    return AgentOpsOut.model_validate(
        {
            "rpm_cap_per_agent": ops.rpm_cap_per_agent,
            "eval_pass_threshold": ops.eval_pass_threshold,
            "effective": {
                "public_rpm_cap": public_rpm_cap(ops.rpm_cap_per_agent),
                "playground_rpm_cap": playground_rpm_cap(ops.rpm_cap_per_agent),
            },
            "updated_at": ops.updated_at,
        }
    )


def _llm_out(llm: llm_settings.LlmSettings) -> AgentLlmOut:
    return AgentLlmOut.model_validate({**llm.public_state(), "updated_at": llm.updated_at})


@router.get("/workspaces/agent-ops", response_model=AgentOpsOut)
async def get_agent_ops(ctx: Viewer, tx: WorkspaceRead) -> AgentOpsOut:
    """Per-agent request caps and the eval pass threshold, with the caps in effect."""
    return _ops_out(agent_ops.get_agent_ops(tx, ctx.workspace_id))


@router.patch("/workspaces/agent-ops", response_model=AgentOpsOut)
async def patch_agent_ops(body: AgentOpsPatch, ctx: Admin, tx: WorkspaceTx) -> AgentOpsOut:
    """Change the per-agent RPM cap (null or 0..100000) and/or the eval pass threshold."""
    changes = body.changes()
    return _ops_out(agent_ops.update_agent_ops(tx, ctx.actor, changes))


@router.get("/workspaces/agent-llm", response_model=AgentLlmOut)
async def get_agent_llm(ctx: Viewer, tx: WorkspaceRead) -> AgentLlmOut:
    """The workspace's model provider settings; the API key itself is never returned."""
    return _llm_out(llm_settings.get_llm_settings(tx, ctx.workspace_id))


@router.patch("/workspaces/agent-llm", response_model=AgentLlmOut)
async def patch_agent_llm(body: AgentLlmPatch, ctx: Admin, tx: WorkspaceTx) -> AgentLlmOut:
    """Bring your own key: provider, model, base URL and a write-only API key (null clears)."""
    changes = body.changes()
    allow_private = get_settings().allow_private_network
    return _llm_out(
        llm_settings.update_llm_settings(tx, ctx.actor, changes, allow_private=allow_private)
    )


@router.get("/secrets", response_model=SecretList)
async def list_secrets(ctx: Viewer, tx: WorkspaceRead) -> SecretList:
    """Names and timestamps of the workspace secrets; values are never returned."""
    return SecretList.model_validate({"items": secrets_store.list_secrets(tx, ctx.workspace_id)})


@router.post(
    "/secrets",
    response_model=SecretOut,
    status_code=201,
    responses={200: {"model": SecretOut, "description": "An existing secret was replaced"}},
)
async def put_secret(body: SecretIn, ctx: Admin, tx: WorkspaceTx, response: Response) -> SecretOut:
    """Create (201) or replace (200) a secret, usable in tools as {{secret:NAME}} on its
    allowed_hosts (omitted: a new secret gets none, a replaced one keeps its own)."""
    row, created = secrets_store.put_secret(
        tx, ctx.actor, body.name, body.value, body.allowed_hosts
    )
    response.status_code = 201 if created else 200
    return SecretOut.model_validate(row)


@router.patch("/secrets/{name}", response_model=SecretOut)
async def patch_secret(name: str, body: SecretHostsPatch, ctx: Admin, tx: WorkspaceTx) -> SecretOut:
    """Change the hosts a secret may be sent to, keeping its value; 409 with used_by when a
    tool using it targets a host the new list leaves out."""
    return SecretOut.model_validate(
        secrets_store.set_allowed_hosts(tx, ctx.actor, name, body.allowed_hosts)
    )


@router.delete("/secrets/{name}", status_code=204, response_class=Response)
async def delete_secret(name: str, ctx: Admin, tx: WorkspaceTx) -> Response:
    """Delete a secret; 409 while a tool still references it."""
    secrets_store.delete_secret(tx, ctx.actor, name)
    return Response(status_code=204)


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    return utc_time(value, ("query", name), "the time is out of range in UTC")


@router.get("/audit-log", response_model=AuditPage)
async def search_audit_log(
    ctx: Admin,
    tx: WorkspaceRead,
    action: Annotated[str | None, Query(max_length=200)] = None,
    actor_id: Annotated[str | None, Query(max_length=256)] = None,
    resource_type: Annotated[str | None, Query(max_length=200)] = None,
    resource_id: Annotated[str | None, Query(max_length=256)] = None,
    agent_id: UUID | None = None,
    agent_slug: Annotated[str | None, Query(max_length=63)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> AuditPage:
    """Search the workspace audit log, newest first; follow next_cursor for older entries."""
    filters = audit_search.AuditFilter(
        action,
        actor_id,
        resource_type,
        resource_id,
        agent_id,
        agent_slug,
        _utc(since, "since"),
        _utc(until, "until"),
    )
    items, next_cursor = audit_search.search_audit_log(
        tx, ctx.workspace_id, filters, limit=limit, cursor=cursor
    )
    return AuditPage.model_validate({"items": items, "next_cursor": next_cursor})


@router.get("/audit-log/verify", response_model=AuditVerification)
async def verify_audit_log(ctx: Admin) -> AuditVerification:
    """Walk the workspace's audit hash chain and check it against the latest signed checkpoint:
    ok, rows, head, and the first seq that is missing or wrong."""
    from convoship.audit.verify import verify_workspace_chain  # lazy: a rare, admin-only read

    return AuditVerification.model_validate(verify_workspace_chain(ctx.workspace_id))
