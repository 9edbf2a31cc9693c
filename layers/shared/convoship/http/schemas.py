"""Response bodies that more than one function returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class VersionOut(BaseModel):
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
