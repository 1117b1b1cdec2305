"""A TCP proxy between the sidecar and Postgres that a test can cut and restore.

Cutting closes every open connection (a query in flight sees the server vanish) and refuses new
ones until restored; the shared Postgres server itself is never touched.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

from psycopg import conninfo


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @classmethod
    def in_front_of(cls, url: str) -> CuttableProxy:
        params = conninfo.conninfo_to_dict(url)
        return cls(str(params.get("host", "127.0.0.1")), int(str(params.get("port", 5432))))

    def url_through(self, url: str) -> str:
        """`url` with its host and port replaced by the proxy's."""
        params = conninfo.conninfo_to_dict(url)
        params.update(host="127.0.0.1", port=str(self.port))
        return conninfo.make_conninfo(**params)  # type: ignore[arg-type]

    def __enter__(self) -> CuttableProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        self.cut()
        self._listener.close()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._cut:
                    client.close()
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
