"""Lambda entry point of the daily audit checkpoint (EventBridge Scheduler)."""

from __future__ import annotations

from typing import Any

from convoship.audit.checkpoint import checkpoint_chain_heads
from convoship.audit.signing import require_signer
from convoship.core.observability import logger, metrics
from convoship.core.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    result = checkpoint_chain_heads(settings, require_signer(settings))
    metrics.add_metric(name="AuditCheckpointsSigned", unit="Count", value=result["signed"])
    metrics.add_metric(name="AuditChainHeadsBroken", unit="Count", value=result["broken"])
    logger.info("audit chain heads checkpointed", extra=result)
    return result
