"""Keep-alive connections to model providers and tools (security/outbound + http_pool),
against loopback servers that count the connections and requests reaching them."""

from __future__ import annotations

import datetime
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from convoship.llm.openai import OpenAIChat
from convoship.llm.types import Message, Sampling
from convoship.runtime.tool_calls import call_http_tool
from convoship.secrets.vault import SecretVault
from convoship.security import http_pool, netguard, outbound
from convoship.security.http_pool import ConnectionPool, PoolKey, open_pinned
from convoship_dev.fake_llm import FakeLlm
from tests.support.upstream import Upstream

CALL: dict[str, Any] = {"timeout_s": 5, "max_bytes": 10_000, "allow_private": True}


@pytest.fixture(autouse=True)
def empty_pool() -> Iterator[None]:
    outbound.close_idle_connections()
    yield
    outbound.close_idle_connections()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


def _model(base_url: str) -> OpenAIChat:
    return OpenAIChat(model="m", base_url=base_url, api_key=None, timeout_s=5, allow_private=True)


def _ask(model: OpenAIChat, text: str = "hi") -> str:
    return model.complete([Message("user", text)], tools=[], sampling=Sampling(0.7, 64)).text


def _tool(method: str, url: str) -> dict[str, Any]:
    return {"name": "t", "config": {"method": method, "url": url}, "input_schema": None}


def test_a_hundred_model_calls_open_one_connection() -> None:
    with FakeLlm() as llm:
        model = _model(llm.base_url)
        answers = {_ask(model, f"question {i}") for i in range(100)}
        assert len(answers) == 100 and len(llm.requests) == 100
        assert llm.connections == 1


def test_a_stale_keep_alive_model_call_is_sent_again_once_on_a_fresh_connection(
    upstream: Upstream,
) -> None:
    model = _model(upstream.url("/v1"))
    assert _ask(model) == "hi"
    upstream.drop = "reused"  # the next request on that connection meets a dead socket
    assert _ask(model) == "hi"
    assert upstream.connections == 2
    assert [a.connection for a in upstream.arrivals] == [1, 1, 2]  # dropped, then sent again


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_tool_call_that_may_have_reached_the_server_is_never_replayed(
    upstream: Upstream, method: str
) -> None:
    vault = SecretVault(uuid4(), [])
    tool = _tool(method, upstream.url("/hook"))
    first = call_http_tool(tool, {"n": 1}, vault, allow_private=True)
    assert first.ok, first.content
    upstream.drop = "reused"
    second = call_http_tool(tool, {"n": 2}, vault, allow_private=True)
    assert not second.ok and second.content.startswith("error: the call failed")
    assert [(a.connection, a.method) for a in upstream.arrivals] == [(1, method), (1, method)]
    assert upstream.connections == 1


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_idempotent_tool_call_on_a_stale_connection_is_sent_again(
    upstream: Upstream, method: str
) -> None:
    vault = SecretVault(uuid4(), [])
    tool = _tool(method, upstream.url("/item"))
    assert call_http_tool(tool, {}, vault, allow_private=True).ok
    upstream.drop = "reused"
    assert call_http_tool(tool, {}, vault, allow_private=True).ok
    assert [a.connection for a in upstream.arrivals] == [1, 1, 2]


def test_a_request_is_sent_again_at_most_once_and_never_from_a_fresh_connection(
    upstream: Upstream,
) -> None:
    upstream.drop = "all"
    with pytest.raises(outbound.OutboundError, match="RemoteDisconnected"):
        outbound.request("GET", upstream.url("/ok"), **CALL)
    assert [a.connection for a in upstream.arrivals] == [1]  # a fresh connection: no retry
    upstream.drop = "never"
    outbound.request("GET", upstream.url("/ok"), **CALL)
    upstream.drop = "all"
    with pytest.raises(outbound.OutboundError, match="RemoteDisconnected"):
        outbound.request("GET", upstream.url("/ok"), **CALL)
    assert [a.connection for a in upstream.arrivals] == [1, 2, 2, 3]  # one more try, no more


def test_an_idle_connection_the_server_ended_is_replaced(upstream: Upstream) -> None:
    model = _model(upstream.url("/v1"))
    assert _ask(model) == "hi"
    upstream.close_connections()  # the server's idle timer ends the kept-alive connection
    assert _ask(model) == "hi"  # noticed before reuse, or met on send and sent again
    assert upstream.connections == 2


def test_connection_close_and_a_short_keep_alive_are_honoured(upstream: Upstream) -> None:
    for path in ("/close", "/close", "/keep1", "/keep1"):
        assert outbound.request("GET", upstream.url(path), **CALL).status == 200
    assert upstream.connections == 4
    assert http_pool.POOL.idle_counts() == {}


def test_a_response_cut_at_the_size_cap_discards_its_connection(upstream: Upstream) -> None:
    cut = outbound.request("GET", upstream.url("/big"), truncate=True, **CALL)
    assert cut.truncated and len(cut.body) == CALL["max_bytes"]
    with pytest.raises(outbound.OutboundError, match="larger than"):
        outbound.request("GET", upstream.url("/big"), **CALL)
    outbound.request("GET", upstream.url("/ok"), **CALL)
    outbound.request("GET", upstream.url("/ok"), **CALL)
    assert upstream.connections == 3  # one per cut body, then one kept for both reads


def test_a_connection_is_never_lent_to_another_host(upstream: Upstream) -> None:
    for _ in range(3):
        for host in ("127.0.0.1", "localhost"):
            outbound.request("GET", upstream.url("/ok", host=host), **CALL)
    hosts_by_connection: dict[int, set[str]] = {}
    for arrival in upstream.arrivals:
        hosts_by_connection.setdefault(arrival.connection, set()).add(arrival.host)
    assert len(hosts_by_connection) == 2
    assert all(len(hosts) == 1 for hosts in hosts_by_connection.values())


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[Upstream, str], None]:
    """Make an upstream speak TLS with a certificate for one name, which this process's
    outbound calls trust (and nothing else)."""

    def serve(server: Upstream, name: str) -> None:
        cert, key = _self_signed(name, tmp_path)
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(cert, key)
        monkeypatch.setattr(http_pool, "_ssl_context", ssl.create_default_context(cafile=cert))

    return serve


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`model.test` resolves to answer["address"]; the addresses in answer["public"] pass the
    guard as public ones would (127.0.0.1 stands in for one; 10.0.0.7 stays private)."""
    answer: dict[str, Any] = {"address": "127.0.0.1", "public": {"127.0.0.1"}, "lookups": 0}
    real_lookup = socket.getaddrinfo
    real_public = netguard.is_public_address

    def lookup(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "model.test":
            return real_lookup(host, port, *args, **kwargs)
        answer["lookups"] += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer["address"], port))]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(
        netguard, "is_public_address", lambda a: str(a) in answer["public"] or real_public(a)
    )
    return answer


def test_the_ssrf_guard_vets_every_new_connection(
    upstream: Upstream, tls: Callable[[Upstream, str], None], dns: dict[str, Any]
) -> None:
    tls(upstream, "model.test")
    url, call = upstream.url("/ok", host="model.test"), {**CALL, "allow_private": False}
    assert outbound.request("GET", url, **call).status == 200
    dns["address"] = "10.0.0.7"  # the name now points inside the network
    assert outbound.request("GET", url, **call).status == 200  # kept: vetted when opened
    assert dns["lookups"] == 1 and upstream.connections == 1
    upstream.close_connections()  # a new connection is needed: resolved and vetted again
    with pytest.raises(
        outbound.OutboundError, match=r"refused: model\.test does not resolve to a public address"
    ):
        outbound.request("GET", url, **call)
    assert dns["lookups"] == 2 and upstream.connections == 1


def test_a_connection_opened_where_private_networks_are_allowed_serves_only_there(
    upstream: Upstream, tls: Callable[[Upstream, str], None], dns: dict[str, Any]
) -> None:
    tls(upstream, "model.test")
    dns["public"] = set()  # 127.0.0.1 is loopback again: only allow_private reaches it
    url = upstream.url("/ok", host="model.test")
    assert outbound.request("GET", url, **CALL).status == 200
    with pytest.raises(outbound.OutboundError, match="refused"):
        outbound.request("GET", url, **{**CALL, "allow_private": False})
    assert upstream.connections == 1


def test_tls_keeps_its_name_check_and_its_connection(
    upstream: Upstream, tls: Callable[[Upstream, str], None]
) -> None:
    tls(upstream, "localhost")
    for _ in range(3):
        assert outbound.request("GET", upstream.url("/ok", host="localhost"), **CALL).status
    assert upstream.connections == 1
    with pytest.raises(outbound.OutboundError, match="CERTIFICATE_VERIFY_FAILED"):
        outbound.request("GET", upstream.url("/ok", host="127.0.0.1"), **CALL)


def test_pool_bounds_per_key_and_overall() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        port = listener.getsockname()[1]
        a, b = PoolKey("http", "127.0.0.1", port, True), PoolKey("http", "localhost", port, True)
        pool = ConnectionPool(max_per_key=2, max_total=3)
        deadline = time.monotonic() + 5
        first_a = [open_pinned(a, deadline) for _ in range(3)]
        for conn in first_a:
            pool.put(conn, 30)
        assert pool.idle_counts() == {a: 2} and first_a[2].sock is None
        for conn in [open_pinned(b, deadline) for _ in range(2)]:
            pool.put(conn, 30)
        assert pool.idle_counts() == {a: 1, b: 2}  # the least recently used went first
        assert first_a[0].sock is None
        pool.close_all()
        assert pool.idle_counts() == {}


def test_the_pool_stays_bounded_under_concurrent_calls(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbound, "POOL", ConnectionPool(max_per_key=3, max_total=3))
    start = threading.Barrier(12)
    failures: list[BaseException] = []

    def call() -> None:
        start.wait()
        try:
            for _ in range(5):
                outbound.request("GET", upstream.url("/ok"), **CALL)
        except BaseException as exc:  # collected, asserted below
            failures.append(exc)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(upstream.arrivals) == 60
    assert sum(outbound.POOL.idle_counts().values()) <= 3


def test_the_pool_drops_an_idle_connection_the_server_closed() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        key = PoolKey("http", "127.0.0.1", listener.getsockname()[1], True)
        pool = ConnectionPool()
        kept = open_pinned(key, time.monotonic() + 5)
        pool.put(kept, 30)
        server_side, _ = listener.accept()
        taken = pool.take(key)
        assert taken is kept and taken.reused  # alive: handed out again
        pool.put(taken, 30)
        server_side.close()
        select.select([kept.sock], [], [], 5)  # let the server's FIN arrive
        assert pool.take(key) is None and kept.sock is None
        pool.put(open_pinned(key, time.monotonic() + 5), 0)  # a zero keep-alive: not kept
        assert pool.idle_counts() == {}


def _self_signed(name: str, folder: Path) -> tuple[str, str]:
    """A certificate for name (and its key), as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_a_server_trickling_its_headers_cannot_stretch_the_deadline() -> None:
    """The deadline covers the status line and headers too: a server sending one header
    line at a time (each well within a per-read timeout) is cut off at the deadline, long
    before it has sent them all."""
    lines_sent: list[int] = []
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                for i in range(200):  # 200 header lines, 0.05 s apart: 10 s in all
                    if stop.wait(0.05):
                        return
                    conn.sendall(f"x-slow-{i}: 1\r\n".encode())
                    lines_sent.append(i)
                conn.sendall(b"content-length: 0\r\n\r\n")
            except OSError:  # the client gave up and closed: what the test wants
                return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        with pytest.raises(outbound.OutboundError, match="did not answer within 1 s"):
            outbound.request("GET", f"http://127.0.0.1:{port}/", **{**CALL, "timeout_s": 1})
        assert len(lines_sent) < 200  # it gave up while the server was still sending headers
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.fixture
def stuck_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """`slow.test` takes until released to resolve (a resolver that does not answer)."""
    release = threading.Event()
    real_lookup = socket.getaddrinfo

    def lookup(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "slow.test":
            return real_lookup(host, port, *args, **kwargs)
        release.wait(60)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    yield release
    release.set()  # the resolving thread ends


def test_a_slow_resolver_fails_the_call_within_its_deadline(
    upstream: Upstream, stuck_resolver: threading.Event
) -> None:
    """Resolving the host is part of the exchange: the same timeout as a slow server."""
    url = upstream.url("/ok", host="slow.test")
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            outbound.request("GET", url, **{**CALL, "timeout_s": 1})
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(30)  # a guard against hanging only: the call returns on its own
    assert not caller.is_alive(), "the call waited for the resolver past its deadline"
    assert len(outcome) == 1 and isinstance(outcome[0], outbound.OutboundError)
    assert str(outcome[0]) == "slow.test did not answer within 1 s"
    assert upstream.connections == 0
