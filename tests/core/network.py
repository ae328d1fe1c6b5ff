"""Relays by host name for multi-relay client tests: each relay is the real relay app
in-process, until a test points its host at a real loopback port instead (a closed one
for a dead relay, a listening socket that never answers for a frozen one)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from relay.http import RelayApp


class Network(httpx.AsyncBaseTransport):
    """Routes each request by its URL's host."""

    def __init__(self) -> None:
        self._apps: dict[str, httpx.ASGITransport] = {}
        self._ports: dict[str, int] = {}
        self.refused: dict[str, int] = {}

    def serve(self, host: str, app: RelayApp) -> None:
        self._apps[host] = httpx.ASGITransport(app=app)

    def point(self, host: str, port: int) -> None:
        """From now on, requests for ``host`` go to 127.0.0.1:``port`` over TCP."""
        self._ports[host] = port

    def restore(self, host: str) -> None:
        self._ports.pop(host, None)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = self._ports.get(host)
        if port is None:
            return await self._apps[host].handle_async_request(request)
        request.url = request.url.copy_with(host="127.0.0.1", port=port)
        # A fresh transport per request: the engines under test outlive event loops.
        async with httpx.AsyncHTTPTransport() as real:
            try:
                response = await real.handle_async_request(request)
            except httpx.ConnectError:
                self.refused[host] = self.refused.get(host, 0) + 1
                raise
            content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def frozen_socket(port: int = 0) -> Iterator[int]:
    """A listening socket that completes TCP handshakes (the kernel's backlog) and never
    reads or answers: a frozen relay. Yields its port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()
