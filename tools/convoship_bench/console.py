"""Keep the bench's own output readable while handlers run in this process.

Handlers log (Powertools, to the stdout they captured at import) and psycopg warns through
`logging`; during measurement fd 1 points at /dev/null (writing a log line still costs what
it costs, it just is not shown) and psycopg's records are counted, then summarised once.
Progress goes to stderr.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class WarningCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = re.sub(r"<[^<>]*>", "<...>", record.getMessage())
        message = re.sub(r"\(user=[^)]*\)", "", message)
        self.messages[message[:160]] += 1

    def summary(self) -> list[str]:
        return [f"  {count} x {message}" for message, count in self.messages.most_common(5)]


@contextmanager
def counted_library_warnings(*loggers: str) -> Iterator[WarningCounter]:
    counter = WarningCounter()
    saved = []
    for name in loggers:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate))
        logger.addHandler(counter)
        logger.propagate = False
    try:
        yield counter
    finally:
        for logger, propagate in saved:
            logger.removeHandler(counter)
            logger.propagate = propagate


@contextmanager
def stdout_silenced() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(
            f"[bench {time.monotonic() - self.started:6.1f}s] {message}",
            file=sys.stderr,
            flush=True,
        )
