"""allowed_hosts on secrets: set at creation, changed with PATCH /v1/secrets/{name} without
the value, listed, audited; narrowing under a tool that needs a host is 409 with used_by."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from tests.support.agents import (
    SLUG,
    Conn,
    Token,
    create_agent,
    created,
    error_locs,
    problem_of,
    workspace_rows,
)
from tests.support.api_client import ApiClient
from tests.support.publishing import BASE


def _audits(owner_sql: Conn, workspace: uuid.UUID) -> list[dict[str, Any]]:
    return owner_sql.execute(
        "SELECT actor_id, action, resource_id, before_state, after_state FROM audit_log"
        " WHERE workspace_id = %s AND resource_type = 'secret' ORDER BY occurred_at",
        (workspace,),
    ).fetchall()


def _sealed(owner_sql: Conn, workspace: uuid.UUID, name: str) -> str:
    row = owner_sql.execute(
        "SELECT value_ciphertext FROM workspace_secrets WHERE workspace_id = %s AND name = %s",
        (workspace, name),
    ).fetchone()
    assert row is not None
    return str(row["value_ciphertext"])


def test_hosts_are_set_listed_changed_and_audited(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    admin = token(workspace, "admin", sub="sec-admin")
    body = {"name": "CRM", "value": "v-1", "allowed_hosts": ["API.Example.com.", "*.Example.org"]}
    response = api.post("/v1/secrets", token=admin, json=body)
    assert response.status == 201, response.text
    assert response.json()["allowed_hosts"] == ["api.example.com", "*.example.org"]
    listed = api.get("/v1/secrets", token=token(workspace, "viewer")).json()["items"]
    assert [(s["name"], s["allowed_hosts"]) for s in listed] == [
        ("CRM", ["api.example.com", "*.example.org"])
    ]
    sealed = _sealed(owner_sql, workspace, "CRM")
    patched = api.patch("/v1/secrets/CRM", token=admin, json={"allowed_hosts": ["crm.example.net"]})
    assert patched.status == 200, patched.text
    assert patched.json()["allowed_hosts"] == ["crm.example.net"]
    assert patched.json()["updated_by"] == "sec-admin" and "v-1" not in patched.text
    assert _sealed(owner_sql, workspace, "CRM") == sealed  # the value is untouched
    # A replaced value keeps its hosts unless new ones are sent
    kept = api.post("/v1/secrets", token=admin, json={"name": "CRM", "value": "v-2"})
    assert kept.status == 200 and kept.json()["allowed_hosts"] == ["crm.example.net"]
    assert [
        (a["action"], a["before_state"], a["after_state"]) for a in _audits(owner_sql, workspace)
    ] == [
        (
            "secret.created",
            None,
            {"name": "CRM", "allowed_hosts": ["api.example.com", "*.example.org"]},
        ),
        (
            "secret.allowed_hosts_updated",
            {"name": "CRM", "allowed_hosts": ["api.example.com", "*.example.org"]},
            {"name": "CRM", "allowed_hosts": ["crm.example.net"]},
        ),
        ("secret.replaced", None, {"name": "CRM", "allowed_hosts": ["crm.example.net"]}),
    ]
    # A new secret without hosts gets none
    bare = api.post("/v1/secrets", token=admin, json={"name": "VISITOR", "value": "v" * 40})
    assert bare.status == 201 and bare.json()["allowed_hosts"] == []


@pytest.fixture
def used_secret(api: ApiClient, workspace: uuid.UUID, token: Token) -> dict[str, str]:
    """CRM, allowed on api.example.com and *.example.org, used by a tool on each."""
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    body = {"name": "CRM", "value": "v-1", "allowed_hosts": ["api.example.com", "*.example.org"]}
    assert api.post("/v1/secrets", token=admin, json=body).status == 201
    create_agent(api, editor, slug=SLUG)
    for name, url in (("orders", "https://api.example.com/o"), ("eu", "https://eu.example.org/x")):
        tool = {
            "name": name,
            "config": {"method": "GET", "url": url, "headers": {"X-Key": "{{secret:CRM}}"}},
        }
        created(api.post(f"{BASE}/tools", token=editor, json=tool))
    return {"admin": admin, "editor": editor}


@pytest.mark.parametrize("how", ["PATCH", "POST"])
def test_narrowing_under_a_tool_is_409_with_used_by_and_changes_nothing(
    api: ApiClient,
    workspace: uuid.UUID,
    owner_sql: Conn,
    used_secret: dict[str, str],
    how: str,
) -> None:
    before = workspace_rows(owner_sql, "workspace_secrets", workspace)
    audits = workspace_rows(owner_sql, "audit_log", workspace)
    narrower = {"allowed_hosts": ["*.example.org"]}
    if how == "PATCH":
        response = api.patch("/v1/secrets/CRM", token=used_secret["admin"], json=narrower)
    else:
        body = {"name": "CRM", "value": "v-2", **narrower}
        response = api.post("/v1/secrets", token=used_secret["admin"], json=body)
    problem = problem_of(response, 409, "conflict")
    assert problem["used_by"] == [{"agent": SLUG, "tool": "orders", "host": "api.example.com"}]
    assert workspace_rows(owner_sql, "workspace_secrets", workspace) == before
    assert workspace_rows(owner_sql, "audit_log", workspace) == audits


def test_a_list_that_still_covers_every_tool_is_fine(
    api: ApiClient, used_secret: dict[str, str]
) -> None:
    exact = {"allowed_hosts": ["eu.example.org", "api.example.com"]}
    response = api.patch("/v1/secrets/CRM", token=used_secret["admin"], json=exact)
    assert response.status == 200, response.text
    wider = {"allowed_hosts": ["api.example.com", "*.example.org", "other.example.net"]}
    assert api.patch("/v1/secrets/CRM", token=used_secret["admin"], json=wider).status == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"allowed_hosts": None},
        {"allowed_hosts": "api.example.com"},
        {"allowed_hosts": ["https://api.example.com"]},
        {"allowed_hosts": ["api.example.com:443"]},
        {"allowed_hosts": ["*"]},
        {"allowed_hosts": ["*.com"]},
        {"allowed_hosts": ["api.*.example.com"]},
        {"allowed_hosts": ["127.1"]},
        {"allowed_hosts": ["bad host"]},
        {"allowed_hosts": [""]},
        {"allowed_hosts": [1]},
        {"allowed_hosts": [f"h{i}.example.com" for i in range(51)]},
        {"allowed_hosts": ["api.example.com"], "value": "sneaky"},  # never the value
        [],
    ],
)
def test_bad_host_lists_are_422_and_write_nothing(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, body: Any
) -> None:
    admin = token(workspace, "admin")
    assert api.post("/v1/secrets", token=admin, json={"name": "CRM", "value": "v"}).status == 201
    before = workspace_rows(owner_sql, "workspace_secrets", workspace)
    audits = workspace_rows(owner_sql, "audit_log", workspace)
    problem = problem_of(api.patch("/v1/secrets/CRM", token=admin, json=body), 422, "validation")
    assert error_locs(problem)
    if isinstance(body, dict) and "allowed_hosts" in body and "value" not in body:
        created_too = api.post(
            "/v1/secrets", token=admin, json={"name": "NEW", "value": "v", **body}
        )
        problem_of(created_too, 422, "validation")
    assert workspace_rows(owner_sql, "workspace_secrets", workspace) == before
    assert workspace_rows(owner_sql, "audit_log", workspace) == audits


def test_unknown_or_foreign_secrets_are_404(
    api: ApiClient, workspace: uuid.UUID, other_workspace: uuid.UUID, token: Token
) -> None:
    hosts = {"allowed_hosts": ["api.example.com"]}
    admin = token(workspace, "admin")
    problem_of(api.patch("/v1/secrets/NOPE", token=admin, json=hosts), 404, "not-found")
    assert api.post("/v1/secrets", token=admin, json={"name": "MINE", "value": "v"}).status == 201
    other = token(other_workspace, "admin")
    problem_of(api.patch("/v1/secrets/MINE", token=other, json=hosts), 404, "not-found")


def _wait_for_a_lock_wait(owner_sql: Conn) -> None:
    """Until another session waits on a row lock (the request under test blocked)."""
    for _ in range(1000):
        row = owner_sql.execute(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        ).fetchone()
        if row is not None and row["n"] > 0:
            return
        time.sleep(0.01)
    raise AssertionError("the request never waited for the lock")


def test_narrowing_waits_for_a_tool_being_saved_and_then_sees_it(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, app_sql: Conn
) -> None:
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    body = {"name": "CRM", "value": "v", "allowed_hosts": ["api.example.com", "b.example.net"]}
    assert api.post("/v1/secrets", token=admin, json=body).status == 201
    agent = create_agent(api, editor, slug=SLUG)
    # Given a tool save in flight: the secret share-locked, the tool written, not committed
    app_sql.execute("SELECT set_config('app.workspace_id', %s, true)", (str(workspace),))
    app_sql.execute("SELECT name FROM workspace_secrets WHERE name = 'CRM' FOR SHARE")
    app_sql.execute(
        "INSERT INTO ai_agent_tools (workspace_id, agent_id, name, handler_kind, config,"
        " secret_refs) VALUES (%s, %s, 'orders', 'http', %s, '{CRM}')",
        (workspace, agent["id"], Jsonb({"method": "GET", "url": "https://api.example.com/o"})),
    )
    # When an admin narrows the list meanwhile
    with ThreadPoolExecutor(max_workers=1) as pool:
        narrowing = pool.submit(
            api.patch, "/v1/secrets/CRM", token=admin, json={"allowed_hosts": ["b.example.net"]}
        )
        _wait_for_a_lock_wait(owner_sql)
        app_sql.commit()
        response = narrowing.result(timeout=30)
    # Then the narrowing saw the tool once it could
    problem = problem_of(response, 409, "conflict")
    assert problem["used_by"] == [{"agent": SLUG, "tool": "orders", "host": "api.example.com"}]


def test_a_tool_saved_while_hosts_narrow_waits_and_is_refused(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, app_sql: Conn
) -> None:
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    body = {"name": "CRM", "value": "v", "allowed_hosts": ["api.example.com", "b.example.net"]}
    assert api.post("/v1/secrets", token=admin, json=body).status == 201
    create_agent(api, editor, slug=SLUG)
    # Given a narrowing in flight (the row locked and changed, not committed)
    app_sql.execute("SELECT set_config('app.workspace_id', %s, true)", (str(workspace),))
    app_sql.execute(
        "UPDATE workspace_secrets SET allowed_hosts = '{b.example.net}' WHERE name = 'CRM'"
    )
    tool = {
        "name": "orders",
        "config": {
            "method": "GET",
            "url": "https://api.example.com/o",
            "headers": {"X-Key": "{{secret:CRM}}"},
        },
    }
    with ThreadPoolExecutor(max_workers=1) as pool:
        saving = pool.submit(api.post, f"{BASE}/tools", token=editor, json=tool)
        _wait_for_a_lock_wait(owner_sql)
        app_sql.commit()
        response = saving.result(timeout=30)
    assert "api.example.com" in problem_of(response, 422, "validation")["detail"]


@pytest.mark.parametrize(
    ("hosts", "said"),
    [
        (["*.co.uk"], "co.uk is a public suffix"),
        (["api.example.com", "*.github.io"], "github.io is a public suffix"),
        (["co.uk"], "'co.uk' is a public suffix"),
        (["*.amazonaws.com"], "names under amazonaws.com are registered by others"),
    ],
)
def test_hosts_that_reach_names_others_register_are_422_and_write_nothing(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, hosts: list[str], said: str
) -> None:
    admin = token(workspace, "admin")
    assert api.post("/v1/secrets", token=admin, json={"name": "CRM", "value": "v"}).status == 201
    before = workspace_rows(owner_sql, "workspace_secrets", workspace)
    audits = workspace_rows(owner_sql, "audit_log", workspace)
    for response in (
        api.patch("/v1/secrets/CRM", token=admin, json={"allowed_hosts": hosts}),
        api.post(
            "/v1/secrets", token=admin, json={"name": "NEW", "value": "v", "allowed_hosts": hosts}
        ),
    ):
        problem = problem_of(response, 422, "validation")
        assert any(said in error["msg"] for error in problem["errors"]), problem
    assert workspace_rows(owner_sql, "workspace_secrets", workspace) == before
    assert workspace_rows(owner_sql, "audit_log", workspace) == audits
