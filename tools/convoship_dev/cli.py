"""`convoship`: the local runner and tools. Run `convoship --help`.

A mistake (a port in use, an unknown function, a missing or broken event file, an unknown
workspace) is one line on stderr that says what to do, and exit status 1."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

from convoship_dev import cli_support, cli_workspace
from convoship_dev.cli_support import (
    CliError,
    bind_failure,
    find_function,
    port,
    read_event,
    require_admin,
    require_workspace,
)
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


def cmd_serve(args: argparse.Namespace) -> None:
    from convoship.core import constants as env
    from convoship.db.connection import app_role_problems, close_all
    from convoship.db.transactions import unscoped_transaction
    from convoship_dev.docs_pages import DocsPages
    from convoship_dev.local_stack import DEV_LLM_MODEL, ensure_demo_workspace, make_token
    from convoship_dev.openapi import combined_openapi
    from convoship_dev.server import make_server, mute_app_access_log, run_server
    from convoship_dev.template import load_template

    _stop_on_sigterm()
    try:  # the port first: a port in use fails at once, before the database starts
        pages = DocsPages(combined_openapi)  # the document is built on the first request
        server = make_server(load_template(TEMPLATE), port=args.port, pages=pages)
    except OSError as exc:
        raise bind_failure(exc, args.port) from None
    stack = _stack()
    try:
        with unscoped_transaction() as conn:
            problems = app_role_problems(conn)
        if problems:
            raise CliError(
                "refusing to serve: "
                + "; ".join(problems)
                + ". Point DATABASE_URL at the convoship_app role."
            )
        token = None
        if stack.admin_url:
            token = make_token(
                ensure_demo_workspace(stack.admin_url), "owner", "demo-owner", ttl_s=12 * 3600
            )
        mute_app_access_log()

        def ready(url: str) -> None:
            print(f"ConvoShip API on {url}  (Ctrl-C stops it; data stays in .local/)")
            if os.environ.get(env.LLM_MODEL) == DEV_LLM_MODEL:
                print(
                    "Model: the offline echo model on a loopback port (set CONVOSHIP_LLM_* for"
                    " a real one; README: scripting the echo model)"
                )
            docs = f"API docs: {url}/docs  (OpenAPI: {url}/openapi.json)"
            if token:
                print(f"\nexport T={token}   # owner of the demo workspace (12 h)")
                print(f'curl -H "Authorization: Bearer $T" {url}/v1/workspaces/agent-ops')
                print(docs.replace("  (", "  (Authorize with $T; ", 1))
                print(
                    f"Studio audit page of the demo agent (sign in with $T):"
                    f" {url}/app/agents/support-bot/audit\n"
                )
            else:
                print(docs)
            sys.stdout.flush()

        run_server(server, on_ready=ready)
    finally:
        server.server_close()
        close_all()
        stack.stop()


def cmd_invoke(args: argparse.Namespace) -> None:
    from convoship.db.connection import close_all
    from convoship_dev.custom_resources import invoke_custom_resource, is_custom_resource_event
    from convoship_dev.handlers import load_handler
    from convoship_dev.lambda_events import LambdaContext
    from convoship_dev.local_stack import ensure_demo_workspace
    from convoship_dev.template import load_template

    function = find_function(load_template(TEMPLATE), args.function)
    event = read_event(args.event, function)
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


def cmd_rotate_keys(args: argparse.Namespace) -> None:
    from convoship.core.errors import ConvoshipError
    from convoship.core.settings import get_settings
    from convoship.keys.rotation import Options, rotate_data, rotate_master
    from convoship_dev.progress import ProgressBar

    workspace_id = None  # every workspace
    if args.workspace is not None:
        workspace_id = cli_support.workspace_id(args.workspace, "--workspace")
    if args.batch_size < 1 or args.pause_ms < 0:
        raise CliError("--batch-size must be at least 1 and --pause-ms at least 0")
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
        raise cli_support.domain_failure("rotate-keys", exc) from None
    except KeyboardInterrupt:
        bar.close()
        raise CliError("rotate-keys: interrupted; run the same command again to finish") from None
    finally:
        stack.stop()
    bar.close()
    print(json.dumps(report.as_dict()))


def _operator() -> str:
    import getpass

    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"


def cmd_audit_verify(args: argparse.Namespace) -> None:
    """Walk the audit chain of one workspace (or all): one JSON line each; exit 1 if broken."""
    import psycopg

    from convoship.audit.verify import verify_workspace_chain
    from convoship.db.connection import close_all

    stack = _stack(with_redis=False)
    try:
        if args.workspace is not None:
            workspaces = [require_workspace(stack.admin_url, args.workspace, "--workspace")]
        else:
            with psycopg.connect(require_admin(stack)) as admin:
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

    serve = sub.add_parser(
        "serve", help="serve the whole API, /docs and /openapi.json on 127.0.0.1"
    )
    serve.add_argument(
        "--port",
        type=port,
        default=os.environ.get("PORT", "3000"),
        help="TCP port on 127.0.0.1 (0: any free one); default $PORT, else 3000",
    )
    serve.set_defaults(run=cmd_serve)

    invoke = sub.add_parser("invoke", help="invoke one function with an event file")
    invoke.add_argument(
        "function", help="folder or logical id, e.g. workspace_settings or ChatFunction"
    )
    invoke.add_argument(
        "--event",
        "-e",
        required=True,
        help="event JSON file, e.g. events/workspace_settings/get_agent_ops.json",
    )
    invoke.set_defaults(run=cmd_invoke)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)

    cli_workspace.add_parsers(sub, _operator())

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
    rotate.add_argument(
        "--batch-size", type=int, default=200, help="values per transaction (default 200)"
    )
    rotate.add_argument(
        "--pause-ms", type=int, default=0, help="milliseconds to pause between batches"
    )
    rotate.add_argument("--actor", default=_operator(), help="who started it (run ledger)")
    rotate.set_defaults(run=cmd_rotate_keys)

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
    try:
        args.run(args)
    except CliError as exc:
        print(f"convoship: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
