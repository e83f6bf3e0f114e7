"""What the gateway asks of the node: one chat call, whole or streamed.

The node's own sans-I/O ``_Call`` makes every decision (route, admission, fallback, accounting)
and its async client does the I/O, so a request through the gateway behaves exactly like
``node.ainfer``. The gateway holds the ``_Call`` itself only to see the attempts made before a
stream's first chunk, which its response headers report.

This is the seam for what wraps a call later (a response cache, shared state): replace or wrap
``ChatService`` and hand it to ``create_app``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator

from .._inference import Response, StreamChunk, infer_async, stream_async

if TYPE_CHECKING:
    from .._inference import _Call
    from .._node import TrinityHybridNode
    from ._validation import ChatParams

__all__ = ["ChatService"]


class ChatService:
    """Starts calls for validated requests and runs them through the node's async client."""

    def __init__(self, node: TrinityHybridNode) -> None:
        self.node = node

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
        }
        return self.node._start_call(params.messages, options)

    async def complete(self, call: _Call) -> Response:
        return await infer_async(self.node._async_client(), call)

    def stream(self, call: _Call) -> AsyncIterator[StreamChunk]:
        return stream_async(self.node._async_client(), call)
