"""Anthropic Messages on the wire: `POST /v1/messages`.

Shapes follow the `anthropic` SDK's `Message` and `RawMessageStreamEvent` types and the API's
errors (`{"type": "error", "error": {type, message}, "request_id"}`), including its checks: the
key (`x-api-key`, or `Authorization: Bearer` as the 2.x SDK sends it), the `anthropic-version` header, a required `max_tokens`, no `system` role inside
`messages`, at most 4 prompt-caching breakpoints (`cache_control`) in a request.

Prompt caching as the API reports it: the prompt up to its last breakpoint (tools, then
system, then messages; the request's own `cache_control` marks the last block) is written to
the cache the first time this server sees it (`cache_creation_input_tokens`) and read from it
after (`cache_read_input_tokens`), the written tokens split by TTL in `cache_creation`;
`input_tokens` counts the rest. Unlike the other wires, this
one keeps state: the prefixes it has cached.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ._openai import fragments
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
    count_words,
    echo,
    sse,
    text_of,
)

CACHE_BREAKPOINTS_MAX = 4  # the API's limit ("A maximum of 4 blocks with cache_control ...")
# (error type, message) of the errors the API returns for these statuses.
_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def _error(status: int, error_type: str, message: str) -> ErrorReply:
    body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_loopback"}
    return ErrorReply(status, body, {"request-id": "req_loopback"})


class AnthropicWire(MessagesWire):
    name = "anthropic"
    base_path = ""
    malformed_event_name = "content_block_delta"  # the SDK ignores SSE events without a name
    stream_error_status = 529

    def __init__(self) -> None:
        self.cached_prefixes: set[str] = set()  # digests of the prompt prefixes cached so far

    def cache_use(self, body: dict[str, Any]) -> tuple[int, int, int]:
        """(tokens written to the cache, tokens read from it, of the written those at the 1-hour
        TTL) for this request, remembering what it writes. As the API bills them: the prompt up
        to the last 1-hour breakpoint is written at 1 hour, the rest of the written prefix at 5
        minutes (the API wants 1-hour breakpoints before 5-minute ones)."""
        blocks: list[Any] = [*body.get("tools", ())]
        system = body.get("system")
        blocks += [system] if isinstance(system, str) else system or []
        for message in body["messages"]:
            content = message.get("content")
            blocks += [content] if isinstance(content, str) else content
        marked = {
            index: block["cache_control"]
            for index, block in enumerate(blocks)
            if isinstance(block, dict) and "cache_control" in block
        }
        if body.get("cache_control") is not None:
            marked[len(blocks) - 1] = body["cache_control"]
        if not marked:
            return 0, 0, 0

        def tokens_to(end: int) -> int:
            return count_words(
                [block if isinstance(block, str) else str(block.get("text", "")) for block in blocks[:end]]
            )

        prefix = blocks[: max(marked) + 1]
        tokens = tokens_to(len(prefix))
        digest = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest()
        if digest in self.cached_prefixes:
            return 0, tokens, 0
        self.cached_prefixes.add(digest)
        hour_marks = [index for index, mark in marked.items() if isinstance(mark, dict) and mark.get("ttl") == "1h"]
        return tokens, 0, tokens_to(max(hour_marks) + 1) if hour_marks else 0

    def routes(self) -> list[Route]:
        return [Route("POST", "/v1/messages", Endpoint.GENERATE)]

    def check(self, request: Request, endpoint: Endpoint, api_key: str) -> ErrorReply | None:
        # The API takes the key in `x-api-key`; the official SDK (2.x) sends it as a Bearer token.
        authorization = request.headers.get("authorization", "")
        bearer = authorization[len("Bearer ") :].strip() if authorization.startswith("Bearer ") else ""
        key = request.headers.get("x-api-key") or bearer
        if not key:
            return _error(401, "authentication_error", "x-api-key header is required")
        if key != api_key:
            return _error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        body = request.json
        if not isinstance(body, dict):
            return _error(400, "invalid_request_error", "There was an issue with your request body.")
        for required in ("model", "max_tokens", "messages"):
            if required not in body:
                return _error(400, "invalid_request_error", f"{required}: Field required")
        if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
            return _error(400, "invalid_request_error", "max_tokens: Input should be greater than or equal to 1")
        if not isinstance(body["messages"], list) or not body["messages"]:
            return _error(400, "invalid_request_error", "messages: at least one message is required")
        for index, message in enumerate(body["messages"]):
            role = message.get("role") if isinstance(message, dict) else None
            if role == "system":
                return _error(
                    400,
                    "invalid_request_error",
                    f'messages.{index}.role: Unexpected role "system". The Messages API accepts a top-level '
                    '`system` parameter, not "system" as an input message role.',
                )
            if role not in ("user", "assistant"):
                return _error(
                    400, "invalid_request_error", f"messages.{index}.role: Input should be 'user' or 'assistant'"
                )
        breakpoints = _breakpoints(body)
        if breakpoints > CACHE_BREAKPOINTS_MAX:
            return _error(
                400,
                "invalid_request_error",
                f"A maximum of {CACHE_BREAKPOINTS_MAX} blocks with cache_control may be provided. Found {breakpoints}.",
            )
        return None

    def prompt_texts(self, body: Any) -> list[str]:
        return [text_of(body.get("system")), *super().prompt_texts(body)]

    def max_output_tokens(self, body: Any) -> int | None:
        return int(body["max_tokens"])

    def render(self, request: Request, reply: Reply) -> dict[str, Any]:
        written, read, written_hour = self.cache_use(request.json)
        return {
            "id": f"msg_{reply.id}",
            "type": "message",
            "role": "assistant",
            "model": reply.model,
            "content": _content(reply),
            "stop_reason": _stop_reason(reply),
            "stop_sequence": None,
            "usage": {
                "input_tokens": reply.prompt_tokens - written - read,
                "output_tokens": reply.completion_tokens,
                "cache_creation_input_tokens": written,
                "cache_read_input_tokens": read,
                "cache_creation": _cache_creation(written, written_hour),
                "service_tier": "standard",
            },
        }

    def render_stream(self, request: Request, reply: Reply) -> StreamPlan:
        written, read, written_hour = self.cache_use(request.json)
        message: dict[str, Any] = {
            "id": f"msg_{reply.id}",
            "type": "message",
            "role": "assistant",
            "model": reply.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": reply.prompt_tokens - written - read,
                "output_tokens": 1,  # the API's first count, before any text
                "cache_creation_input_tokens": written,
                "cache_read_input_tokens": read,
                "cache_creation": _cache_creation(written, written_hour),
                "service_tier": "standard",
            },
        }

        def event(name: str, data: dict[str, Any]) -> bytes:
            return sse({"type": name, **data}, event=name)

        head = [event("message_start", {"message": message})]
        deltas: list[bytes] = []
        has_text = bool(reply.text) or not reply.tool_calls
        if has_text:
            head.append(event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
        head.append(event("ping", {}))
        deltas.extend(
            event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
            for piece in reply.pieces
        )
        if has_text:
            deltas.append(event("content_block_stop", {"index": 0}))
        for position, (call_id, name, arguments) in enumerate(reply.tool_calls):
            # As the API streams a tool_use block: input {} at its start, then the input's JSON
            # in input_json_delta fragments (the first one empty), then its stop.
            index = position + int(has_text)
            block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
            deltas.append(event("content_block_start", {"index": index, "content_block": block}))
            deltas.extend(
                event(
                    "content_block_delta",
                    {"index": index, "delta": {"type": "input_json_delta", "partial_json": piece}},
                )
                for piece in ["", *fragments(json.dumps(arguments))]
            )
            deltas.append(event("content_block_stop", {"index": index}))
        return StreamPlan(
            head=head,
            deltas=deltas,
            tail=[
                event(
                    "message_delta",
                    {
                        "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
                        "usage": {"output_tokens": reply.completion_tokens},
                    },
                ),
                event("message_stop", {}),
            ],
        )

    def error_for_status(self, status: int, retry_after_s: float | None = None) -> ErrorReply:
        error_type, message = _STATUS_ERRORS.get(status, ("api_error", "Internal server error"))
        return _error(status, error_type, message)

    def error_quota(self) -> ErrorReply:
        return _error(
            400,
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade "
            "or purchase credits.",
        )

    def error_context_length(self, prompt_tokens: int, limit_tokens: int) -> ErrorReply:
        return _error(
            400, "invalid_request_error", f"prompt is too long: {prompt_tokens} tokens > {limit_tokens} maximum"
        )

    def stream_error_event(self) -> bytes:
        data = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return sse(data, event="error")

    def response_headers(self, reply_id: str) -> dict[str, str]:
        return {"request-id": f"req_{reply_id}"}


def _cache_creation(written: int, written_hour: int) -> dict[str, int]:
    """The written tokens by TTL, as the API splits ``cache_creation_input_tokens``."""
    return {"ephemeral_5m_input_tokens": written - written_hour, "ephemeral_1h_input_tokens": written_hour}


def _breakpoints(value: Any) -> int:
    """The request's prompt-caching breakpoints (``cache_control``), which the API counts."""
    if isinstance(value, dict):
        return sum(1 if key == "cache_control" else _breakpoints(item) for key, item in value.items())
    if isinstance(value, list):
        return sum(_breakpoints(item) for item in value)
    return 0


def _stop_reason(reply: Reply) -> str:
    if reply.tool_calls:
        return "tool_use"
    return "max_tokens" if reply.truncated else "end_turn"


def _content(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text or not reply.tool_calls:
        blocks.append({"type": "text", "text": reply.text})
    blocks.extend(
        {"type": "tool_use", "id": call_id, "name": name, "input": arguments}
        for call_id, name, arguments in reply.tool_calls
    )
    return blocks


class AnthropicServer(LoopbackServer):
    """An Anthropic Messages server; `base_url` is the origin (the SDK adds `/v1/messages`)."""

    def __init__(
        self,
        *,
        api_key: str = "sk-ant-loopback",
        responder: Responder = echo,
    ) -> None:
        super().__init__(AnthropicWire(), api_key=api_key, responder=responder)
