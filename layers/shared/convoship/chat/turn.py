"""One chat turn, playground or embed, in the contract's order of checks:
agent lookup, RPM, AUTH (embed) and the visitor's conversation, LIMIT, BUDGET, ESCALATE,
then the model with tools.

Short transactions, one round trip each: the first reads everything (agent or version,
settings, the conversation and today's usage); the second reserves the turn and its tokens
(chat/reservation.py) once every check passed; the last writes the turn (messages after
REDACT, usage, turn count) and settles the reservation. An embed turn on a published
version this container has read already reserves in its read instead, once the checks that
depend on the version alone passed on it (chat/read_ahead.py): two round trips. No
transaction is open while the model thinks. A turn that fails writes nothing and releases what it
reserved, unless the model already spent tokens, or a model call went out and no usable
answer came back: then that usage, or the reserved estimate, is charged (chat/spent.py).
The model and tool calls of a turn share one deadline (CONVOSHIP_CHAT_TURN_DEADLINE_S),
past which the turn stops (502, TurnTimedOut; chat/model_reply.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import psycopg

from convoship.chat import checks, read_ahead
from convoship.chat.conversation import Conversation, queue_conversation
from convoship.chat.model_reply import model_reply
from convoship.chat.read_ahead import Held
from convoship.chat.reservation import Reservation, release_turn, reserve_turn, turn_tokens
from convoship.chat.scope import ChannelScope
from convoship.chat.spent import charge_failed_turn, failed_turn_usage
from convoship.chat.transcript import Redactor, TurnRecord, persist_turn
from convoship.core.errors import ConvoshipError, NotFound
from convoship.core.observability import metrics
from convoship.db.read_batch import batch_transaction, read_transaction, was_sent, write_batch
from convoship.llm.types import Usage
from convoship.runtime.snapshot import RunContext
from convoship.secrets.vault import SecretVault


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


def run_chat_turn(scope: ChannelScope, request: ChatRequest) -> ChatResult:
    ahead = read_ahead.plan(scope, request.message, request.origin)
    held: Held | None = None
    try:
        context, today, conv, held = _read(scope, request, ahead)
        read_ahead.keep(scope, context)
        headers = checks.check_rpm(context, scope, ahead.counting if ahead else None)
        try:
            return _answer(scope, context, request, conv, today, headers, held)
        except ConvoshipError as exc:
            exc.headers.update(headers)
            raise
    except BaseException:
        if ahead is not None:
            ahead.counting.drop()  # a count whose reply the turn never read
        if held is not None and not held.taken:
            _give_back(scope, held)
        raise


def _read(
    scope: ChannelScope, request: ChatRequest, ahead: read_ahead.Ahead | None
) -> tuple[RunContext, int, Conversation | None, Held | None]:
    """The turn's first round trip: its run context, today's usage, the conversation and,
    when the read reserves (chat/read_ahead.py), what it holds."""
    reserving = ahead if ahead is not None and ahead.reserves else None
    # A batch that reserves commits without waiting for the WAL flush, as reserve_turn does.
    with batch_transaction(**scope.transaction, durable=reserving is None) as conn:
        queued = None
        if reserving is not None:  # it reads the conversation too
            queued = read_ahead.queue_reservation(
                conn, reserving, request.conversation_id, request.message
            )
        read_conversation = queue_conversation(
            conn, scope, request.conversation_id, queued.conversation if queued else None
        )
        try:
            context, today = scope.read_context(conn, ahead.context if ahead else None)
            conv = read_conversation()
        except BaseException as exc:
            if isinstance(exc, NotFound):  # no published agent answers to the token
                read_ahead.forget(scope)
            if queued is not None:
                _give_back_queued(scope, queued, read=was_sent(conn))
            raise
    held = queued.read() if queued is not None else None
    if held is not None and context.version != held.version:
        _give_back(scope, held)  # published again between the read's statements
        held = None
    return context, today, conv, held


def _give_back_queued(scope: ChannelScope, queued: read_ahead.Queued, *, read: bool) -> None:
    """A read that failed: give back what its batch reserved, if it did (a batch whose
    answer was lost may have committed: released by id, which is nothing if it did not)."""
    held = queued.read() if read else queued.as_made()
    if held is not None:
        _give_back(scope, held)


def _give_back(scope: ChannelScope, held: Held) -> None:
    held.taken = True
    release_turn(scope, held.reservation)


class TurnNotWritten(RuntimeError):
    """The database refused a value of the turn's own writes: a fault of this service (or of
    what a model or tool answered, which should have been made storable), not of the request,
    so it is never the 422 the problem map gives a refused value (an internal error)."""


@contextmanager
def _refused_values_are_ours() -> Iterator[None]:
    try:
        yield
    except (psycopg.DataError, psycopg.IntegrityError) as exc:
        # from None: the database's message may quote the value, and logs must not hold it
        raise TurnNotWritten(f"the turn's write was refused (SQLSTATE {exc.sqlstate})") from None


def _answer(
    scope: ChannelScope,
    context: RunContext,
    request: ChatRequest,
    conv: Conversation | None,
    today: int,
    headers: dict[str, str],
    held: Held | None,
) -> ChatResult:
    vault = SecretVault(context.workspace_id, context.secret_names, scope.transaction)
    visitor = None
    if scope.is_embed:
        visitor = checks.check_auth(context, request.origin, request.visitor_token, vault)
    checks.check_visitor(conv, visitor)
    if conv is None and request.conversation_id is not None:  # judged after RPM and AUTH
        raise checks.conversation_not_found(request.conversation_id)
    checks.check_limit(context, request.message, conv)
    escalation = checks.escalation(context, request.message, conv)
    tokens = 0 if escalation is not None else turn_tokens(context, conv, request.message)
    checks.check_budget(context, conv, today, tokens)
    conversation_id = conv.id if conv else (held.conversation_id if held else uuid4())
    spent = Usage()
    if held is not None and held.reservation.tokens == tokens and visitor is None:
        reservation: Reservation | None = held.take()  # the read reserved it
    else:
        if held is not None:  # an estimate the read could not know (an escalation's)
            _give_back(scope, held)
        with _refused_values_are_ours():
            reservation = reserve_turn(
                scope,
                context,
                conversation_id,
                existing=conv is not None,
                visitor=visitor,
                tokens=tokens,
            )
    try:
        record, reply, redactions = _turn_record(
            context, request, conv, vault, conversation_id, escalation, visitor, reservation, spent
        )
        with _refused_values_are_ours(), write_batch(**scope.transaction) as conn:
            persist_turn(conn, context, scope.channel, record)
    except BaseException:
        charged = failed_turn_usage(spent, context.snapshot.sampling, tokens)
        if charged is not None:  # charged, never released as unused
            charge_failed_turn(
                scope,
                context,
                conversation_id,
                existing=conv is not None,
                usage=charged,
                reservation=reservation,
            )
        elif reservation is not None:
            release_turn(scope, reservation)
        raise
    if redactions:
        metrics.add_metric(name="Redactions", unit="Count", value=redactions)
    return ChatResult(
        body={
            "conversation_id": str(record.conversation_id),
            "reply": reply,
            "escalated": escalation is not None,
            "usage": record.usage,
        },
        headers=headers,
    )


def _turn_record(
    context: RunContext,
    request: ChatRequest,
    conv: Conversation | None,
    vault: SecretVault,
    conversation_id: UUID,
    escalation: str | None,
    visitor: str | None,
    reservation: Reservation | None,
    spent: Usage,
) -> tuple[TurnRecord, str, int]:
    """The turn as it is written, the live reply (the model's answer or the escalation
    message, unredacted) and how many values REDACT replaced."""
    redact = Redactor(context)
    usage = {"input_tokens": 0, "output_tokens": 0}
    tool_events: list[Any] = []
    if escalation is not None:
        reply = escalation
    else:
        reply, usage, tool_events = model_reply(context, request.message, conv, vault, spent)
    # Scrubbed now that the vault knows every value the turn used (even typed by the user).
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": redact(vault.scrub(request.message))}
    ]
    for event in tool_events:
        messages.append(
            {
                "role": "tool",
                "content": redact(vault.scrub(event.result.content)),
                "tool_name": vault.scrub(event.name),
                "tool_args": redact(vault.scrub_value(event.args)),
            }
        )
    messages.append({"role": "assistant", "content": redact(reply)})
    record = TurnRecord(
        conversation_id=conversation_id,
        is_new=conv is None,
        status="escalated" if escalation is not None else (conv.status if conv else "active"),
        usage=usage,
        messages=messages,
        visitor_sub=visitor,
        reservation_id=reservation.id if reservation else None,
    )
    return record, reply, redact.count


def playground_turn(workspace_id: UUID, slug: str, request: ChatRequest) -> ChatResult:
    """Run the draft (config, guardrails, tools as they are now) on the playground."""
    return run_chat_turn(ChannelScope.playground(workspace_id, slug), request)


def embed_turn(public_token: str, request: ChatRequest) -> ChatResult:
    """Run the latest published version for a public visitor."""
    return run_chat_turn(ChannelScope.embed(public_token), request)


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
