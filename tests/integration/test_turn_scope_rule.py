"""reserve_chat_turn and settle_chat_turn write out chat_turn_in_scope's rule (migration 0012)
while release_chat_turn calls it: from every kind of caller scope, for every agent and
channel, the three agree on which turns the caller may hold."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.support.agents import Conn
from tests.support.seed import act_as_embed, seed_graph


@pytest.fixture
def tenants(owner_sql: Conn, workspace: Any, other_workspace: Any) -> list[dict[str, Any]]:
    return [seed_graph(owner_sql, ws) for ws in (workspace, other_workspace)]


def _scopes(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Callable[[Conn], None]]:
    def workspace(tenant: dict[str, Any], token: str | None = None) -> Callable[[Conn], None]:
        def enter(conn: Conn) -> None:
            conn.execute(
                "SELECT set_config('app.workspace_id', %s, true),"
                " set_config('app.ai_agent_public_token', %s, true)",
                (str(tenant["workspace"]), token or ""),
            )

        return enter

    return {
        "embed a": lambda conn: act_as_embed(conn, a["public_token"]),
        "embed b": lambda conn: act_as_embed(conn, b["public_token"]),
        "app a": workspace(a),
        "app b": workspace(b),
        "app a, token of a": workspace(a, a["public_token"]),
        "app a, token of b": workspace(a, b["public_token"]),
    }


def _in_transaction(app_sql: Conn, enter: Callable[[Conn], None], query: str, *params: Any) -> Any:
    with app_sql.transaction():
        enter(app_sql)
        cursor = app_sql.execute(query.encode(), params)
        return cursor.fetchall() if cursor.description else None


def _held(owner_sql: Conn, tenant: dict[str, Any], channel: str) -> uuid.UUID:
    held = uuid.uuid4()
    owner_sql.execute(
        "INSERT INTO ai_agent_turn_reservations (id, workspace_id, agent_id, conversation_id,"
        " channel, day, tokens, expires_at) VALUES (%s, %s, %s, gen_random_uuid(), %s,"
        " current_date, 5, now() + interval '1 minute')",
        (held, tenant["workspace"], tenant["agent"], channel),
    )
    return held


def _exists(owner_sql: Conn, held: uuid.UUID) -> bool:
    found = owner_sql.execute(
        "SELECT count(*) AS n FROM ai_agent_turn_reservations WHERE id = %s", (held,)
    ).fetchone()
    return found is not None and found["n"] == 1


def test_reserve_settle_and_release_agree_on_the_callers_scope(
    app_sql: Conn, owner_sql: Conn, tenants: list[dict[str, Any]]
) -> None:
    a, b = tenants
    allowed = set()
    for name, enter in _scopes(a, b).items():
        for target_name, target in (("a", a), ("b", b)):
            for channel in ("embed", "playground"):
                case = (name, target_name, channel)
                verdict = _in_transaction(
                    app_sql,
                    enter,
                    "SELECT reserve_chat_turn(gen_random_uuid(), %s, %s, %s, gen_random_uuid(),"
                    " false, NULL, 10, NULL, NULL, NULL, 120) AS verdict",
                    target["workspace"],
                    target["agent"],
                    channel,
                )[0]["verdict"]
                assert verdict in ("reserved", "no-agent"), case

                to_settle = _held(owner_sql, target, channel)
                try:
                    _in_transaction(app_sql, enter, "SELECT settle_chat_turn(%s)", to_settle)
                    settled = True
                except psycopg.errors.SerializationFailure:
                    settled = False
                assert settled is not _exists(owner_sql, to_settle), case

                to_release = _held(owner_sql, target, channel)
                _in_transaction(app_sql, enter, "SELECT release_chat_turn(%s)", to_release)
                released = not _exists(owner_sql, to_release)

                assert (verdict == "reserved") == settled == released, case
                if settled:
                    allowed.add(case)
    assert allowed == {  # the rule itself, as migration 0008 states it
        ("embed a", "a", "embed"),
        ("embed b", "b", "embed"),
        ("app a", "a", "embed"),
        ("app a", "a", "playground"),
        ("app b", "b", "embed"),
        ("app b", "b", "playground"),
        ("app a, token of a", "a", "embed"),
        ("app a, token of b", "b", "embed"),  # a token set: the token's agent, embed only
    }
