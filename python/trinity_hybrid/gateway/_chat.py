"""What the gateway asks of the node: one chat call, whole or streamed.

The node's own sans-I/O ``_Call`` makes every decision (route, admission, fallback, accounting),
so a request through the gateway behaves exactly like ``node.ainfer``; only the I/O differs.
Whole answers go to the providers over a plain aiohttp session: measured on this machine, the
httpx layer the library puts over aiohttp halved the gateway's requests per second at 32
connections (see the README's Gateway section). Streams, whose cost is the model's own pace,
and the in-process local model keep to the node's httpx client and its SSE reader.

This is the seam for what wraps a call later (a response cache, shared state): wrap or subclass
``ChatService`` and hand it to ``create_app``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp

from .._exceptions import TransientError
from .._http import LOCAL_MOUNT, POOL_LIMITS
from .._inference import Response, StreamChunk, Timeouts, httpx_post, infer_async, stream_async

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
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}
        self._timeout_last: tuple[Timeouts | None, aiohttp.ClientTimeout | None] = (None, None)

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
        session = self.session()
        try:
            async with session.post(
                request.url,
                data=_JSON.encode(request.json).encode(),
                headers=request.headers,
                timeout=self._timeout(timeouts),
                allow_redirects=False,
            ) as answer:
                return answer.status, answer.headers, await answer.read()
        except asyncio.TimeoutError:
            raise TransientError("timed out", provider=provider) from None
        except aiohttp.ClientError as error:
            raise TransientError(f"connection failed ({type(error).__name__})", provider=provider) from None

    def _timeout(self, timeouts: Timeouts) -> aiohttp.ClientTimeout:
        # Nearly every call carries the same Timeouts object: an identity test spares hashing it.
        last_timeouts, last_timeout = self._timeout_last
        if timeouts is last_timeouts and last_timeout is not None:
            return last_timeout
        timeout = self._timeouts.get(timeouts)
        if timeout is None:
            timeout = self._timeouts[timeouts] = aiohttp.ClientTimeout(
                total=None, connect=timeouts.connect_s, sock_read=timeouts.read_s
            )
        self._timeout_last = (timeouts, timeout)
        return timeout

    def session(self) -> aiohttp.ClientSession:
        """The pooled session, created in the running event loop on first use."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=POOL_LIMITS.max_connections or 0, keepalive_timeout=POOL_LIMITS.keepalive_expiry
            )
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.node.aclose()
