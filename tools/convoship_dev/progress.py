"""A progress bar on stderr for long operator commands (no dependency).

On a terminal it redraws one line; otherwise (a log, a pipe) it prints a line at most
every few seconds, and always the last one.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 28) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._last_drawn = 0.0
        self._line = ""

    def __call__(self, done: int, total: int, values: int) -> None:
        """Show `done` of `total` workspaces and how many values were re-sealed."""
        now = time.monotonic()
        filled = self.width * done // total if total else self.width
        rate = values / max(now - self.started, 1e-6)
        self._line = (
            f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}]"
            f" {done}/{total} workspaces, {values} values ({rate:.0f}/s)"
        )
        final = done >= total
        if self.tty:
            if final or now - self._last_drawn >= 0.1:
                self.stream.write("\r" + self._line)
                self._last_drawn = now
        elif final or now - self._last_drawn >= 5.0 or not self._last_drawn:
            self.stream.write(self._line + "\n")
            self._last_drawn = now
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._line:
            self.stream.write("\n")
            self.stream.flush()
