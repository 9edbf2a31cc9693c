"""Lambda entry point of the daily draft purge (EventBridge Scheduler)."""

from __future__ import annotations

from typing import Any

from convoship.core.observability import logger, metrics
from convoship.core.settings import get_settings
from convoship.studio.purge import purge_stale_drafts


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = purge_stale_drafts(get_settings(), request_id=getattr(context, "aws_request_id", None))
    metrics.add_metric(name="DraftsPurged", unit="Count", value=result["purged"])
    logger.info("stale drafts purged", extra=result)
    return {"purged": result["purged"]}
