"""Who is calling: the authorizer context as a dependency, role checks, the RLS transaction.

Routes declare `ctx: Viewer | Editor | Admin` first, then `tx: WorkspaceTx` (or
`WorkspaceRead` for routes that only read), so a caller without the role is refused before
a transaction opens.

Dependencies and routes are `async def` although the database driver is synchronous: a
Lambda container serves one request at a time, so its event loop has nothing else to do
while a query blocks it, and every sync dependency or route would cost a thread-pool hop
(about 0.17 ms each, six per request). The local runner gives each request thread its own
event loop, so blocking one never stalls another.

This module and the routes modules keep real annotations (no `from __future__ import
annotations`): FastAPI analyses each route's dependencies when the route is declared and
would evaluate every string annotation again for every route, about 1M instructions a route
of each cold start.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request

from convoship.audit.record import Actor
from convoship.core.errors import Forbidden, Unauthorized
from convoship.core.roles import RANK
from convoship.db.connection import Connection
from convoship.db.read_batch import read_transaction
from convoship.db.transactions import rls_transaction


@dataclass(frozen=True)
class RequestContext:
    workspace_id: UUID
    user_id: str
    role: str
    request_id: str

    @property
    def actor(self) -> Actor:
        return Actor(
            workspace_id=self.workspace_id, actor_id=self.user_id, request_id=self.request_id
        )


def request_id_of(request: Request) -> str:
    return str(request.scope.get("convoship.request_id", ""))


async def request_context(request: Request) -> RequestContext:
    """The caller as the authorizer established it; 401 when no authorizer ran."""
    event: dict[str, Any] = request.scope.get("aws.event") or {}
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}
    try:
        workspace_id = UUID(str(claims["workspace_id"]))
        user_id = str(claims["user_id"])
        role = str(claims["role"])
    except (KeyError, ValueError):
        raise Unauthorized("this route needs an authenticated caller") from None
    if role not in RANK or not user_id:
        raise Unauthorized("this route needs an authenticated caller")
    return RequestContext(workspace_id, user_id, role, request_id_of(request))


def require_role(minimum: str) -> Callable[[RequestContext], Awaitable[RequestContext]]:
    async def check(ctx: Annotated[RequestContext, Depends(request_context)]) -> RequestContext:
        if RANK[ctx.role] < RANK[minimum]:
            raise Forbidden(f"this action needs the {minimum} role or higher")
        return ctx

    check.__name__ = f"require_{minimum}"
    return check


async def workspace_tx(
    ctx: Annotated[RequestContext, Depends(request_context)],
) -> AsyncIterator[Connection]:
    with rls_transaction(workspace_id=ctx.workspace_id) as conn:
        yield conn


async def workspace_read(
    ctx: Annotated[RequestContext, Depends(request_context)],
) -> AsyncIterator[Connection]:
    with read_transaction(workspace_id=ctx.workspace_id) as conn:
        yield conn


Viewer = Annotated[RequestContext, Depends(require_role("viewer"))]
Editor = Annotated[RequestContext, Depends(require_role("editor"))]
Admin = Annotated[RequestContext, Depends(require_role("admin"))]
# scope="function": commit (or its failure) happens before the response is sent.
WorkspaceTx = Annotated[Connection, Depends(workspace_tx, scope="function")]
# For routes that only read: the queries go with BEGIN and COMMIT in one round trip.
WorkspaceRead = Annotated[Connection, Depends(workspace_read, scope="function")]
