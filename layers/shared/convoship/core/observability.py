"""Logger and Metrics, created once for the whole container (Powertools)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import (
    RESERVED_LOG_ATTRS,
    LambdaPowertoolsFormatter,
    _get_context,
)
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


_RESERVED = frozenset(RESERVED_LOG_ATTRS)

# Each record would look up its thread, process, process name and asyncio task, for no use:
# of these only the task's name reached a line ("taskName": "Task-N", a new task per request
# under Mangum, which identifies nothing the correlation id does not). They are not looked
# up (the logging HOWTO's "Optimization" switches); the location (function, line) still is.
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False
logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # 3.12 (no effect on 3.11)


class _LineFormatter(LambdaPowertoolsFormatter):
    """Powertools' own lines (tests/unit/test_log_lines.py compares them), with a record's
    keys sorted into the line in one pass and reserved names found in a set: Powertools
    scans a tuple of 24 names for each of the record's ~25 attributes on every line."""

    def _extract_log_keys(self, log_record: logging.LogRecord) -> dict[str, Any]:
        record = log_record.__dict__.copy()
        record["asctime"] = self.formatTime(record=log_record)
        line: dict[str, Any] = {}
        for keys in (self.log_format, _get_context().get()):
            for key, value in keys.items():
                if value and key in _RESERVED:
                    if not isinstance(value, str):
                        raise ValueError(
                            "Logging keys that override reserved log attributes need to be"
                            f" type 'str', instead got '{type(value).__name__}'"
                        )
                    line[key] = value % record
                else:
                    line[key] = value
        for key, value in record.items():
            if key not in _RESERVED:
                line[key] = value
        return line


logger = Logger(
    service=os.environ.get(env.SERVICE_NAME, "convoship"),
    logger_formatter=_LineFormatter(
        json_serializer=_LINE_ENCODER.encode, json_deserializer=_message_value
    ),
)
metrics = Metrics(namespace=os.environ.get(env.METRICS_NAMESPACE, "ConvoShip"))
