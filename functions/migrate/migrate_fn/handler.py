"""Lambda entry point of the `migrate` custom resource (CloudFormation, on every deploy).

Create and Update apply the migrations and set the role passwords; Delete keeps the schema
(the data outlives the stack). A failure answers FAILED, which fails the deploy and makes
CloudFormation roll back: each migration runs in its own transaction, so a failed one
leaves nothing behind. On that rollback CloudFormation sends an Update naming the previous
release; migrations only move forward (and each is written to work with the code before
it), so that request changes nothing and succeeds, and the rollback completes.
"""

from __future__ import annotations

import os
from typing import Any

from convoship.core import constants as env
from convoship.core.observability import logger
from convoship.db.deploy import apply_migrations, schema_version, target_from_environment
from migrate_fn.cloudformation import FAILED, SUCCESS, response_body, send

PHYSICAL_ID = "convoship-database-schema"


def _is_rollback(event: dict[str, Any]) -> bool:
    """An Update that names another release than the one running here comes from a rollback
    (a deploy's Update names the release that was just installed in this function)."""
    wanted = (event.get("ResourceProperties") or {}).get("Release")
    running = os.environ.get(env.RELEASE)
    return event["RequestType"] == "Update" and bool(wanted and running) and wanted != running


def _scrubbed(message: str, secrets: list[str]) -> str:
    for value in secrets:
        message = message.replace(value, "***")
    return message


def _run(event: dict[str, Any], context: Any) -> tuple[str, str, dict[str, str]]:
    request = event["RequestType"]
    if request == "Delete":
        return SUCCESS, "the schema and its data outlive the stack", {}
    if _is_rollback(event):
        return SUCCESS, "rollback: migrations only move forward; nothing to undo", {}
    if request not in ("Create", "Update"):
        return FAILED, f"unknown RequestType {request!r}", {}
    secrets: list[str] = []
    try:
        target = target_from_environment()
        secrets = target.secret_values()
        time_left = getattr(context, "get_remaining_time_in_millis", lambda: None)()
        applied = apply_migrations(
            target, time_left_s=None if time_left is None else time_left / 1000
        )
    except Exception as exc:  # every failure must reach CloudFormation as FAILED
        reason = _scrubbed(f"{type(exc).__name__}: {exc}", secrets)
        logger.error("migrations failed", extra={"reason": reason})
        return FAILED, reason, {}
    logger.info("migrations applied", extra={"applied": applied})
    return (
        SUCCESS,
        f"applied {', '.join(applied)}" if applied else "up to date",
        {"SchemaVersion": schema_version(), "Applied": ",".join(applied)},
    )


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    status, reason, data = _run(event, context)
    physical_id = event.get("PhysicalResourceId") or PHYSICAL_ID
    body = response_body(event, status, reason, physical_id, data)
    send(event, body)
    return body
