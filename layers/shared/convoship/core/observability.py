"""Logger and Metrics, created once for the whole container (Powertools)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.filters import SuppressFilter
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
# What a record holds before its extras (makeRecord refuses an extra of these names), and
# which of those reach a line (those Powertools does not reserve: taskName, None here).
_RECORD_ATTRIBUTES = tuple(logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__)
_RECORD_NAMES = frozenset(_RECORD_ATTRIBUTES) | {"message", "asctime"}
_RECORD_KEYS_IN_LINE = tuple(name for name in _RECORD_ATTRIBUTES if name not in _RESERVED)
# How Powertools spells the three reserved keys it writes itself (level, location, timestamp).
_LEVEL, _LOCATION, _ASCTIME = "%(levelname)s", "%(funcName)s:%(lineno)d", "%(asctime)s"

# Each record would look up its thread, process, process name and asyncio task, for no use:
# of these only the task's name reached a line ("taskName": "Task-N", a new task per request
# under Mangum, which identifies nothing the correlation id does not). They are not looked
# up (the logging HOWTO's "Optimization" switches); the location (function, line) still is.
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False
logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # 3.12 (no effect on 3.11)


class _Unspelled(Exception):
    """A reserved key that info_line does not spell: the line goes the record's way."""


class _LineFormatter(LambdaPowertoolsFormatter):
    """Powertools' own lines (tests/unit/test_log_lines.py compares them), with a record's
    keys sorted into the line in one pass and reserved names found in a set: Powertools
    scans a tuple of 24 names for each of the record's ~25 attributes on every line."""

    def _extract_log_keys(self, log_record: logging.LogRecord) -> dict[str, Any]:
        record = log_record.__dict__.copy()
        record["asctime"] = self.formatTime(record=log_record)

        def spell(value: Any) -> Any:
            if not isinstance(value, str):
                raise ValueError(
                    "Logging keys that override reserved log attributes need to be"
                    f" type 'str', instead got '{type(value).__name__}'"
                )
            return value % record

        line = self._placed(spell)
        for key, value in record.items():
            if key not in _RESERVED:
                line[key] = value
        return line

    def _placed(self, spell: Callable[[Any], Any]) -> dict[str, Any]:
        """The line's keys, the logger's then the thread's, where Powertools places them; a
        reserved one set to a true value is spelled by `spell`."""
        line: dict[str, Any] = {}
        for keys in (self.log_format, _get_context().get()):
            for key, value in keys.items():
                line[key] = spell(value) if value and key in _RESERVED else value
        return line

    def info_line(
        self, message: str, fields: Mapping[str, Any], stamp: _Stamp, func: str, lineno: int
    ) -> str | None:
        """The line format() writes for an INFO record of `message` (text, no arguments, no
        exception) with `fields` as its extras, made at `stamp` from `func` at `lineno`; None
        where that record holds more than this knows of (a reserved key spelled with another
        of its attributes, a field that names one of them, a task name): the caller makes
        the record then. tests/unit/test_log_lines.py compares the two."""

        def spell(value: Any) -> str:
            if value == _LEVEL:
                return logging.getLevelName(logging.INFO)
            if value == _LOCATION:
                return f"{func}:{lineno}"
            if value == _ASCTIME:
                return self.formatTime(stamp)  # type: ignore[arg-type]
            raise _Unspelled  # another attribute, or not text (format() raises)

        try:
            line = self._placed(spell)
        except _Unspelled:
            return None
        if getattr(logging, "logAsyncioTasks", False):
            return None
        for key in _RECORD_KEYS_IN_LINE:  # the record's (None: no task name) replace them
            line.pop(key, None)
        for key, value in fields.items():
            if key in _RECORD_NAMES:  # makeRecord refuses it
                return None
            if key not in _RESERVED:
                line[key] = value
        try:  # as Powertools reads a text message
            line["message"] = self.json_deserializer(message)
        except (json.decoder.JSONDecodeError, TypeError, ValueError):
            line["message"] = message
        # No exception: its three keys stay as they are, the stack trace is None.
        if self.serialize_stacktrace:
            line.pop("stack_trace", None)
        trace = self._get_latest_trace_id()
        if trace is None:
            line.pop("xray_trace_id", None)
        else:
            line["xray_trace_id"] = trace
        return self.serialize(log={k: v for k, v in line.items() if v is not None})


class _Stamp:
    """When a record is made, as LogRecord takes and spells it (created, msecs)."""

    __slots__ = ("created", "msecs")

    def __init__(self) -> None:
        if sys.version_info >= (3, 13):
            now = time.time_ns()
            self.created = now / 1e9
            self.msecs = (now % 1_000_000_000) // 1_000_000 + 0.0
            if self.msecs == 999.0 and int(self.created) != now // 1_000_000_000:
                self.msecs = 0.0  # the float rounded up to the next second (3.13's rule)
        else:
            now = time.time()
            self.created = now
            self.msecs = int((now - int(now)) * 1000) + 0.0


logger = Logger(
    service=os.environ.get(env.SERVICE_NAME, "convoship"),
    logger_formatter=_LineFormatter(
        json_serializer=_LINE_ENCODER.encode, json_deserializer=_message_value
    ),
)
metrics = Metrics(namespace=os.environ.get(env.METRICS_NAMESPACE, "ConvoShip"))


def log_info(message: str, fields: dict[str, Any]) -> None:
    """logger.info(message, extra=fields) from the caller's line: the same line, written
    the same way, without the logging module's search for the caller's frame or the record
    it fills attribute by attribute, and without Powertools' formatting of such a record,
    which reads each of its ~25 attributes (~0.19 M instructions a line against ~0.11 M;
    README, Performance). Each request's access line comes this way. Wherever the line
    could differ, it goes through the logging module: a filter on the logger or its handler,
    another handler, one up the hierarchy that Powertools does not silence, a record
    factory or logger class of its own, log buffering, a message that is not text, or a
    record this does not know (_LineFormatter.info_line); so does a line that fails to
    format, to fail as logging fails (handleError, and the request goes on). With
    Powertools' log buffering on (the service logger has none), a buffered line names this
    function as its location: Powertools takes a fixed frame for a buffered record."""
    inner = logger._logger
    if not inner.isEnabledFor(logging.INFO):
        return
    caller = sys._getframe(1)
    code = caller.f_code
    handler = _sole_stream(inner)
    if handler is not None and not logger._buffer_config and type(message) is str:
        try:
            line = handler.formatter.info_line(  # type: ignore[union-attr]
                message, fields, _Stamp(), code.co_name, caller.f_lineno
            )
        except RecursionError:
            raise
        except Exception:  # the record's way fails the same way, inside the handler's emit
            line = None
        if line is not None:
            _write(handler, line, message, fields, code, caller.f_lineno)
            return
    del caller
    logger.info(message, extra=fields, stacklevel=3)


def _sole_stream(inner: logging.Logger) -> logging.StreamHandler[Any] | None:
    """The logger's one handler, if a record of it would reach no other and no filter: a
    StreamHandler with the service's formatter, up the hierarchy only handlers that drop it
    (Powertools' SuppressFilter, as on Lambda's root handler) or take no INFO; records made
    and handled by the logging module's own classes."""
    handlers = inner.handlers
    if (
        inner.filters
        or len(handlers) != 1
        or logging.getLogRecordFactory() is not logging.LogRecord
        or type(inner).makeRecord is not logging.Logger.makeRecord
        or type(inner).handle is not logging.Logger.handle
        or type(inner).callHandlers is not logging.Logger.callHandlers
    ):
        return None
    handler = handlers[0]
    if (
        type(handler) is not logging.StreamHandler
        or handler.filters
        or handler.level > logging.INFO
        or type(handler.formatter) is not _LineFormatter
    ):
        return None
    node: logging.Logger | None = inner
    while node is not None and node.propagate:
        node = node.parent
        for other in node.handlers if node is not None else ():
            if other.level <= logging.INFO and not any(
                isinstance(f, SuppressFilter) and f.logger in inner.name for f in other.filters
            ):
                return None
    return handler


def _write(
    handler: logging.StreamHandler[Any],
    line: str,
    message: str,
    fields: dict[str, Any],
    code: Any,
    lineno: int,
) -> None:
    """StreamHandler.emit of a formatted line, under the handler's lock as Handler.handle;
    a write that fails goes to handleError with the record logging would have made (its
    message, not the line: handleError prints the record's message)."""
    handler.acquire()
    try:
        handler.stream.write(line + handler.terminator)
        handler.flush()
    except RecursionError:
        raise
    except Exception:
        inner = logger._logger
        record = inner.makeRecord(
            inner.name,
            logging.INFO,
            code.co_filename,
            lineno,
            message,
            (),
            None,
            code.co_name,
            fields,
            None,
        )
        handler.handleError(record)
    finally:
        handler.release()
