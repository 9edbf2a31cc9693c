"""The agent runtime under load: the publish gate with 20 evals, and embed chat turns.

Publish: a workspace whose eval threshold is 0.5 holds two agents, one with 20 evals and one
with a single eval; the model answers every call after a fixed delay. The publish handler
is called in this process for each agent in turn, each round. The 20-eval wall time is
judged against the single-eval publish (the slowest single eval, with the same overhead
around it); the sequential sum (20 x that) is shown beside it.

Chat: chat_turns.py, on the third agent of the same workspace (published), and on a fourth,
a large one (chat_turns.LARGE_*).
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from convoship.core import constants as env
from convoship.studio.guardrail_configs import default_guardrails
from convoship_bench import chat_turns
from convoship_bench.discover import Function
from convoship_bench.report import ERROR, Row, Target, answered
from convoship_bench.stack import BenchStack
from convoship_bench.stats import Summary, paired
from convoship_bench.warm import Handler, load_handler, outcome, use_environment
from convoship_dev.fake_llm import FakeLlm
from convoship_dev.lambda_events import LambdaContext
from convoship_dev.services import PROJECT_ROOT

PUBLISH_SECTION = "publish gate (model answers after a fixed delay)"
EVAL_DELAY_S = 0.2
EVALS = 20
PUBLISH_TARGET = Target("ratio_max", 2.0)
EVENTS = PROJECT_ROOT / "events"


def _event(path: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((EVENTS / path).read_text())
    return payload


def _seed(admin_url: str) -> dict[str, Any]:
    """A workspace of its own: gate on at 0.5, no rate cap in the way, three agents."""
    ws = uuid.uuid4()
    token = f"bench-{uuid.uuid4().hex}"
    guardrails = [
        {"kind": k, "config": c, "enabled": True} for k, c in default_guardrails().items()
    ]
    with psycopg.connect(admin_url, autocommit=True) as conn, conn.transaction():
        conn.execute("INSERT INTO workspaces (id, name) VALUES (%s, 'bench runs')", (ws,))
        conn.execute(
            "INSERT INTO workspace_agent_ops (workspace_id, rpm_cap_per_agent,"
            " eval_pass_threshold) VALUES (%s, 100000, 0.5)",
            (ws,),
        )
        for slug, evals in (("gate-20", EVALS), ("gate-1", 1), ("chatter", 0)):
            agent = conn.execute(
                "INSERT INTO ai_agents (workspace_id, slug, name, config, public_token)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (
                    ws,
                    slug,
                    slug,
                    Jsonb({"system_prompt": "Answer briefly."}),
                    token if slug == "chatter" else f"{token}-{slug}",
                ),
            ).fetchone()
            assert agent is not None
            for i in range(evals):
                conn.execute(
                    "INSERT INTO ai_agent_evals (workspace_id, agent_id, name, input, assertions)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (
                        ws,
                        agent[0],
                        f"case {i}",
                        f"question {i}",
                        Jsonb([{"type": "contains", "value": f"question {i}"}]),
                    ),
                )
            if slug == "chatter":
                conn.execute(
                    "INSERT INTO ai_agent_versions (workspace_id, agent_id, version, config,"
                    " guardrails, tools) VALUES (%s, %s, 1, %s, %s, '[]')",
                    (ws, agent[0], Jsonb({"system_prompt": "Answer briefly."}), Jsonb(guardrails)),
                )
            for kind, config in default_guardrails().items():
                conn.execute(
                    "INSERT INTO ai_agent_guardrails (workspace_id, agent_id, kind, config)"
                    " VALUES (%s, %s, %s, %s)",
                    (ws, agent[0], kind, Jsonb(config)),
                )
        _seed_large_agent(conn, ws, f"{token}-large")
    return {"workspace_id": str(ws), "public_token": token, "large_token": f"{token}-large"}


def _seed_large_agent(conn: psycopg.Connection[Any], ws: uuid.UUID, token: str) -> None:
    """A published agent the size of a real one: what its turns derive from the version
    (the estimate's fixed bytes, the keywords' pattern) and what they read is then felt."""
    config = {"system_prompt": chat_turns.LARGE_SYSTEM_PROMPT}
    guardrails = [
        {"kind": kind, "config": chat_turns.large_guardrail(kind, config_), "enabled": True}
        for kind, config_ in default_guardrails().items()
    ]
    agent = conn.execute(
        "INSERT INTO ai_agents (workspace_id, slug, name, config, public_token)"
        " VALUES (%s, 'chatter-large', 'chatter-large', %s, %s) RETURNING id",
        (ws, Jsonb(config), token),
    ).fetchone()
    assert agent is not None
    conn.execute(
        "INSERT INTO ai_agent_versions (workspace_id, agent_id, version, config, guardrails,"
        " tools) VALUES (%s, %s, 1, %s, %s, %s)",
        (ws, agent[0], Jsonb(config), Jsonb(guardrails), Jsonb(chat_turns.LARGE_TOOLS)),
    )


def _publish_event(workspace_id: str, slug: str) -> dict[str, Any]:
    event = _event("publish/publish.json")
    event["pathParameters"] = {"slug": slug}
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/ai-agents/{slug}/publish"
    event["requestContext"]["authorizer"]["lambda"].update(
        workspace_id=workspace_id, role="editor", user_id="bench"
    )
    return event


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def _publish_rows(
    handler: Handler, fn: Function, stack: BenchStack, seeded: dict[str, Any], rounds: int
) -> list[Row]:
    context = LambdaContext(fn.spec)
    many = _publish_event(seeded["workspace_id"], "gate-20")
    one = _publish_event(seeded["workspace_id"], "gate-1")
    walls: list[float] = []
    singles: list[float] = []
    outcomes: set[str] = set()
    in_flight: list[int] = []
    with FakeLlm(delay_s=EVAL_DELAY_S) as slow:
        use_environment({**stack.app_env(), env.LLM_BASE_URL: slow.base_url})
        handler(copy.deepcopy(one), context)  # warm: connection, imports, thread pool
        for _ in range(rounds):
            slow.reset()
            wall, result = _timed(lambda: handler(copy.deepcopy(many), context))
            walls.append(wall)
            in_flight.append(slow.max_in_flight)
            outcomes.add(outcome(result))
            single, result = _timed(lambda: handler(copy.deepcopy(one), context))
            singles.append(single)
            outcomes.add(outcome(result))
    use_environment(stack.app_env())
    shown = "/".join(sorted(outcomes))
    details = {"evals": EVALS, "model_delay_s": EVAL_DELAY_S, "max_in_flight": in_flight}
    rows = [
        Row(
            PUBLISH_SECTION,
            f"publish with {EVALS} evals -> {shown}: wall time",
            "s",
            Summary.of(walls),
            baseline_name="publish with 1 eval (slowest single)",
            baseline=Summary.of(singles),
            ratios=paired(walls, singles),
            target=PUBLISH_TARGET,
            note=f"{min(in_flight)}..{max(in_flight)} model calls in flight at once",
            details=details,
        ),
        Row(
            PUBLISH_SECTION,
            f"publish with {EVALS} evals: wall time vs the sequential sum",
            "s",
            Summary.of(walls),
            baseline_name=f"{EVALS} x publish with 1 eval",
            baseline=Summary.of([s * EVALS for s in singles]),
            details=details,
        ),
    ]
    return answered(rows, shown, "201")


def measure(
    functions: list[Function],
    stack: BenchStack,
    *,
    rounds: int,
    iterations: int,
    count_instructions: bool = False,
) -> list[Row]:
    by_folder = {fn.name: fn for fn in functions}
    rows: list[Row] = []
    use_environment(stack.app_env())
    seeded = _seed(stack.database.owner_admin_url)
    for folder, section, run in (
        ("publish", PUBLISH_SECTION, lambda h, f: _publish_rows(h, f, stack, seeded, rounds)),
        (
            "chat",
            chat_turns.SECTION,
            lambda h, f: chat_turns.chat_rows(
                h, f, stack, seeded, rounds, iterations, count_instructions=count_instructions
            ),
        ),
    ):
        fn = by_folder.get(folder)
        if fn is None:
            rows.append(Row(section, f"{folder}: not in template.yaml", "s", None, status=ERROR))
            continue
        try:
            rows += run(load_handler(fn), fn)
        except Exception as exc:  # report it in the table rather than abort the run
            rows.append(
                Row(section, folder, "s", None, status=ERROR, note=f"{type(exc).__name__}: {exc}")
            )
    return rows
