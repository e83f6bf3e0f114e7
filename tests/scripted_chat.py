"""A ChatService stand-in for gateway tests: the request is routed for real (``start``), and the
answer is a scripted ``Response`` or list of ``StreamChunk`` values, such as the wire formats
give for tool calls, reasoning, several choices or detailed usage. Every request the gateway
started is kept (``requests``), to see what a body became.

Put it in place on a running gateway with ``scripted(gateway)``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from gateway_harness import RunningGateway
from trinity_hybrid._request import ChatRequest
from trinity_hybrid._results import Attempt, Response, StreamChunk
from trinity_hybrid.gateway._chat import ChatService
from trinity_hybrid.providers._types import Choice, ToolCall, ToolCallDelta, Usage

__all__ = ["Choice", "ScriptedChat", "ToolCall", "ToolCallDelta", "Usage", "scripted"]


class ScriptedChat(ChatService):
    def __init__(self, real: ChatService) -> None:
        super().__init__(real.node)
        self.real = real
        self.requests: list[ChatRequest] = []
        self.answer: dict[str, Any] = {}
        self.chunks: list[dict[str, Any]] = []

    def start(self, params: Any) -> Any:
        self.requests.append(params.request)
        return self.real.start(params)

    async def complete(self, plan: Any) -> Response:
        provider = plan.route.providers[0]
        answer = dict(self.answer)
        usage = answer.pop("usage", Usage(11, 7))
        choices = answer.pop("choices", None)
        first = choices[0] if choices else Choice(answer.get("text", ""), answer.get("finish_reason"),
                                                  answer.get("tool_calls", ()), answer.get("reasoning"))  # fmt: skip
        return Response(
            text=first.text,
            provider=provider,
            model="scripted-model",
            usage=usage,
            latency_s=0.001,
            cost_usd=0.0,
            attempts=(Attempt(provider, "success", latency_s=0.001),),
            route=plan.route,
            finish_reason=first.finish_reason,
            tool_calls=first.tool_calls,
            reasoning=first.reasoning,
            choices=tuple(choices) if choices else (first,),
        )

    def stream(self, plan: Any) -> AsyncIterator[StreamChunk | Response]:
        provider = plan.route.providers[0]
        pieces = [StreamChunk(provider=provider, **{"text": "", **chunk}) for chunk in self.chunks]

        async def chunks() -> AsyncIterator[StreamChunk | Response]:
            for piece in pieces:
                yield piece

        return chunks()


@contextmanager
def scripted(gateway: RunningGateway) -> Iterator[ScriptedChat]:
    """The gateway answers from a script until the block ends."""
    real = gateway.app.chat
    stand_in = ScriptedChat(real)
    gateway.app.chat = stand_in
    try:
        yield stand_in
    finally:
        gateway.app.chat = real


def last_chunk(provider_usage: Usage, finish_reason: str) -> dict[str, Any]:
    """The ``done`` chunk a stream ends with."""
    return {"usage": provider_usage, "finish_reason": finish_reason, "done": True}
