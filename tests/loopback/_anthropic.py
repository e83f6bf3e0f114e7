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

Extended thinking as the API does it. A request's `thinking` is `{"type": "enabled",
"budget_tokens": N}`, `{"type": "adaptive"}` (enabled, no budget) or `{"type": "disabled"}`; when
enabled the API's checks apply (a budget of at least 1024 and under `max_tokens`, `temperature`
unset or 1, no `top_k`, no forced tool use) and a final assistant turn that calls tools must start
with its thinking block. The answer then starts with a `thinking` block (deterministic text about
the last user text) signed by this server: its `signature` is the base64 HMAC-SHA256 of the text
under a secret drawn when the server starts; a request whose text carries the API's documented
trigger string also gets a `redacted_thinking` block, its `data` the base64 of that HMAC (over
its hidden text) followed by the hidden text. Every thinking and redacted block a request sends
back in an assistant message must be one this server issued, thinking enabled or not. Thinking
words count in `output_tokens` and in `max_tokens`. Streams send a thinking block as the API
does: its start with empty `thinking` and `signature`, `thinking_delta`s, one `signature_delta`
just before its stop; a redacted block whole in its start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
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
from ._signer import MAC_BYTES, Signer

CACHE_BREAKPOINTS_MAX = 4  # the API's limit ("A maximum of 4 blocks with cache_control ...")
THINKING_BUDGET_MIN = 1024  # the API's least `thinking.budget_tokens`
# The API's documented test string: a request carrying it gets a `redacted_thinking` block.
REDACTED_THINKING_TRIGGER = "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253"
THINKING_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
THINKING_PREFIX = "Let me think about: "  # the answer's thinking, then the last user text's first 60 characters
_THINKING_TYPES = ("thinking", "redacted_thinking")
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
        self._signer = Signer()  # signs the thinking this server issues

    def sign(self, thinking: str) -> str:
        """The `signature` of a thinking block with this text: its base64 HMAC-SHA256."""
        return base64.b64encode(self._signer.mac(b"thinking", thinking.encode())).decode()

    def redacted_data(self, hidden: str) -> str:
        """A `redacted_thinking` block's opaque `data`: the base64 of the HMAC, then the text."""
        payload = hidden.encode()
        return base64.b64encode(self._signer.mac(b"redacted_thinking", payload) + payload).decode()

    def issued_data(self, data: Any) -> bool:
        if not isinstance(data, str):
            return False
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            return False
        mac, payload = raw[:MAC_BYTES], raw[MAC_BYTES:]
        return len(mac) == MAC_BYTES and hmac.compare_digest(mac, self._signer.mac(b"redacted_thinking", payload))

    def thinking_blocks(self, body: Any) -> list[dict[str, Any]]:
        """The thinking blocks that start the answer to this request (none without thinking)."""
        if not _thinking_enabled(body):
            return []
        about = self.user_text(body)[:60].strip() or "the tool results"
        thinking = THINKING_PREFIX + about
        blocks: list[dict[str, Any]] = [{"type": "thinking", "thinking": thinking, "signature": self.sign(thinking)}]
        if any(REDACTED_THINKING_TRIGGER in text for text in self.prompt_texts(body)):
            blocks.append(
                {"type": "redacted_thinking", "data": self.redacted_data("Redacted thinking about: " + about)}
            )
        return blocks

    def thinking_tokens(self, body: Any) -> int:
        """The answer's thinking tokens, as output tokens: the thinking text's words and the
        hidden text's of a redacted block."""
        texts = []
        for block in self.thinking_blocks(body):
            if block["type"] == "thinking":
                texts.append(block["thinking"])
            else:
                texts.append(base64.b64decode(block["data"])[MAC_BYTES:].decode())
        return count_words(texts)

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
        return _check_thinking_config(body) or self._check_thinking_blocks(body)

    def _check_thinking_blocks(self, body: dict[str, Any]) -> ErrorReply | None:
        """The thinking blocks sent back must be this server's (thinking enabled or not); with
        thinking enabled, a final assistant turn that calls tools must start with one."""
        final_assistant: tuple[int, list[Any]] | None = None
        for i, message in enumerate(body["messages"]):
            content = message.get("content")
            if message.get("role") != "assistant" or not isinstance(content, list):
                continue
            for j, block in enumerate(content):
                kind = block.get("type") if isinstance(block, dict) else None
                if kind == "thinking":
                    signature = block.get("signature")
                    if signature is None:
                        return _error(
                            400, "invalid_request_error", f"messages.{i}.content.{j}.thinking.signature: Field required"
                        )
                    thinking = block.get("thinking")
                    if not (
                        isinstance(signature, str)
                        and isinstance(thinking, str)
                        and hmac.compare_digest(signature, self.sign(thinking))
                    ):
                        return _error(
                            400,
                            "invalid_request_error",
                            f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block",
                        )
                elif kind == "redacted_thinking" and not self.issued_data(block.get("data")):
                    return _error(
                        400,
                        "invalid_request_error",
                        f"messages.{i}.content.{j}: Invalid `data` in `redacted_thinking` block",
                    )
        for i, message in enumerate(body["messages"]):
            if message.get("role") == "assistant":
                content = message.get("content")
                final_assistant = (i, content) if isinstance(content, list) else None
        if final_assistant is None or not _thinking_enabled(body):
            return None
        i, content = final_assistant
        calls_tools = any(isinstance(block, dict) and block.get("type") == "tool_use" for block in content)
        first = content[0].get("type") if content and isinstance(content[0], dict) else None
        if calls_tools and first not in _THINKING_TYPES:
            return _error(
                400,
                "invalid_request_error",
                f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. "
                "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
                "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
                "thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult "
                f"our documentation at {THINKING_DOCS}",
            )
        return None

    def prompt_texts(self, body: Any) -> list[str]:
        return [text_of(body.get("system")), *super().prompt_texts(body)]

    def max_output_tokens(self, body: Any) -> int | None:
        # Thinking tokens count toward `max_tokens`; what is left bounds the text.
        return max(int(body["max_tokens"]) - self.thinking_tokens(body), 0)

    def render(self, request: Request, reply: Reply) -> dict[str, Any]:
        written, read, written_hour = self.cache_use(request.json)
        return {
            "id": f"msg_{reply.id}",
            "type": "message",
            "role": "assistant",
            "model": reply.model,
            "content": [*self.thinking_blocks(request.json), *_content(reply)],
            "stop_reason": _stop_reason(reply),
            "stop_sequence": None,
            "usage": {
                "input_tokens": reply.prompt_tokens - written - read,
                "output_tokens": reply.completion_tokens + self.thinking_tokens(request.json),
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
        thinking_blocks = self.thinking_blocks(request.json)
        # The first block's start comes before the ping: the thinking block's when there is one,
        # else the text block's.
        text_start = head
        if thinking_blocks:
            thinking = thinking_blocks[0]
            start = {"type": "thinking", "thinking": "", "signature": ""}
            head.append(event("content_block_start", {"index": 0, "content_block": start}))
            head.append(event("ping", {}))
            deltas.extend(
                event("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": piece}})
                for piece in _pieces(thinking["thinking"])
            )
            signature = {"type": "signature_delta", "signature": thinking["signature"]}
            deltas.append(event("content_block_delta", {"index": 0, "delta": signature}))
            deltas.append(event("content_block_stop", {"index": 0}))
            for index, block in enumerate(thinking_blocks[1:], start=1):  # redacted: whole in its start
                deltas.append(event("content_block_start", {"index": index, "content_block": block}))
                deltas.append(event("content_block_stop", {"index": index}))
            text_start = deltas
        first = len(thinking_blocks)  # the text block's index
        has_text = bool(reply.text) or not reply.tool_calls
        if has_text:
            text_start.append(
                event("content_block_start", {"index": first, "content_block": {"type": "text", "text": ""}})
            )
        if not thinking_blocks:
            head.append(event("ping", {}))
        deltas.extend(
            event("content_block_delta", {"index": first, "delta": {"type": "text_delta", "text": piece}})
            for piece in reply.pieces
        )
        if has_text:
            deltas.append(event("content_block_stop", {"index": first}))
        for position, (call_id, name, arguments) in enumerate(reply.tool_calls):
            # As the API streams a tool_use block: input {} at its start, then the input's JSON
            # in input_json_delta fragments (the first one empty), then its stop.
            index = first + position + int(has_text)
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
                        "usage": {"output_tokens": reply.completion_tokens + self.thinking_tokens(request.json)},
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


def _thinking_enabled(body: Any) -> bool:
    thinking = body.get("thinking") if isinstance(body, dict) else None
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _check_thinking_config(body: dict[str, Any]) -> ErrorReply | None:
    """The API's checks of `thinking` and of what it rules out."""
    thinking = body.get("thinking")
    if thinking is None:
        return None
    if not isinstance(thinking, dict):
        return _error(
            400,
            "invalid_request_error",
            "thinking: Input should be a valid dictionary or object to extract fields from",
        )
    kind = thinking.get("type")
    if kind not in ("enabled", "disabled", "adaptive"):
        return _error(
            400,
            "invalid_request_error",
            f"thinking: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            "'enabled', 'disabled', 'adaptive'",
        )
    if kind == "disabled":
        return None
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if budget is None:
            return _error(400, "invalid_request_error", "thinking.enabled.budget_tokens: Field required")
        if not isinstance(budget, int) or isinstance(budget, bool):
            return _error(
                400, "invalid_request_error", "thinking.enabled.budget_tokens: Input should be a valid integer"
            )
        if budget < THINKING_BUDGET_MIN:
            return _error(
                400,
                "invalid_request_error",
                f"thinking.enabled.budget_tokens: Input should be greater than or equal to {THINKING_BUDGET_MIN}",
            )
        if body["max_tokens"] <= budget:
            return _error(
                400,
                "invalid_request_error",
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
                f"{THINKING_DOCS}#max-tokens-and-context-window-size",
            )
    considerations = f"{THINKING_DOCS}#important-considerations-when-using-extended-thinking"
    if body.get("temperature") is not None and body["temperature"] != 1:
        return _error(
            400,
            "invalid_request_error",
            f"`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at "
            f"{considerations}",
        )
    if body.get("top_k") is not None:
        return _error(
            400,
            "invalid_request_error",
            f"`top_k` must be unset when thinking is enabled. Please consult our documentation at {considerations}",
        )
    tool_choice = body.get("tool_choice")
    if isinstance(tool_choice, dict) and tool_choice.get("type") in ("any", "tool"):
        return _error(400, "invalid_request_error", "Thinking may not be enabled when tool_choice forces tool use.")
    return None


def _pieces(text: str) -> list[str]:
    """``text`` in one-word pieces, as the stream's thinking deltas carry it."""
    return re.findall(r"\s*\S+\s*", text) or [text]


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
