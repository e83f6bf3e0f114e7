"""OpenAI's response shapes: ``chat.completion``, ``chat.completion.chunk`` and the model list.

Field for field what the ``openai`` SDK's types declare, so any OpenAI client parses them. The
``model`` field names the provider and model that answered (``groq/llama-3.3-70b-versatile``),
the same ids ``GET /v1/models`` lists. A plain text answer (one choice, no tool calls, reasoning
or logprobs: nearly every request) is written from a template; anything else as a whole document
(``completion_of`` decides), with ``tool_calls``, ``reasoning_content`` and every choice.
"""

from __future__ import annotations

import json
import random
import time
from json.encoder import encode_basestring as _string  # a JSON string literal, non-ASCII kept as is
from typing import Any

from .._results import Response
from ..providers._types import Choice, ToolCall, Usage

__all__ = ["completion", "completion_id", "completion_of", "model_list", "stream_chunk", "usage_json"]

DONE_EVENT = b"data: [DONE]\n\n"


def completion_id() -> str:
    # An identifier, not a secret: the random module's generator (seeded from the OS in every
    # worker process) spares the system call secrets.token_hex makes for each answer.
    return f"chatcmpl-{random.getrandbits(96):024x}"


def usage_json(usage: Usage) -> dict[str, Any]:
    """OpenAI's usage object; the cached and reasoning token counts where the provider told them."""
    document: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }
    if usage.cached_tokens is not None:
        document["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    if usage.reasoning_tokens is not None:
        document["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return document


def completion_of(model: str, response: Response) -> bytes:
    """The ``chat.completion`` document of an answer: the template for plain text, the whole
    document when there is more to say (tool calls, reasoning, several choices, logprobs)."""
    choices = response.choices
    if len(choices) > 1 or response.tool_calls or response.reasoning is not None or response.thinking_blocks:
        return completion_document(completion_id(), model, response)
    if choices and (choices[0].logprobs is not None or choices[0].refusal is not None):
        return completion_document(completion_id(), model, response)
    return completion(completion_id(), model, response.text, response.finish_reason, response.usage)


def completion(identifier: str, model: str, text: str, finish_reason: str | None, usage: Usage) -> bytes:
    """A plain text ``chat.completion`` document. Written as one template with the strings escaped
    by the json module's own escaper: measured here, ``json.dumps`` of the same dict cost ten times
    as much, the largest single item of the gateway's own time per request."""
    details = ""
    if usage.cached_tokens is not None:
        details += f',"prompt_tokens_details":{{"cached_tokens":{usage.cached_tokens:d}}}'
    if usage.reasoning_tokens is not None:
        details += f',"completion_tokens_details":{{"reasoning_tokens":{usage.reasoning_tokens:d}}}'
    return (
        f'{{"id":{_string(identifier)},"object":"chat.completion","created":{int(time.time())},'
        f'"model":{_string(model)},"system_fingerprint":null,"choices":[{{"index":0,'
        f'"message":{{"role":"assistant","content":{_string(text)},"refusal":null}},"logprobs":null,'
        f'"finish_reason":{_string(finish_reason or "stop")}}}],'
        f'"usage":{{"prompt_tokens":{usage.prompt_tokens:d},"completion_tokens":{usage.completion_tokens:d},'
        f'"total_tokens":{usage.prompt_tokens + usage.completion_tokens:d}{details}}}}}'
    ).encode()


def completion_document(identifier: str, model: str, response: Response) -> bytes:
    """The whole ``chat.completion`` document: every choice, with its tool calls and reasoning."""
    choices = response.choices or (
        Choice(response.text, response.finish_reason, response.tool_calls, response.reasoning),
    )
    document = {
        "id": identifier,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [_choice(index, choice) for index, choice in enumerate(choices)],
        "usage": usage_json(response.usage),
    }
    return json.dumps(document, ensure_ascii=False).encode()


def _choice(index: int, choice: Choice) -> dict[str, Any]:
    # content is null when the model only called tools, as OpenAI sends it.
    content = None if choice.tool_calls and not choice.text else choice.text
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": choice.refusal}
    if choice.tool_calls:
        message["tool_calls"] = [tool_call_json(call) for call in choice.tool_calls]
    if choice.reasoning is not None:
        message["reasoning_content"] = choice.reasoning
    if choice.thinking_blocks:
        # LiteLLM's field: a client sends the blocks back with the assistant message.
        message["thinking_blocks"] = [block.to_json() for block in choice.thinking_blocks]
    finish_reason = choice.finish_reason or ("tool_calls" if choice.tool_calls else "stop")
    return {
        "index": index,
        "message": message,
        "logprobs": None if choice.logprobs is None else dict(choice.logprobs),
        "finish_reason": finish_reason,
    }


def tool_call_json(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def stream_chunk(
    identifier: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None,
    finish_reason: str | None = None,
    usage: Usage | None = None,
    index: int = 0,
    logprobs: Any = None,
) -> bytes:
    """One SSE event. ``delta=None`` is the usage chunk, whose ``choices`` is empty."""
    choices = (
        []
        if delta is None
        else [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}]
    )
    chunk: dict[str, Any] = {
        "id": identifier,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
    }
    if delta is None and usage is not None:
        chunk["usage"] = usage_json(usage)
    return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"


def error_event(body: bytes) -> bytes:
    """An error after the stream began: OpenAI sends its error object as one more event."""
    return b"data: " + body + b"\n\n"


def model_list(models: dict[str, str | None]) -> bytes:
    return json.dumps(
        {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": provider or "trinity-hybrid"}
                for name, provider in models.items()
                # A bare provider name is accepted as a model but listed once, with its model.
                if provider is None or "/" in name
            ],
        }
    ).encode()
