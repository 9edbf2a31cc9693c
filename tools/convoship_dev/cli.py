"""`convoship`: the local runner and tools. Run `convoship --help`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from convoship.core.roles import ROLES
from convoship_dev.services import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "template.yaml"


def _stack(with_redis: bool = True) -> Any:
    from convoship_dev.local_stack import start_local_stack

    return start_local_stack(with_redis=with_redis)


def _stop_on_sigterm() -> None:
    """SIGTERM (a supervisor, `kill`) stops like Ctrl-C: the servers we started stop too."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _require_admin(stack: Any) -> str:
    if not stack.admin_url:
        sys.exit("DATABASE_URL is set without DATABASE_ADMIN_URL: set it to create workspaces")
    return str(stack.admin_url)


def cmd_serve(args: argparse.Namespace) -> None:
    from convoship.core import constants as env
    from convoship.db.connection import app_role_problems, close_all
    from convoship.db.transactions import unscoped_transaction
    from convoship_dev.local_stack import DEV_LLM_MODEL, ensure_demo_workspace, make_token
    from convoship_dev.server import serve
    from convoship_dev.template import load_template

    _stop_on_sigterm()
    stack = _stack()
    try:
        with unscoped_transaction() as conn:
            problems = app_role_problems(conn)
        if problems:
            sys.exit(
                "refusing to serve: "
                + "; ".join(problems)
                + ". Point DATABASE_URL at the convoship_app role."
            )
        token = None
        if stack.admin_url:
            token = make_token(
                ensure_demo_workspace(stack.admin_url), "owner", "demo-owner", ttl_s=12 * 3600
            )

        def ready(url: str) -> None:
            print(f"ConvoShip API on {url}  (Ctrl-C stops it; data stays in .local/)")
            if os.environ.get(env.LLM_MODEL) == DEV_LLM_MODEL:
                print("Model: the offline echo model (set CONVOSHIP_LLM_* for a real one)")
            if token:
                print(f"\nexport T={token}")
                print(f'curl -H "Authorization: Bearer $T" {url}/v1/workspaces/agent-ops')
                print(
                    f"Studio audit page of the demo agent (sign in with $T):"
                    f" {url}/app/agents/support-bot/audit\n",
                    flush=True,
                )

        serve(load_template(TEMPLATE), port=args.port, on_ready=ready)
    finally:
        close_all()
        stack.stop()


def cmd_invoke(args: argparse.Namespace) -> None:
    from convoship.db.connection import close_all
    from convoship_dev.custom_resources import invoke_custom_resource, is_custom_resource_event
    from convoship_dev.handlers import load_handler
    from convoship_dev.lambda_events import LambdaContext
    from convoship_dev.local_stack import ensure_demo_workspace
    from convoship_dev.template import load_template

    event = json.loads(Path(args.event).read_text())
    function = load_template(TEMPLATE).find_function(args.function)
    # stdout carries the result alone: log lines written to stdout go to stderr meanwhile.
    sys.stdout.flush()
    result_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    stack = _stack()
    try:
        if stack.admin_url:
            ensure_demo_workspace(stack.admin_url)
        handler, context = load_handler(function), LambdaContext(function)
        if is_custom_resource_event(event):
            # CloudFormation's side: the answer the function PUT to a loopback ResponseURL.
            result = invoke_custom_resource(handler, event, context)
        else:
            result = handler(event, context)
        sys.stdout.flush()
        result_out.write(json.dumps(result, indent=2, default=str) + "\n")
        result_out.flush()
    finally:
        close_all()
        stack.stop()


def cmd_migrate(_: argparse.Namespace) -> None:
    stack = _stack(with_redis=False)
    stack.stop()
    print("migrations applied")


def cmd_workspace_create(args: argparse.Namespace) -> None:
    from convoship_dev.local_stack import create_workspace, make_token

    stack = _stack(with_redis=False)
    try:
        workspace_id = create_workspace(_require_admin(stack), args.name)
    finally:
        stack.stop()
    token = make_token(workspace_id, "owner", args.sub, ttl_s=args.ttl)
    print(json.dumps({"workspace_id": workspace_id, "token": token}))


def _uuid_or_exit(value: str | None, option: str) -> str | None:
    import uuid

    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        sys.exit(f"{option} must be a UUID, got {value!r}")


def cmd_rotate_keys(args: argparse.Namespace) -> None:
    from convoship.core.errors import ConvoshipError
    from convoship.core.settings import get_settings
    from convoship.keys.rotation import Options, rotate_data, rotate_master
    from convoship_dev.progress import ProgressBar

    workspace_id = _uuid_or_exit(args.workspace, "--workspace")
    if args.batch_size < 1 or args.pause_ms < 0:
        sys.exit("--batch-size must be at least 1 and --pause-ms at least 0")
    _stop_on_sigterm()
    stack = _stack(with_redis=False)
    bar = ProgressBar(f"rotate-keys --{args.mode}")
    options = Options(batch_size=args.batch_size, pause_s=args.pause_ms / 1000, progress=bar)
    try:
        if args.mode == "master":
            report = rotate_master(get_settings(), workspace_id=workspace_id, options=options)
        else:
            report = rotate_data(
                get_settings(), workspace_id=workspace_id, started_by=args.actor, options=options
            )
    except ConvoshipError as exc:
        bar.close()
        sys.exit(f"rotate-keys: {exc.detail}")
    except KeyboardInterrupt:
        bar.close()
        sys.exit("rotate-keys: interrupted; run the same command again to finish")
    finally:
        stack.stop()
    bar.close()
    print(json.dumps(report.as_dict()))


def cmd_workspace_delete(args: argparse.Namespace) -> None:
    from convoship.core.errors import ConvoshipError
    from convoship.core.settings import get_settings
    from convoship.keys.shred import shred_workspace

    workspace_id = _uuid_or_exit(args.workspace_id, "ID")
    assert workspace_id is not None
    if not args.yes:
        sys.exit(
            f"this deletes workspace {workspace_id}, every row it owns and its data keys, for"
            " good: add --yes to do it"
        )
    stack = _stack(with_redis=False)
    try:
        result = shred_workspace(get_settings(), workspace_id, actor_id=args.actor)
    except ConvoshipError as exc:
        sys.exit(f"workspace delete: {exc.detail}")
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


def _operator() -> str:
    import getpass

    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"


def cmd_token(args: argparse.Namespace) -> None:
    import uuid

    from convoship_dev.local_stack import make_token

    try:
        workspace_id = str(uuid.UUID(args.workspace))
    except ValueError:
        sys.exit(f"--workspace must be a UUID, got {args.workspace!r}")
    print(make_token(workspace_id, args.role, args.sub, ttl_s=args.ttl))


def cmd_audit_verify(args: argparse.Namespace) -> None:
    """Walk the audit chain of one workspace (or all): one JSON line each; exit 1 if broken."""
    import uuid

    import psycopg

    from convoship.audit.verify import verify_workspace_chain
    from convoship.db.connection import close_all

    stack = _stack(with_redis=False)
    try:
        if args.workspace:
            try:
                workspaces = [str(uuid.UUID(args.workspace))]
            except ValueError:
                sys.exit(f"--workspace must be a UUID, got {args.workspace!r}")
        else:
            with psycopg.connect(_require_admin(stack)) as admin:
                workspaces = [str(r[0]) for r in admin.execute("SELECT id FROM workspaces")]
        broken = 0
        for workspace_id in sorted(workspaces):
            result = verify_workspace_chain(workspace_id)
            broken += not result["ok"]
            print(json.dumps({"workspace_id": workspace_id, **result}, default=str), flush=True)
    finally:
        close_all()
        stack.stop()
    if broken:
        sys.exit(1)


def cmd_openapi(_: argparse.Namespace) -> None:
    from convoship_dev.openapi import combined_openapi

    print(json.dumps(combined_openapi(), indent=2, sort_keys=True))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="convoship", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the whole API on 127.0.0.1 from template.yaml")
    serve.add_argument("--port", type=int, default=3000)
    serve.set_defaults(run=cmd_serve)

    invoke = sub.add_parser("invoke", help="invoke one function with an event file")
    invoke.add_argument("function", help="logical id or folder, e.g. workspace_settings")
    invoke.add_argument("--event", "-e", required=True, help="event JSON file, e.g. events/...")
    invoke.set_defaults(run=cmd_invoke)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)

    workspace = sub.add_parser("workspace", help="workspace administration")
    workspace_sub = workspace.add_subparsers(dest="workspace_command", required=True)
    create = workspace_sub.add_parser("create", help="create a workspace; prints id and token")
    create.add_argument("name")
    create.add_argument("--sub", default="local-owner", help="user id of the owner token")
    create.add_argument("--ttl", type=int, default=12 * 3600, help="token lifetime, seconds")
    create.set_defaults(run=cmd_workspace_create)
    delete = workspace_sub.add_parser(
        "delete", help="delete a workspace and its data keys (crypto-shredding); operator"
    )
    delete.add_argument("workspace_id", metavar="ID")
    delete.add_argument("--yes", action="store_true", help="really delete it")
    delete.add_argument("--actor", default=_operator(), help="who, for the system audit log")
    delete.set_defaults(run=cmd_workspace_delete)

    rotate = sub.add_parser(
        "rotate-keys",
        help="re-wrap data keys under the current master, or give workspaces new data keys",
    )
    mode = rotate.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--master",
        dest="mode",
        action="store_const",
        const="master",
        help="re-wrap every data key under the current master (then the old can go)",
    )
    mode.add_argument(
        "--data",
        dest="mode",
        action="store_const",
        const="data",
        help="a new data key per workspace; every value re-sealed, the old key deleted",
    )
    rotate.add_argument("--workspace", help="only this workspace (UUID)")
    rotate.add_argument("--batch-size", type=int, default=200, help="values per transaction")
    rotate.add_argument("--pause-ms", type=int, default=0, help="pause between batches")
    rotate.add_argument("--actor", default=_operator(), help="who started it (run ledger)")
    rotate.set_defaults(run=cmd_rotate_keys)

    token = sub.add_parser("token", help="print a studio JWT")
    token.add_argument("--workspace", required=True)
    token.add_argument("--role", choices=ROLES, required=True)
    token.add_argument("--sub", default="local-user")
    token.add_argument("--ttl", type=int, default=12 * 3600)
    token.set_defaults(run=cmd_token)

    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="walk the audit hash chains (and their latest signed checkpoints)"
    )
    verify.add_argument("--workspace", help="one workspace id (default: every workspace)")
    verify.set_defaults(run=cmd_audit_verify)

    sub.add_parser("openapi", help="print the OpenAPI document of every function").set_defaults(
        run=cmd_openapi
    )
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
