"""The HTTP clients: httpx's API over the transport measured fastest here.

Async calls go through aiohttp (`httpx-aiohttp`): under 32 concurrent requests on this machine
httpx's own transport ran several times slower in a plain pass-through (see bench/). Sync calls
use httpx's default transport. Both pool connections and never follow redirects (a provider
that redirects a POST is misconfigured, and following it could send the key elsewhere).
"""

from __future__ import annotations

import httpx

POOL_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30.0)
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


def sync_client() -> httpx.Client:
    return httpx.Client(limits=POOL_LIMITS, timeout=DEFAULT_TIMEOUT, follow_redirects=False, trust_env=False)


def async_client() -> httpx.AsyncClient:
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:  # pragma: no cover - the dependency is declared; this guards odd installs
        return httpx.AsyncClient(limits=POOL_LIMITS, timeout=DEFAULT_TIMEOUT, follow_redirects=False, trust_env=False)
    return httpx.AsyncClient(
        transport=AiohttpTransport(limits=POOL_LIMITS, trust_env=False),
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=False,
        trust_env=False,
    )
