"""Outbound HTTP for model providers and tools: SSRF-checked, pinned, bounded.

The host is resolved once, every address vetted (netguard), and the connection made to the
vetted address while TLS still verifies the certificate for the host name, so DNS cannot
switch to a private address between the check and the call (rebinding). Redirects are not
followed. The whole exchange has one deadline and the response body a size cap.

Standard library only (http.client, ssl): a well-kept client such as httpx would add about
40 ms to a cold start for features these calls do not use.
"""

from __future__ import annotations

import http.client
import socket
import time
from dataclasses import dataclass
from typing import Any

from convoship.security.netguard import UnsafeUrl, check_outbound_url, resolve_public_addresses

_READ_CHUNK = 64 * 1024
_ssl_context: Any = None


class OutboundError(Exception):
    """The call could not be made or completed (refused target, network, timeout, size)."""


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    truncated: bool

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def _tls() -> Any:
    global _ssl_context
    if _ssl_context is None:
        import ssl  # lazy: only outbound calls need it

        _ssl_context = ssl.create_default_context()
    return _ssl_context


class _PinnedConnection(http.client.HTTPConnection):
    """Connects to a vetted address; Host header and TLS name stay the URL's host."""

    def __init__(self, host: str, port: int, address: str, *, tls: bool, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._tls = tls
        self.pinned_socket: socket.socket | None = None

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), timeout=self.timeout)
        if self._tls:
            sock = _tls().wrap_socket(sock, server_hostname=self.host)
        self.sock = self.pinned_socket = sock


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout_s: float,
    max_bytes: int,
    allow_private: bool,
    truncate: bool = False,
) -> OutboundResponse:
    """One HTTP exchange. A body over max_bytes raises OutboundError, or is cut when
    truncate is set (tools: the model sees the first max_bytes)."""
    try:
        parts = check_outbound_url(url, allow_private=allow_private)
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        host = parts.hostname or ""
        addresses = resolve_public_addresses(host, port, allow_private=allow_private)
    except UnsafeUrl as exc:
        raise OutboundError(f"refused: {exc}") from None
    deadline = time.monotonic() + timeout_s
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last_error: Exception | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        conn = _PinnedConnection(host, port, address, tls=tls, timeout=remaining)
        try:
            try:
                conn.request(method, target, body=body, headers=headers or {})
            except ValueError:  # http.client: not ASCII / latin-1, or a line break
                # Never the message: it may quote a header value, and so a secret.
                raise OutboundError(
                    "the request holds a URL or header value HTTP cannot carry"
                ) from None
            response = conn.getresponse()
            data, cut = _read_bounded(conn, response, deadline, max_bytes, truncate)
            return OutboundResponse(
                status=response.status,
                headers={k.lower(): v for k, v in response.getheaders()},
                body=data,
                truncated=cut,
            )
        except OutboundError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            last_error = exc
            if _sent_request(exc):
                break  # never replay a request the server may have acted on
        finally:
            conn.close()
    if last_error is None or isinstance(last_error, TimeoutError | socket.timeout):
        raise OutboundError(f"{host} did not answer within {timeout_s:g} s")
    raise OutboundError(f"{host}: {type(last_error).__name__}: {last_error}")


def _sent_request(exc: Exception) -> bool:
    """Connection-phase failures may move on to the next address; later ones may not."""
    return not isinstance(exc, ConnectionRefusedError | socket.gaierror)


def _read_bounded(
    conn: _PinnedConnection,
    response: http.client.HTTPResponse,
    deadline: float,
    max_bytes: int,
    truncate: bool,
) -> tuple[bytes, bool]:
    """Read the body under the one deadline (a trickling server cannot stretch it)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("read deadline passed")
        if conn.pinned_socket is not None:
            conn.pinned_socket.settimeout(remaining)
        chunk = response.read1(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            if truncate:
                return b"".join(chunks)[:max_bytes], True
            raise OutboundError(f"the response is larger than {max_bytes} bytes")
