"""Secret values and BYOK keys never appear in a response, a log line or an audit row."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.support.database import assert_nowhere_in_database

Conn = psycopg.Connection[dict[str, Any]]
SECRET = "S3cr3t-Value-" + uuid.uuid4().hex
BYOK = "sk-byok-" + uuid.uuid4().hex


def requests_touching_secrets(api: Any, admin: str) -> list[Any]:
    return [
        api.post("/v1/secrets", token=admin, json={"name": "KEY", "value": SECRET}),
        api.post("/v1/secrets", token=admin, json={"name": "KEY", "value": SECRET + "2"}),
        api.post("/v1/secrets", token=admin, json={"name": "BAD-NAME", "value": SECRET}),
        api.post("/v1/secrets", token=admin, json={"name": "BIG", "value": SECRET * 400}),
        api.patch(
            "/v1/workspaces/agent-llm", token=admin, json={"provider": "openai", "api_key": BYOK}
        ),
        api.patch(  # a 422 path
            "/v1/workspaces/agent-llm", token=admin, json={"provider": "bedrock", "api_key": BYOK}
        ),
        api.get("/v1/secrets", token=admin),
        api.get("/v1/workspaces/agent-llm", token=admin),
        api.get("/v1/audit-log", token=admin),
    ]


def test_values_stay_out_of_responses_logs_and_rows(
    api: Any,
    workspace: uuid.UUID,
    token: Callable[..., str],
    owner_sql: Conn,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from convoship.core.observability import logger

    # The Powertools handler writes to the stdout it found at import; listen beside it with
    # the same formatter, so every line a request logs is seen whatever ran before.
    seen = io.StringIO()
    listener = logging.StreamHandler(seen)
    listener.setFormatter(logger.registered_formatter)
    previous = logger.log_level
    logger.addHandler(listener)
    logger.setLevel("DEBUG")
    try:
        responses = requests_touching_secrets(api, token(workspace, "admin"))
    finally:
        logger.setLevel(previous)
        logger.removeHandler(listener)
    assert [r.status for r in responses] == [201, 200, 422, 422, 200, 422, 200, 200, 200]
    logs = seen.getvalue() + "".join(capfd.readouterr())
    assert '"route":"POST /v1/secrets"' in logs.replace('": "', '":"')  # logs were written
    for needle in (SECRET, BYOK):
        assert all(needle not in r.text for r in responses)
        assert needle not in logs
        assert_nowhere_in_database(owner_sql, needle)
