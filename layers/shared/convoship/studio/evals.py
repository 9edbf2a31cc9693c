"""Evals of an agent: an input and assertions on the reply, run by the publish gate."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, model_validator

from convoship.audit.record import Actor, record
from convoship.core.errors import NotFound
from convoship.core.validation import validate_as
from convoship.db.connection import Connection
from convoship.studio.agents import AGENT_ID, agent_ref, delete_owned, not_found, rows_of_agent

EVAL_COLUMNS = "id, agent_id, name, input, assertions, created_at, updated_at"
AssertionType = Literal["contains", "not_contains", "equals", "regex", "llm_rubric"]


class EvalAssertion(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    type: AssertionType
    value: Annotated[str, Field(min_length=1, max_length=10_000)]

    @model_validator(mode="after")
    def _regex_compiles(self) -> EvalAssertion:
        if self.type == "regex":
            try:
                re.compile(self.value)
            except (re.error, OverflowError, RecursionError) as exc:
                raise ValueError(f"regex does not compile: {exc}") from None
        return self


class EvalSpec(BaseModel):
    """A complete eval as stored (POST bodies, and PATCH results before saving)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    input: Annotated[str, Field(min_length=1, max_length=20_000)]
    assertions: Annotated[list[EvalAssertion], Field(min_length=1, max_length=50)]


def _state(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("name", "input", "assertions")}


def _not_found(eval_id: UUID, slug: str) -> NotFound:
    return NotFound(f"no eval {eval_id} on agent {slug!r}")


def list_evals(conn: Connection, workspace_id: object, slug: str) -> list[dict[str, Any]]:
    query = (
        f"SELECT {EVAL_COLUMNS} FROM ai_agent_evals WHERE agent_id = {AGENT_ID}"
        " ORDER BY created_at, id"
    )
    return rows_of_agent(conn, workspace_id, slug, query, {})


def get_eval(conn: Connection, workspace_id: object, slug: str, eval_id: UUID) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {EVAL_COLUMNS} FROM ai_agent_evals WHERE id = %(id)s AND agent_id = {AGENT_ID}",
        {"id": eval_id, "ws": workspace_id, "slug": slug},
    ).fetchone()
    if row is None:
        raise _not_found(eval_id, slug)
    return row


def create_eval(conn: Connection, actor: Actor, slug: str, spec: EvalSpec) -> dict[str, Any]:
    row = conn.execute(
        "INSERT INTO ai_agent_evals (workspace_id, agent_id, name, input, assertions)"
        " SELECT a.workspace_id, a.id, %(name)s, %(input)s, %(assertions)s FROM ai_agents a"
        f" WHERE a.id = {AGENT_ID} RETURNING {EVAL_COLUMNS}",
        {
            "name": spec.name,
            "input": spec.input,
            "assertions": Jsonb(spec.model_dump()["assertions"]),
            "ws": actor.workspace_id,
            "slug": slug,
        },
    ).fetchone()
    if row is None:
        raise not_found(slug)
    record(
        conn,
        actor,
        action="eval.created",
        resource_type="eval",
        resource_id=row["id"],
        agent=agent_ref(row, slug),
        after=_state(row),
    )
    return row


def update_eval(
    conn: Connection, actor: Actor, slug: str, eval_id: UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    """Replace the given fields (assertions as a whole list); the result is validated."""
    current = conn.execute(
        f"SELECT {EVAL_COLUMNS} FROM ai_agent_evals"
        f" WHERE id = %(id)s AND agent_id = {AGENT_ID} FOR UPDATE",
        {"id": eval_id, "ws": actor.workspace_id, "slug": slug},
    ).fetchone()
    if current is None:
        raise _not_found(eval_id, slug)
    spec = validate_as(EvalSpec, {**_state(current), **changes}, ("body",))
    row = conn.execute(
        "UPDATE ai_agent_evals SET name = %s, input = %s, assertions = %s, updated_at = now()"
        f" WHERE id = %s RETURNING {EVAL_COLUMNS}",
        (spec.name, spec.input, Jsonb(spec.model_dump()["assertions"]), eval_id),
    ).fetchone()
    assert row is not None
    record(
        conn,
        actor,
        action="eval.updated",
        resource_type="eval",
        resource_id=eval_id,
        agent=agent_ref(row, slug),
        before=_state(current),
        after=_state(row),
    )
    return row


def delete_eval(conn: Connection, actor: Actor, slug: str, eval_id: UUID) -> None:
    delete_owned(
        conn,
        actor,
        slug,
        eval_id,
        kind="eval",
        table="ai_agent_evals",
        columns=EVAL_COLUMNS,
        state=_state,
    )
