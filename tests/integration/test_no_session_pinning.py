"""The request path sends no SET statement (nor a session-wide set_config): RDS Proxy answers
either by pinning the client's session to one database connection for good. Recorded on
the wire, for chat turns that reserve, settle and release, call a tool that reads a secret,
run on the embed, and count in PostgreSQL while Redis is unreachable (production)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship.db.connection import close_all
from convoship.runtime import ratelimit
from tests.support.agents import SLUG, Token, create_agent, created
from tests.support.api_client import ApiClient
from tests.support.chat import chat, embed
from tests.support.http_servers import RecordingServer, echo_server
from tests.support.publishing import BASE, publish, set_threshold
from tests.support.statements import StatementRecorder

_ = (echo_server,)  # a fixture
# A statement that starts with SET or RESET (alone, or after another in the same message)
SET_STATEMENT = re.compile(r"(?:\A|;)\s*(?:SET|RESET)\b", re.IGNORECASE)
SESSION_SET_CONFIG = re.compile(r"set_config\([^()]*,\s*false\s*\)", re.IGNORECASE)


@pytest.fixture
def recorder(database: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """Production, Redis unreachable, the app role's connections through the recorder."""
    params = conninfo_to_dict(database.app_url)
    with psycopg.connect(database.app_url) as probe:
        socket_dir, port = probe.info.host, probe.info.port
    listen = tmp_path / f".s.PGSQL.{port}"
    with StatementRecorder(Path(socket_dir) / f".s.PGSQL.{port}", listen) as recording:
        params.update(host=str(tmp_path), port=str(port))
        close_all()
        monkeypatch.setenv(env.DATABASE_URL, make_conninfo(**params))
        monkeypatch.setenv(env.STAGE, "production")
        monkeypatch.delenv(env.AUDIT_DEV_SIGNING_KEY, raising=False)  # refused in production
        monkeypatch.setenv(env.REDIS_URL, f"unix://{tmp_path}/nothing-here.sock")
        monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
        reset_settings()
        ratelimit.reset()
        yield recording
        close_all()
        ratelimit.reset()


def test_chat_turns_and_the_degraded_limiter_send_no_set_statement(
    recorder: StatementRecorder,
    api: ApiClient,
    token: Token,
    workspace: Any,
    fake_llm: Any,
    echo_server: RecordingServer,
) -> None:
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    secret = {"name": "KEY", "value": "sk-live-pinning-test-1", "allowed_hosts": ["127.0.0.1"]}
    assert api.post("/v1/secrets", token=admin, json=secret).status == 201
    agent = create_agent(api, editor, slug=SLUG)
    tool = {
        "name": "lookup",
        "config": {
            "method": "POST",
            "url": echo_server.url + "/x",
            "headers": {"X-Key": "{{secret:KEY}}"},
        },
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    created(api.post(f"{BASE}/tools", token=editor, json=tool))
    set_threshold(api, admin, 0, rpm=100)  # the playground is counted too
    assert publish(api, editor).status == 201
    recorder.statements.clear()

    first = chat(api, editor, "call:lookup " + json.dumps({"q": "order 7"}))
    assert first.status == 200, first.text
    conversation = first.json()["conversation_id"]
    assert chat(api, editor, "fail:500", conversation).status == 502  # released
    assert chat(api, editor, "and now?", conversation).status == 200
    assert embed(api, agent["public_token"], "hi").status == 200

    sent = "\n".join(recorder.statements)
    for expected in (
        "reserve_chat_turn",
        "write_chat_turn",  # settles the reservation (migration 0010)
        "release_chat_turn",
        "ai_agent_rate_counters",
        "workspace_secrets",
        "set_config('synchronous_commit', 'off', true)",
    ):
        assert expected in sent, expected  # the paths under test were taken
    for statement in recorder.statements:
        assert not SET_STATEMENT.search(statement), statement
        assert not SESSION_SET_CONFIG.search(statement), statement
