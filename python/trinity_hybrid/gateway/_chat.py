"""What the gateway asks of the node: one chat call, whole or streamed.

The node's planner (``_planner.Plan``) makes every decision (route, admission, fallback,
hedging, cache, accounting), so a request through the gateway behaves exactly like
``node.ainfer``; only the I/O differs. Whole answers go to the providers through the gateway's
own lean HTTP/1.1 client (``_upstream``): measured on this machine, aiohttp's client was the
largest item of the gateway's CPU per request, and httpx over aiohttp cost twice as much again
(see bench/results). Streams, whose cost is the model's own pace, and the in-process local model
keep to the node's httpx client and its SSE reader.

This is the seam for what wraps a call later: wrap or subclass ``ChatService`` and hand it to
``create_app``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .._drive_async import (
    AsyncAttempts,
    AsyncWhole,
    complete_async,
    drive_async,
    httpx_async_whole,
)
from .._exceptions import TransientError
from .._http import LOCAL_MOUNT, POOL_LIMITS
from .._plan_steps import AttemptRun, Event, Replied, TransportFailed
from .._planner import Plan
from .._results import TIMEOUTS_DEFAULT, Response, StreamChunk, Timeouts
from ._upstream import UpstreamError, UpstreamPool, UpstreamTimeout

if TYPE_CHECKING:
    from .._node import TrinityHybridNode
    from ._validation import ChatParams

__all__ = ["ChatService"]

# One encoder for every request body: ``json.dumps`` with options builds a new one per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class ChatService:
    """Plans calls for validated requests and runs them."""

    def __init__(self, node: TrinityHybridNode) -> None:
        self.node = node
        self._pool: UpstreamPool | None = None
        self._whole_last: tuple[Timeouts, AsyncWhole] | None = None

    def start(self, params: ChatParams) -> Plan:
        """Routes the request; raises ``InvalidInputError`` or ``NoProviderAvailable`` before
        any provider is called."""
        targets = params.targets
        if targets is not None and params.rules_fallback:
            # provider/model (or an alias with fallback = "rules"): the rules' chain for this
            # prompt follows, without the providers already named.
            named = {provider for provider, _ in targets}
            chain = self.node.route(params.request.text, params.quality, None, params.strategy).providers
            targets = (*targets, *((provider, None) for provider in chain if provider not in named))
        timeout = None
        if params.timeout_s is not None:
            timeout = dataclasses.replace(self.node.timeouts or TIMEOUTS_DEFAULT, total_s=params.timeout_s)
        return self.node.plan(
            params.request, quality=params.quality, force_provider=params.force_provider, strategy=params.strategy,
            cache=params.cache, targets=targets, timeout=timeout, retries=params.retries,
        )  # fmt: skip

    async def complete(self, plan: Plan) -> Response:
        timeouts = plan.options.timeouts
        whole = self._whole_last
        if whole is None or whole[0] is not timeouts:
            # One closure per timeouts in use (nearly always the node's, one object), not one per
            # request; a request's own timeout makes its own.
            whole = self._whole_last = (timeouts, self._whole(timeouts))
        # Whole answers only: the node's httpx client is made for a stream alone, if ever.
        attempts = AsyncAttempts(self._no_streams, time.monotonic, whole[1])
        return await complete_async(plan, attempts, self.node.cache)

    def stream(self, plan: Plan) -> AsyncIterator[StreamChunk]:
        # node.ainfer's readers. A stream's plan yields chunks only, its last the closing one (a
        # stream is never answered from the cache); drive_async is typed for every plan.
        return drive_async(plan, self.node._async_attempts(plan), self.node.cache)  # type: ignore[return-value]

    @staticmethod
    def _no_streams(attempt: AttemptRun) -> AsyncIterator[Event]:
        raise AssertionError("a whole answer's plan starts no stream")

    def _whole(self, timeouts: Timeouts) -> AsyncWhole:
        """Whole answers over the upstream pool; the local model over the node's httpx client."""
        local: AsyncWhole | None = None

        async def whole(attempt: AttemptRun) -> Event:
            nonlocal local
            request = attempt.http
            if request.url.startswith(LOCAL_MOUNT):
                # The in-process model is mounted on the node's httpx client only.
                local = local or httpx_async_whole(self.node._async_client(), timeouts, self.node.upstream_bytes_max)
                return await local(attempt)
            body = _JSON.encode(request.json).encode()
            try:
                status, headers, answer = await self.pool().post(
                    request.url, request.headers, body, connect_s=timeouts.connect_s, read_s=timeouts.read_s
                )
            except UpstreamTimeout as error:
                return TransportFailed(attempt, TransientError(f"timed out ({error})", provider=attempt.provider))
            except UpstreamError as error:
                return TransportFailed(
                    attempt, TransientError(f"connection failed ({error})", provider=attempt.provider)
                )
            return Replied(attempt, status, headers, answer)

        return whole

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
