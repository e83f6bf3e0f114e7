"""What the gateway asks of the node: one chat call, whole or streamed.

The node's own sans-I/O ``_Call`` makes every decision (route, admission, fallback, accounting),
so a request through the gateway behaves exactly like ``node.ainfer``; only the I/O differs.
Whole answers go to the providers through the gateway's own lean HTTP/1.1 client
(``_upstream``): measured on this machine, aiohttp's client was the largest item of the gateway's
CPU per request, and httpx over aiohttp cost twice as much again (see the README's Gateway
section). Streams, whose cost is the model's own pace, and the in-process local model keep to
the node's httpx client and its SSE reader.

This is the seam for what wraps a call later (a response cache, shared state): wrap or subclass
``ChatService`` and hand it to ``create_app``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .._exceptions import TransientError
from .._http import LOCAL_MOUNT, POOL_LIMITS
from .._inference import Response, StreamChunk, Timeouts, httpx_post, infer_async, stream_async
from ._upstream import UpstreamError, UpstreamPool, UpstreamTimeout

if TYPE_CHECKING:
    from .._inference import _Call
    from .._node import TrinityHybridNode
    from ..providers import HttpRequest
    from ._validation import ChatParams

__all__ = ["ChatService"]

# One encoder for every request body: ``json.dumps`` with options builds a new one per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class ChatService:
    """Starts calls for validated requests and runs them."""

    def __init__(self, node: TrinityHybridNode) -> None:
        self.node = node
        self._pool: UpstreamPool | None = None

    def start(self, params: ChatParams) -> _Call:
        """Routes the request; raises ``InvalidInputError`` or ``NoProviderAvailable`` before
        any provider is called."""
        options: dict[str, Any] = {
            "quality": params.quality,
            "force_provider": params.force_provider,
            "strategy": params.strategy,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "stream": params.stream,
            "timeout": None,
            "cache": params.cache,
        }
        call: _Call = self.node._start_call(params.messages, options)
        return call

    async def complete(self, call: _Call) -> Response:
        return await infer_async(self._post, call)

    def stream(self, call: _Call) -> AsyncIterator[StreamChunk]:
        return stream_async(self.node._async_client(), call)

    async def _post(self, provider: str, request: HttpRequest, timeouts: Timeouts) -> tuple[int, Any, bytes]:
        if request.url.startswith(LOCAL_MOUNT):
            # The in-process model is mounted on the node's httpx client only.
            return await httpx_post(self.node._async_client())(provider, request, timeouts)
        body = _JSON.encode(request.json).encode()
        try:
            return await self.pool().post(
                request.url, request.headers, body, connect_s=timeouts.connect_s, read_s=timeouts.read_s
            )
        except UpstreamTimeout as error:
            raise TransientError(f"timed out ({error})", provider=provider) from None
        except UpstreamError as error:
            raise TransientError(f"connection failed ({error})", provider=provider) from None

    def pool(self) -> UpstreamPool:
        """The provider connections, pooled with the library's limits."""
        if self._pool is None:
            self._pool = UpstreamPool(
                connections_max=POOL_LIMITS.max_connections or 200,
                idle_max=POOL_LIMITS.max_keepalive_connections or 50,
                idle_s=POOL_LIMITS.keepalive_expiry or 30.0,
            )
        return self._pool

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        await self.node.aclose()
