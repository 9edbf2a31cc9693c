"""`convoship workspace create|list|delete` and `convoship token`: who may call the API."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from convoship.core.roles import ROLES
from convoship_dev.cli_support import (
    CliError,
    domain_failure,
    duration,
    require_admin,
    require_workspace,
    workspace_id,
)

DEFAULT_TTL = "12h"
TTL_HELP = "token lifetime: seconds, or with a unit (90s, 30m, 12h, 7d); default 12h, at most 30d"


def _stack() -> Any:
    from convoship_dev.local_stack import start_local_stack

    return start_local_stack(with_redis=False)


def cmd_workspace_create(args: argparse.Namespace) -> None:
    from convoship_dev.local_stack import create_workspace, make_token

    name = args.name.strip()
    if not 1 <= len(name) <= 200:
        raise CliError("a workspace name has 1 to 200 characters")
    stack = _stack()
    try:
        created = create_workspace(require_admin(stack), name)
    finally:
        stack.stop()
    token = make_token(created, "owner", args.sub, ttl_s=args.ttl)
    print(json.dumps({"workspace_id": created, "token": token}))


def cmd_workspace_list(_: argparse.Namespace) -> None:
    """One JSON line per workspace, oldest first; the demo one says so."""
    import psycopg

    from convoship_dev.demo_seed import DEMO_WORKSPACE_ID

    stack = _stack()
    try:
        with psycopg.connect(require_admin(stack)) as conn:
            rows = conn.execute(
                "SELECT id, name, created_at FROM workspaces ORDER BY created_at, id"
            ).fetchall()
    finally:
        stack.stop()
    for wid, name, created_at in rows:
        line = {"workspace_id": str(wid), "name": name, "created_at": created_at.isoformat()}
        if str(wid) == DEMO_WORKSPACE_ID:
            line["demo"] = True  # make dev's token and the events/ files belong to it
        print(json.dumps(line))


def cmd_workspace_delete(args: argparse.Namespace) -> None:
    from convoship.core.errors import ConvoshipError
    from convoship.core.settings import get_settings
    from convoship.keys.shred import shred_workspace

    wid = workspace_id(args.workspace_id, "ID")
    if not args.yes:
        raise CliError(
            f"this deletes workspace {wid}, every row it owns and its data keys, for"
            " good: add --yes to do it"
        )
    stack = _stack()
    try:
        result = shred_workspace(get_settings(), wid, actor_id=args.actor)
    except ConvoshipError as exc:
        raise domain_failure("workspace delete", exc) from None
    finally:
        stack.stop()
    if result["legacy_values"]:
        print(
            f"warning: {result['legacy_values']} value(s) were sealed in a format from before"
            " data keys: copies of them open with the master key until it is rotated"
            " (rotate-keys --master) and the old one destroyed",
            file=sys.stderr,
        )
    print(json.dumps(result))


def cmd_token(args: argparse.Namespace) -> None:
    from convoship_dev.local_stack import make_token

    wid = workspace_id(args.workspace, "--workspace")
    stack = _stack()
    try:
        require_workspace(stack.admin_url, wid, "--workspace")
    finally:
        stack.stop()
    print(make_token(wid, args.role, args.sub, ttl_s=args.ttl))


def add_parsers(sub: Any, operator: str) -> None:
    workspace = sub.add_parser("workspace", help="workspaces: create, list, delete")
    workspace_sub = workspace.add_subparsers(dest="workspace_command", required=True)
    create = workspace_sub.add_parser("create", help="create a workspace; prints id and token")
    create.add_argument("name", help="its display name (1 to 200 characters)")
    create.add_argument("--sub", default="local-owner", help="user id of the owner token")
    create.add_argument("--ttl", type=duration, default=DEFAULT_TTL, help=TTL_HELP)
    create.set_defaults(run=cmd_workspace_create)
    listing = workspace_sub.add_parser(
        "list", help="one JSON line per workspace: id, name, created_at (and demo: true)"
    )
    listing.set_defaults(run=cmd_workspace_list)
    delete = workspace_sub.add_parser(
        "delete", help="delete a workspace and its data keys (crypto-shredding); operator"
    )
    delete.add_argument("workspace_id", metavar="ID", help="the workspace id (UUID)")
    delete.add_argument("--yes", action="store_true", help="really delete it")
    delete.add_argument("--actor", default=operator, help="who, for the system audit log")
    delete.set_defaults(run=cmd_workspace_delete)

    token = sub.add_parser("token", help="print a studio JWT for a workspace and role")
    token.add_argument("--workspace", required=True, help="workspace id (UUID)")
    token.add_argument("--role", choices=ROLES, required=True, help="the caller's role")
    token.add_argument("--sub", default="local-user", help="the caller's user id")
    token.add_argument("--ttl", type=duration, default=DEFAULT_TTL, help=TTL_HELP)
    token.set_defaults(run=cmd_token)
