"""The rotate_keys Lambda job: an event in, one rotation, its report out.

Event: {"mode": "master" | "data", "workspace_id": UUID (optional, default every
workspace), "batch_size": 1..1000 (optional)}. The job stops between batches when its time
runs short and answers `"finished": false`; invoking it again resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from convoship.core.errors import ValidationFailed
from convoship.core.settings import Settings
from convoship.keys.rotation import Options, rotate_data, rotate_master

MODES = ("master", "data")
_FIELDS = {"mode", "workspace_id", "batch_size"}


def _workspace(value: Any) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        raise ValidationFailed.at(("workspace_id",), "workspace_id must be a UUID") from None


def _batch_size(value: Any) -> int:
    if value is None:
        return Options.batch_size
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValidationFailed.at(("batch_size",), "batch_size must be an integer in 1..1000")
    return value


def run_job(
    event: Any,
    settings: Settings,
    *,
    should_stop: Callable[[], bool] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise ValidationFailed("the event must be a JSON object")
    unknown = sorted(set(event) - _FIELDS)
    if unknown:
        raise ValidationFailed.at((unknown[0],), f"unknown field {unknown[0]}")
    mode = event.get("mode")
    if mode not in MODES:
        raise ValidationFailed.at(("mode",), "mode must be master or data")
    workspace_id = _workspace(event.get("workspace_id"))
    options = Options(
        batch_size=_batch_size(event.get("batch_size")),
        should_stop=should_stop,
        request_id=request_id,
    )
    if mode == "master":
        report = rotate_master(settings, workspace_id=workspace_id, options=options)
    else:
        report = rotate_data(
            settings, workspace_id=workspace_id, started_by="lambda", options=options
        )
    return report.as_dict()
