"""Keep-alive connections to model providers and tools: one small pool per container.

A connection belongs to one key: (scheme, host, port, whether private networks were allowed).
It is opened by `open_pinned`: the host is resolved, every address vetted by the SSRF guard
(netguard), and the socket connected to a vetted address while TLS verifies the certificate
for the host name. The guard therefore runs whenever a connection is opened, and not again
while it is reused: it stays pinned to the address vetted at its opening, and is never lent
to another key (another host, port or scheme, or a stricter private-network rule).

An idle connection is closed rather than reused when it has been idle longer than
IDLE_TIMEOUT_S (or than the server's own Keep-Alive timeout, less a second), or when the
server has spoken on it since: an idle HTTP connection has nothing to read unless the server
closed it, which a zero-timeout poll sees without a round trip. At most MAX_IDLE_PER_KEY idle
connections per key and MAX_IDLE_TOTAL in all are kept, the least recently used dropped
first. Connections in use belong to their caller; the pool holds idle ones, under one lock.
"""

from __future__ import annotations

import functools
import http.client
import io
import select
import socket
import threading
import time
from typing import Any, NamedTuple

from convoship.security.netguard import resolve_public_addresses

IDLE_TIMEOUT_S = 30.0  # under the idle limits of load balancers (60 s) and NAT gateways (350 s)
MAX_IDLE_PER_KEY = 20  # the publish gate's default eval concurrency
MAX_IDLE_TOTAL = 64
_ssl_context: Any = None


class PoolKey(NamedTuple):
    scheme: str
    host: str
    port: int
    allow_private: bool


def _tls() -> Any:
    global _ssl_context
    if _ssl_context is None:
        import ssl  # lazy: only outbound calls need it

        _ssl_context = ssl.create_default_context()
    return _ssl_context


class _DeadlineReader(io.RawIOBase):
    """The response's byte source: every read waits at most until the connection's deadline,
    so a server trickling its status line, headers or body a byte at a time cannot stretch
    one exchange past it (a per-read socket timeout alone would restart with every byte)."""

    def __init__(self, sock: socket.socket, conn: PinnedConnection) -> None:
        self._sock = sock
        self._conn = conn
        # makefile, as http.client does: it holds the socket open while the response reads
        # on after the connection let go of it (Connection: close)
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        remaining = self._conn.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the deadline passed")
        self._sock.settimeout(remaining)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, conn: PinnedConnection, **kwargs: Any):
        super().__init__(sock, *args, **kwargs)
        self.fp = io.BufferedReader(_DeadlineReader(sock, conn))


class PinnedConnection(http.client.HTTPConnection):
    """Connects to a vetted address; Host header and TLS name stay the URL's host. Never
    reopens by itself (auto_open off): every opening goes through open_pinned's guard.
    Responses are read under `deadline` (monotonic seconds), whatever the server sends."""

    auto_open = 0

    def __init__(self, key: PoolKey, address: str, *, timeout: float) -> None:
        super().__init__(key.host, key.port, timeout=timeout)
        self.key = key
        self.address = address
        self.reused = False  # taken from the pool: it may have died while idle
        self.idle_since = 0.0
        self.idle_until = 0.0
        self.deadline = time.monotonic() + timeout
        self.response_class = functools.partial(_DeadlineResponse, conn=self)  # type: ignore[assignment]
        # http.client drops self.sock when a response says Connection: close (the response
        # reads on from it); this reference keeps the read deadline and the close ours.
        self.pinned_socket: socket.socket | None = None

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), timeout=self.timeout)
        # as http.client does: a request's headers and body go out as separate writes, which
        # Nagle's algorithm would hold back for the server's delayed ACK on a kept connection
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.key.scheme == "https":
            sock = _tls().wrap_socket(sock, server_hostname=self.host)
        self.sock = self.pinned_socket = sock

    def close(self) -> None:
        super().close()
        if self.pinned_socket is not None:
            self.pinned_socket.close()
            self.pinned_socket = None

    def server_spoke(self) -> bool:
        """Whether there is anything to read on this idle connection: the server closed it
        (or sent what no request asked for). Either way it must not carry a request."""
        sock = self.sock
        if sock is None:
            return True
        pending = getattr(sock, "pending", None)  # TLS: bytes already decrypted, unread
        if pending is not None and pending():
            return True
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))


def open_pinned(key: PoolKey, deadline: float) -> PinnedConnection:
    """A new connection for key: resolve the host (TimeoutError past deadline), vet every
    address (UnsafeUrl when one is not allowed), connect to the first that accepts. Nothing
    is sent yet, so a failed connect moves on to the next address."""
    addresses = resolve_public_addresses(
        key.host,
        key.port,
        allow_private=key.allow_private,
        timeout_s=deadline - time.monotonic(),  # resolving is part of the exchange
    )
    error: OSError = TimeoutError("the deadline passed before a connection was made")
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        conn = PinnedConnection(key, address, timeout=remaining)
        try:
            conn.connect()
            return conn
        except OSError as exc:
            conn.close()
            error = exc
    raise error


class ConnectionPool:
    """Idle keep-alive connections by key, bounded per key and in all."""

    def __init__(
        self,
        *,
        max_per_key: int = MAX_IDLE_PER_KEY,
        max_total: int = MAX_IDLE_TOTAL,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        self.max_per_key = max_per_key
        self.max_total = max_total
        self.idle_timeout_s = idle_timeout_s
        self._lock = threading.Lock()
        self._idle: dict[PoolKey, list[PinnedConnection]] = {}

    def take(self, key: PoolKey) -> PinnedConnection | None:
        """An idle connection for key that is still fit to carry a request, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                conn = idle.pop()  # the most recently used: the likeliest to be open
                if not idle:
                    del self._idle[key]
            if time.monotonic() < conn.idle_until and not conn.server_spoke():
                conn.reused = True
                return conn
            conn.close()

    def put(self, conn: PinnedConnection, keep_for_s: float) -> None:
        """Keep a connection whose last response was read to its end (or close it)."""
        keep_for_s = min(keep_for_s, self.idle_timeout_s)
        if keep_for_s <= 0 or conn.sock is None:
            conn.close()
            return
        now = time.monotonic()
        conn.idle_since, conn.idle_until = now, now + keep_for_s
        with self._lock:
            idle = self._idle.setdefault(conn.key, [])
            if len(idle) >= self.max_per_key:
                dropped = [conn]
            else:
                idle.append(conn)
                dropped = self._trim(now)
        for old in dropped:
            old.close()

    def _trim(self, now: float) -> list[PinnedConnection]:
        """Take out the expired connections, then the least recently used over max_total."""
        alive = sorted(
            (c for idle in self._idle.values() for c in idle if c.idle_until > now),
            key=lambda c: c.idle_since,
        )
        keep = {id(c) for c in alive[max(0, len(alive) - self.max_total) :]}
        dropped = []
        for key in list(self._idle):
            dropped += [c for c in self._idle[key] if id(c) not in keep]
            self._idle[key] = [c for c in self._idle[key] if id(c) in keep]
            if not self._idle[key]:
                del self._idle[key]
        return dropped

    def idle_counts(self) -> dict[PoolKey, int]:
        with self._lock:
            return {key: len(idle) for key, idle in self._idle.items()}

    def close_all(self) -> None:
        with self._lock:
            idle = [c for conns in self._idle.values() for c in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()


POOL = ConnectionPool()
