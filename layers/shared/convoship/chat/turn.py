"""One chat turn, playground or embed, in the contract's order of checks:
agent lookup, RPM, AUTH (embed), LIMIT, BUDGET, ESCALATE, then the model with tools.

Two short transactions: the first reads everything (agent or version, settings, the
conversation and today's usage) in one round trip, COMMIT included; the second writes the
turn (messages after REDACT, usage, turn count) in one round trip plus its COMMIT. No
transaction is open while the model thinks, and a turn that fails anywhere writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from psycopg.types.json import Jsonb

from convoship.core.errors import (
    BudgetExceeded,
    ConvoshipError,
    NotFound,
    OriginNotAllowed,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from convoship.core.observability import logger, metrics
from convoship.core.settings import get_settings
from convoship.db.connection import Connection
from convoship.db.read_batch import read_transaction
from convoship.db.transactions import rls_transaction
from convoship.runtime.ratelimit import RpmDecision, check_agent_rpm
from convoship.runtime.snapshot import RunContext, read_draft, read_published
from convoship.secrets.refs import reference_name
from convoship.studio.guardrail_configs import normalize_origin
from convoship.studio.workspace import playground_rpm_cap, public_rpm_cap

HISTORY_MESSAGES = 50  # earlier user/assistant messages the model sees
REDACTION_FAILED = "[REDACTION FAILED]"  # stored instead of a value redaction could not handle
_EMBED_AGENT = "(SELECT id FROM ai_agents WHERE public_token = %(token)s)"
_PLAYGROUND_AGENT = "(SELECT id FROM ai_agents WHERE workspace_id = %(ws)s AND slug = %(slug)s)"


@dataclass(frozen=True)
class ChatRequest:
    message: str
    conversation_id: UUID | None = None
    origin: str | None = None
    visitor_token: str | None = None


@dataclass
class ChatResult:
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Conversation:
    id: UUID
    status: str
    turns: int
    tokens: int
    history: list[dict[str, Any]]


def _rate_headers(decision: RpmDecision | None) -> dict[str, str]:
    if decision is None:
        return {}
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
    }


def _queue_conversation(
    conn: Connection, agent: str, params: dict[str, Any], request: ChatRequest, channel: str
) -> Callable[[], tuple[_Conversation | None, int]]:
    """Queue the conversation, its recent messages and today's usage; a thunk reads them."""
    scope = {**params, "cid": request.conversation_id, "channel": channel}
    conversation = None
    messages = None
    if request.conversation_id is not None:
        conversation = conn.execute(
            "SELECT id, status, turns, usage FROM ai_agent_conversations"
            f" WHERE id = %(cid)s AND channel = %(channel)s AND agent_id = {agent}",
            scope,
        )
        messages = conn.execute(
            "SELECT role, content FROM (SELECT seq, role, content FROM ai_agent_messages"
            " WHERE conversation_id = %(cid)s AND role IN ('user', 'assistant')"
            " ORDER BY seq DESC LIMIT %(n)s) recent ORDER BY seq",
            {**scope, "n": HISTORY_MESSAGES},
        )
    usage = conn.execute(
        "SELECT tokens FROM ai_agent_usage_daily"
        f" WHERE agent_id = {agent} AND day = (now() AT TIME ZONE 'utc')::date",
        scope,
    )

    def read() -> tuple[_Conversation | None, int]:
        today = usage.fetchone()
        found = None
        if conversation is not None and messages is not None:
            row = conversation.fetchone()
            history = messages.fetchall()
            if row is None:
                raise NotFound(f"no conversation {request.conversation_id} on this agent")
            tokens = int(row["usage"].get("input_tokens", 0)) + int(
                row["usage"].get("output_tokens", 0)
            )
            found = _Conversation(row["id"], row["status"], row["turns"], tokens, history)
        return found, int(today["tokens"]) if today else 0

    return read


def _guardrail(context: RunContext, kind: str) -> dict[str, Any] | None:
    return context.snapshot.guardrails.get(kind)


def _check_auth(context: RunContext, request: ChatRequest, vault: Any) -> None:
    auth = _guardrail(context, "AUTH")
    if auth is None:
        return
    allowed = auth.get("allowed_origins") or []
    if "*" not in allowed:
        origin = normalize_origin(request.origin) if request.origin else None
        if origin is None or origin not in allowed:
            raise OriginNotAllowed(
                f"origin {request.origin or '(none)'} may not embed this agent"
                if request.origin
                else "this agent only answers pages on its allowed origins (send Origin)"
            )
    secret_name = reference_name(auth.get("visitor_token_secret"))
    if secret_name is None:
        return
    if not request.visitor_token:
        raise Unauthorized("this agent needs a visitor token (X-Visitor-Token)")
    from convoship.secrets.vault import SecretMissing
    from convoship.security.visitor_tokens import InvalidVisitorToken, verify

    try:
        verify(request.visitor_token, vault.get(secret_name))
    except SecretMissing:  # the secret is gone: nobody can be verified
        logger.warning("visitor token secret missing", extra={"secret": secret_name})
        raise Unauthorized("visitor tokens cannot be verified for this agent") from None
    except InvalidVisitorToken as exc:
        raise Unauthorized(f"the visitor token is not valid: {exc}") from None


def _check_limit(context: RunContext, request: ChatRequest, conv: _Conversation | None) -> None:
    limit = _guardrail(context, "LIMIT")
    if limit is None:
        return
    if len(request.message) > limit["max_input_chars"]:
        raise PayloadTooLarge(
            f"the message has {len(request.message)} characters; this agent accepts at most"
            f" {limit['max_input_chars']}",
            max_input_chars=limit["max_input_chars"],
        )
    if conv is not None and conv.turns >= limit["max_turns_per_conversation"]:
        raise ValidationFailed.at(
            ("body", "conversation_id"),
            f"this conversation reached its limit of {limit['max_turns_per_conversation']}"
            " turns; start a new one",
        )


def _seconds_to_utc_midnight() -> int:
    now = datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


def _check_budget(context: RunContext, conv: _Conversation | None, today: int) -> None:
    budget = _guardrail(context, "BUDGET")
    if budget is None:
        return
    if conv is not None and conv.tokens >= budget["max_tokens_per_conversation"]:
        raise BudgetExceeded(
            f"this conversation used its {budget['max_tokens_per_conversation']} tokens;"
            " start a new one"
        )
    if today >= budget["max_tokens_per_day"]:
        raise BudgetExceeded(
            f"this agent used its {budget['max_tokens_per_day']} tokens for today (UTC)",
            retry_after=_seconds_to_utc_midnight(),
        )


def _escalation(
    context: RunContext, request: ChatRequest, conv: _Conversation | None
) -> str | None:
    """The escalation message when the visitor asks for a person (or already did)."""
    escalate = _guardrail(context, "ESCALATE")
    if escalate is None:
        return None
    if conv is not None and conv.status == "escalated":
        return str(escalate["message"])
    words = [re.escape(k.strip()) for k in escalate["keywords"] if k.strip()]
    if words and re.search(rf"(?<!\w)(?:{'|'.join(words)})(?!\w)", request.message, re.I):
        return str(escalate["message"])
    return None


class _Redactor:
    """Applies the REDACT guardrail to what is written, counting what it replaced.

    Fails closed: if redaction raises, the value is stored as REDACTION_FAILED (never the raw
    text) and a RedactionFailed metric is emitted.
    """

    def __init__(self, context: RunContext) -> None:
        redact = _guardrail(context, "REDACT")
        self.entities: list[str] = list(redact["entities"]) if redact else []
        self.phone_regions: list[str] | None = redact.get("phone_regions") if redact else None
        self.count = 0

    def __call__(self, value: Any) -> Any:
        if not self.entities:
            return value
        try:
            from convoship.runtime.pii import redact_value  # lazy: only turns that write text

            result, count = redact_value(value, self.entities, self.phone_regions)
        except Exception as exc:  # whatever failed, the raw text is not stored
            logger.error(
                "redaction failed; stored a placeholder", extra={"error": type(exc).__name__}
            )
            metrics.add_metric(name="RedactionFailed", unit="Count", value=1)
            return REDACTION_FAILED
        self.count += count
        return result


def _persist(
    conn: Connection,
    context: RunContext,
    channel: str,
    conv_id: UUID,
    is_new: bool,
    status: str,
    usage: dict[str, int],
    messages: list[dict[str, Any]],
) -> None:
    tokens = usage["input_tokens"] + usage["output_tokens"]
    params = {
        "id": conv_id,
        "ws": context.workspace_id,
        "agent": context.agent_id,
        "channel": channel,
        "status": status,
        "version": context.version,
        "in": usage["input_tokens"],
        "out": usage["output_tokens"],
        "tokens": tokens,
        "messages": Jsonb(messages),
    }
    if is_new:
        conn.execute(
            "INSERT INTO ai_agent_conversations (id, workspace_id, agent_id, channel, status,"
            " version, usage, turns) VALUES (%(id)s, %(ws)s, %(agent)s, %(channel)s, %(status)s,"
            " %(version)s, jsonb_build_object('input_tokens', %(in)s::bigint,"
            " 'output_tokens', %(out)s::bigint), 1)",
            params,
        )
    else:  # takes the row lock: concurrent turns of one conversation queue here
        conn.execute(
            "UPDATE ai_agent_conversations SET status = %(status)s, turns = turns + 1,"
            " updated_at = now(), usage = jsonb_build_object("
            "'input_tokens', COALESCE((usage->>'input_tokens')::bigint, 0) + %(in)s,"
            " 'output_tokens', COALESCE((usage->>'output_tokens')::bigint, 0) + %(out)s)"
            " WHERE id = %(id)s",
            params,
        )
    conn.execute(
        "INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role, content,"
        " tool_name, tool_args)"
        " SELECT %(ws)s, %(id)s, base.n + m.ord, m.msg->>'role', m.msg->>'content',"
        " m.msg->>'tool_name', m.msg->'tool_args'"
        " FROM (SELECT COALESCE(max(seq), 0) AS n FROM ai_agent_messages"
        " WHERE conversation_id = %(id)s) base,"
        " jsonb_array_elements(%(messages)s) WITH ORDINALITY AS m(msg, ord)",
        params,
    )
    if tokens:
        conn.execute(
            "INSERT INTO ai_agent_usage_daily (workspace_id, agent_id, day, tokens)"
            " VALUES (%(ws)s, %(agent)s, (now() AT TIME ZONE 'utc')::date, %(tokens)s)"
            " ON CONFLICT (agent_id, day)"
            " DO UPDATE SET tokens = ai_agent_usage_daily.tokens + EXCLUDED.tokens",
            params,
        )


def _turn(
    scope: dict[str, Any],
    read_context: Callable[[Connection], RunContext],
    agent_sql: str,
    params: dict[str, Any],
    channel: str,
    request: ChatRequest,
) -> ChatResult:
    with read_transaction(**scope) as conn:
        read_conversation = _queue_conversation(conn, agent_sql, params, request, channel)
        context = read_context(conn)
        conv, today = read_conversation()

    ops = context.ops
    cap = (
        public_rpm_cap(ops.rpm_cap_per_agent)
        if channel == "embed"
        else playground_rpm_cap(ops.rpm_cap_per_agent)
    )
    decision = check_agent_rpm(context.agent_id, channel, cap)
    headers = _rate_headers(decision)
    try:
        if decision is not None and not decision.allowed:
            metrics.add_metric(name="RateLimited", unit="Count", value=1)
            raise RateLimited(
                f"this agent accepts {decision.limit} requests per minute on the {channel}",
                retry_after=decision.retry_after_s,
            )
        return _answer(scope, context, channel, request, conv, today, headers)
    except ConvoshipError as exc:
        exc.headers.update(headers)
        raise


def _answer(
    scope: dict[str, Any],
    context: RunContext,
    channel: str,
    request: ChatRequest,
    conv: _Conversation | None,
    today: int,
    headers: dict[str, str],
) -> ChatResult:
    from convoship.secrets.vault import SecretVault

    settings = get_settings()
    vault = SecretVault(context.workspace_id, context.secret_names, scope)
    if channel == "embed":
        _check_auth(context, request, vault)
    _check_limit(context, request, conv)
    _check_budget(context, conv, today)
    redact = _Redactor(context)
    usage = {"input_tokens": 0, "output_tokens": 0}
    messages: list[dict[str, Any]] = [{"role": "user", "content": redact(request.message)}]
    escalation = _escalation(context, request, conv)
    if escalation is not None:
        reply = escalation
    else:
        from convoship.llm.select import chat_model
        from convoship.llm.types import Message
        from convoship.runtime.turn import run_turn

        model = chat_model(
            context.llm,
            workspace_id=context.workspace_id,
            agent_model=context.snapshot.config.get("model"),
            settings=settings,
        )
        history = [Message(m["role"], m["content"]) for m in (conv.history if conv else [])]
        outcome = run_turn(
            model,
            context.snapshot,
            history,
            request.message,
            vault,
            allow_private=settings.allow_private_network,
        )
        reply = vault.scrub(outcome.reply)
        usage = outcome.usage.as_dict()
        for event in outcome.tool_events:
            messages.append(
                {
                    "role": "tool",
                    "content": redact(event.result.content),
                    "tool_name": event.name,
                    "tool_args": redact(event.args),
                }
            )
    messages.append({"role": "assistant", "content": redact(reply)})
    conv_id = conv.id if conv else uuid4()
    status = "escalated" if escalation is not None else (conv.status if conv else "active")
    with rls_transaction(**scope) as conn:
        _persist(conn, context, channel, conv_id, conv is None, status, usage, messages)
    if redact.count:
        metrics.add_metric(name="Redactions", unit="Count", value=redact.count)
    return ChatResult(
        body={
            "conversation_id": str(conv_id),
            "reply": reply,
            "escalated": escalation is not None,
            "usage": usage,
        },
        headers=headers,
    )


def playground_turn(workspace_id: UUID, slug: str, request: ChatRequest) -> ChatResult:
    """Run the draft (config, guardrails, tools as they are now) on the playground."""
    params = {"ws": workspace_id, "slug": slug}
    return _turn(
        {"workspace_id": workspace_id},
        lambda conn: read_draft(conn, workspace_id, slug),
        _PLAYGROUND_AGENT,
        params,
        "playground",
        request,
    )


def embed_turn(public_token: str, request: ChatRequest) -> ChatResult:
    """Run the latest published version for a public visitor."""
    return _turn(
        {"public_token": public_token},
        lambda conn: read_published(conn, public_token),
        _EMBED_AGENT,
        {"token": public_token},
        "embed",
        request,
    )


def embed_profile(public_token: str) -> dict[str, Any]:
    """What a widget shows before the first message: the agent's name and greeting."""
    with read_transaction(public_token=public_token) as conn:
        row = conn.execute(
            "SELECT a.name, v.config->>'greeting' AS greeting FROM ai_agents a"
            " JOIN ai_agent_versions v ON v.agent_id = a.id WHERE a.public_token = %s"
            " ORDER BY v.version DESC LIMIT 1",
            (public_token,),
        ).fetchone()
    if row is None:
        raise NotFound("no published agent answers to this token")
    return {"name": row["name"], "greeting": row["greeting"]}
