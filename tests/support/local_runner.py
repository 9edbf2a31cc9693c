"""`convoship` as a subprocess: a served API on an ephemeral loopback port, one-shot
commands, and a small HTTP helper, for the end-to-end tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONVOSHIP = [sys.executable, "-m", "convoship_dev.cli"]
READY = "ConvoShip API on "


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CONVOSHIP, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@dataclass
class Served:
    """A running `convoship serve`: its base URL and where its output goes (files, so a
    long test never fills a pipe and blocks the server)."""

    process: subprocess.Popen[bytes]
    url: str
    stdout: Path
    stderr: Path

    def output(self) -> tuple[str, str]:
        return self.stdout.read_text(), self.stderr.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start_served(env: dict[str, str], folder: Path, *args: str) -> Served:
    """Start `convoship serve --port 0` and wait (up to a minute) for its ready line."""
    stdout, stderr = folder / "serve.out", folder / "serve.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [*CONVOSHIP, "serve", "--port", "0", *args], cwd=ROOT, env=env, stdout=out, stderr=err
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in stdout.read_text().splitlines():
            if line.startswith(READY):
                return Served(process, line.removeprefix(READY).split()[0], stdout, stderr)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait(5)
    raise AssertionError(f"convoship serve did not start:\n{stderr.read_text()[-3000:]}")


def http(
    method: str, url: str, token: str | None = None, body: Any = None
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, status, headers = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, headers = error.read(), error.code, dict(error.headers)
    return status, {k.lower(): v for k, v in headers.items()}, json.loads(raw) if raw else None
