"""A proxy in front of PostgreSQL's unix socket that records the SQL text of every statement
clients send (simple Query messages and extended-protocol Parse messages), as the server
receives it: what RDS Proxy would see."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

_NOT_STARTUP = (80877103, 80877104)  # SSLRequest, GSSENCRequest: a startup message follows


class _ClientStream:
    """Splits what one client sends into protocol messages; keeps the SQL of Q and P."""

    def __init__(self, record: list[str], lock: threading.Lock) -> None:
        self._buffer = b""
        self._started = False
        self._record = record
        self._lock = lock

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if not self._started:  # untyped: length, then a code
                if len(self._buffer) < 8:
                    return
                size = int.from_bytes(self._buffer[:4], "big")
                if len(self._buffer) < size:
                    return
                code = int.from_bytes(self._buffer[4:8], "big")
                self._buffer = self._buffer[size:]
                self._started = code not in _NOT_STARTUP
                continue
            if len(self._buffer) < 5:
                return
            size = int.from_bytes(self._buffer[1:5], "big")
            if len(self._buffer) < 1 + size:
                return
            kind, body = self._buffer[:1], self._buffer[5 : 1 + size]
            self._buffer = self._buffer[1 + size :]
            if kind == b"Q":
                self._keep(body.split(b"\0", 1)[0])
            elif kind == b"P":  # statement name, then the query
                self._keep(body.split(b"\0", 2)[1])

    def _keep(self, sql: bytes) -> None:
        with self._lock:
            self._record.append(sql.decode("utf-8", "replace"))


class StatementRecorder:
    """Use as a context manager; `statements` holds every SQL text sent through it."""

    def __init__(self, upstream: Path, listen: Path) -> None:
        self.upstream = upstream
        self.listen = listen
        self.statements: list[str] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()

    def __enter__(self) -> StatementRecorder:
        self.listen.unlink(missing_ok=True)
        self._listener.bind(str(self.listen))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()
        self.listen.unlink(missing_ok=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(str(self.upstream))
            self._sockets += [client, server]
            stream = _ClientStream(self.statements, self._lock)
            threading.Thread(target=self._pipe, args=(client, server, stream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, None), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket, stream: _ClientStream | None) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_WR)
                return
            if stream is not None:
                stream.feed(data)  # recorded before the server can answer it
            try:
                target.sendall(data)
            except OSError:
                return
