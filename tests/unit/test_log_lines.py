"""The service's log lines are Powertools' own: the formatter that writes them faster
(core/observability.py) writes the same line as Powertools' for the same record."""

from __future__ import annotations

import io
import itertools
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter, _get_context

from convoship.core import observability
from convoship.core.observability import _LINE_ENCODER, _LineFormatter, _message_value, logger
from tests.unit.test_prepared_route import PREPARED, _answer, _case

OPTIONS: dict[str, Any] = {
    "json_serializer": _LINE_ENCODER.encode,
    "json_deserializer": _message_value,
    "service": "convoship",
}


def _record(msg: Any, extra: dict[str, Any] | None = None, *, failed: bool = False) -> Any:
    exc_info = None
    if failed:
        try:
            raise ValueError("it broke")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.getLogger("t").makeRecord(
        "t", logging.WARNING, __file__, 12, msg, (), exc_info, "caller", extra
    )
    record.created, record.msecs = 1_790_000_000.5, 500.0  # the same instant for both
    return record


RECORDS = {
    "plain": lambda: _record("request"),
    "extras": lambda: _record("request", {"method": "POST", "status": 200, "ms": 3.5}),
    "none extra": lambda: _record("x", {"gone": None, "kept": 0}),
    "json message": lambda: _record('{"a": [1, 2]}'),
    "dict message": lambda: _record({"a": 1}),
    "non-ascii": lambda: _record("été ✓", {"who": "\U0001f600"}),
    "exception": lambda: _record("boom", {"step": 2}, failed=True),
    "extra named like a key": lambda: _record("m", {"service": "other", "function": "f"}),
}


@pytest.fixture
def formatters() -> Iterator[tuple[Any, Any]]:
    stock, ours = LambdaPowertoolsFormatter(**OPTIONS), _LineFormatter(**OPTIONS)
    for formatter in (stock, ours):
        formatter.append_keys(function="chat", correlation_id="r-1", nothing=None)
    yield stock, ours
    _get_context().set({})


@pytest.mark.parametrize("name", list(RECORDS))
def test_a_line_is_powertools_line(formatters: tuple[Any, Any], name: str) -> None:
    stock, ours = formatters
    assert ours.format(RECORDS[name]()) == stock.format(RECORDS[name]())


def test_keys_of_the_thread_and_reserved_names_are_placed_as_powertools_places_them(
    formatters: tuple[Any, Any],
) -> None:
    stock, ours = formatters
    stock.thread_safe_append_keys(request_path="/v1/x", where="%(funcName)s@%(lineno)d")
    for formatter in (stock, ours):
        formatter.append_keys(location="%(module)s:%(lineno)d", timestamp="%(asctime)s")
    record = RECORDS["extras"]()
    assert ours.format(record) == stock.format(record)
    assert '"location":"test_log_lines:12"' in ours.format(record)


def test_a_reserved_key_that_is_not_text_is_refused_as_powertools_refuses_it(
    formatters: tuple[Any, Any],
) -> None:
    for formatter in formatters:
        formatter.append_keys(location=12)
        with pytest.raises(ValueError, match="need to be type 'str', instead got 'int'"):
            formatter.format(RECORDS["plain"]())


def test_the_service_logger_writes_with_it() -> None:
    assert isinstance(observability.logger.registered_formatter, _LineFormatter)
    assert logging.logThreads is False and logging.logProcesses is False


# A second look (attack review): extras and keys of the thread that shadow the names
# Powertools reserves or writes itself, falsy and non-text overrides, with and without an
# exception, give Powertools' own line (or its own error); a request's access line carries no
# thread, process or asyncio task (the switches).
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


# The access line's own way (observability.log_info): the same line logger.info writes from
# the same source line, for every shape above, without making a record where it can.
@pytest.fixture
def service_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The service logger's handler writing to a buffer, at INFO, with a fixed clock; the
    logger's records kept from pytest's capture handlers (on it and on the root), as
    Powertools keeps them from Lambda's root handler (its SuppressFilter)."""
    seen = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = handler.setStream(seen)
    level = logger.log_level
    saved = dict(logger.registered_formatter.log_format)
    monkeypatch.setattr(observability.time, "time", lambda: 1_790_000_000.9996)
    monkeypatch.setattr(observability.time, "time_ns", lambda: 1_790_000_000_999_600_000)
    logger.setLevel(logging.INFO)
    try:
        yield seen
    finally:
        logger.setLevel(level)
        handler.setStream(stream)  # type: ignore[arg-type]
        logger.registered_formatter.log_format.clear()
        logger.registered_formatter.log_format.update(saved)
        _get_context().set({})


@contextmanager
def _alone(*, propagate: bool = False) -> Iterator[None]:
    """Only Powertools' handler on the service logger (pytest adds its capture handlers to
    it and to the root while a test runs)."""
    inner = logger._logger
    handlers, propagates = inner.handlers, inner.propagate
    inner.handlers, inner.propagate = [logger.registered_handler], propagate
    try:
        yield
    finally:
        inner.handlers, inner.propagate = handlers, propagates


def _both_lines(
    seen: io.StringIO, message: str, fields: dict[str, Any], *, propagate: bool = False
) -> tuple[str, str]:
    """What log_info writes, then what logger.info writes, called from one source line."""
    mark = seen.tell()
    with _alone(propagate=propagate):
        observability.log_info(message, dict(fields)); first = seen.tell(); logger.info(message, extra=dict(fields))  # fmt: skip  # noqa: E702, E501
    text = seen.getvalue()
    return text[mark:first], text[first:]


FORMAT_KEYS: list[dict[str, Any]] = [
    {},
    {"function": "chat", "correlation_id": "r-1", "nothing": None},
    {"location": "%(module)s:%(lineno)d"},  # another attribute: the record's way
    {"timestamp": "%(asctime)s", "level": "%(levelname)s"},
    {"xray_trace_id": None},  # Powertools' switch for the trace id
    {"taskName": "t", "stack_trace": "s"},
]


def test_the_access_line_is_the_line_logger_info_writes(
    service_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = ["request", '{"a": 1}', "[not json", "été"]
    traces = [None, "Root=1-67891233-abcdef012345678912345678;Parent=1;Sampled=1"]
    cases = itertools.product(FORMAT_KEYS, THREAD_KEYS, EXTRAS, messages, traces)
    for format_keys, thread_keys, fields, message, trace in cases:
        logger.registered_formatter.append_keys(**format_keys)
        _get_context().set(dict(thread_keys))
        if trace is None:
            monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
        else:
            monkeypatch.setenv("_X_AMZN_TRACE_ID", trace)
        ours, theirs = _both_lines(service_lines, message, fields)
        assert ours == theirs, (format_keys, thread_keys, fields, message)


def test_the_access_line_makes_no_record_where_it_need_not(
    service_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Any] = []
    original = logging.Logger.makeRecord
    monkeypatch.setattr(
        logging.Logger, "makeRecord", lambda *a, **k: made.append(a) or original(*a, **k)
    )
    with _alone():
        observability.log_info("request", {"method": "POST", "status": 200})
    assert made == [] and json.loads(service_lines.getvalue())["status"] == 200
    logger.registered_formatter.append_keys(location="%(module)s:%(lineno)d")
    with _alone():
        observability.log_info("request", {"method": "POST", "status": 200})
    assert len(made) == 1  # a key it does not spell: the record's way


def test_the_access_line_honours_filters_handlers_and_the_root_as_logger_info_does(
    service_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return record.msg != "request"

    dropping = Drop()
    logger.addFilter(dropping)  # as `convoship serve` mutes it
    try:
        assert _both_lines(service_lines, "request", {"status": 200}) == ("", "")
    finally:
        logger.removeFilter(dropping)
    with caplog.at_level(logging.INFO):  # pytest's root handler hears it
        ours, theirs = _both_lines(service_lines, "request", {"status": 201}, propagate=True)
    assert ours == theirs and [r.status for r in caplog.records] == [201, 201]  # type: ignore[attr-defined]
    logger.setLevel(logging.WARNING)
    assert _both_lines(service_lines, "request", {"status": 200}) == ("", "")


@pytest.mark.parametrize("now", [1_790_000_000.0, 1_790_000_000.9996, 1_790_000_000.0004, 0.001])
def test_the_access_line_stamps_time_as_a_record_does(
    monkeypatch: pytest.MonkeyPatch, now: float
) -> None:
    monkeypatch.setattr(observability.time, "time", lambda: now)
    monkeypatch.setattr(observability.time, "time_ns", lambda: round(now * 1e9))
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", (), None)
    stamp = observability._Stamp()
    assert (stamp.created, stamp.msecs) == (record.created, record.msecs)


# A second look at the access line's own way (attack review): where logging would fail, or
# would make its record with more than the logging module's classes, it goes the record's way.
def test_a_line_that_cannot_be_written_fails_as_logging_fails(
    service_lines: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    looped: dict[str, Any] = {}
    looped["self"] = looped
    logger.append_keys(user_token="s3cr3t-key-value")
    for fields in ({"looped": looped}, {"fine": 1}):
        if "fine" in fields:
            logger.registered_formatter.append_keys(broken=looped)
        with _alone():
            observability.log_info("request", dict(fields))  # no exception reaches the request
            logger.info("request", extra=dict(fields))
        assert service_lines.getvalue() == ""
        assert capsys.readouterr().err.count("--- Logging error ---") == 2


def test_a_failed_write_reports_the_message_not_the_line(
    service_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("disk gone")

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    monkeypatch.setattr(handler, "stream", Broken())
    logger.append_keys(user_token="s3cr3t-key-value")
    with _alone():
        observability.log_info("request", {"status": 200})
        logger.info("request", extra={"status": 200})
    err = capsys.readouterr().err
    assert err.count("--- Logging error ---") == 2 and "s3cr3t" not in err
    assert err.count("Message: 'request'") == 2


def test_a_record_factory_level_name_or_message_of_its_own_goes_the_records_way(
    service_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = logging.getLogRecordFactory()

    def traced(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.otelTraceID = "abc123"  # type: ignore[attr-defined]
        return record

    monkeypatch.setattr(logging, "_logRecordFactory", traced)
    ours, theirs = _both_lines(service_lines, "request", {"status": 200})
    assert ours == theirs and '"otelTraceID":"abc123"' in ours
    monkeypatch.setattr(logging, "_logRecordFactory", factory)
    logging.addLevelName(logging.INFO, "NOTICE")
    try:
        ours, theirs = _both_lines(service_lines, "request", {"status": 200})
    finally:
        logging.addLevelName(logging.INFO, "INFO")
    assert ours == theirs and '"level":"NOTICE"' in ours
    ours, theirs = _both_lines(service_lines, b'{"a": 1}', {})  # type: ignore[arg-type]
    assert ours == theirs


def test_a_stamp_that_rounds_up_to_the_next_second_is_the_records() -> None:
    now_ns = 1_790_000_000_999_999_900  # its float is 1790000001.0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(observability.time, "time", lambda: now_ns / 1e9)
        patch.setattr(observability.time, "time_ns", lambda: now_ns)
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", (), None)
        stamp = observability._Stamp()
    assert (stamp.created, stamp.msecs) == (record.created, record.msecs)
