"""Logger and Metrics, created once for the whole container (Powertools)."""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.shared import constants as powertools
from aws_lambda_powertools.shared.functions import powertools_dev_is_set

from convoship.core import constants as env

# What Powertools would serialise each line with (json.dumps with these options), built once
# instead of on every line.
_LINE_ENCODER = json.JSONEncoder(
    default=str,
    separators=(",", ":"),
    ensure_ascii=False,
    indent=powertools.PRETTY_INDENT if powertools_dev_is_set() else powertools.COMPACT_INDENT,
)
# The first characters a JSON document can start with (Python's json also reads NaN and
# Infinity, and skips leading whitespace).
_JSON_STARTS = frozenset('{["-0123456789tfnNI \t\r\n')


def _message_value(message: Any) -> Any:
    """Powertools parses each string message as JSON, in case it is; a plain word
    ("request") cannot be, and is kept without raising and catching a decode error."""
    if isinstance(message, str) and message[:1] not in _JSON_STARTS:
        return message
    return json.loads(message)


logger = Logger(
    service=os.environ.get(env.SERVICE_NAME, "convoship"),
    json_serializer=_LINE_ENCODER.encode,
    json_deserializer=_message_value,
)
metrics = Metrics(namespace=os.environ.get(env.METRICS_NAMESPACE, "ConvoShip"))
