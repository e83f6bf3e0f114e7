"""Cohere v2 chat on the wire: `POST /v2/chat`.

Shapes follow the `cohere` SDK's `V2ChatResponse` and `V2ChatStreamResponse` types: SSE events
whose `event:` name equals the JSON `type` (message-start, content-start, content-delta,
content-end, message-end). Errors are `{"id", "message"}`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
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

_STATUS_MESSAGES: dict[int, str] = {
    400: "invalid request",
    401: "invalid api token",
    402: "Please add a payment method to your account to continue.",
    404: "model not found",
    422: "unprocessable entity",
    429: "You are past the per minute request limit, please wait and try again later.",
    498: "invalid api token",
    499: "request cancelled by the client",
    500: "internal server error, this has been reported to our developers",
    503: "service unavailable",
    504: "the request timed out",
}


def _error(status: int, message: str) -> ErrorReply:
    # Cohere's error ids are random UUIDs; a fixed one keeps the server deterministic.
    return ErrorReply(status, {"id": str(uuid.UUID(int=status)), "message": message})


class CohereWire(MessagesWire):
    name = "cohere"
    base_path = ""
    malformed_event_name = "content-delta"

    def routes(self) -> list[Route]:
        return [Route("POST", "/v2/chat", Endpoint.GENERATE)]

    def check(self, request: Request, endpoint: Endpoint, api_key: str) -> ErrorReply | None:
        authorization = request.headers.get("authorization", "")
        key = authorization[len("Bearer ") :].strip() if authorization.startswith("Bearer ") else ""
        if not key:
            return _error(401, "no api key supplied")
        if key != api_key:
            return _error(401, "invalid api token")
        body = request.json
        if not isinstance(body, dict):
            return _error(400, "invalid request: the request body is not valid JSON")
        if not isinstance(body.get("model"), str):
            return _error(400, "invalid request: model must be specified")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "invalid request: messages must not be empty")
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant", "tool"):
                return _error(400, "invalid request: message role must be one of system, user, assistant, tool")
        return None

    def max_output_tokens(self, body: Any) -> int | None:
        limit = body.get("max_tokens")
        return limit if isinstance(limit, int) else None

    def render(self, request: Request, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": [{"type": "text", "text": reply.text}]}
        if reply.tool_calls:
            # A tool-calling answer has no content: the text before the calls is the tool_plan.
            message = {"role": "assistant", "tool_plan": reply.text, "tool_calls": _tool_calls(reply)}
        return {
            "id": _message_id(reply),
            "finish_reason": _finish_reason(reply),
            "message": message,
            "usage": _usage(reply),
        }

    def render_stream(self, request: Request, reply: Reply) -> StreamPlan:
        def event(name: str, data: dict[str, Any]) -> bytes:
            return sse({"type": name, **data}, event=name)

        message_start = {
            "id": _message_id(reply),
            "delta": {
                "message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
            },
        }
        if reply.tool_calls:
            return _tool_call_stream(reply, event, message_start)
        return StreamPlan(
            head=[
                event("message-start", message_start),
                event("content-start", {"index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
            ],
            deltas=[
                event("content-delta", {"index": 0, "delta": {"message": {"content": {"text": piece}}}})
                for piece in reply.pieces
            ],
            tail=[
                event("content-end", {"index": 0}),
                event("message-end", {"delta": {"finish_reason": _finish_reason(reply), "usage": _usage(reply)}}),
            ],
        )

    def error_for_status(self, status: int, retry_after_s: float | None = None) -> ErrorReply:
        return _error(status, _STATUS_MESSAGES.get(status, f"HTTP {status}"))

    def error_quota(self) -> ErrorReply:
        return _error(
            429,
            "You are using a Trial key, which is limited to 1000 API calls / month. You can continue to use the "
            "Trial key for free or upgrade to a Production key with higher rate limits at "
            "'https://dashboard.cohere.com/api-keys'.",
        )

    def error_context_length(self, prompt_tokens: int, limit_tokens: int) -> ErrorReply:
        return _error(
            400,
            f"too many tokens: total number of tokens in the prompt cannot exceed {limit_tokens} - received "
            f"{prompt_tokens}. Try using a shorter prompt, or enabling prompt truncating.",
        )

    def stream_error_event(self) -> bytes:
        # Cohere reports a failure after the stream began in the message-end event.
        data = {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "internal server error"}}
        return sse(data, event="message-end")


def _message_id(reply: Reply) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, reply.id))


def _finish_reason(reply: Reply) -> str:
    if reply.tool_calls:
        return "TOOL_CALL"
    return "MAX_TOKENS" if reply.truncated else "COMPLETE"


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for call_id, name, args in reply.tool_calls
    ]


def _tool_call_stream(reply: Reply, event: Callable[[str, dict[str, Any]], bytes], start: dict[str, Any]) -> StreamPlan:
    """Cohere's events for an answer that calls tools: the plan in tool-plan-delta pieces, then
    each call: tool-call-start (id, name, empty arguments), tool-call-delta argument fragments,
    tool-call-end."""
    deltas = [event("tool-plan-delta", {"delta": {"message": {"tool_plan": piece}}}) for piece in reply.pieces]
    for index, call in enumerate(_tool_calls(reply)):
        arguments = call["function"]["arguments"]
        opening = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        deltas.append(event("tool-call-start", {"index": index, "delta": {"message": {"tool_calls": opening}}}))
        half = len(arguments) // 2
        for fragment in (arguments[:half], arguments[half:]):
            fragment_delta = {"message": {"tool_calls": {"function": {"arguments": fragment}}}}
            deltas.append(event("tool-call-delta", {"index": index, "delta": fragment_delta}))
        deltas.append(event("tool-call-end", {"index": index}))
    end = {"delta": {"finish_reason": _finish_reason(reply), "usage": _usage(reply)}}
    return StreamPlan(head=[event("message-start", start)], deltas=deltas, tail=[event("message-end", end)])


def _usage(reply: Reply) -> dict[str, Any]:
    tokens = {"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens}
    return {"billed_units": dict(tokens), "tokens": dict(tokens)}


class CohereServer(LoopbackServer):
    """A Cohere v2 chat server; `base_url` is the origin (the SDK adds `/v2/chat`)."""

    def __init__(
        self,
        *,
        api_key: str = "co-loopback-cohere",
        responder: Responder = echo,
    ) -> None:
        super().__init__(CohereWire(), api_key=api_key, responder=responder)
