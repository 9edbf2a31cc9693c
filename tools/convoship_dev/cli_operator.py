"""`convoship rotate-keys` and `convoship audit verify`: the operator's key custody and the
audit chain check."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from convoship_dev.cli_support import (
    CliError,
    domain_failure,
    require_admin,
    require_workspace,
    stop_on_sigterm,
    workspace_id,
)


def _stack() -> Any:
    from convoship_dev.local_stack import start_local_stack

    return start_local_stack(with_redis=False)


def cmd_rotate_keys(args: argparse.Namespace) -> None:
    from convoship.core.errors import ConvoshipError
    from convoship.core.settings import get_settings
    from convoship.keys.rotation import Options, rotate_data, rotate_master
    from convoship_dev.progress import ProgressBar

    only = None  # every workspace
    if args.workspace is not None:
        only = workspace_id(args.workspace, "--workspace")
    if args.batch_size < 1 or args.pause_ms < 0:
        raise CliError("--batch-size must be at least 1 and --pause-ms at least 0")
    stop_on_sigterm()
    stack = _stack()
    bar = ProgressBar(f"rotate-keys --{args.mode}")
    options = Options(batch_size=args.batch_size, pause_s=args.pause_ms / 1000, progress=bar)
    try:
        if args.mode == "master":
            report = rotate_master(get_settings(), workspace_id=only, options=options)
        else:
            report = rotate_data(
                get_settings(), workspace_id=only, started_by=args.actor, options=options
            )
    except ConvoshipError as exc:
        bar.close()
        raise domain_failure("rotate-keys", exc) from None
    except KeyboardInterrupt:
        bar.close()
        raise CliError("rotate-keys: interrupted; run the same command again to finish") from None
    finally:
        stack.stop()
    bar.close()
    print(json.dumps(report.as_dict()))


def operator_name() -> str:
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

    stack = _stack()
    try:
        if args.workspace is not None:
            workspaces = [require_workspace(stack.admin_url, args.workspace, "--workspace")]
        else:
            with psycopg.connect(require_admin(stack)) as admin:
                workspaces = [str(r[0]) for r in admin.execute("SELECT id FROM workspaces")]
        broken = 0
        for wid in sorted(workspaces):
            result = verify_workspace_chain(wid)
            broken += not result["ok"]
            print(json.dumps({"workspace_id": wid, **result}, default=str), flush=True)
    finally:
        close_all()
        stack.stop()
    if broken:
        sys.exit(1)


def add_parsers(sub: Any, operator: str) -> None:
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
    rotate.add_argument("--actor", default=operator, help="who started it (run ledger)")
    rotate.set_defaults(run=cmd_rotate_keys)

    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="walk the audit hash chains (and their latest signed checkpoints)"
    )
    verify.add_argument("--workspace", help="one workspace id (default: every workspace)")
    verify.set_defaults(run=cmd_audit_verify)
