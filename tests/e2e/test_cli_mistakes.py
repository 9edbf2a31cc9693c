"""`convoship` as a new user meets it when something is wrong: each common mistake is one
line on stderr that says what to do, a non-zero exit and no traceback. And the CLI's
smaller promises: `workspace list`, `--ttl` with a unit, a readable problem from `invoke`."""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.local_runner import run_cli

ROOT = Path(__file__).resolve().parents[2]
EVENT = "events/workspace_settings/get_agent_ops.json"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _one_line_error(result: object, *expected: str) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 1, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("convoship: "), stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return str(lines[0])


def test_port_in_use(cli_env: dict[str, str], busy_port: int) -> None:
    result = run_cli(cli_env, "serve", "--port", str(busy_port))
    _one_line_error(result, f"port {busy_port} is in use", "--port", "PORT=")


def test_unknown_function(cli_env: dict[str, str]) -> None:
    result = run_cli(cli_env, "invoke", "workspace-setings", "--event", EVENT)
    _one_line_error(result, "no function 'workspace-setings'", "workspace_settings")


def test_missing_event_file(cli_env: dict[str, str]) -> None:
    result = run_cli(cli_env, "invoke", "workspace_settings", "--event", "events/nope.json")
    _one_line_error(result, "no event file events/nope.json", "events/workspace_settings/")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"version": "2.0",', "is not valid JSON"),
        (b"[1, 2]", "an event is an object"),
        (b"\xff\xfe{}", "is not UTF-8"),
    ],
)
def test_broken_event_file(
    cli_env: dict[str, str], tmp_path: Path, content: bytes, expected: str
) -> None:
    event = tmp_path / "event.json"
    event.write_bytes(content)
    result = run_cli(cli_env, "invoke", "workspace_settings", "--event", str(event))
    _one_line_error(result, str(event), expected)


@pytest.mark.parametrize(
    "command",
    [
        ["token", "--role", "viewer", "--workspace"],
        ["audit", "verify", "--workspace"],
        ["rotate-keys", "--master", "--workspace"],
        ["workspace", "delete", "--yes"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_unknown_workspace(cli_env: dict[str, str], command: list[str]) -> None:
    unknown = str(uuid.uuid4())
    result = run_cli(cli_env, *command, unknown)
    _one_line_error(result, f"no workspace {unknown}", "convoship workspace list")
    malformed = run_cli(cli_env, *command, "acme")
    _one_line_error(malformed, "'acme'", "UUID", "convoship workspace list")


def test_workspace_list_shows_created_and_demo_workspaces(cli_env: dict[str, str]) -> None:
    created = json.loads(run_cli(cli_env, "workspace", "create", "Listed").stdout)
    assert run_cli(cli_env, "invoke", "workspace_settings", "--event", EVENT).returncode == 0
    result = run_cli(cli_env, "workspace", "list")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    listed = {row["workspace_id"]: row for row in rows}
    assert listed[created["workspace_id"]]["name"] == "Listed"
    assert [row["name"] for row in rows if row.get("demo")] == ["Demo"]


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return claims


@pytest.mark.parametrize(("ttl", "seconds"), [("30m", 1800), ("2h", 7200), ("90", 90)])
def test_ttl_takes_a_unit(
    cli_env: dict[str, str], make_workspace: Callable[..., uuid.UUID], ttl: str, seconds: int
) -> None:
    workspace = make_workspace("Tokens")
    before = int(time.time())
    result = run_cli(
        cli_env, "token", "--workspace", str(workspace), "--role", "viewer", "--ttl", ttl
    )
    assert result.returncode == 0, result.stderr
    expires = int(str(_claims(result.stdout.strip())["exp"]))
    assert before + seconds <= expires <= int(time.time()) + seconds


def test_ttl_help_names_the_unit(cli_env: dict[str, str]) -> None:
    result = run_cli(cli_env, "token", "--help")
    text = " ".join(result.stdout.split())  # argparse wraps the help text
    assert "with a unit (90s, 30m, 12h, 7d); default 12h" in text
    wrong = run_cli(
        cli_env, "token", "--workspace", str(uuid.uuid4()), "--role", "viewer", "--ttl", "5x"
    )
    assert wrong.returncode == 2 and "use a unit (30m, 12h, 7d)" in wrong.stderr


def test_invoke_prints_a_readable_problem(cli_env: dict[str, str], tmp_path: Path) -> None:
    event = json.loads((ROOT / "events/workspace_settings/patch_agent_ops.json").read_text())
    event["body"] = json.dumps({"eval_pass_threshold": 1.5})
    path = tmp_path / "out_of_range.json"
    path.write_text(json.dumps(event))
    result = run_cli(cli_env, "invoke", "workspace_settings", "--event", str(path))
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["statusCode"] == 422 and output["isBase64Encoded"] is False
    assert output["headers"]["content-type"] == "application/problem+json"
    problem = json.loads(output["body"])
    assert problem["errors"][0]["loc"] == ["body", "eval_pass_threshold"]
    assert '"type":"/problems/validation"' in output["body"]  # readable as printed
