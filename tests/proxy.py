"""A TCP proxy between an app and its database, that a test tells to cut every connection or refuse new ones.

It simulates a database outage without touching the shared servers: the app
is given the proxy's port, and only the app's connections are cut. It runs an
event loop in a thread of its own; its methods are called from the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Any


class Proxy:
    """Forwards 127.0.0.1:``port`` to ``target``; ``cut()``, ``refuse()`` and ``accept()`` change that."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:  # a free port, the same one for every start
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="proxy", daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.transports: set[asyncio.StreamWriter] = set()
        self.accepted = 0
        self.accept()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self.transports.update((client_writer, server_writer))
        try:
            await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))
        finally:
            self.transports.discard(client_writer)
            self.transports.discard(server_writer)

    async def _start(self) -> None:
        if self.server is None:
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.close()  # the listening socket only (wait_closed would wait for the connections)
            self.server = None

    async def _cut(self) -> int:
        cut = len(self.transports)
        for writer in list(self.transports):
            writer.transport.abort()  # a reset, as when the server's process dies
        self.transports.clear()
        return cut

    def accept(self) -> None:
        """Accept new connections (again)."""
        self._call(self._start())

    def refuse(self) -> None:
        """Refuse new connections: nothing listens on the port any more (connection refused)."""
        self._call(self._stop())

    def cut(self) -> int:
        """Reset every open connection, both sides; the number of sockets cut."""
        result: int = self._call(self._cut())
        return result

    def close(self) -> None:
        self.refuse()
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()
