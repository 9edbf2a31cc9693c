"""The rotate_keys Lambda job with its events/ files: one rotation per invocation, a clear
error for a malformed event, and a stop before the time runs out that the next invocation
resumes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from convoship.core.errors import ValidationFailed
from convoship_dev.handlers import load_handler
from convoship_dev.lambda_events import LambdaContext
from convoship_dev.template import load_template
from tests.support.agents import Conn, Token
from tests.support.api_client import ApiClient
from tests.support.keys import fill_workspace, key_rows, opened

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = load_template(ROOT / "template.yaml").find_function("rotate_keys")


def event(name: str, **changes: Any) -> dict[str, Any]:
    payload = json.loads((ROOT / "events" / "rotate_keys" / f"{name}.json").read_text())
    return {**payload, **changes}


class ShortOfTime(LambdaContext):
    """A context whose invocation is about to time out after `left` more checks."""

    def __init__(self, left: int) -> None:
        super().__init__(FUNCTION)
        self.left = left

    def get_remaining_time_in_millis(self) -> int:
        self.left -= 1
        return 900_000 if self.left > 0 else 1_000


def test_job_rotates_stops_in_time_and_resumes(
    api: ApiClient, token: Token, make_workspace: Callable[..., uuid.UUID], owner_sql: Conn
) -> None:
    ws = make_workspace()
    values = {f"S{i}": f"v{i}" for i in range(6)}
    fill_workspace(api, token(ws, "admin"), values, None)
    handler = load_handler(FUNCTION)

    first = handler(event("data_one_workspace", workspace_id=str(ws), batch_size=2), ShortOfTime(2))
    assert first["finished"] is False and 0 < first["values_resealed"] < 6
    second = handler(event("data_one_workspace", workspace_id=str(ws)), LambdaContext(FUNCTION))
    assert second["finished"] and second["resumed"] and second["run_id"] == first["run_id"]
    assert first["values_resealed"] + second["values_resealed"] == 6
    assert [k["version"] for k in key_rows(owner_sql, ws)] == [2]
    assert opened(owner_sql, ws) == values

    master = handler(event("master", workspace_id=str(ws)), LambdaContext(FUNCTION))
    assert master["finished"] and master["workspaces_changed"] == 0  # already current


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {},
        {"mode": "everything"},
        {"mode": "data", "workspace_id": "nope"},
        {"mode": "data", "batch_size": 0},
        {"mode": "data", "batch_size": True},
        {"mode": "master", "extra": 1},
    ],
)
def test_malformed_events_are_refused_before_any_work(bad: Any) -> None:
    with pytest.raises(ValidationFailed):
        load_handler(FUNCTION)(bad, LambdaContext(FUNCTION))
