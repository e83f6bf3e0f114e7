"""OpenAI's Chat Completions format, which most providers imitate.

Used for OpenAI, Groq, DeepSeek, Kimi (Moonshot), NVIDIA NIM, Zhipu (its v4 API), Mistral and any
compatible URL. ``POST {base_url}/chat/completions`` with ``Authorization: Bearer``; a stream is
``data:`` chunks (``choices[0].delta.content``), a usage chunk with no choices when asked for with
``stream_options``, then ``data: [DONE]``.

The imitators differ in small ways, handled here and nowhere else: Mistral refuses
``stream_options`` (422 ``extra_forbidden``) but sends usage in its last chunk anyway; Kimi puts
usage inside the last choice and Groq in ``x_groq.usage``; Zhipu finishes with ``sensitive`` or
``network_error``; error bodies may lack the ``error`` wrapper (Mistral) or be problem JSON
(NVIDIA).

Tools, tool messages, ``tool_choice`` and ``response_format`` go as OpenAI defines them (the
request model is OpenAI's; built by ``openai_request``). What each provider takes, by rule
(anything else skips it):

- ``tools``, ``tool_choice``, tool calls and tool results: every provider. Mistral refuses a
  tool call id that is not 9 letters or digits (``Tool call id was call_... but must be a-z,
  A-Z, 0-9, with a length of 9``), so for Mistral every other id of the conversation is
  replaced by one derived from it (the same for the call and its result).
- ``parallel_tool_calls``: OpenAI, a custom endpoint, Groq and Mistral document it; the others
  drop ``true`` (their default) and are skipped for ``false``.
- ``response_format`` ``json_object``: every provider but NVIDIA (whose NIMs document guided
  decoding instead); ``json_schema``: OpenAI, a custom endpoint and Mistral only (DeepSeek and
  Kimi document JSON mode alone; Groq only for some models, and a 400 would end the chain).
- images (``image_url`` parts, web and ``data:`` URLs, ``detail`` kept): OpenAI but its
  text-only models (``gpt-3.5*``, ``o1-mini``, ``o3-mini``), a custom endpoint (taken at its
  word), and another provider only when its model's name says it sees: ``vision``,
  ``pixtral``, ``-vl``, ``llama-4``, ``glm-4v``/``glm-4.5v``, or Mistral's ``mistral-medium``
  and ``mistral-small`` (docs.mistral.ai: "Input: text, image").

Answers: ``message.tool_calls`` (``finish_reason`` ``tool_calls``), ``refusal`` beside the
text, DeepSeek's ``reasoning_content`` (or ``reasoning``, as vLLM and Groq name it) as
reasoning, every choice with its ``logprobs``, and ``usage.prompt_tokens_details.cached_tokens``
(DeepSeek: ``prompt_cache_hit_tokens``) and ``completion_tokens_details.reasoning_tokens``. A
streamed tool call is passed on in OpenAI's shape whatever the imitator sent: calls numbered
0, 1, ... in order of appearance (some servers omit ``index`` or start elsewhere), the id and
name on the first piece only (one is made up when a server sends none), argument fragments
after it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .._exceptions import ProviderError, TransientError
from . import _json
from ._errors import ErrorFields, content_blocked, error_fields, malformed, provider_error, read_error_body
from ._features import DROPPED_BY_RULE, first_missing, parameters
from ._retry_after import lower_headers, parse_duration_s, retry_after_s, shortest_s
from ._signed_ids import unsigned
from ._types import (
    EMBEDDED_BASE_URL,
    ChatRequest,
    Choice,
    Completion,
    Endpoint,
    HttpRequest,
    StreamDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from .openai_request import message_json, mistral_tool_call_id, sees_images, tool_fields

__all__ = ["WIRE_FORMAT", "OpenAICompatibleWireFormat"]

# What build_request carries; anything else makes the planner skip the provider. Every
# OpenAI-compatible API takes the sampling parameters and passes unknown fields on; n, logprobs
# and metadata only OpenAI's own (and a custom endpoint, which is taken at its word).
_SAMPLING = {name: name for name in ("top_p", "stop", "seed", "presence_penalty", "frequency_penalty", "user")}
_OPENAI_ONLY = {name: name for name in ("n", "logprobs", "top_logprobs", "metadata")}
_CARRIED = frozenset({*_SAMPLING, "extra:*", "tools", "tool_messages", "response_format:json_object"})
# The in-process local model (``_local``): sampling parameters; user dropped by rule.
_EMBEDDED_CARRIED = frozenset(_SAMPLING) | DROPPED_BY_RULE
_CARRIED_OPENAI = _CARRIED | frozenset(_OPENAI_ONLY) | {"parallel_tool_calls", "response_format:json_schema"}
_PROVIDERS_WITH_ALL_PARAMETERS = frozenset({"openai", "custom"})
_PROVIDERS_WITH_PARALLEL_TOOL_CALLS = frozenset({"groq", "mistral"})
_PROVIDERS_WITH_JSON_SCHEMA = frozenset({"mistral"})
_PROVIDERS_WITHOUT_JSON_MODE = frozenset({"nvidia"})
_PROVIDERS_WITHOUT_STREAM_OPTIONS = frozenset({"mistral"})
# OpenAI deprecated max_tokens, and its reasoning models refuse it; the imitators only know it.
_PROVIDERS_WITH_MAX_COMPLETION_TOKENS = frozenset({"openai"})
# Where an answer's usage carries cached or reasoning token counts.
_USAGE_DETAILS = frozenset({"prompt_tokens_details", "completion_tokens_details", "prompt_cache_hit_tokens"})
_FINISH_REASONS = {"sensitive": "content_filter"}  # Zhipu's name for a filtered answer
_FINISH_REASONS_TRANSIENT = frozenset({"network_error"})  # Zhipu: the generation broke off
# The HTTP status an in-stream error would have had, by its type or code.
_STREAM_ERROR_STATUS = {
    "invalid_request_error": 400,
    "context_length_exceeded": 400,
    "authentication_error": 401,
    "invalid_api_key": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "tokens": 429,
    "requests": 429,
}


class OpenAICompatibleWireFormat:
    """Builds and reads Chat Completions calls; see the module docstring."""

    def unsupported(self, endpoint: Endpoint, request: ChatRequest) -> str | None:
        if request.plain:
            return None
        provider = endpoint.provider
        if endpoint.base_url == EMBEDDED_BASE_URL:
            # The in-process model takes text and sampling only: tools, images or a JSON format
            # sent to it would be dropped, so the planner skips it for them.
            return first_missing(request, _EMBEDDED_CARRIED)
        if provider in _PROVIDERS_WITH_ALL_PARAMETERS:
            carried = _CARRIED_OPENAI
        else:
            carried = _CARRIED | DROPPED_BY_RULE
            if provider in _PROVIDERS_WITH_PARALLEL_TOOL_CALLS or request.parallel_tool_calls is True:
                carried = carried | {"parallel_tool_calls"}  # true is every provider's default
            if provider in _PROVIDERS_WITH_JSON_SCHEMA:
                carried = carried | {"response_format:json_schema"}
            if provider in _PROVIDERS_WITHOUT_JSON_MODE:
                carried = carried - {"response_format:json_object"}
        if request.has_images and sees_images(endpoint):
            carried = carried | {"images"}
        return first_missing(request, carried)

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HttpRequest:
        plain = request.plain  # text messages, at most max_tokens, temperature and stream
        if plain:
            messages = [{"role": message.role, "content": message.content} for message in request.messages]
        else:
            # Ids without Gemini's signatures (``_signed_ids``); Mistral's of its own form.
            rename = mistral_tool_call_id if endpoint.provider == "mistral" else unsigned
            messages = [
                {"role": message.role, "content": message.content}
                if type(message.content) is str and message.role != "tool" and not message.tool_calls
                else message_json(message, rename)
                for message in request.messages
            ]
        body: dict[str, Any] = {"model": endpoint.model, "messages": messages}
        if request.max_tokens is not None:
            uses_new_name = endpoint.provider in _PROVIDERS_WITH_MAX_COMPLETION_TOKENS
            body["max_completion_tokens" if uses_new_name else "max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if not plain:  # a plain request has none of these fields: not asked for, the same body
            body.update(parameters(request, _SAMPLING))
            if endpoint.provider in _PROVIDERS_WITH_ALL_PARAMETERS:
                body.update(parameters(request, _OPENAI_ONLY))
            else:
                body.pop("user", None)  # dropped by rule (providers._features.DROPPED_BY_RULE)
            parallel = endpoint.provider in _PROVIDERS_WITH_ALL_PARAMETERS | _PROVIDERS_WITH_PARALLEL_TOOL_CALLS
            body.update(tool_fields(request, send_parallel_tool_calls=parallel))
            # Unknown fields pass on as they came; a known field is never overwritten by one.
            body.update({name: value for name, value in request.extra.items() if name not in body})
        if request.stream:
            body["stream"] = True
            if endpoint.provider not in _PROVIDERS_WITHOUT_STREAM_OPTIONS:
                body["stream_options"] = {"include_usage": True}
        headers = {"Content-Type": "application/json"}
        if endpoint.key is not None:
            headers["Authorization"] = f"Bearer {endpoint.key.reveal()}"
        return HttpRequest(method="POST", url=endpoint.url("chat/completions"), headers=headers, json=body)

    def parse_response(self, endpoint: Endpoint, request: ChatRequest, body: bytes) -> Completion:
        document = _json.load_object(body, provider=endpoint.provider, what="response")
        choices = _json.sequence(document.get("choices"))
        if len(choices) == 1 and type(choices[0]) is dict:  # nearly every answer: one choice
            read: tuple[Choice, ...] = (_choice(endpoint, choices[0]),)
        elif not choices or not all(type(choice) is dict or isinstance(choice, Mapping) for choice in choices):
            raise malformed(endpoint, "response: no choices[0] object")
        else:
            read = tuple(_choice(endpoint, choice) for choice in choices)
        model = document.get("model")
        return Completion(
            read, model if isinstance(model, str) and model else endpoint.model, _usage(document.get("usage"))
        )

    def new_stream_parser(self, endpoint: Endpoint, request: ChatRequest) -> OpenAICompatibleStreamParser:
        return OpenAICompatibleStreamParser(endpoint)

    def classify_error(
        self, endpoint: Endpoint, status_code: int, headers: Mapping[str, str], body: bytes
    ) -> ProviderError:
        lowered = lower_headers(headers)
        _, fields = read_error_body(body)
        wait_s = retry_after_s(lowered)
        if wait_s is None:
            wait_s = _rate_limit_reset_s(lowered)
        return provider_error(endpoint, status_code, fields, retry_after_s=wait_s)


class OpenAICompatibleStreamParser:
    """Reads one Chat Completions stream; numbers its tool calls as OpenAI does."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._text_seen = False
        self._calls: dict[int, _StreamedCalls] = {}  # by choice index

    def feed(self, event: str, data: str) -> list[StreamDelta]:
        chunk = _json.load_stream_event(data, provider=self._endpoint.provider)
        if chunk == _json.STREAM_DONE:
            return [StreamDelta(done=True)]
        if isinstance(chunk, str):
            return []
        if event == "error" or chunk.get("error") is not None:
            raise _stream_error(self._endpoint, chunk)
        choices = _json.sequence(chunk.get("choices"))
        usage = (
            _usage(chunk.get("usage"))
            or _usage(_json.field(choices, 0, "usage"))
            or _usage(_json.field(chunk, "x_groq", "usage"))
        )
        deltas = [delta for choice in choices if (delta := self._choice(choice)) is not None]
        if usage is not None:
            if deltas:
                last = deltas[-1]
                deltas[-1] = StreamDelta(last.text, usage, last.finish_reason, False, last.tool_calls,
                                         last.reasoning, last.index, last.logprobs)  # fmt: skip
            else:
                deltas.append(StreamDelta(usage=usage))
        return deltas

    def _choice(self, choice: object) -> StreamDelta | None:
        delta = _json.field(choice, "delta")
        content = _json.field(delta, "content")
        if content is not None and not isinstance(content, str):
            raise malformed(self._endpoint, "stream event: choices[].delta.content is not a string")
        text = content or ""
        self._text_seen = self._text_seen or bool(text)
        index = _json.field(choice, "index")
        index = index if type(index) is int and 0 <= index < _CHOICES_MAX else 0
        calls = self._calls.setdefault(index, _StreamedCalls(self._endpoint))
        pieces = calls.feed(_json.sequence(_json.field(delta, "tool_calls")))
        reasoning = _reasoning(delta) or ""
        raw_finish = _json.field(choice, "finish_reason")
        if raw_finish is not None:
            pieces += calls.finish()
        finish_reason = _finish_reason(self._endpoint, raw_finish, text_seen=self._text_seen or calls.seen)
        logprobs = _json.field(choice, "logprobs")
        logprobs = logprobs if isinstance(logprobs, Mapping) and logprobs else None
        if not text and not pieces and not reasoning and finish_reason is None and logprobs is None:
            return None
        return StreamDelta(text, None, finish_reason, False, tuple(pieces), reasoning, index, logprobs)


_CHOICES_MAX = 128
_CALLS_MAX = 128  # tool calls in one answer; past it a stream is malformed


class _StreamedCalls:
    """One choice's streamed tool calls, renumbered in order of appearance. A call's id and name
    go out on its first piece; fragments that come before its name are held until then."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._ours: dict[tuple[str, object], int] = {}  # their index (or id) -> ours
        self._held: dict[int, list[str]] = {}  # ours -> [id, name, arguments] not yet sent
        self._last: int | None = None
        self.seen = False

    def feed(self, pieces: Sequence[Any]) -> list[ToolCallDelta]:
        out: list[ToolCallDelta] = []
        for piece in pieces:
            function = _json.mapping(_json.field(piece, "function"))
            identifier, name = _json.string(_json.field(piece, "id")), _json.string(function.get("name"))
            arguments = _arguments(self._endpoint, function.get("arguments"))
            ours = self._number(_json.field(piece, "index"), identifier)
            self.seen = True
            held = self._held.get(ours)
            if held is None:  # already named: a fragment
                if arguments:
                    out.append(ToolCallDelta(ours, arguments=arguments))
                continue
            held[0] = held[0] or identifier or ""
            held[1] = held[1] or name or ""
            held[2] += arguments or ""
            if held[1]:
                del self._held[ours]
                out.append(ToolCallDelta(ours, held[0] or f"call_{ours}", held[1], held[2]))
        return out

    def _number(self, theirs: object, identifier: str | None) -> int:
        # Their index when they send one; without it a new id is a new call, else the last call.
        if type(theirs) is int:
            key: tuple[str, object] = ("index", theirs)
        elif identifier is not None:
            key = ("id", identifier)
        elif self._last is not None:
            return self._last
        else:
            key = ("index", 0)
        ours = self._ours.get(key)
        if ours is None:
            if len(self._ours) >= _CALLS_MAX:
                raise malformed(self._endpoint, f"stream event: more than {_CALLS_MAX} tool calls")
            ours = self._ours[key] = len(self._ours)
            self._held[ours] = ["", "", ""]
        self._last = ours
        return ours

    def finish(self) -> list[ToolCallDelta]:
        if self._held:
            raise malformed(self._endpoint, "stream: a tool call never named its function")
        return []


def _finish_reason(endpoint: Endpoint, raw: object, *, text_seen: bool) -> str | None:
    if not isinstance(raw, str):
        return None
    if raw in _FINISH_REASONS_TRANSIENT:
        raise TransientError(f"the generation broke off (finish_reason {raw})", provider=endpoint.provider)
    reason = _FINISH_REASONS.get(raw, raw.lower())
    if reason == "content_filter" and not text_seen:
        raise content_blocked(endpoint, raw)
    return reason


def _usage(value: object) -> Usage | None:
    counts = _json.mapping(value)
    prompt_tokens = _json.token_count(counts.get("prompt_tokens"))
    completion_tokens = _json.token_count(counts.get("completion_tokens"))
    if prompt_tokens is None or completion_tokens is None:
        return None
    if _USAGE_DETAILS.isdisjoint(counts):  # none of them: what the lookups below would find
        return Usage(prompt_tokens, completion_tokens)
    # _json.field(counts, "prompt_tokens_details", "cached_tokens"), without its path walk.
    cached_tokens = _json.token_count(_json.mapping(counts.get("prompt_tokens_details")).get("cached_tokens"))
    if cached_tokens is None:
        cached_tokens = _json.token_count(counts.get("prompt_cache_hit_tokens"))  # DeepSeek
    details = _json.mapping(counts.get("completion_tokens_details"))
    return Usage(prompt_tokens, completion_tokens, cached_tokens, _json.token_count(details.get("reasoning_tokens")))


def _choice(endpoint: Endpoint, choice: Mapping[str, Any]) -> Choice:
    message = _json.mapping(choice.get("message"))
    content = message.get("content")
    if (
        type(content) is str
        and not message.get("tool_calls")
        and not message.get("refusal")
        and "reasoning_content" not in message
        and "reasoning" not in message
    ):
        # Most answers are text alone: read without the tool-call, refusal and reasoning paths
        # (what the general path below would conclude for them, for less of the gateway's CPU).
        logprobs = choice.get("logprobs")
        finish_reason = choice.get("finish_reason")
        if finish_reason != "stop":  # "stop" is what _finish_reason would make of "stop"
            finish_reason = _finish_reason(endpoint, finish_reason, text_seen=bool(content))
        return Choice(content, finish_reason, (), None, logprobs if isinstance(logprobs, Mapping) else None, None)
    if content is not None and not isinstance(content, str):
        raise malformed(endpoint, "response: choices[].message.content is not a string")
    calls = tuple(
        _tool_call(endpoint, call, position) for position, call in enumerate(_json.sequence(message.get("tool_calls")))
    )
    text = content or ""
    refusal = _json.string(message.get("refusal")) or None
    finish_reason = _finish_reason(endpoint, choice.get("finish_reason"), text_seen=bool(text or calls or refusal))
    logprobs = choice.get("logprobs")
    return Choice(
        text, finish_reason, calls, _reasoning(message),
        logprobs if isinstance(logprobs, Mapping) else None, refusal,
    )  # fmt: skip


def _tool_call(endpoint: Endpoint, call: object, position: int) -> ToolCall:
    identifier = _json.string(_json.field(call, "id"))
    name = _json.string(_json.field(call, "function", "name"))
    arguments = _arguments(endpoint, _json.field(call, "function", "arguments"))
    if not name:
        raise malformed(endpoint, "response: a tool call without a function name")
    return ToolCall(identifier or f"call_{position}", name, arguments)


def _arguments(endpoint: Endpoint, value: object) -> str:
    """A call's arguments as JSON text; some imitators (Ollama's older versions) send the object."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False)
    raise malformed(endpoint, "a tool call's function.arguments is neither JSON text nor an object")


def _reasoning(message: object) -> str | None:
    """DeepSeek's ``reasoning_content``, or ``reasoning`` as vLLM, Groq and OpenRouter call it."""
    value = _json.field(message, "reasoning_content")
    if not isinstance(value, str):
        value = _json.field(message, "reasoning")
    return value if isinstance(value, str) and value else None


def _stream_error(endpoint: Endpoint, chunk: Mapping[str, Any]) -> ProviderError:
    fields = error_fields(chunk)
    status_code = _stream_error_status(_json.field(chunk, "error", "code"), fields)
    return provider_error(endpoint, status_code, fields, where="stream error")


def _stream_error_status(code: object, fields: ErrorFields) -> int:
    # Imitators built on vLLM put the HTTP status itself in ``code``.
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    for name in (fields.code, fields.type):
        if name in _STREAM_ERROR_STATUS:
            return _STREAM_ERROR_STATUS[name]
    return 500  # "server_error" and anything unknown: the provider failed mid-answer


def _rate_limit_reset_s(headers: Mapping[str, str]) -> float | None:
    """OpenAI's and Groq's ``x-ratelimit-reset-{requests,tokens}`` ("6m0s"): the reset of the
    bucket that ran out, or the sooner reset when the headers do not say which did."""
    resets_s: dict[str, float | None] = {}
    for bucket in ("requests", "tokens"):
        value = headers.get(f"x-ratelimit-reset-{bucket}")
        if value is not None:
            resets_s[bucket] = parse_duration_s(value)
    exhausted = [
        reset_s
        for bucket, reset_s in resets_s.items()
        if reset_s is not None and headers.get(f"x-ratelimit-remaining-{bucket}", "").strip() == "0"
    ]
    return max(exhausted) if exhausted else shortest_s(resets_s.values())


WIRE_FORMAT = OpenAICompatibleWireFormat()
