"""Audit chain verification: walking a workspace chain of `rows` rows (100,000 in a full run).

The chain is written the way writers write it (each row through the audit_log trigger),
then `verify_workspace_chain` runs `rounds` times as the app role. The baseline is a plain
read of the same rows in seq order (what any walk must at least fetch), so the ratio is the
cost of recomputing every hash and checking every link. Target: under 2 s.
"""

from __future__ import annotations

import time
import uuid

import psycopg

from convoship_bench.report import ERROR, Row, Target
from convoship_bench.stack import BenchStack
from convoship_bench.stats import Summary
from convoship_bench.warm import use_environment

SECTION = "audit chain"
TARGET = Target("value_max", 2.0)
# Rows per filling transaction: the head row moves once per row, and moving one row many
# times inside one transaction gets slower with every move.
_BATCH = 200

_FILL = """
INSERT INTO audit_log (workspace_id, actor_type, actor_id, action, resource_type, resource_id,
                       agent_id, agent_slug, request_id, before_state, after_state)
SELECT %(ws)s, 'user', 'user-' || (n %% 7), 'tool.updated', 'tool', gen_random_uuid()::text,
       %(agent)s, 'support-bot', 'req-' || n,
       jsonb_build_object('config', jsonb_build_object('timeout_s', 10, 'method', 'GET')),
       jsonb_build_object('config', jsonb_build_object('timeout_s', n %% 30, 'method', 'GET'))
  FROM generate_series(1, %(rows)s) AS n
"""


def _plain_read(app_url: str, workspace: uuid.UUID) -> float:
    began = time.perf_counter()
    with psycopg.connect(app_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.workspace_id', %s, true)", (str(workspace),))
        with conn.cursor(name="plain") as cursor:
            cursor.itersize = 5000
            cursor.execute(
                "SELECT seq, hash, prev_hash, before_state::text, after_state::text"
                " FROM audit_log WHERE workspace_id = %s ORDER BY seq",
                (workspace,),
            )
            for _ in cursor:
                pass
    return time.perf_counter() - began


def measure(stack: BenchStack, *, rows: int, rounds: int) -> list[Row]:
    from convoship.audit.verify import verify_workspace_chain

    name = f"verify an audit chain of {rows:,} rows"
    try:
        use_environment(stack.app_env())
        with psycopg.connect(stack.database.owner_admin_url, autocommit=True) as admin:
            created = admin.execute("INSERT INTO workspaces (name) VALUES ('bench') RETURNING id")
            workspace = uuid.UUID(str(created.fetchone()[0]))  # type: ignore[index]
            agent = uuid.uuid4()
            for done in range(0, rows, _BATCH):  # a writer's transactions, a batch at a time
                with admin.transaction():
                    batch = {"ws": workspace, "agent": agent, "rows": min(_BATCH, rows - done)}
                    admin.execute(_FILL, batch)
        walks, reads = [], []
        for _ in range(rounds):
            began = time.perf_counter()
            result = verify_workspace_chain(workspace)
            walks.append(time.perf_counter() - began)
            reads.append(_plain_read(stack.database.app_url, workspace))
            if not result["ok"] or result["rows"] != rows:
                raise RuntimeError(f"the bench chain did not verify: {result}")
    except Exception as exc:  # reported as a row, the run goes on
        return [Row(SECTION, name, "s", None, status=ERROR, note=repr(exc)[:200])]
    return [
        Row(
            SECTION,
            name,
            "s",
            Summary.of(walks),
            baseline_name="plain read of the rows",
            baseline=Summary.of(reads),
            target=TARGET,
            note="as the app role, streamed in one snapshot",
        )
    ]
