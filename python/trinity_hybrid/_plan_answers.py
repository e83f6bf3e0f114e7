"""A cached answer and back: what the planner stores in the response cache for a ``Response``,
and the completion it reads out of a stored one. Plain values, no I/O."""

from __future__ import annotations

import dataclasses
from typing import Any

from ._results import Response
from .providers._types import Choice, Completion, ThinkingBlock, ToolCall, Usage

__all__ = ["cache_payload", "cached_completion"]


def cache_payload(response: Response) -> dict[str, Any]:
    return {
        "provider": response.provider,
        "model": response.model,
        "usage": list(dataclasses.astuple(response.usage)),
        "choices": [
            {"text": choice.text, "finish_reason": choice.finish_reason, "reasoning": choice.reasoning,
             "tool_calls": [[call.id, call.name, call.arguments] for call in choice.tool_calls],
             "logprobs": choice.logprobs, "refusal": choice.refusal,
             "thinking_blocks": [block.to_json() for block in choice.thinking_blocks]}
            for choice in response.choices
        ],
    }  # fmt: skip


def cached_completion(answer: dict[str, Any]) -> tuple[str, Completion]:
    """(provider, completion) of a stored answer."""
    choices = tuple(
        Choice(choice["text"], choice["finish_reason"], tuple(ToolCall(*call) for call in choice["tool_calls"]),
               choice["reasoning"], choice["logprobs"], choice["refusal"],
               tuple(ThinkingBlock(**block) for block in choice.get("thinking_blocks", ())))
        for choice in answer["choices"]
    )  # fmt: skip
    return answer["provider"], Completion(choices, answer["model"], Usage(*answer["usage"]))
