"""A counting proxy: a unix socket in front of a server's unix socket (PostgreSQL, Redis).

How it counts: per client connection the proxy remembers whether the client has sent bytes
the server has not answered yet. When bytes then come back from the server, that is one
round trip (one request/response exchange the client waited for); further server bytes
before the client speaks again belong to the same answer. Bytes the client sends and never
gets an answer to (a Terminate on close) are counted separately as unanswered bursts.
A single thread forwards both directions with `selectors`, so what the counter sees is the
order on the wire; client bytes are forwarded before any answer to them can arrive.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class WireCounts:
    round_trips: int = 0
    bytes_to_server: int = 0
    bytes_to_client: int = 0
    connections: int = 0
    unanswered: int = 0  # client bursts still without an answer when read


@dataclass
class _Link:
    client: socket.socket
    server: socket.socket
    waiting: bool = False  # the client sent bytes the server has not answered yet


class CountingProxy:
    def __init__(self, upstream: Path, listen: Path) -> None:
        self.upstream = upstream
        self.listen = listen
        self._counts = WireCounts()
        self._links: dict[socket.socket, _Link] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._thread = threading.Thread(target=self._serve, name="counting-proxy", daemon=True)

    def __enter__(self) -> CountingProxy:
        self.listen.unlink(missing_ok=True)
        self._listener.bind(str(self.listen))
        self.listen.chmod(0o700)
        self._listener.listen(16)
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for link in {id(v): v for v in self._links.values()}.values():
            link.client.close()
            link.server.close()
        self._listener.close()
        self._selector.close()
        self.listen.unlink(missing_ok=True)

    def reset(self) -> None:
        with self._lock:
            self._counts = WireCounts()

    def snapshot(self, settle_s: float = 0.05) -> WireCounts:
        """The counts so far, after waiting (briefly) for answers still on their way."""
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            with self._lock:
                if not any(link.waiting for link in self._links.values()):
                    break
            time.sleep(0.001)
        with self._lock:
            counts = WireCounts(**vars(self._counts))
            counts.unanswered += sum(1 for link in self._unique_links() if link.waiting)
        return counts

    def _unique_links(self) -> list[_Link]:
        return list({id(v): v for v in self._links.values()}.values())

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept()
                else:
                    self._forward(sock)

    def _accept(self) -> None:
        client, _ = self._listener.accept()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.connect(str(self.upstream))
        link = _Link(client, server)
        with self._lock:
            self._links[client] = link
            self._links[server] = link
            self._counts.connections += 1
        for sock in (client, server):
            self._selector.register(sock, selectors.EVENT_READ)

    def _forward(self, sock: socket.socket) -> None:
        link = self._links.get(sock)
        if link is None:
            return  # closed earlier in this same select() batch
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._close(link)
            return
        from_client = sock is link.client
        with self._lock:
            if from_client:
                self._counts.bytes_to_server += len(data)
                link.waiting = True
            else:
                self._counts.bytes_to_client += len(data)
                if link.waiting:
                    self._counts.round_trips += 1
                    link.waiting = False
        try:
            (link.server if from_client else link.client).sendall(data)
        except OSError:
            self._close(link)

    def _close(self, link: _Link) -> None:
        with self._lock:
            if link.waiting:
                self._counts.unanswered += 1
            self._links.pop(link.client, None)
            self._links.pop(link.server, None)
        for sock in (link.client, link.server):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            sock.close()
