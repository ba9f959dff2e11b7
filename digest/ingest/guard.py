"""The network under live fetches: every connection a ``Fetcher`` makes goes through
``Guard``, so that a fetch cannot be turned inward nor held open past its deadline.

A host name is resolved here, its addresses checked and one of them connected to, so the
address checked is the address used (a second lookup could answer differently). A
configured source host that resolved to a public address and later resolves to a
loopback, link-local or private one is refused; one configured on such an address (a
mirror on the LAN, a test server on 127.0.0.1) may use it. Every connect, read and write
waits at most until the current fetch's deadline, so a body trickled a byte at a time
ends with a timeout when the deadline comes, not one read timeout after another.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx


class Refused(Exception):
    """A connection the guard will not make; the message says where and why."""


def inward(address: str) -> bool:
    """Whether ``address`` is one a public source never has: loopback, link-local,
    private, reserved or unspecified (an IPv4-mapped IPv6 address as its IPv4 one)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global


class Guard(httpcore.NetworkBackend):
    """Connections to the configured hosts only, on checked addresses, within a deadline.

    ``deadline`` (a ``time.monotonic()`` value) is set by the fetcher before each fetch.
    """

    def __init__(self, hosts: Iterable[str]) -> None:
        self._inner = httpcore.SyncBackend()
        self._hosts = set(hosts)
        self._inward_ok: dict[str, bool] = {}  # host -> configured on an inward address
        self.deadline = math.inf

    def cap(self, timeout: float | None, late: type[Exception]) -> float:
        """``timeout`` shortened to what is left before the deadline; ``late`` once past."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise late("the fetch's deadline has passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = self.addresses(host, port)
        error: Exception = Refused(f"{host} has no address")
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address, port, self.cap(timeout, httpcore.ConnectTimeout), local_address,
                    socket_options)
            except httpcore.ConnectError as e:
                error = e
                continue
            return _Stream(stream, self)
        raise error

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` to connect to; Refused for a host not configured, or
        one configured on a public address that now resolves inward."""
        if host not in self._hosts:
            raise Refused(f"{host} is not a configured source host")
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as e:
            raise httpcore.ConnectError(f"cannot resolve {host} ({e})") from e
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        inner = [a for a in addresses if inward(a)]
        allowed = self._inward_ok.setdefault(host, bool(inner))
        if inner and not allowed:
            raise Refused(f"{host} now resolves to {inner[0]}, a loopback, link-local or "
                          "private address, though it was configured on a public one")
        return addresses


class _Stream(httpcore.NetworkStream):
    """A connection whose every wait ends by the guard's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, guard: Guard) -> None:
        self._stream = stream
        self._guard = guard

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._guard.cap(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._guard.cap(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self._stream.start_tls(
            ssl_context, server_hostname, self._guard.cap(timeout, httpcore.ConnectTimeout)),
            self._guard)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport, its connections made by ``guard``. (httpx has no public way
    to hand its connection pool a network backend; the pool it builds is replaced.)"""

    def __init__(self, guard: Guard) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(),
                                             network_backend=guard)
