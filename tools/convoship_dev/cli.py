"""`convoship`: the local runner and tools. Run `convoship --help`.

A mistake (a port in use, an unknown function, a missing or broken event file, an unknown
workspace) is one line on stderr that says what to do, and exit status 1."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from convoship_dev import cli_operator, cli_workspace
from convoship_dev.cli_support import (
    CliError,
    bind_failure,
    find_function,
    port,
    read_event,
    stop_on_sigterm,
)
from convoship_dev.services import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "template.yaml"


def _stack(with_redis: bool = True) -> Any:
    from convoship_dev.local_stack import start_local_stack

    return start_local_stack(with_redis=with_redis)


def cmd_serve(args: argparse.Namespace) -> None:
    from convoship.core import constants as env
    from convoship.db.connection import app_role_problems, close_all
    from convoship.db.transactions import unscoped_transaction
    from convoship_dev.docs_pages import DocsPages
    from convoship_dev.local_stack import DEV_LLM_MODEL, ensure_demo_workspace, make_token
    from convoship_dev.openapi import combined_openapi
    from convoship_dev.server import make_server, mute_app_access_log, run_server
    from convoship_dev.template import load_template

    stop_on_sigterm()
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

    operator = cli_operator.operator_name()
    cli_workspace.add_parsers(sub, operator)
    cli_operator.add_parsers(sub, operator)

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
