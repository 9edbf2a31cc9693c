"""The guardrail checks of a chat turn, each raising the contract's problem when it fails:
RPM, AUTH (embed) and the visitor's conversation, LIMIT, BUDGET; and ESCALATE, which
answers instead of the model. LIMIT and BUDGET judge what the turn's read saw, a cheap
first refusal; the turn's reservation (chat/reservation.py) then holds them exactly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from convoship.chat.conversation import Conversation
from convoship.chat.scope import ChannelScope
from convoship.core.errors import (
    BudgetExceeded,
    ConfigurationError,
    NotFound,
    OriginNotAllowed,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from convoship.core.json_text import storable
from convoship.core.observability import logger, metrics
from convoship.runtime.ratelimit import RpmCounting, check_agent_rpm, send_agent_rpm_count
from convoship.runtime.ratelimit_postgres import CounterScope
from convoship.runtime.snapshot import RunContext
from convoship.secrets.refs import reference_name
from convoship.secrets.vault import SecretVault
from convoship.studio.agent_ops import playground_rpm_cap, public_rpm_cap
from convoship.studio.guardrail_configs import normalize_origin

MAX_VISITOR_CHARS = 256  # a visitor token's `sub`


def _guardrail(context: RunContext, kind: str) -> dict[str, Any] | None:
    return context.snapshot.guardrails.get(kind)


def rpm_cap(context: RunContext, scope: ChannelScope) -> int | None:
    """The channel's requests per minute for the agent (None: unlimited)."""
    cap_of = public_rpm_cap if scope.is_embed else playground_rpm_cap
    return cap_of(context.ops.rpm_cap_per_agent)


def send_rpm_count(context: RunContext, scope: ChannelScope) -> RpmCounting:
    """Count the request for the agent and channel, its reply read by check_rpm (or dropped
    by a turn that ends before it)."""
    counter_scope = CounterScope(context.workspace_id, scope.transaction)
    return send_agent_rpm_count(context.agent_id, scope.channel, scope=counter_scope)


def check_rpm(
    context: RunContext, scope: ChannelScope, counting: RpmCounting | None = None
) -> dict[str, str]:
    """Count the request against the channel's cap (or judge it, `counting` sent before the
    read for the agent the container knew); the X-RateLimit-* headers to send with whatever
    the turn answers (none when the channel is unlimited)."""
    channel = scope.channel
    cap = rpm_cap(context, scope)
    counted = counting.result() if counting is not None else None  # read, whatever agent
    if counted is None or counted.agent_id != context.agent_id:
        decision = check_agent_rpm(
            context.agent_id,
            channel,
            cap,
            scope=CounterScope(context.workspace_id, scope.transaction),
        )
    else:
        decision = counted.decide(cap)
    if decision is None:
        return {}
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
    }
    if not decision.allowed:
        metrics.add_metric(name="RateLimited", unit="Count", value=1)
        limited = RateLimited(
            f"this agent accepts {decision.limit} requests per minute on the {channel}",
            retry_after=decision.retry_after_s,
        )
        limited.headers.update(headers)
        raise limited
    return headers


def check_auth(
    context: RunContext, origin: str | None, visitor_token: str | None, vault: SecretVault
) -> str | None:
    """Embed only: the page's Origin against allowed_origins, then the visitor token; the
    visitor (the token's `sub`) when the agent verifies tokens, else None."""
    auth = _guardrail(context, "AUTH")
    if auth is None:
        return None
    check_origin(context, origin)
    secret_name = visitor_token_secret(context)
    if secret_name is None:
        return None
    if not visitor_token:
        raise Unauthorized("this agent needs a visitor token (X-Visitor-Token)")
    from convoship.secrets.vault import SecretMissing
    from convoship.security.visitor_tokens import (
        MIN_SECRET_BYTES,
        InvalidVisitorToken,
        WeakSigningSecret,
        verify,
    )

    try:
        claims = verify(visitor_token, vault.get(secret_name))
    except SecretMissing:  # the secret is gone: nobody can be verified
        logger.warning("visitor token secret missing", extra={"secret": secret_name})
        raise Unauthorized("visitor tokens cannot be verified for this agent") from None
    except WeakSigningSecret:  # fail closed: the deployment's to fix, not the visitor's
        logger.warning("visitor token secret too short", extra={"secret": secret_name})
        raise ConfigurationError(
            "visitor tokens cannot be verified for this agent: its signing secret is shorter"
            f" than {MIN_SECRET_BYTES} bytes (an admin must replace it)"
        ) from None
    except InvalidVisitorToken as exc:
        raise Unauthorized(f"the visitor token is not valid: {exc}") from None
    visitor = claims.get("sub")
    if (
        not isinstance(visitor, str)
        or not 1 <= len(visitor) <= MAX_VISITOR_CHARS
        or storable(visitor) != visitor  # a NUL or lone surrogate: no text column takes it
    ):
        raise Unauthorized("the visitor token needs a sub claim naming the visitor")
    return visitor


def check_origin(context: RunContext, origin: str | None) -> None:
    """AUTH's allowed_origins (embed only)."""
    auth = _guardrail(context, "AUTH")
    allowed = (auth.get("allowed_origins") or []) if auth else ["*"]
    if "*" not in allowed:
        normalized = normalize_origin(origin) if origin else None
        if normalized is None or normalized not in allowed:
            raise OriginNotAllowed(
                f"origin {origin} may not embed this agent"
                if origin
                else "this agent only answers pages on its allowed origins (send Origin)"
            )


def visitor_token_secret(context: RunContext) -> str | None:
    """The secret AUTH verifies visitor tokens with (embed only), if it names one."""
    auth = _guardrail(context, "AUTH")
    return reference_name(auth.get("visitor_token_secret")) if auth else None


def check_visitor(conv: Conversation | None, visitor: str | None) -> None:
    """A conversation started by a verified visitor is theirs alone; one started without a
    token belongs to no visitor. Anyone else gets the same 404 as for no conversation."""
    if conv is not None and conv.visitor_sub != visitor:
        raise conversation_not_found(conv.id)


def conversation_not_found(conversation_id: object) -> NotFound:
    return NotFound(f"no conversation {conversation_id} on this agent")


def check_limit(context: RunContext, message: str, conv: Conversation | None) -> None:
    limit = _guardrail(context, "LIMIT")
    if limit is None:
        return
    if len(message) > limit["max_input_chars"]:
        raise PayloadTooLarge(
            f"the message has {len(message)} characters; this agent accepts at most"
            f" {limit['max_input_chars']}",
            max_input_chars=limit["max_input_chars"],
        )
    if conv is not None and conv.turns >= limit["max_turns_per_conversation"]:
        raise turn_limit_reached(limit)


def turn_limit_reached(limit: dict[str, Any]) -> ValidationFailed:
    return ValidationFailed.at(
        ("body", "conversation_id"),
        f"this conversation reached its limit of {limit['max_turns_per_conversation']}"
        " turns; start a new one",
    )


def _seconds_to_utc_midnight() -> int:
    now = datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


def check_budget(context: RunContext, conv: Conversation | None, today: int, tokens: int) -> None:
    """The turn's `tokens` (its estimate; none for an escalation, which still needs one
    token of room) must fit in what the conversation and the agent's day have left."""
    budget = _guardrail(context, "BUDGET")
    if budget is None:
        return
    need = max(tokens, 1)
    if (conv.tokens if conv else 0) + need > budget["max_tokens_per_conversation"]:
        raise conversation_budget_spent(budget)
    if today + need > budget["max_tokens_per_day"]:
        raise daily_budget_spent(budget)


def conversation_budget_spent(budget: dict[str, Any]) -> BudgetExceeded:
    return BudgetExceeded(
        f"this conversation has too little of its {budget['max_tokens_per_conversation']}"
        " tokens left for another turn; start a new one"
    )


def daily_budget_spent(budget: dict[str, Any]) -> BudgetExceeded:
    return BudgetExceeded(
        f"this agent has too little of its {budget['max_tokens_per_day']} tokens for today"
        " (UTC) left for another turn",
        retry_after=_seconds_to_utc_midnight(),
    )


def escalation(context: RunContext, message: str, conv: Conversation | None) -> str | None:
    """The escalation message when the visitor asks for a person (or already did)."""
    escalate = _guardrail(context, "ESCALATE")
    if escalate is None:
        return None
    if conv is not None and conv.status == "escalated":
        return str(escalate["message"])
    asks = _asks_for_a_person(tuple(escalate["keywords"]))
    if asks is not None and asks.search(message):
        return str(escalate["message"])
    return None


@lru_cache(maxsize=64)  # an agent's keywords are the same on every turn (two checks a turn)
def _asks_for_a_person(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for the ESCALATE keywords, each a whole word or phrase, any case; None
    when there is none."""
    words = [re.escape(k.strip()) for k in keywords if k.strip()]
    return re.compile(rf"(?<!\w)(?:{'|'.join(words)})(?!\w)", re.I) if words else None
