"""Publishing an agent: the eval gate, then an immutable version numbered 1, 2, 3 ...

The draft is read in one transaction and the version written in another, so no transaction
stays open while the evals wait on the model. The version freezes exactly what was
evaluated. Numbering takes the agent row's lock first, in its own statement, so the next
statement's snapshot sees every version committed before it: concurrent publishes queue
and get consecutive numbers, never a gap or a duplicate.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from convoship.audit.record import Actor, AgentRef, record
from convoship.core.errors import EvalGateFailed, NotFound
from convoship.core.observability import logger, metrics
from convoship.core.settings import get_settings
from convoship.db.read_batch import read_transaction
from convoship.db.transactions import rls_transaction
from convoship.runtime.snapshot import RunContext, read_draft_and_evals
from convoship.studio.history import VERSION_COLUMNS

_INSERT_VERSION = f"""
INSERT INTO ai_agent_versions (workspace_id, agent_id, version, config, guardrails, tools,
                               eval_results, eval_pass_rate, eval_threshold, note, created_by)
SELECT a.workspace_id, a.id,
       COALESCE((SELECT max(version) FROM ai_agent_versions WHERE agent_id = a.id), 0) + 1,
       %(config)s, %(guardrails)s, %(tools)s, %(results)s, %(rate)s, %(threshold)s,
       %(note)s, %(by)s
  FROM ai_agents a WHERE a.id = %(agent)s AND a.workspace_id = %(ws)s
RETURNING {VERSION_COLUMNS}
"""


def _run_gate(context: RunContext, evals: list[dict[str, Any]]) -> tuple[list[Any], float | None]:
    from convoship.llm.select import chat_model
    from convoship.publish.gate import GateResult, run_gate  # lazy: threads, regex, the model
    from convoship.secrets.vault import SecretVault

    settings = get_settings()
    threshold = context.ops.eval_pass_threshold
    gate = GateResult([], None, threshold)  # no evals: nothing measured, nothing passes
    if evals:
        model = chat_model(
            context.llm,
            workspace_id=context.workspace_id,
            agent_model=context.snapshot.config.get("model"),
            settings=settings,
        )
        gate = run_gate(
            model,
            context.snapshot,
            evals,
            SecretVault(context.workspace_id, context.secret_names),
            threshold=threshold,
            concurrency=settings.eval_concurrency,
            allow_private=settings.allow_private_network,
        )
    if gate.pass_rate is not None:
        metrics.add_metric(name="EvalPassRate", unit="Percent", value=gate.pass_rate * 100)
    if not gate.passed:
        metrics.add_metric(name="PublishBlocked", unit="Count", value=1)
        logger.info(
            "publish blocked by the eval gate",
            extra={"agent": context.slug, "pass_rate": gate.pass_rate, "threshold": threshold},
        )
        detail = (
            "the agent has no evals; add some or set eval_pass_threshold to 0"
            if gate.pass_rate is None
            else f"{sum(r['passed'] for r in gate.results)} of {len(gate.results)} evals passed"
            f" ({gate.pass_rate:.0%}), below the threshold of {threshold:.0%}"
        )
        raise EvalGateFailed(
            detail, pass_rate=gate.pass_rate, threshold=threshold, eval_results=gate.results
        )
    return gate.results, gate.pass_rate


def _audit_blocked(actor: Actor, context: RunContext, blocked: EvalGateFailed) -> None:
    """Leave a trace of a publish the gate refused, in its own short transaction."""
    results = blocked.extra.get("eval_results") or []
    with rls_transaction(workspace_id=actor.workspace_id) as conn:
        record(
            conn,
            actor,
            action="agent.publish_blocked",
            resource_type="agent",
            resource_id=context.agent_id,
            agent=AgentRef(context.agent_id, context.slug),
            after={
                "pass_rate": blocked.extra.get("pass_rate"),
                "threshold": blocked.extra.get("threshold"),
                "failed_eval_ids": [str(r["eval_id"]) for r in results if not r["passed"]],
            },
        )


def publish(actor: Actor, slug: str, note: str | None) -> dict[str, Any]:
    """Run the gate (when the workspace's threshold is above 0) and create the version."""
    with read_transaction(workspace_id=actor.workspace_id) as conn:
        context, evals = read_draft_and_evals(conn, UUID(str(actor.workspace_id)), slug)
    threshold = context.ops.eval_pass_threshold
    results: list[Any] = []
    rate: float | None = None
    if threshold > 0:
        try:
            results, rate = _run_gate(context, evals)
        except EvalGateFailed as blocked:
            _audit_blocked(actor, context, blocked)
            raise
    with rls_transaction(workspace_id=actor.workspace_id) as conn:
        conn.execute(
            "SELECT 1 FROM ai_agents WHERE id = %s FOR UPDATE", (context.agent_id,)
        )  # its own statement: the insert's snapshot must start after the lock is held
        version = conn.execute(
            _INSERT_VERSION,
            {
                "agent": context.agent_id,
                "ws": actor.workspace_id,
                "config": Jsonb(context.snapshot.config),
                "guardrails": Jsonb(context.frozen_guardrails),
                "tools": Jsonb(context.frozen_tools),
                "results": Jsonb(results),
                "rate": rate,
                "threshold": threshold,
                "note": note,
                "by": actor.actor_id,
            },
        ).fetchone()
        if version is None:
            raise NotFound(f"agent {slug!r} was deleted while it was being published")
        conn.execute(
            "UPDATE ai_agents SET published_version = %s WHERE id = %s",
            (version["version"], context.agent_id),
        )
        record(
            conn,
            actor,
            action="agent.published",
            resource_type="agent_version",
            resource_id=version["version"],
            agent=AgentRef(context.agent_id, context.slug),
            after={
                "version": version["version"],
                "eval_pass_rate": rate,
                "eval_threshold": threshold,
                "note": note,
            },
        )
    return version
