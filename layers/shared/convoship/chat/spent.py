"""What a failed chat turn spent is charged, never released as if unused.

A turn can fail after the model already spent tokens: a later model call of its tool loop
fails, its deadline passes during a tool call, or its write is refused. Or a model call went
out and no usable answer came back (the deadline or a timeout cut it, the connection
dropped, the answer cannot be read): the provider may bill it though nothing says how much,
so the turn's reserved estimate is charged for it. A provider that refused with an HTTP
error status billed nothing: a turn that spent nothing else is released. Releasing its
reservation then would let a visitor spend without limit by forcing failures. So the usage
so far goes into the agent's daily usage and, for a conversation that exists, the
conversation's usage, in the transaction that takes the reservation out (one commit, as a
turn that succeeds settles it: chat/transcript.py), unless the reservation is gone: then the
turn was settled by its own write, whose answer was lost, and is not charged twice. No
message and no turn are written: the turn did not happen, but what it cost did.
"""

from __future__ import annotations

from uuid import UUID

import psycopg

from convoship.chat.reservation import Reservation
from convoship.chat.scope import ChannelScope
from convoship.core.errors import ConvoshipError
from convoship.core.observability import logger
from convoship.db.read_batch import write_batch
from convoship.llm.types import Sampling, Usage
from convoship.runtime.snapshot import RunContext


def failed_turn_usage(spent: Usage, reserved: Sampling, tokens: int) -> dict[str, int] | None:
    """What a failed turn is charged: what its model calls spent and, when one reached the
    provider and no usable answer came back (cut by the deadline or a timeout, dropped,
    unreadable), the turn's reserved estimate for it (`tokens`: input estimate plus
    max_output_tokens), since the provider may bill it. None: nothing, release it."""
    if spent.answer_lost:
        output = min(reserved.max_output_tokens, tokens)
        return {
            "input_tokens": spent.input_tokens + tokens - output,
            "output_tokens": spent.output_tokens + output,
        }
    if spent.input_tokens or spent.output_tokens:
        return spent.as_dict()
    return None


def charge_failed_turn(
    scope: ChannelScope,
    context: RunContext,
    conversation_id: UUID,
    *,
    existing: bool,
    usage: dict[str, int],
    reservation: Reservation | None,
) -> None:
    """Charge usage and take the reservation out, atomically; nothing if the reservation was
    settled already (the turn was written). If the database cannot be reached the reservation
    lapses by itself (and the usage goes uncharged); the turn's own failure is what the
    caller reports."""
    tokens = usage["input_tokens"] + usage["output_tokens"]
    try:
        with write_batch(**scope.transaction) as conn:  # one round trip
            conn.execute(
                # charge_failed_chat_turn (SQL, migration 0014): nothing when the reservation
                # was settled already (the turn's write committed, its answer lost).
                "SELECT charge_failed_chat_turn(%(id)s, %(ws)s, %(agent)s, %(existing)s,"
                " %(in)s::bigint, %(out)s::bigint, %(reservation)s)",
                {
                    "id": conversation_id,
                    "ws": context.workspace_id,
                    "agent": context.agent_id,
                    "existing": existing,
                    "in": usage["input_tokens"],
                    "out": usage["output_tokens"],
                    "reservation": reservation.id if reservation else None,
                },
            )
    except (ConvoshipError, psycopg.Error) as exc:
        logger.warning(
            "a failed turn's usage was not charged",
            extra={"tokens": tokens, "error": type(exc).__name__},
        )
