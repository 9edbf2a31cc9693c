"""A second look at the service's log lines (core/observability.py): extras and keys of the
thread that shadow the names Powertools reserves or writes itself, falsy and non-text
overrides, with and without an exception, give Powertools' own line (or its own error); and
a request's access line carries no thread, process or asyncio task (the switches)."""

from __future__ import annotations

import io
import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter, _get_context

from convoship.core.observability import _LineFormatter, logger
from tests.unit.test_log_lines import OPTIONS, _record
from tests.unit.test_prepared_route import PREPARED, _answer, _case

EXTRAS: list[dict[str, Any]] = [
    {},
    {"exception": "forged", "exception_name": "Forged", "exception_notes": ["n"]},
    {"stack_trace": "forged", "xray_trace_id": "1-forged"},
    {"location": "forged", "timestamp": 5},  # reserved: never from an extra
    {"level": "forged", "service": "other"},  # a reserved name, a key of the line
    {"correlation_id": None, "service": None, "function": ""},
    {"": "empty name", "a b": 1, "message_id": "m"},
    {"secret": "s3cr3t-value", "api_key": "k"},  # as written, no more and no less
]
THREAD_KEYS: list[dict[str, Any]] = [
    {},
    {"location": "%(funcName)s"},
    {"timestamp": ""},
    {"timestamp": 0},  # falsy: kept as it is, not formatted
    {"level": None, "location": []},
    {"level": 5},  # not text: refused
    {"request_path": "/v1/x", "where": "%(lineno)d"},  # not reserved: not formatted
]


@pytest.fixture
def formatters() -> Iterator[tuple[Any, Any]]:
    stock, ours = LambdaPowertoolsFormatter(**OPTIONS), _LineFormatter(**OPTIONS)
    for formatter in (stock, ours):
        formatter.append_keys(function="chat", correlation_id="r-1", nothing=None)
    yield stock, ours
    _get_context().set({})


def _line(formatter: Any, record: Any) -> tuple[Any, ...]:
    try:
        return ("line", formatter.format(record))
    except Exception as exc:
        return ("error", type(exc), str(exc))


def test_shadowing_extras_and_thread_keys_give_powertools_line(
    formatters: tuple[Any, Any],
) -> None:
    stock, ours = formatters
    for keys, extra, failed in itertools.product(THREAD_KEYS, EXTRAS, (False, True)):
        _get_context().set(dict(keys))
        expected = _line(stock, _record("m", extra, failed=failed))
        assert _line(ours, _record("m", extra, failed=failed)) == expected, (keys, extra)


def test_an_access_line_names_no_thread_process_or_task() -> None:
    seen = io.StringIO()
    listener = logging.StreamHandler(seen)
    listener.setFormatter(logger.registered_formatter)
    logger.addHandler(listener)
    try:
        _answer(PREPARED, _case({"message": "hi"}))
    finally:
        logger.removeHandler(listener)
    line = json.loads(seen.getvalue().splitlines()[-1])
    assert line["message"] == "request" and line["status"] == 200
    assert not {"taskName", "thread", "threadName", "process", "processName"} & set(line)
