"""What a rotation is asked to do (batch size, pauses, progress, when to stop) and what it
reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

# (workspaces done, workspaces in all, values re-sealed so far)
Progress = Callable[[int, int, int], None]


@dataclass
class RotationReport:
    mode: str
    workspaces: int = 0  # in scope
    workspaces_done: int = 0
    workspaces_changed: int = 0
    values_resealed: int = 0
    keys_rewrapped: int = 0
    finished: bool = False
    run_id: str | None = None
    resumed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Options:
    batch_size: int = 200
    pause_s: float = 0.0  # between batches: throttles the load a rotation adds
    progress: Progress | None = None
    should_stop: Callable[[], bool] | None = None  # e.g. a Lambda running out of time
    request_id: str | None = None
