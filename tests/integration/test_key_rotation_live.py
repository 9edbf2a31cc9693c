"""Rotation while the API serves: chat turns that call a tool with a secret and use a BYOK
key, and secret and BYOK writes, run in threads while the master and the data keys rotate
again and again. Not one request may fail, and every value opens afterwards."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from convoship.core import constants as env
from convoship.core.settings import get_settings, reset_settings
from convoship.keys.rotation import Options, rotate_data, rotate_master
from tests.support.agents import SLUG, Conn, Token, create_agent, created
from tests.support.api_client import ApiClient
from tests.support.http_servers import RecordingServer, echo_server
from tests.support.keys import (
    Master,
    fill_workspace,
    master_fixture,
    only_our_workspaces_fixture,
    opened,
)
from tests.support.publishing import BASE

_ = (master_fixture, only_our_workspaces_fixture, echo_server)
LOOPBACK = "127.0.0.1"
SECRET = "sk-live-in-flight-0001"
BYOK = "sk-byok-in-flight-0001"


def test_no_request_fails_while_keys_rotate(
    master: Master,
    api: ApiClient,
    token: Token,
    make_workspace: Callable[..., uuid.UUID],
    owner_sql: Conn,
    echo_server: RecordingServer,
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
    only_our_workspaces: list[Any],
) -> None:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()
    ws = make_workspace()
    only_our_workspaces.append(ws)
    admin, editor = token(ws, "admin"), token(ws, "editor")
    fill_workspace(
        api,
        admin,
        {"API_KEY": SECRET, **{f"S{i}": f"v{i}" for i in range(30)}},
        None,
        ["127.0.0.1"],
    )
    byok = {"provider": "openai_compatible", "base_url": fake_llm.base_url, "model": "m"}
    assert api.patch("/v1/workspaces/agent-llm", token=admin, json={**byok, "api_key": BYOK})
    create_agent(api, editor, slug=SLUG)
    tool = {
        "name": "lookup",
        "description": "Look an order up",
        "config": {
            "method": "GET",
            "url": echo_server.url + "/orders/{{order_id}}",
            "headers": {"Authorization": "Bearer {{secret:API_KEY}}"},
        },
        "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}},
    }
    created(api.post(f"{BASE}/tools", token=editor, json=tool))

    rotating = threading.Event()
    failures: list[str] = []
    served = {"chat": 0, "write": 0}

    def chat_loop() -> None:
        while rotating.is_set():
            response = api.post(
                f"{BASE}/playground/chat",
                token=editor,
                json={"message": 'call:lookup {"order_id": "7"}'},
            )
            if response.status != 200 or "tool said" not in response.json()["reply"]:
                failures.append(f"chat {response.status}: {response.text[:200]}")
            served["chat"] += 1

    def write_loop() -> None:
        n = 0
        while rotating.is_set():
            n += 1
            secret = api.post("/v1/secrets", token=admin, json={"name": "S0", "value": f"w{n}"})
            key = api.patch("/v1/workspaces/agent-llm", token=admin, json={"api_key": BYOK})
            for response in (secret, key):
                if response.status not in (200, 201):
                    failures.append(f"write {response.status}: {response.text[:200]}")
            served["write"] += 1
        served["last"] = n

    master.rotate()  # deployed: the new master wraps, the old one still opens
    threads = [threading.Thread(target=chat_loop) for _ in range(3)]
    threads.append(threading.Thread(target=write_loop))
    rotating.set()
    for thread in threads:
        thread.start()
    try:
        small = Options(batch_size=3)
        rotate_master(get_settings(), options=small)
        for _ in range(4):
            rotate_data(get_settings(), workspace_id=ws, options=small)
    finally:
        rotating.clear()
        for thread in threads:
            thread.join(60)

    assert failures == []
    assert served["chat"] >= 3 and served["write"] >= 1  # requests really were in flight
    sent = [h for h in (r["headers"].get("Authorization") for r in echo_server.received) if h]
    assert sent and set(sent) == {f"Bearer {SECRET}"}
    assert {r.headers.get("authorization") for r in fake_llm.requests} == {f"Bearer {BYOK}"}
    master.drop_old()
    values = opened(owner_sql, ws)
    assert values["API_KEY"] == SECRET and values["byok"] == BYOK
    assert values["S0"] == f"w{served['last']}"
    rows = owner_sql.execute(
        "SELECT version FROM workspace_data_keys WHERE workspace_id = %s", (ws,)
    ).fetchall()
    assert [r["version"] for r in rows] == [5]


def test_a_write_in_flight_keeps_the_key_version_it_sealed_with(
    api: ApiClient, token: Token, make_workspace: Callable[..., uuid.UUID], owner_sql: Conn
) -> None:
    from convoship.db.transactions import rls_transaction
    from convoship.security.crypto import encrypt_at_rest, secret_context
    from convoship.security.key_store import data_key_for_write

    ws = make_workspace()
    fill_workspace(api, token(ws, "admin"), {"A": "a", "B": "b"}, None)
    done: dict[str, Any] = {}
    rotation = threading.Thread(
        target=lambda: done.update(report=rotate_data(get_settings(), workspace_id=ws))
    )
    with rls_transaction(workspace_id=ws) as conn:
        key = data_key_for_write(conn, ws)  # version 1, as a write about to seal
        rotation.start()
        rotation.join(0.5)
        assert rotation.is_alive()  # the rotation waits for this write to commit
        conn.execute(
            "INSERT INTO workspace_secrets (workspace_id, name, value_ciphertext)"
            " VALUES (%s, 'LATE', %s)",
            (ws, encrypt_at_rest("late", secret_context(ws, "LATE"), key)),
        )
    rotation.join(30)
    assert done["report"].finished and done["report"].values_resealed == 3
    assert opened(owner_sql, ws) == {"A": "a", "B": "b", "LATE": "late"}
    versions = owner_sql.execute(
        "SELECT version FROM workspace_data_keys WHERE workspace_id = %s", (ws,)
    ).fetchall()
    assert [r["version"] for r in versions] == [2]
