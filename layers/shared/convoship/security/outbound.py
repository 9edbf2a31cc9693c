"""Outbound HTTP for model providers and tools: SSRF-checked, pinned, bounded, kept alive.

Connections come from the container's pool (http_pool): opened to an address the SSRF guard
vetted (DNS cannot switch to a private address between the check and the call), TLS still
verifying the certificate for the host name, and reused for the same scheme, host and port
while they stay idle-fit. Redirects are not followed. The whole exchange has one deadline
and the response body a size cap. A connection goes back to the pool only once its response
was read to the end, and never after a cut (truncated) body, an error or `Connection: close`.

When a reused connection fails: the server closed it while it sat idle and the request met
a dead socket (refused on send, or the connection reset or closed before the first byte of
the response: the "stale keep-alive" case). The request is sent once more, on a fresh
connection, only when sending it twice is harmless (`replay_safe`): by default the
idempotent methods of RFC 9110 (GET, HEAD, OPTIONS, PUT, DELETE), and model completions
(they change nothing upstream; the caller says so). A POST or PATCH tool call is never
replayed once a byte of it went out: the server may have acted on it before the connection
died, and the model gets the error instead. A fresh connection is never retried, nor a
timeout, nor a failure after the response began.

Standard library only (http.client, ssl): a well-kept client such as httpx would add about
40 ms to a cold start for features these calls do not use.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from convoship.security.http_pool import POOL, PinnedConnection, PoolKey, open_pinned
from convoship.security.netguard import UnsafeUrl, check_outbound_url

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_READ_CHUNK = 64 * 1024
# A deadline (monotonic seconds) over every exchange made meanwhile: a chat turn's.
_outer_deadline: ContextVar[float | None] = ContextVar("outbound_deadline", default=None)


@contextmanager
def deadline_for_calls(at: float | None) -> Iterator[None]:
    """Every exchange started inside ends by `at` (monotonic) at the latest: its own
    timeout_s is cut to what is left."""
    token = _outer_deadline.set(at)
    try:
        yield
    finally:
        _outer_deadline.reset(token)


def time_left(timeout_s: float) -> float:
    """timeout_s, cut to what is left of the deadline over the calls made meanwhile
    (deadline_for_calls); for clients that do not go through request() (boto3)."""
    outer = _outer_deadline.get()
    return timeout_s if outer is None else min(timeout_s, outer - time.monotonic())


class OutboundError(Exception):
    """The call could not be made or completed (refused target, network, timeout, size).
    `sent`: the whole request had gone out (the server may have acted on it)."""

    sent = False


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    truncated: bool


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
    replay_safe: bool | None = None,
) -> OutboundResponse:
    """One HTTP exchange. A body over max_bytes raises OutboundError, or is cut when
    truncate is set (tools: the model sees the first max_bytes). replay_safe: may the
    request go out twice after a stale keep-alive (default: the method is idempotent)."""
    try:
        parts = check_outbound_url(url, allow_private=allow_private)
    except UnsafeUrl as exc:
        raise OutboundError(f"refused: {exc}") from None
    tls = parts.scheme == "https"
    key = PoolKey(
        parts.scheme, parts.hostname or "", parts.port or (443 if tls else 80), allow_private
    )
    timeout_s = time_left(timeout_s)
    if timeout_s <= 0:
        raise OutboundError(f"{parts.hostname} was not called: the deadline passed")
    deadline = time.monotonic() + timeout_s
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    replayable = method.upper() in IDEMPOTENT_METHODS if replay_safe is None else replay_safe
    _check_carriable(method, target, headers or {})
    conn = POOL.take(key)
    while True:
        if conn is None:
            conn = _open(key, deadline, timeout_s)
        sent = False
        try:
            _set_deadline(conn, deadline)
            try:
                conn.request(method, target, body=body, headers=headers or {})
            except ValueError:  # http.client: not ASCII / latin-1, or a line break
                conn.close()
                # Never the message: it may quote a header value, and so a secret.
                raise OutboundError(
                    "the request holds a URL or header value HTTP cannot carry"
                ) from None
            sent = True
            response = conn.getresponse()
        except ConnectionError as exc:  # reset, broken pipe, or closed before a status line
            conn.close()
            if conn.reused and replayable:
                conn = None  # the stale keep-alive case: once more, on a fresh connection
                continue
            raise _failure(key.host, timeout_s, exc, sent=sent) from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _failure(key.host, timeout_s, exc, sent=sent) from None
        try:
            data, cut = _read_bounded(conn, response, deadline, max_bytes, truncate)
        except OutboundError as exc:
            conn.close()
            exc.sent = True
            raise
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _failure(key.host, timeout_s, exc, sent=True) from None
        if cut or response.will_close:
            conn.close()
        else:
            POOL.put(conn, _keep_alive_s(response))
        return OutboundResponse(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            body=data,
            truncated=cut,
        )


def close_idle_connections() -> None:
    """Close every pooled connection (tests, and the bench between phases)."""
    POOL.close_all()


def _open(key: PoolKey, deadline: float, timeout_s: float) -> PinnedConnection:
    try:
        return open_pinned(key, deadline)
    except UnsafeUrl as exc:
        raise OutboundError(f"refused: {exc}") from None
    except OSError as exc:
        raise _failure(key.host, timeout_s, exc) from None


def _failure(host: str, timeout_s: float, exc: Exception, *, sent: bool = False) -> OutboundError:
    if isinstance(exc, TimeoutError):
        failure = OutboundError(f"{host} did not answer within {timeout_s:.3g} s")
    else:
        failure = OutboundError(f"{host}: {type(exc).__name__}: {exc}")
    failure.sent = sent
    return failure


def _set_deadline(conn: PinnedConnection, deadline: float) -> None:
    """Bound what follows by deadline: sending (the socket timeout covers a whole sendall)
    and every read of the response (the connection's reader checks conn.deadline)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the deadline passed")
    conn.deadline = deadline
    if conn.pinned_socket is not None:
        conn.pinned_socket.settimeout(remaining)


def _check_carriable(method: str, target: str, headers: dict[str, str]) -> None:
    """What http.client would refuse while writing the request (a URL outside ASCII, a
    header outside latin-1, a line break), refused before any connection is taken. The
    message never quotes a value: a header may hold a secret."""
    try:
        method.encode("ascii")
        target.encode("ascii")
        for name, value in headers.items():
            name.encode("ascii")
            value.encode("latin-1")
            if any(c in value or c in name for c in "\r\n\0"):
                raise ValueError("line break")
        if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in target):
            raise ValueError("control character or space in the URL")
    except (UnicodeError, ValueError):
        raise OutboundError("the request holds a URL or header value HTTP cannot carry") from None


def _keep_alive_s(response: http.client.HTTPResponse) -> float:
    """How long the server keeps an idle connection (`Keep-Alive: timeout=N`), less a second
    so the pool drops it first; unbounded (the pool's own limit) when it does not say."""
    for part in (response.getheader("keep-alive") or "").split(","):
        name, _, value = part.partition("=")
        if name.strip().lower() == "timeout" and value.strip().isdigit():
            return int(value.strip()) - 1.0
    return float("inf")


def _read_bounded(
    conn: PinnedConnection,
    response: http.client.HTTPResponse,
    deadline: float,
    max_bytes: int,
    truncate: bool,
) -> tuple[bytes, bool]:
    """Read the body under the one deadline (a trickling server cannot stretch it)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        _set_deadline(conn, deadline)
        chunk = response.read1(_READ_CHUNK)
        if not chunk:
            if response.length:  # a Content-Length the server did not send in full
                raise OutboundError("the connection closed before the end of the response")
            response.close()  # read1 leaves a fully read response open; the pool needs it closed
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            if truncate:
                return b"".join(chunks)[:max_bytes], True
            raise OutboundError(f"the response is larger than {max_bytes} bytes")
