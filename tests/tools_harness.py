"""What the library-level tool tests per wire format share: a node pointed at loopback servers,
a weather tool, a responder that calls it and then answers from its result, and the tool
calls a stream's pieces add up to."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from loopback import LoopbackServer, Request, ToolCallReply
from trinity_hybrid import TrinityHybridNode
from trinity_hybrid.providers._types import ToolCall

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": ["string", "null"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}},
}
QUESTION = [{"role": "user", "content": "What is the weather in Paris and Rome?"}]


def node_for(provider: str, server: LoopbackServer, **more: str) -> TrinityHybridNode:
    """A node with one provider pointed at ``server`` (``more``: other variables)."""
    variable = provider.upper()
    return TrinityHybridNode.from_env(
        {f"{variable}_API_KEY": server.api_key, f"{variable}_BASE_URL": server.base_url, **more}
    )


def calling(
    calls: tuple[tuple[str, str, dict[str, Any]], ...], preface: str, answered: Callable[[Request], bool]
) -> Callable[[Request], str | ToolCallReply]:
    """A responder that makes ``calls`` until ``answered(request)``, then says so in text."""

    def respond(request: Request) -> str | ToolCallReply:
        if answered(request):
            return "It is sunny in both."
        return ToolCallReply(calls=calls, preface=preface)

    return respond


def anthropic_answered(request: Request) -> bool:
    """Whether an Anthropic request carries a tool's result (a ``tool_result`` block)."""
    return any(
        isinstance(message["content"], list) and any(block.get("type") == "tool_result" for block in message["content"])
        for message in request.json["messages"]
    )


def streamed_calls(chunks: Iterable[Any]) -> tuple[list[ToolCall], str, str, str | None]:
    """The tool calls a stream's pieces add up to (OpenAI's rule: the first piece of index i has
    its id and name, later ones argument fragments), its text, its reasoning, its finish."""
    calls: dict[int, list[str]] = {}
    text, reasoning, finish = "", "", None
    for chunk in chunks:
        text += chunk.text
        reasoning += chunk.reasoning
        finish = chunk.finish_reason or finish
        for piece in chunk.tool_calls:
            if piece.index not in calls:
                assert piece.id and piece.name, "the first piece of a call names it"
                calls[piece.index] = [piece.id, piece.name, ""]
            else:
                assert piece.id is None and piece.name is None, "only the first piece names the call"
            calls[piece.index][2] += piece.arguments
    assert sorted(calls) == list(range(len(calls))), "calls are numbered 0, 1, ..."
    return [ToolCall(*calls[index]) for index in sorted(calls)], text, reasoning, finish


def arguments(call: ToolCall) -> Any:
    return json.loads(call.arguments)


def assistant_of(calls: list[Any], text: str | None = None) -> dict[str, Any]:
    """The assistant message that made ``calls``, as a client sends it back on the next turn."""
    return {
        "role": "assistant",
        "content": text,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
        ],
    }
