"""The floor: the least a FastAPI + Mangum Lambda can do to answer from PostgreSQL.

One catch-all route (any method, any path) on one connection per container, opened on first
use. By default it runs one SELECT by primary key (autocommit: one round trip). When the
bench has recorded the SQL a read route sends (`SQL[(method, path)]`, the route's whole
one-message batch: its RLS scope and its queries, one implicit transaction), the floor sends
that very message with raw psycopg and returns every row it got back: the same query, the same rows,
with none of the application around it.
Self-contained on purpose (imports nothing from this project), so the cold-start bench can
run it as a top-level module from a copy, exactly like a function's handler module.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from mangum import Mangum

# The query GET /v1/workspaces/agent-ops runs, by primary key.
QUERY = (
    "SELECT rpm_cap_per_agent, eval_pass_threshold, updated_at"
    " FROM workspace_agent_ops WHERE workspace_id = %s"
)
WORKSPACE_ID = "7e1d0000-0000-4000-8000-000000000001"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

SQL: dict[tuple[str, str], str] = {}
_conn: psycopg.Connection[Any] | None = None


def _connection() -> psycopg.Connection[Any]:
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(
            os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None, connect_timeout=3
        )
    return _conn


def reset() -> None:
    """Close the connection (the bench points DATABASE_URL elsewhere between phases)."""
    global _conn
    if _conn is not None:
        _conn.close()
    _conn = None


def _query(method: str = "GET", path: str = "") -> dict[str, Any]:
    recorded = SQL.get((method, "/" + path))
    if recorded is None:
        row = _connection().execute(QUERY, (WORKSPACE_ID,)).fetchone()
        return {"found": row is not None}
    cursor = psycopg.ClientCursor(_connection())  # simple protocol: several statements
    cursor.execute(recorded)
    results = []
    while True:
        if cursor.description:
            results.append(cursor.fetchall())
        if not cursor.nextset():
            return {"results": results}


app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.api_route("/{path:path}", methods=METHODS)
def floor(path: str, request: Request) -> dict[str, Any]:
    return _query(request.method, path)


handler = Mangum(app, lifespan="off")

# The same with an `async def` route (no worker-thread hop): an extra, informative floor.
async_app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@async_app.api_route("/{path:path}", methods=METHODS)
async def floor_async(path: str, request: Request) -> dict[str, Any]:
    return _query(request.method, path)


async_handler = Mangum(async_app, lifespan="off")
