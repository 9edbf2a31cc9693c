"""Evals of an agent: an input and assertions on the reply, run by the publish gate."""

from typing import Annotated, Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from convoship.audit.record import Actor
from convoship.core.user_regex import check_pattern
from convoship.core.validation import validate_as
from convoship.db.connection import Connection
from convoship.studio.owned import Owned

EVAL_COLUMNS = "id, agent_id, name, input, assertions, created_at, updated_at"
AssertionType = Literal["contains", "not_contains", "equals", "regex", "llm_rubric"]


class EvalAssertion(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    type: AssertionType
    value: Annotated[str, Field(min_length=1, max_length=10_000)]

    @field_validator("value")
    @classmethod
    def _regex_compiles_within_bounds(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("type") == "regex":
            check_pattern(value)  # a ValueError: 422 on this value
        return value


class EvalSpec(BaseModel):
    """A complete eval as stored (POST bodies, and PATCH results before saving)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    input: Annotated[str, Field(min_length=1, max_length=20_000)]
    assertions: Annotated[list[EvalAssertion], Field(min_length=1, max_length=50)]


EVALS = Owned(
    kind="eval",
    table="ai_agent_evals",
    columns=EVAL_COLUMNS,
    state_fields=("name", "input", "assertions"),
)


def _columns(spec: EvalSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "input": spec.input,
        "assertions": Jsonb(spec.model_dump()["assertions"]),
    }


def list_evals(conn: Connection, workspace_id: object, slug: str) -> list[dict[str, Any]]:
    return EVALS.list(conn, workspace_id, slug, order="created_at, id")


def get_eval(conn: Connection, workspace_id: object, slug: str, eval_id: UUID) -> dict[str, Any]:
    return EVALS.get(conn, workspace_id, slug, eval_id)


def create_eval(conn: Connection, actor: Actor, slug: str, spec: EvalSpec) -> dict[str, Any]:
    return EVALS.create(conn, actor, slug, _columns(spec))


def update_eval(
    conn: Connection, actor: Actor, slug: str, eval_id: UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    """Replace the given fields (assertions as a whole list); the result is validated."""

    def merge(current: dict[str, Any]) -> dict[str, Any]:
        return _columns(validate_as(EvalSpec, {**EVALS.state(current), **changes}, ("body",)))

    return EVALS.update(conn, actor, slug, eval_id, merge)


def delete_eval(conn: Connection, actor: Actor, slug: str, eval_id: UUID) -> None:
    EVALS.delete(conn, actor, slug, eval_id)
