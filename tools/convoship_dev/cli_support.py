"""The CLI's answers to common mistakes: one line that says what to do, no traceback.

Commands raise CliError; `convoship` prints `convoship: <message>` on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import errno
import json
import re
import uuid
from pathlib import Path
from typing import Any

from convoship_dev.services import PROJECT_ROOT
from convoship_dev.template import FunctionSpec, Template

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
MAX_TTL_S = 30 * 86400
NO_WORKSPACE_FIX = "`convoship workspace list` shows the ids"


class CliError(Exception):
    """A mistake the user can fix; the message says how."""


def stop_on_sigterm() -> None:
    """SIGTERM (a supervisor, `kill`) stops like Ctrl-C: the servers we started stop too."""
    import signal

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def duration(text: str) -> int:
    """argparse type: seconds, or a number with a unit (90s, 30m, 12h, 7d)."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: write seconds (3600) or use a unit (30m, 12h, 7d)"
        )
    seconds = int(match[1]) * _UNITS[match[2] or "s"]
    if not 0 < seconds <= MAX_TTL_S:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: 1 s to 30 d")
    return seconds


def port(text: str) -> int:
    """argparse type: a TCP port, 0 for any free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: use 1-65535 (0: any free port)")
    return value


def bind_failure(exc: OSError, port: int) -> CliError:
    if exc.errno == errno.EADDRINUSE:
        return CliError(
            f"port {port} is in use (another `convoship serve`?): stop that one, or pick"
            f" another port: `convoship serve --port {port + 1}` or `PORT={port + 1} make dev`"
        )
    if exc.errno == errno.EACCES:
        return CliError(f"port {port} needs privileges to listen on: use a port above 1023")
    return CliError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}")


def find_function(template: Template, name: str) -> FunctionSpec:
    try:
        return template.find_function(name)
    except KeyError:
        folders = sorted(f.code_uri.name for f in template.functions.values())
        raise CliError(
            f"no function {name!r}: use a folder name ({', '.join(folders)}) or a logical id"
            " from template.yaml"
        ) from None


def read_event(path_text: str, function: FunctionSpec) -> dict[str, Any]:
    path = Path(path_text)
    example = next(iter(sorted((PROJECT_ROOT / "events" / function.code_uri.name).glob("*"))), None)
    hint = f", e.g. {example.relative_to(PROJECT_ROOT)}" if example else ""
    if not path.is_file():
        raise CliError(f"no event file {path_text}: the samples are under events/{hint}")
    try:
        event = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{path_text} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError:
        raise CliError(f"{path_text} is not UTF-8 text: an event file is JSON") from None
    if not isinstance(event, dict):
        raise CliError(f"{path_text} holds a JSON {type(event).__name__}: an event is an object")
    return event


def workspace_id(value: str, option: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise CliError(
            f"{option} must be a UUID (a workspace id), got {value!r}: {NO_WORKSPACE_FIX}"
        ) from None


def require_workspace(admin_url: str | None, value: str, option: str) -> str:
    """The workspace id, checked to exist where an admin connection can look (an operator
    with only DATABASE_URL gets the check of the command itself)."""
    import psycopg

    wid = workspace_id(value, option)
    if admin_url is None:
        return wid
    with psycopg.connect(admin_url) as conn:
        found = conn.execute("SELECT 1 FROM workspaces WHERE id = %s", (wid,)).fetchone()
    if found is None:
        raise CliError(f"no workspace {wid}: {NO_WORKSPACE_FIX}")
    return wid


def domain_failure(command: str, exc: Any) -> CliError:
    """A refusal of the layer (a ConvoshipError) as one line; an unknown workspace with the fix."""
    from convoship.core.errors import NotFound

    fix = f": {NO_WORKSPACE_FIX}" if isinstance(exc, NotFound) else ""
    return CliError(f"{command}: {exc.detail}{fix}")


def require_admin(stack: Any) -> str:
    if not stack.admin_url:
        raise CliError(
            "DATABASE_URL is set without DATABASE_ADMIN_URL: set it too (a role that may"
            " create workspaces)"
        )
    return str(stack.admin_url)
