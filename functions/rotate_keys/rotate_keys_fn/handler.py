"""Lambda entry point of the on-demand key rotation job (no HTTP route, no schedule)."""

from __future__ import annotations

from typing import Any

from convoship.core.observability import logger, metrics
from convoship.core.settings import get_settings
from convoship.keys.job import run_job

# Stop between batches when less than this is left, so the report is returned in time.
_RESERVE_MS = 60_000


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    result = run_job(
        event,
        get_settings(),
        should_stop=(lambda: remaining() < _RESERVE_MS) if remaining else None,
        request_id=getattr(context, "aws_request_id", None),
    )
    metrics.add_metric(name="KeyRotationValues", unit="Count", value=result["values_resealed"])
    logger.info("key rotation", extra=result)
    return result
