"""The local runner on the wire: one write per response with TCP_NODELAY (so a keep-alive
client's delayed ACK never holds a response back), and a listen backlog that takes a burst
of concurrent clients. Counted in writes and connections, never timed."""

from __future__ import annotations

import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convoship_dev.server import GatewayServer
from convoship_dev.template import load_template

HANDLER = f"fx_ping_{uuid.uuid4().hex}"
TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  PingFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ping
      Handler: {HANDLER}.handler
      Events:
        Ping:
          Type: HttpApi
          Properties: {{ApiId: !Ref Api, Method: GET, Path: /ping}}
"""
CODE = """\
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": '{"pong": true}'}
"""


class _CountingSocket:
    """An accepted socket that records each write and whether TCP_NODELAY was on."""

    def __init__(self, sock: socket.socket, writes: list[tuple[int, int]]) -> None:
        self._sock = sock
        self._writes = writes

    def _record(self, data: bytes) -> None:
        nodelay = self._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        self._writes.append((len(data), nodelay))

    def sendall(self, data: bytes, *args: Any) -> None:
        self._record(data)
        self._sock.sendall(data, *args)

    def send(self, data: bytes, *args: Any) -> int:
        self._record(data)
        return self._sock.send(data, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _CountingServer(GatewayServer):
    writes: list[tuple[int, int]]

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        return _CountingSocket(sock, self.writes), address


@pytest.fixture(scope="module")
def template_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("sockets")
    (root / "ping").mkdir()
    (root / "ping" / f"{HANDLER}.py").write_text(CODE)
    (root / "template.yaml").write_text(TEMPLATE)
    yield root / "template.yaml"
    sys.modules.pop(HANDLER, None)
    if str(root / "ping") in sys.path:
        sys.path.remove(str(root / "ping"))


def _read_response(client: socket.socket) -> tuple[bytes, int]:
    """One whole response (head and Content-Length body), and how many recv calls it took."""
    data, calls = b"", 0
    while b"\r\n\r\n" not in data or len(data) < _expected_length(data):
        chunk = client.recv(65536)
        assert chunk, "the server closed the connection"
        data, calls = data + chunk, calls + 1
    return data, calls


def _expected_length(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(head) + 4


def test_keep_alive_responses_go_out_in_one_write_with_nodelay(template_path: Path) -> None:
    server = _CountingServer(load_template(template_path), ("127.0.0.1", 0))
    server.writes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(server.server_address[:2], timeout=10) as client:
            for n in range(1, 4):  # three requests on one keep-alive connection
                client.sendall(b"GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n")
                response, recvs = _read_response(client)
                assert response.startswith(b"HTTP/1.1 200 OK\r\n")
                assert response.endswith(b'{"pong": true}')
                assert len(server.writes) == n, server.writes  # headers and body together
                size, nodelay = server.writes[-1]
                assert size == len(response) and nodelay != 0
                assert recvs == 1  # nothing held back for a second segment
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_burst_of_clients_fits_in_the_listen_backlog(template_path: Path) -> None:
    server = GatewayServer(load_template(template_path), ("127.0.0.1", 0))
    assert server.request_queue_size >= 128
    clients: list[socket.socket] = []
    try:
        # Nobody accepts yet: every connection waits in the kernel's queue. With
        # socketserver's default backlog of 5 the 7th SYN is dropped and connect times out.
        for _ in range(100):
            clients.append(socket.create_connection(server.server_address[:2], timeout=5))
    finally:
        for client in clients:
            client.close()
        server.server_close()
    assert len(clients) == 100
