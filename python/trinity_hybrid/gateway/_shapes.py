"""OpenAI's response shapes: ``chat.completion``, ``chat.completion.chunk`` and the model list.

Field for field what the ``openai`` SDK's types declare, so any OpenAI client parses them. The
``model`` field names the provider and model that answered (``groq/llama-3.3-70b-versatile``),
the same ids ``GET /v1/models`` lists.
"""

from __future__ import annotations

import json
import random
import time
from json.encoder import encode_basestring as _string  # a JSON string literal, non-ASCII kept as is
from typing import Any

from ..providers import Usage

__all__ = ["completion", "completion_id", "model_list", "stream_chunk", "usage_json"]

DONE_EVENT = b"data: [DONE]\n\n"


def completion_id() -> str:
    # An identifier, not a secret: the random module's generator (seeded from the OS in every
    # worker process) spares the system call secrets.token_hex makes for each answer.
    return f"chatcmpl-{random.getrandbits(96):024x}"


def usage_json(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def completion(identifier: str, model: str, text: str, finish_reason: str | None, usage: Usage) -> bytes:
    """A ``chat.completion`` document. Written as one template with the strings escaped by the
    json module's own escaper: measured here, ``json.dumps`` of the same dict cost ten times as
    much, the largest single item of the gateway's own time per request."""
    return (
        f'{{"id":{_string(identifier)},"object":"chat.completion","created":{int(time.time())},'
        f'"model":{_string(model)},"system_fingerprint":null,"choices":[{{"index":0,'
        f'"message":{{"role":"assistant","content":{_string(text)},"refusal":null}},"logprobs":null,'
        f'"finish_reason":{_string(finish_reason or "stop")}}}],'
        f'"usage":{{"prompt_tokens":{usage.prompt_tokens:d},"completion_tokens":{usage.completion_tokens:d},'
        f'"total_tokens":{usage.prompt_tokens + usage.completion_tokens:d}}}}}'
    ).encode()


def stream_chunk(
    identifier: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None,
    finish_reason: str | None = None,
    usage: Usage | None = None,
) -> bytes:
    """One SSE event. ``delta=None`` is the usage chunk, whose ``choices`` is empty."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
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
