"""Where ``trinity-hybrid serve`` listens: checked before uvicorn starts, and said in one line.

uvicorn reports a port it cannot bind only after the app has started, in its own log format and
with its own exit code; checking first turns a busy port into one line that says what to do.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

__all__ = ["ListenError", "address_url", "reserve_port"]


class ListenError(Exception):
    """The gateway cannot listen on the address it was given; the message says why, in one line."""


def address_url(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 address in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _reason(error: OSError, host: str, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return "the port is in use (another server listens there; choose another with --port)"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine (see --host)"
    if error.errno == errno.EACCES and port < 1024:
        return f"permission denied (port {port} is below 1024, which needs privileges; choose another with --port)"
    return error.strerror or type(error).__name__


def _addresses(host: str, port: int) -> list[tuple[socket.AddressFamily, tuple[Any, ...]]]:
    """Every (family, address) ``host`` resolves to for listening, as uvicorn binds them all."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ListenError(
            f"cannot listen on {address_url(host, port)}: {host} does not resolve ({error.strerror})"
        ) from None
    return list(dict.fromkeys((family, tuple(address)) for family, _, _, _, address in found))


def reserve_port(host: str, port: int) -> int:
    """Binds ``host``:``port`` the way uvicorn will (``SO_REUSEADDR``, every address the name
    resolves to), then lets it go, so that uvicorn binds it next. Returns the port: the one the
    kernel chose when ``port`` is 0. Raises ``ListenError`` when it cannot be bound."""
    chosen = port
    sockets: list[socket.socket] = []
    try:
        for family, address in _addresses(host, port):
            listener = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # As asyncio's create_server does, so that :: and 0.0.0.0 do not collide.
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                listener.bind((address[0], chosen, *address[2:]))
            except OSError as error:
                raise ListenError(
                    f"cannot listen on {address_url(host, chosen)}: {_reason(error, host, chosen)}"
                ) from None
            chosen = listener.getsockname()[1]
    finally:
        for listener in sockets:
            listener.close()
    return chosen
