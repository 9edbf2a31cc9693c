"""An embed turn's reservation made in its read's round trip (`reserve_published_turn`, SQL,
migration 0013), so the turn costs PostgreSQL two round trips, not three.

The reservation is made only for a request every check before it would pass, so it needs
what the read would otherwise be waited for. This container keeps the run context of the
last published version it read behind each public token (a published version never
changes), and for a token it knows:
- the request's count (RPM) is sent to Redis first, for the agent behind the token, and its
  reply read once the read came back (check_rpm), so the two round trips overlap;
- the checks that depend on the version alone are judged on the kept context: the RPM cap
  (on the kept workspace settings, against the count this container foresees: one more
  than the highest it saw for the agent this minute),
  AUTH's origin, LIMIT's input size, ESCALATE's keywords.
  An agent that verifies visitor tokens is left to the three-trip turn (the visitor is
  known only after its secret is read), as is one with neither LIMIT nor BUDGET (nothing
  to reserve);
- only when all pass does the read carry the reservation, which the database makes only
  while that version is still the latest ('stale' otherwise: the turn reserves after its
  checks, as ever), with LIMIT's turns and BUDGET checked by the reservation itself.
The turn then runs every check again on what it read, in the contract's order, and one that
refuses gives the reservation back (chat/turn.py), as does a turn whose estimate differs from
the one reserved (a message arrived between the read's statements) before it reserves again.
A conversation already escalated reserves a turn and no tokens, as the turn would.
What the kept context cannot know, once per container and change: a request counted before
the read for a token since deleted or rotated (then forgotten: its read answers 404), and a
reservation made under an RPM cap lowered since (its read brings the new cap, and the 429
gives it back). What the foreseen count cannot know: the requests other containers (or
other threads of this one) counted, once per container and minute for each request it runs
at a time (one, on Lambda). A read may then reserve for a request Redis counts over
the cap, and the 429 gives it back; after that answer the container foresees a count over
the cap, and its reads reserve nothing more for that agent until the minute turns, so a
flood does not hold budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from convoship.chat import checks
from convoship.chat.conversation import HISTORY_MESSAGES, Read
from convoship.chat.reservation import Reservation, fixed_input, limits_of
from convoship.chat.scope import ChannelScope
from convoship.core.errors import ConvoshipError
from convoship.db.connection import Connection
from convoship.runtime.ratelimit import RpmCount, RpmCounting
from convoship.runtime.snapshot import RunContext

MAX_KEPT = 256  # public tokens whose last published version this container keeps

_kept: OrderedDict[str, RunContext] = OrderedDict()
_lock = threading.Lock()


@dataclass
class Held:
    """A reservation the read made: taken by the turn that uses it, else given back."""

    reservation: Reservation
    conversation_id: UUID  # the conversation it holds a turn of (a new one's id, chosen here)
    version: int | None  # the published version it was made for
    taken: bool = field(default=False)

    def take(self) -> Reservation:
        self.taken = True
        return self.reservation


@dataclass(frozen=True)
class Ahead:
    """What a turn knows before its read: the kept context, the request's RPM count (sent,
    read by check_rpm or dropped), and whether the read is to carry the turn's reservation."""

    context: RunContext
    counting: RpmCounting
    reserves: bool


def plan(scope: ChannelScope, message: str, origin: str | None) -> Ahead | None:
    """None for the playground (a draft has no version) or a token this container has not
    read yet; else the request's count sent, and whether its read may reserve."""
    if not scope.is_embed:
        return None
    token = str(scope.params["token"])
    with _lock:
        kept = _kept.get(token)
    if kept is None:
        return None
    counting = checks.send_rpm_count(kept, scope)  # its failures are read with its reply
    try:
        reserves = _passes_first_checks(kept, scope, counting.foreseen, message, origin)
    except BaseException:
        counting.drop()
        raise
    return Ahead(kept, counting, reserves)


def _passes_first_checks(
    context: RunContext, scope: ChannelScope, counted: RpmCount, message: str, origin: str | None
) -> bool:
    guardrails = context.snapshot.guardrails
    if "LIMIT" not in guardrails and "BUDGET" not in guardrails:
        return False  # nothing to reserve
    if checks.visitor_token_secret(context) is not None:
        return False
    decision = counted.decide(checks.rpm_cap(context, scope))
    if decision is not None and not decision.allowed:
        return False
    try:
        checks.check_origin(context, origin)
        checks.check_limit(context, message, None)
    except ConvoshipError:
        return False
    return checks.escalation(context, message, None) is None


@dataclass
class Queued:
    """A reservation queued in the read's batch, under the id it takes if made; it reads a
    continuing conversation too (`conversation`)."""

    id: UUID
    conversation_id: UUID
    version: int | None
    _cursor: Any
    _row: dict[str, Any] | None = None

    def _answer(self) -> dict[str, Any] | None:
        """The function's one row, once the batch was read."""
        if self._row is None:
            self._row = self._cursor.fetchone()
        return self._row

    def read(self) -> Held | None:
        """What the database answered, once the batch was read: None when it did not
        reserve."""
        row = self._answer()
        if row is None or row["verdict"] != "reserved":
            return None
        return Held(Reservation(self.id, int(row["tokens"])), self.conversation_id, self.version)

    def conversation(self) -> Read:
        """The conversation the reservation read (its row, and the recent messages it
        estimated from), as chat/conversation.py would have read it."""
        row = self._answer()
        if row is None or not row["conversation_found"]:
            return None, list(row["history"] or []) if row is not None else []
        found = {
            "id": self.conversation_id,
            "status": row["conversation_status"],
            "turns": row["conversation_turns"],
            "usage": row["conversation_usage"],
            "visitor_sub": row["conversation_visitor"],
        }
        return found, list(row["history"] or [])

    def as_made(self) -> Held:
        """The reservation as if made, for a batch whose answer was lost (given back by id:
        nothing, if it was not made)."""
        return Held(Reservation(self.id, 0), self.conversation_id, self.version)


def queue_reservation(
    conn: Connection, ahead: Ahead, conversation_id: UUID | None, message: str
) -> Queued:
    """Queue the reservation in the read's batch (before its first fetch), which reads a
    continuing conversation's row and recent messages as well (migration 0016)."""
    context = ahead.context
    held_id, conversation = uuid4(), conversation_id or uuid4()
    fixed_bytes, fixed_texts = fixed_input(context.snapshot, message)
    cursor = conn.execute(
        "SELECT * FROM reserve_published_turn(%(id)s, %(ws)s, %(agent)s,"
        " %(version)s::integer, %(conv)s, %(existing)s, %(bytes)s::bigint, %(texts)s,"
        " %(max_output)s::bigint, %(history)s, %(escalates)s, %(turns)s, %(conv_tokens)s,"
        " %(day_tokens)s, %(ttl)s)",
        {
            "id": held_id,
            "ws": context.workspace_id,
            "agent": context.agent_id,
            "version": context.version,
            "conv": conversation,
            "existing": conversation_id is not None,
            "bytes": fixed_bytes,
            "texts": fixed_texts,
            "max_output": context.snapshot.sampling.max_output_tokens,
            "history": HISTORY_MESSAGES,
            # an escalated conversation: a turn and no tokens
            "escalates": "ESCALATE" in context.snapshot.guardrails,
            **limits_of(context.snapshot),
        },
    )
    return Queued(held_id, conversation, context.version, cursor)


def keep(scope: ChannelScope, context: RunContext) -> None:
    """What the turn's read found behind a public token, for the next turn on it."""
    if not scope.is_embed:
        return
    token = str(scope.params["token"])
    with _lock:
        _kept[token] = context
        _kept.move_to_end(token)
        while len(_kept) > MAX_KEPT:
            _kept.popitem(last=False)


def forget(scope: ChannelScope) -> None:
    """The token answers no published agent (any more)."""
    with _lock:
        _kept.pop(str(scope.params.get("token")), None)


def reset() -> None:
    """Keep nothing (tests)."""
    with _lock:
        _kept.clear()
