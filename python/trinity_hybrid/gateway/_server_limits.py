"""What the gateway allows a client and a provider before it gives up on them, read from the
environment and checked at once (a bad value names its variable, as ``_environment`` does).

| variable | default | what happens beyond it |
|---|---|---|
| ``TRINITY_MAX_HEADER_BYTES`` | 32 KiB | request line and headers larger: 431, connection closed |
| ``TRINITY_MAX_HEADERS`` | 100 | more header lines: 431, connection closed |
| ``TRINITY_HEADER_TIMEOUT_S`` | 10 | the request's head not complete this long after the connection opened or the request began: 408, closed |
| ``TRINITY_BODY_TIMEOUT_S`` | 60 | the body not complete this long after the head: 408, closed |
| ``TRINITY_MAX_CONNECTIONS`` | 1000 | uvicorn's ``limit_concurrency``: a request on a connection beyond it gets 503 |
| ``TRINITY_MAX_UPSTREAM_BYTES`` | 50 MB | a provider's whole answer larger fails that attempt (then fallback) |

The timeouts bound the whole head and the whole body, not the silence between bytes: a client
that trickles a byte a second never waits long enough for a silence timer to fire (slowloris).
uvicorn has neither (its ``timeout_keep_alive`` covers idle connections only, and any byte
resets it); ``_protocol.GatewayProtocol`` adds them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .._environment import UPSTREAM_BYTES_MAX_DEFAULT, read_upstream_bytes_max
from .._exceptions import ConfigurationError

__all__ = ["ServerLimits", "read_server_limits"]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    head_bytes_max: int = 32 * 1024
    headers_max: int = 100
    head_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    connections_max: int = 1000
    upstream_bytes_max: int = UPSTREAM_BYTES_MAX_DEFAULT  # the library's httpx client reads the same


def read_server_limits(source: Mapping[str, str]) -> ServerLimits:
    """The limits ``source`` (``os.environ``) sets; raises ``ConfigurationError`` naming the
    variable of a bad value."""
    default = ServerLimits()
    return ServerLimits(
        head_bytes_max=_whole(source, "TRINITY_MAX_HEADER_BYTES", default.head_bytes_max),
        headers_max=_whole(source, "TRINITY_MAX_HEADERS", default.headers_max),
        head_timeout_s=_seconds(source, "TRINITY_HEADER_TIMEOUT_S", default.head_timeout_s),
        body_timeout_s=_seconds(source, "TRINITY_BODY_TIMEOUT_S", default.body_timeout_s),
        connections_max=_whole(source, "TRINITY_MAX_CONNECTIONS", default.connections_max),
        upstream_bytes_max=read_upstream_bytes_max(source),
    )


def _whole(source: Mapping[str, str], name: str, default: int) -> int:
    text = source.get(name, "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ConfigurationError(f"{name}={text!r}: must be a positive whole number")
    return int(text)


def _seconds(source: Mapping[str, str], name: str, default: float) -> float:
    text = source.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{name}={text!r}: must be a positive number of seconds")
    return value
