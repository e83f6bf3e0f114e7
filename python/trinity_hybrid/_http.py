"""The HTTP clients: httpx's API over the transport measured fastest here.

Async calls go through aiohttp (`httpx-aiohttp`): under 32 concurrent requests on this machine
httpx's own transport ran several times slower in a plain pass-through (see bench/). Sync calls
use httpx's default transport. Both pool connections and never follow redirects (a provider
that redirects a POST is misconfigured, and following it could send the key elsewhere).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from httpx_sse import SSEError

from ._exceptions import TransientError
from ._local import LOCAL_BASE_URL, AsyncLocalTransport, LocalTransport
from ._sse import AnswerTooLarge

if TYPE_CHECKING:
    from ._local import LocalModel

# Requests to the local provider's address go to the in-process model, never to a network.
LOCAL_MOUNT = LOCAL_BASE_URL.rsplit("/", 1)[0]

POOL_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30.0)
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


def transport_error(provider: str, error: httpx.HTTPError | SSEError) -> TransientError:
    """The one place where the HTTP layer's errors become ours."""
    if isinstance(error, AnswerTooLarge):  # its message names the bound, never the body
        return TransientError(str(error), provider=provider, cause=error)
    if isinstance(error, httpx.TimeoutException):
        return TransientError(f"timed out ({type(error).__name__})", provider=provider, cause=error)
    return TransientError(f"connection failed ({type(error).__name__})", provider=provider, cause=error)


def sync_client(local_model: LocalModel) -> httpx.Client:
    return httpx.Client(
        limits=POOL_LIMITS,
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=False,
        trust_env=False,
        mounts={LOCAL_MOUNT: LocalTransport(local_model)},
    )


def async_client(local_model: LocalModel) -> httpx.AsyncClient:
    from httpx_aiohttp import AiohttpTransport

    return httpx.AsyncClient(
        transport=AiohttpTransport(limits=POOL_LIMITS, trust_env=False),
        mounts={LOCAL_MOUNT: AsyncLocalTransport(local_model)},
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=False,
        trust_env=False,
    )
