"""Models shared by every function: strict partial updates, and the bodies more than one
function returns."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

T = TypeVar("T")


def _not_null(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if value is None:
        raise ValueError("may be left out, but not set to null")
    return handler(value)


def no_nul(value: str) -> str:
    """A text field's AfterValidator: a NUL character is refused in the request (422), since
    no text column could store it afterwards."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


# A PATCH field that may be left out (unchanged) but, when sent, is never null. Pydantic
# sees only T (so errors and the schema name T alone); type checkers see the None default.
if TYPE_CHECKING:
    Given = Annotated[T | None, "given"]
else:
    Given = Annotated[T, WrapValidator(_not_null), Field(json_schema_extra=_without_default)]


class ResponseModel(BaseModel):
    """Base of every response body: its validator and serializer are built when first used,
    not at import (a function declares dozens of responses; a container serves a few).

    Request bodies stay plain models: FastAPI builds their validators when a route is
    declared, under a filter for a pydantic warning its body parameters raise; built later,
    on the first request, that warning would reach the logs."""

    model_config = ConfigDict(defer_build=True)


class Patch(BaseModel):
    """A partial update: unknown fields are refused, and at least one field must be set."""

    # minProperties: what _not_empty enforces, so the OpenAPI document says it too.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("set at least one field")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, as plain JSON-able values."""
        return self.model_dump(include=self.model_fields_set)


class VersionOut(ResponseModel):
    """An immutable published version: the frozen agent and the gate that let it through."""

    version: int
    config: dict[str, Any]
    guardrails: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    eval_results: list[dict[str, Any]]
    eval_pass_rate: float | None
    eval_threshold: float
    note: str | None
    created_by: str | None
    created_at: datetime
