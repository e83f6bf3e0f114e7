"""OpenAI Chat Completions on the wire: `POST /v1/chat/completions`, `GET /v1/models`.

Shapes follow the `openai` SDK's `ChatCompletion` / `ChatCompletionChunk` types and the API's
error objects (`{"error": {message, type, param, code}}`).
"""

from __future__ import annotations

import json
import time
from typing import Any

from ._server import (
    Endpoint,
    ErrorReply,
    LoopbackServer,
    MessagesWire,
    Reply,
    Request,
    Responder,
    Route,
    StreamPlan,
    echo,
    sse,
)

_SYSTEM_FINGERPRINT = "fp_loopback"

# (type, code, message) of the errors the API returns for these statuses.
_STATUS_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
    ),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def _error(status: int, message: str, error_type: str, code: str | None, param: str | None = None) -> ErrorReply:
    return ErrorReply(status, {"error": {"message": message, "type": error_type, "param": param, "code": code}})


class OpenAIWire(MessagesWire):
    name = "openai"
    base_path = "/v1"

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/v1/chat/completions", Endpoint.GENERATE),
            Route("GET", "/v1/models", Endpoint.LIST_MODELS),
        ]

    def check(self, request: Request, endpoint: Endpoint, api_key: str) -> ErrorReply | None:
        if not api_key:
            return None  # keyless, like a llama.cpp server or Ollama
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[len("Bearer ") :].strip():
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
                None,
            )
        key = authorization[len("Bearer ") :].strip()
        if key != api_key:
            return _error(
                401,
                f"Incorrect API key provided: {key[:3]}***{key[-4:]}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
        if endpoint is Endpoint.LIST_MODELS:
            return None
        body = request.json
        if not isinstance(body, dict):
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
        if not isinstance(body.get("model"), str):
            return _error(400, "you must provide a model parameter", "invalid_request_error", None)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "[] is too short - 'messages'", "invalid_request_error", "empty_array", param="messages")
        return None

    def max_output_tokens(self, body: Any) -> int | None:
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        return limit if isinstance(limit, int) else None

    def render(self, request: Request, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None, "annotations": []}
        if reply.tool_calls:
            message["content"] = reply.text or None  # null when the model only calls tools
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
                for call_id, name, arguments in reply.tool_calls
            ]
        return {
            "id": f"chatcmpl-{reply.id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": _finish_reason(reply),
                }
            ],
            "usage": _usage(reply),
            "service_tier": "default",
            "system_fingerprint": _SYSTEM_FINGERPRINT,
        }

    def render_stream(self, request: Request, reply: Reply) -> StreamPlan:
        options = request.json.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        created = int(time.time())

        def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
            data: dict[str, Any] = {
                "id": f"chatcmpl-{reply.id}",
                "object": "chat.completion.chunk",
                "created": created,
                "model": reply.model,
                "service_tier": "default",
                "system_fingerprint": _SYSTEM_FINGERPRINT,
                "choices": choices,
            }
            if include_usage:
                data["usage"] = usage  # null on every chunk but the last, as the API sends it
            return sse(data)

        def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

        tail = [chunk([choice({}, _finish_reason(reply))])]
        if include_usage:
            tail.append(chunk([], _usage(reply)))
        tail.append(sse("[DONE]"))
        opening_text = None if reply.tool_calls and not reply.text else ""
        deltas = [chunk([choice({"content": piece})]) for piece in reply.pieces]
        for index, (call_id, name, arguments) in enumerate(reply.tool_calls):
            # As the API streams a call: its id and name with empty arguments, then fragments.
            opening = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
            deltas.append(chunk([choice({"tool_calls": [opening]})]))
            deltas.extend(
                chunk([choice({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})])
                for fragment in fragments(json.dumps(arguments))
            )
        return StreamPlan(
            # The API opens with content null when the model goes straight to its calls.
            head=[chunk([choice({"role": "assistant", "content": opening_text, "refusal": None})])],
            deltas=deltas,
            tail=tail,
        )

    def error_for_status(self, status: int, retry_after_s: float | None = None) -> ErrorReply:
        error_type, code, message = _STATUS_ERRORS.get(status, ("server_error", None, f"HTTP {status}."))
        return _error(status, message, error_type, code)

    def error_quota(self) -> ErrorReply:
        return _error(
            429,
            "You exceeded your current quota, please check your plan and billing details. For more information "
            "on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
            "insufficient_quota",
            "insufficient_quota",
        )

    def error_context_length(self, prompt_tokens: int, limit_tokens: int) -> ErrorReply:
        return _error(
            400,
            f"This model's maximum context length is {limit_tokens} tokens. However, your messages resulted in "
            f"{prompt_tokens} tokens. Please reduce the length of the messages.",
            "invalid_request_error",
            "context_length_exceeded",
            param="messages",
        )

    def stream_error_event(self) -> bytes:
        # What the API sends when a stream fails after it started: a data line holding an error.
        return sse(
            {
                "error": {
                    "message": "The server had an error while processing your request. Sorry about that!",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
        )

    def list_models(self, model_ids: tuple[str, ...]) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": model_id, "object": "model", "created": 0, "owned_by": "loopback"} for model_id in model_ids
            ],
        }

    def response_headers(self, reply_id: str) -> dict[str, str]:
        return {"x-request-id": f"req_{reply_id}"}


def _finish_reason(reply: Reply) -> str:
    if reply.tool_calls:
        return "tool_calls"
    return "length" if reply.truncated else "stop"


def fragments(text: str, size: int = 7) -> list[str]:
    """``text`` in pieces of ``size`` characters, as APIs stream a tool call's arguments."""
    return [text[start : start + size] for start in range(0, len(text), size)]


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class OpenAIServer(LoopbackServer):
    """An OpenAI-compatible Chat Completions server; `base_url` ends in `/v1`."""

    def __init__(
        self,
        *,
        api_key: str = "sk-loopback-openai",
        responder: Responder = echo,
        model_ids: tuple[str, ...] = ("gpt-4o-mini",),
    ) -> None:
        super().__init__(OpenAIWire(), api_key=api_key, responder=responder, model_ids=model_ids)
