"""`convoship` as a subprocess: a served API on an ephemeral loopback port, one-shot
commands, and a small HTTP helper, for the end-to-end tests."""

from __future__ import annotations

import json as jsonlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import BadStatusLine, HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.api_client import ApiResponse

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
    data = None if body is None else jsonlib.dumps(body).encode()
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
    return status, {k.lower(): v for k, v in headers.items()}, jsonlib.loads(raw) if raw else None


class HttpApiClient:
    """tests.support.api_client.ApiClient's interface over a real socket: requests to a
    served API on one keep-alive connection (opened again when the server closed it)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._conn: HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        raw_auth: str | None = None,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> ApiResponse:
        sent: dict[str, str] = {"user-agent": "pytest"}
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        elif raw_auth is not None:
            sent["authorization"] = raw_auth
        body = data
        if json is not None:
            body = jsonlib.dumps(json).encode()
            content_type = content_type or "application/json"
        if content_type:
            sent["content-type"] = content_type
        sent.update(headers or {})
        for attempt in range(2):
            if self._conn is None:
                self._conn = HTTPConnection(self.host, self.port, timeout=60)
            try:
                self._conn.request(method, path, body=body, headers=sent)
                response = self._conn.getresponse()
                out = response.read()
            except (ConnectionError, BadStatusLine):
                self.close()
                if attempt:
                    raise
                continue
            if response.will_close:
                self.close()
            got = {k.lower(): v for k, v in response.getheaders()}
            return ApiResponse(response.status, got, out, got.get("x-function", ""))
        raise AssertionError("unreachable")

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)
